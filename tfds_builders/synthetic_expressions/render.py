"""Pure numpy/OpenCV renderer of synthetic facial-expression videos.

No TFDS, no TensorFlow: `sample_subject(rng)` draws one synthetic person and
`render_video(rng, subject, label, num_frames, size)` draws one neutral -> apex
video of that person as `uint8 [T, H, W, 3]` RGB.

A face is a set of antialiased polygons (cv2.fillPoly / polylines, LINE_AA,
4 bits of sub-pixel precision) drawn at twice the output size and area-resized.
Its expression is a small vector of "action units" (AUs, loosely after FACS,
0 = neutral): each frame draws `rest + intensity(t) * apex[label]`, where `rest`
is the subject's resting face (some subjects rest with a face that looks like
another class's apex at moderate intensity) and `intensity(t)` is 0 up to a
random onset, then rises smoothly to a random apex intensity at a random speed.
Nuisances: head motion (translation, rotation, scale), blinks, lighting drift,
pixel noise. Frame 0 is the subject's resting face in its resting pose and
lighting, for every class, so only the change over time tells the classes apart.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

CLASS_NAMES = ('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')

AU_NAMES = (
    'brow_inner_up',    # + inner brows up, - inner brows down (frown)
    'brow_outer_up',    # + outer brows up
    'brow_inward',      # + brows pulled together
    'eye_open',         # + eyes wide, - narrowed
    'lid_tighten',      # + lower lid up, eye squeezed
    'cheek_raise',      # + cheeks up (Duchenne)
    'nose_wrinkle',     # + wrinkled bridge, nostrils up
    'upper_lip_raise',  # + upper lip up (snarl)
    'lip_corner_up',    # + corners up (smile), - down
    'mouth_stretch',    # + wider mouth, - rounder/narrower
    'lip_press',        # + thin pressed lips
    'lips_part',        # + lips apart
    'jaw_drop',         # + jaw and chin down
)
_AU = {name: i for i, name in enumerate(AU_NAMES)}


def _apex(**aus: float) -> np.ndarray:
  v = np.zeros(len(AU_NAMES), np.float64)
  for name, value in aus.items():
    v[_AU[name]] = value
  return v


# Apex expression of each class, rows in CLASS_NAMES order.
APEX = np.stack([
    # anger: brows down and together, glaring tight lids, lips pressed.
    _apex(brow_inner_up=-1.0, brow_outer_up=-0.2, brow_inward=1.0,
          eye_open=0.25, lid_tighten=0.6, lip_press=1.0, mouth_stretch=-0.3,
          lip_corner_up=-0.2),
    # disgust: nose wrinkle, upper lip raise, brows slightly down.
    _apex(nose_wrinkle=1.0, upper_lip_raise=1.0, brow_inner_up=-0.45,
          brow_outer_up=-0.25, brow_inward=0.35, lid_tighten=0.5,
          cheek_raise=0.3, lip_corner_up=-0.45, lips_part=0.25),
    # fear: brows up and together, eyes wide, mouth slightly open stretched.
    _apex(brow_inner_up=1.0, brow_outer_up=0.35, brow_inward=0.7,
          eye_open=1.0, mouth_stretch=0.9, lips_part=0.5, jaw_drop=0.25,
          lip_corner_up=-0.3),
    # happiness: corners up, cheeks raised, eyes narrow, teeth showing.
    _apex(lip_corner_up=1.0, mouth_stretch=0.6, cheek_raise=1.0,
          lid_tighten=0.7, eye_open=-0.3, lips_part=0.35),
    # sadness: inner brows up, corners down, lids droop.
    _apex(brow_inner_up=0.9, brow_outer_up=-0.35, brow_inward=0.4,
          lip_corner_up=-1.0, eye_open=-0.35, mouth_stretch=-0.2,
          lip_press=0.25),
    # surprise: brows up, eyes wide, jaw drop, round mouth.
    _apex(brow_inner_up=1.0, brow_outer_up=1.0, eye_open=1.0, jaw_drop=1.0,
          lips_part=0.8, mouth_stretch=-0.45),
])

# Limits on the summed (rest + expression) AU values.
_AU_LO = np.array([-1.6, -1.2, -0.6, -0.9, -0.5, -0.3, 0., -0.3, -1.6, -0.8,
                   -0.3, 0., 0.])
_AU_HI = np.array([1.6, 1.6, 1.6, 1.6, 1.5, 1.6, 1.6, 1.6, 1.6, 1.5, 1.5, 1.5,
                   1.5])

_SUPERSAMPLE = 2
_SHIFT = 4  # cv2 fractional bits
_ONE = float(1 << _SHIFT)

_SKIN_LIGHT = np.array([240., 205., 180.])
_SKIN_DARK = np.array([90., 58., 42.])
_HAIR = np.array([[25, 20, 18], [70, 45, 30], [120, 80, 45], [200, 165, 105],
                  [150, 60, 30], [160, 160, 160]], np.float64)
_IRIS = np.array([[70, 40, 20], [40, 25, 15], [60, 100, 150], [70, 110, 70]],
                 np.float64)


@dataclasses.dataclass(frozen=True)
class SubjectParams:
  """One synthetic person: shape, colours, resting expression and lighting.

  Lengths are in face units: x in face half-widths, y in face half-heights,
  origin at the face centre, y down. Colours are RGB in [0, 255].
  """
  face_w: float          # face half-width, fraction of the image size
  face_h: float          # face half-height, fraction of the image size
  face_y: float          # face centre height, fraction of the image size
  chin_p: float          # superellipse exponent of the lower face (squareness)
  jaw_w: float           # jaw width relative to the cheekbones
  skin: tuple[float, float, float]
  hair: tuple[float, float, float]
  iris: tuple[float, float, float]
  lips: tuple[float, float, float]
  background: tuple[float, float, float]
  clothes: tuple[float, float, float]
  hairline: float        # y of the fringe's lower edge
  hair_len: float        # 0 short .. 1 long
  eye_x: float           # eye centre distance from the midline
  eye_y: float
  eye_w: float           # eye half-width
  eye_h: float           # upper-lid height at rest
  brow_y: float
  brow_x: float          # inner brow end distance from the midline
  brow_len: float
  brow_th: float         # brow thickness
  brow_arch: float
  nose_y: float
  nose_w: float
  mouth_y: float
  mouth_w: float         # mouth half-width
  lip_th: float          # lip thickness
  fold_depth: float      # resting darkness of the nasolabial folds
  rest: tuple[float, ...]  # resting AU values, len(AU_NAMES)
  expressivity: float    # scales the apex intensity of every video
  light_angle: float     # direction light comes from, radians
  light_strength: float  # brightness gradient across the image
  brightness: float


def sample_subject(rng) -> SubjectParams:
  """Draws one synthetic subject from `rng` (a np.random.Generator or seed)."""
  rng = np.random.default_rng(rng)
  u = rng.uniform
  skin = _SKIN_LIGHT + (_SKIN_DARK - _SKIN_LIGHT) * u(0, 1) + rng.normal(0, 8, 3)
  skin = np.clip(skin, 30, 250)
  hair = np.clip(_HAIR[rng.integers(len(_HAIR))] + rng.normal(0, 10, 3), 0, 255)
  iris = np.clip(_IRIS[rng.integers(len(_IRIS))] + rng.normal(0, 8, 3), 0, 255)
  lips = np.clip(skin * u(0.7, 0.85) + np.array([35., 0., 5.]), 0, 255)
  background = u(40, 220) + rng.normal(0, 25, 3)
  clothes = u(20, 230, 3)
  # Resting face: small idiosyncrasies, and for many subjects a resting face
  # like another class's apex at moderate intensity (a "resting frown",
  # "resting smile", permanently raised brows, an open mouth...).
  rest = rng.normal(0, 0.12, len(AU_NAMES))
  if u() < 0.85:
    rest += u(0.25, 0.5) * APEX[rng.integers(len(CLASS_NAMES))]
  rest = np.clip(rest, _AU_LO, _AU_HI)
  rest[_AU['jaw_drop']] = max(rest[_AU['jaw_drop']], 0.)
  rest[_AU['lips_part']] = max(rest[_AU['lips_part']], 0.)
  rest[_AU['nose_wrinkle']] = max(rest[_AU['nose_wrinkle']], 0.)
  tup = lambda a: tuple(float(x) for x in a)
  return SubjectParams(
      face_w=u(0.31, 0.37), face_h=u(0.41, 0.47), face_y=u(0.50, 0.54),
      chin_p=u(1.7, 2.7), jaw_w=u(0.78, 0.98),
      skin=tup(skin), hair=tup(hair), iris=tup(iris), lips=tup(lips),
      background=tup(np.clip(background, 0, 255)), clothes=tup(clothes),
      hairline=u(-0.9, -0.68), hair_len=u(0, 1),
      eye_x=u(0.34, 0.48), eye_y=u(-0.24, -0.12), eye_w=u(0.15, 0.21),
      eye_h=u(0.065, 0.09),
      brow_y=u(-0.44, -0.36), brow_x=u(0.08, 0.16), brow_len=u(0.36, 0.48),
      brow_th=u(0.035, 0.06), brow_arch=u(0.0, 0.05),
      nose_y=u(0.12, 0.24), nose_w=u(0.85, 1.2),
      mouth_y=u(0.46, 0.58), mouth_w=u(0.26, 0.36), lip_th=u(0.035, 0.06),
      fold_depth=u(0.0, 0.15),
      rest=tup(rest), expressivity=u(0.8, 1.15),
      light_angle=u(0, 2 * np.pi), light_strength=u(0.05, 0.3),
      brightness=u(0.8, 1.1),
  )


def _smoothstep(x):
  x = np.clip(x, 0., 1.)
  return x * x * (3. - 2. * x)


def _drift(rng, num_frames, amplitude):
  """A smooth random trajectory that starts at exactly 0."""
  a = rng.uniform(-amplitude, amplitude)
  cycles = rng.uniform(0.2, 0.8)
  phase = rng.uniform(0, 2 * np.pi)
  t = np.arange(num_frames) / max(num_frames - 1, 1)
  return a * (np.sin(2 * np.pi * cycles * t + phase) - np.sin(phase))


def _sgnpow(x, p):
  return np.sign(x) * np.abs(x) ** p


class _Canvas:
  """Draws face-unit polygons through an affine pose onto a uint8 canvas."""

  def __init__(self, img, matrix, offset, scale):
    self.img, self.matrix, self.offset, self.scale = img, matrix, offset, scale

  def _px(self, pts):
    p = np.asarray(pts, np.float64) @ self.matrix.T + self.offset
    return np.round(p * _ONE).astype(np.int32)

  def fill(self, pts, color):
    cv2.fillPoly(self.img, [self._px(pts)], color, cv2.LINE_AA, _SHIFT)

  def line(self, pts, color, width):
    th = max(1, int(round(width * self.scale)))
    cv2.polylines(self.img, [self._px(pts)], False, color, th, cv2.LINE_AA,
                  _SHIFT)


def _ellipse(cx, cy, rx, ry, n=24):
  t = np.linspace(0, 2 * np.pi, n, endpoint=False)
  return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], -1)


def _shade(color, darkness):
  return tuple(float(c) * (1. - darkness) for c in color)


def _face_outline(s: SubjectParams, jaw, n=48):
  t = np.linspace(0, 2 * np.pi, n, endpoint=False)
  c, si = np.cos(t), np.sin(t)
  lower = si > 0
  p = np.where(lower, s.chin_p, 2.2)
  x = _sgnpow(c, 2. / p) * np.where(lower, 1. - (1. - s.jaw_w) * si, 1.)
  y = _sgnpow(si, 2. / p) * np.where(lower, 1. + 0.1 * jaw, 1.)
  return np.stack([x, y], -1), t


def _draw_face(cv: _Canvas, s: SubjectParams, au: np.ndarray, eye_open: float,
               aspect: float):
  """Draws one face. `au`: AU vector; `eye_open`: 1 open .. 0 shut (blink);
  `aspect`: face_h / face_w, to draw circles in face units."""
  a = {name: float(au[i]) for i, name in enumerate(AU_NAMES)}
  skin = s.skin
  dark = lambda d: _shade(skin, d)

  # Hair behind the head, ears, face.
  cv.fill(_ellipse(0., -0.12 + 0.3 * s.hair_len, 1.16, 0.95 + 0.3 * s.hair_len),
          s.hair)
  for sg in (-1., 1.):
    cv.fill(_ellipse(sg * 0.98, -0.08, 0.13, 0.21, 12), dark(0.1))
  outline, t = _face_outline(s, a['jaw_drop'])
  cv.fill(outline, skin)

  # Eyes: sclera, iris, pupil; skin-coloured lid bands clip the iris.
  x = np.linspace(-1., 1., 9)
  bump = (1. - x ** 2) ** 0.8
  hu = s.eye_h * np.clip(1. + 0.55 * a['eye_open'] - 0.25 * a['lid_tighten'],
                         0.05, 2.) * eye_open
  hl = s.eye_h * 0.7 * np.clip(1. - 0.55 * a['lid_tighten']
                               - 0.3 * a['cheek_raise']
                               + 0.2 * a['eye_open'], 0.1, 2.)
  hl *= 0.5 + 0.5 * eye_open
  ri = s.eye_h * 1.05
  band = s.eye_h * 2.6
  for sg in (-1., 1.):
    cx, cy = sg * s.eye_x, s.eye_y
    ex = cx + sg * x * s.eye_w
    upper = np.stack([ex, cy - hu * bump + 0.015 * (sg * x + 1.)], -1)
    lower = np.stack([ex, cy + hl * bump], -1)
    cv.fill(np.concatenate([upper, lower[::-1]]), (235., 232., 225.))
    cv.fill(_ellipse(cx, cy, ri * aspect, ri, 16), s.iris)
    cv.fill(_ellipse(cx, cy, 0.45 * ri * aspect, 0.45 * ri, 12), (12., 8., 8.))
    w = 1.15 * s.eye_w * sg
    cv.fill(np.concatenate([upper, [[cx + w, cy - band], [cx - w, cy - band]]]),
            skin)
    cv.fill(np.concatenate([lower, [[cx + w, cy + band], [cx - w, cy + band]]]),
            skin)
    cv.line(upper, dark(0.75), 0.012)
    cv.line(lower, dark(0.3), 0.006)
    # Crease under the eye, deepened by cheek raise / lid tightening.
    d = np.clip(0.08 + 0.3 * a['cheek_raise'] + 0.15 * a['lid_tighten'], 0, .5)
    crease = np.stack([ex * 0.9 + cx * 0.1, cy + hl * bump + 0.05], -1)
    cv.line(crease[2:-2], dark(d), 0.006)

  # Cheeks.
  cr = a['cheek_raise']
  for sg in (-1., 1.):
    blush = np.array(skin) * 0.93 + np.array([14., -4., -4.])
    cv.fill(_ellipse(sg * 0.5, s.eye_y + 0.34 - 0.1 * cr, 0.17 + 0.03 * cr,
                     0.09 + 0.03 * cr, 16), tuple(np.clip(blush, 0, 255)))

  # Mouth geometry (needed by the nasolabial folds).
  mw = s.mouth_w * np.clip(1. + 0.22 * a['mouth_stretch']
                           + 0.1 * a['lip_corner_up'], 0.5, 1.6)
  cd = -0.09 * a['lip_corner_up']
  gap = 0.09 * a['lips_part'] + 0.12 * a['jaw_drop']
  jaw = 0.1 * a['jaw_drop']
  ur = 0.05 * a['upper_lip_raise']
  press = np.clip(1. - 0.6 * a['lip_press'], 0.25, 1.5)
  x = np.linspace(-1., 1., 15)
  b = 1. - x ** 2
  yc = s.mouth_y + cd * x ** 2
  mx = x * mw
  up_in = yc - 0.35 * gap * b - ur * b ** 0.5
  lo_in = yc + (0.65 * gap + jaw) * b ** 0.7
  up_out = up_in - s.lip_th * 0.8 * press * b ** 0.4 - 0.01
  lo_out = lo_in + s.lip_th * press * b ** 0.4 + 0.005

  # Nasolabial folds.
  d = np.clip(s.fold_depth + 0.3 * a['cheek_raise'] + 0.3 * a['upper_lip_raise']
              + 0.15 * a['nose_wrinkle'], 0., 0.6)
  for sg in (-1., 1.):
    fold = [[sg * 0.17 * s.nose_w, s.nose_y - 0.02],
            [sg * (mw + 0.08), 0.5 * (s.nose_y + s.mouth_y + cd)],
            [sg * (mw + 0.07), s.mouth_y + cd + 0.07]]
    cv.line(fold, dark(d), 0.008)

  # Nose: sides, nostrils, wrinkles on the bridge.
  nw = a['nose_wrinkle']
  ny = s.nose_y - 0.04 * nw - 0.02 * a['upper_lip_raise']
  for sg in (-1., 1.):
    side = [[sg * 0.07, s.eye_y + 0.08], [sg * 0.09 * s.nose_w, ny - 0.06],
            [sg * 0.15 * s.nose_w * (1 + 0.15 * nw), ny + 0.01]]
    cv.line(side, dark(0.22), 0.008)
    cv.fill(_ellipse(sg * 0.075 * s.nose_w, ny + 0.02,
                     0.04 * s.nose_w * (1 + 0.25 * nw), 0.022, 10), dark(0.55))
  if nw > 0.:
    for k in range(3):
      y0 = s.eye_y + 0.03 + 0.04 * k
      cv.line([[-0.09, y0 + 0.01], [0., y0], [0.09, y0 + 0.01]],
              dark(0.35 * min(nw, 1.)), 0.007)

  # Brows, forehead wrinkles (brows up), frown lines (brows together).
  iu, ou, bi = a['brow_inner_up'], a['brow_outer_up'], a['brow_inward']
  tt = np.linspace(0., 1., 7)[:, None]
  for sg in (-1., 1.):
    p0 = np.array([sg * (s.brow_x - 0.07 * bi), s.brow_y - 0.1 * iu + 0.02 * bi])
    p2 = np.array([sg * (s.brow_x + s.brow_len), s.brow_y + 0.03 - 0.09 * ou])
    p1 = 0.5 * (p0 + p2) - np.array([0., s.brow_arch * (1. + 0.4 * ou) + 0.02])
    mid = (1 - tt) ** 2 * p0 + 2 * (1 - tt) * tt * p1 + tt ** 2 * p2
    th = s.brow_th * (1. - 0.45 * tt)
    cv.fill(np.concatenate([mid - [0., 1.] * th / 2,
                            (mid + [0., 1.] * th / 2)[::-1]]), s.hair)
  fw = np.clip(0.25 * (iu + ou), 0., 0.4)
  if fw > 0.:
    for k in range(3):
      y0 = s.brow_y - 0.12 - 0.06 * k
      cv.line([[-0.3, y0 + 0.02], [0., y0], [0.3, y0 + 0.02]], dark(fw), 0.006)
  fr = np.clip(0.3 * bi - 0.15 * iu, 0., 0.4)
  if fr > 0.:
    for sg in (-1., 1.):
      cv.line([[sg * 0.035, s.brow_y - 0.06], [sg * 0.05, s.brow_y + 0.05]],
              dark(fr), 0.007)

  # Mouth: cavity, upper teeth, lips, lip line.
  cv.fill(np.concatenate([np.stack([mx, up_in], -1),
                          np.stack([mx, lo_in], -1)[::-1]]), (55., 18., 22.))
  teeth = up_in + np.minimum(0.45 * gap, 0.05) * b
  cv.fill(np.concatenate([np.stack([mx, up_in], -1),
                          np.stack([mx, teeth], -1)[::-1]]), (228., 224., 212.))
  cv.fill(np.concatenate([np.stack([mx, up_out], -1),
                          np.stack([mx, up_in], -1)[::-1]]), s.lips)
  cv.fill(np.concatenate([np.stack([mx, lo_in], -1),
                          np.stack([mx, lo_out], -1)[::-1]]), s.lips)
  cv.line(np.stack([mx, up_in], -1), _shade(s.lips, 0.5), 0.006)

  # Fringe over the top of the face.
  top = outline[(t >= np.pi) & (outline[:, 1] < s.hairline)]
  if len(top) >= 2:
    xs = np.linspace(top[-1, 0], top[0, 0], 9)
    edge = s.hairline + 0.03 * np.sin(9. * xs + 10. * s.hair_len)
    cv.fill(np.concatenate([top, np.stack([xs, edge], -1)]), s.hair)


def render_video(rng, subject: SubjectParams, label: int, num_frames: int,
                 size: int) -> np.ndarray:
  """Renders one video of `subject` making expression `label` (CLASS_NAMES).

  Args:
    rng: np.random.Generator or seed for this video's nuisances (onset, speed,
      intensity, head motion, blinks, lighting, noise).
    subject: from `sample_subject`.
    label: class index into CLASS_NAMES.
    num_frames: T.
    size: output height and width.

  Returns:
    uint8 [T, size, size, 3] RGB; frame 0 is the subject's resting face.
  """
  rng = np.random.default_rng(rng)
  T, S = num_frames, size * _SUPERSAMPLE
  last = max(T - 1, 1)

  # Expression time course: neutral until the onset, then a smooth rise.
  onset = max(1., rng.uniform(0.08, 0.35) * last)
  duration = rng.uniform(0.3, 0.55) * last
  peak = rng.uniform(0.8, 1.1) * subject.expressivity
  intensity = peak * _smoothstep((np.arange(T) - onset) / duration)
  apex = APEX[label] * rng.normal(1., 0.15, len(AU_NAMES))
  apex += rng.normal(0., 0.05, len(AU_NAMES))
  rest = np.asarray(subject.rest)
  aus = np.clip(rest + intensity[:, None] * apex, _AU_LO, _AU_HI)

  # Blinks: 0-2, never on frame 0.
  t = np.arange(T, dtype=np.float64)
  eye_open = np.ones(T)
  for _ in range(rng.choice([0, 1, 1, 2])):
    width = rng.uniform(0.8, 1.6)
    centre = rng.uniform(width + 0.2, max(width + 0.2, T - 1.))
    eye_open -= 0.95 * np.clip(1. - np.abs(t - centre) / width, 0., 1.)
  eye_open = np.clip(eye_open, 0.05, 1.)

  # Head pose and lighting drifts, all 0 at frame 0.
  tx, ty = _drift(rng, T, 0.02), _drift(rng, T, 0.015)
  rot = _drift(rng, T, np.deg2rad(3.))
  scale = 1. + _drift(rng, T, 0.025)
  flicker = 1. + _drift(rng, T, 0.03)
  light_turn = _drift(rng, T, 0.25)
  noise_sigma = rng.uniform(0.5, 2.)
  noise = rng.normal(0., 1., (T, size, size, 1)) * noise_sigma
  noise = noise + rng.normal(0., 0.25 * noise_sigma, (T, size, size, 3))

  fw, fh = subject.face_w * S, subject.face_h * S
  centre = np.array([0.5 * S, subject.face_y * S])
  bg = np.empty((S, S, 3), np.uint8)
  bg[:] = np.clip(subject.background, 0, 255).astype(np.uint8)
  body = _Canvas(bg, np.diag([fw, fh]), centre, fw)
  body.fill(_ellipse(0., 2.05, 1.9, 0.85, 24), subject.clothes)
  body.fill([[-0.33, 0.5], [0.33, 0.5], [0.38, 1.35], [-0.38, 1.35]],
            _shade(subject.skin, 0.12))

  yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size - 0.5
  out = np.empty((T, size, size, 3), np.uint8)
  canvas = np.empty_like(bg)
  for i in range(T):
    c, s_ = np.cos(rot[i]), np.sin(rot[i])
    matrix = scale[i] * np.array([[c, -s_], [s_, c]]) @ np.diag([fw, fh])
    offset = centre + np.array([tx[i], ty[i]]) * S
    canvas[:] = bg
    _draw_face(_Canvas(canvas, matrix, offset, fw * scale[i]), subject,
               aus[i], eye_open[i], fh / fw)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    ang = subject.light_angle + light_turn[i]
    light = subject.brightness * flicker[i] * (
        1. + 2. * subject.light_strength * (xx * np.cos(ang) + yy * np.sin(ang)))
    frame = small.astype(np.float32) * light[..., None].astype(np.float32)
    out[i] = np.clip(np.rint(frame + noise[i]), 0, 255).astype(np.uint8)
  return out
