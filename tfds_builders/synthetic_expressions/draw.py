"""Drawing one face: antialiased polygons in face units, through an affine head pose.

cv2.fillPoly / polylines with LINE_AA and 4 bits of sub-pixel precision.
"""

from __future__ import annotations

import cv2
import numpy as np

from tfds_builders.synthetic_expressions.face_model import AU_NAMES, SubjectParams

_SHIFT = 4  # cv2 fractional bits
_ONE = float(1 << _SHIFT)


def _sgnpow(x, p):
  return np.sign(x) * np.abs(x) ** p


class Canvas:
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


def ellipse(cx, cy, rx, ry, n=24):
  t = np.linspace(0, 2 * np.pi, n, endpoint=False)
  return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], -1)


def shade(color, darkness):
  return tuple(float(c) * (1. - darkness) for c in color)


def _face_outline(s: SubjectParams, jaw, n=48):
  t = np.linspace(0, 2 * np.pi, n, endpoint=False)
  c, si = np.cos(t), np.sin(t)
  lower = si > 0
  p = np.where(lower, s.chin_p, 2.2)
  x = _sgnpow(c, 2. / p) * np.where(lower, 1. - (1. - s.jaw_w) * si, 1.)
  y = _sgnpow(si, 2. / p) * np.where(lower, 1. + 0.1 * jaw, 1.)
  return np.stack([x, y], -1), t


def draw_face(cv: Canvas, s: SubjectParams, au: np.ndarray, eye_open: float, aspect: float):
  """Draws one face. `au`: AU vector; `eye_open`: 1 open .. 0 shut (blink);
  `aspect`: face_h / face_w, to draw circles in face units."""
  a = {name: float(au[i]) for i, name in enumerate(AU_NAMES)}
  skin = s.skin
  dark = lambda d: shade(skin, d)

  # Hair behind the head, ears, face.
  cv.fill(ellipse(0., -0.12 + 0.3 * s.hair_len, 1.16, 0.95 + 0.3 * s.hair_len),
          s.hair)
  for sg in (-1., 1.):
    cv.fill(ellipse(sg * 0.98, -0.08, 0.13, 0.21, 12), dark(0.1))
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
    cv.fill(ellipse(cx, cy, ri * aspect, ri, 16), s.iris)
    cv.fill(ellipse(cx, cy, 0.45 * ri * aspect, 0.45 * ri, 12), (12., 8., 8.))
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
    cv.fill(ellipse(sg * 0.5, s.eye_y + 0.34 - 0.1 * cr, 0.17 + 0.03 * cr,
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
    cv.fill(ellipse(sg * 0.075 * s.nose_w, ny + 0.02,
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
  cv.line(np.stack([mx, up_in], -1), shade(s.lips, 0.5), 0.006)

  # Fringe over the top of the face.
  top = outline[(t >= np.pi) & (outline[:, 1] < s.hairline)]
  if len(top) >= 2:
    xs = np.linspace(top[-1, 0], top[0, 0], 9)
    edge = s.hairline + 0.03 * np.sin(9. * xs + 10. * s.hair_len)
    cv.fill(np.concatenate([top, np.stack([xs, edge], -1)]), s.hair)

