"""What a synthetic face is: its action units, each class's apex, and a subject's parameters.

An expression is a small vector of "action units" (AUs, loosely after FACS,
0 = neutral). `APEX` holds each class's apex, rows in `emotions.BASIC_EMOTIONS`
order; `sample_subject` draws one person: shape, colours, resting face, lighting.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfds_builders import emotions

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


_APEX_OF = {
    # Brows down and together, glaring tight lids, lips pressed.
    'anger': _apex(
        brow_inner_up=-1.0, brow_outer_up=-0.2, brow_inward=1.0, eye_open=0.25, lid_tighten=0.6,
        lip_press=1.0, mouth_stretch=-0.3, lip_corner_up=-0.2),
    # Nose wrinkle, upper lip raise, brows slightly down.
    'disgust': _apex(
        nose_wrinkle=1.0, upper_lip_raise=1.0, brow_inner_up=-0.45, brow_outer_up=-0.25,
        brow_inward=0.35, lid_tighten=0.5, cheek_raise=0.3, lip_corner_up=-0.45, lips_part=0.25),
    # Brows up and together, eyes wide, mouth slightly open stretched.
    'fear': _apex(
        brow_inner_up=1.0, brow_outer_up=0.35, brow_inward=0.7, eye_open=1.0, mouth_stretch=0.9,
        lips_part=0.5, jaw_drop=0.25, lip_corner_up=-0.3),
    # Corners up, cheeks raised, eyes narrow, teeth showing.
    'happiness': _apex(
        lip_corner_up=1.0, mouth_stretch=0.6, cheek_raise=1.0, lid_tighten=0.7, eye_open=-0.3,
        lips_part=0.35),
    # Inner brows up, corners down, lids droop.
    'sadness': _apex(
        brow_inner_up=0.9, brow_outer_up=-0.35, brow_inward=0.4, lip_corner_up=-1.0,
        eye_open=-0.35, mouth_stretch=-0.2, lip_press=0.25),
    # Brows up, eyes wide, jaw drop, round mouth.
    'surprise': _apex(
        brow_inner_up=1.0, brow_outer_up=1.0, eye_open=1.0, jaw_drop=1.0, lips_part=0.8,
        mouth_stretch=-0.45),
}
# Apex expression of each class; a label is a row index, in `emotions.BASIC_EMOTIONS` order.
APEX = np.stack([_APEX_OF[name] for name in emotions.BASIC_EMOTIONS])

# Limits on the summed (rest + expression) AU values.
AU_LO = np.array([-1.6, -1.2, -0.6, -0.9, -0.5, -0.3, 0., -0.3, -1.6, -0.8, -0.3, 0., 0.])
AU_HI = np.array([1.6, 1.6, 1.6, 1.6, 1.5, 1.6, 1.6, 1.6, 1.6, 1.5, 1.5, 1.5, 1.5])

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
    rest += u(0.25, 0.5) * APEX[rng.integers(len(APEX))]
  rest = np.clip(rest, AU_LO, AU_HI)
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
