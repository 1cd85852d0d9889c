"""The subject's face over a video: MTCNN detections linked into one track, smoothed, cropped.

`extract_face_track` is what the dataset builders and prediction run on every video: detect faces
in every frame (`emojax.data.mtcnn`), keep the track of the subject (big, central, present in many
frames), interpolate its box over frames where it was missed, smooth the box over time and cut
square crops around it.

Coordinates are continuous pixels, as in `emojax.data.mtcnn`.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from emojax.data import mtcnn
from emojax.data.smoothing import gaussian_smooth

# The face crops, defined once for the builders (stored crops), prediction and the face track.
STORED_CROP_SIZE = 128  # side of the crops a builder stores; 112-pixel model inputs come from them
CROP_MARGIN = 0.2  # added to each side of the face box, as a fraction of its longer side
MIN_FACE_FRACTION = 0.1  # smallest face looked for, as a fraction of the frame's shorter side


class NoFaceError(ValueError):
  """No face was detected in any frame of a video."""


@dataclasses.dataclass(frozen=True)
class FaceTrack:
  """The subject's face over a video, one entry per frame."""
  crops: np.ndarray  # uint8 [N, size, size, 3]
  boxes: np.ndarray  # [N, 4] float32 smoothed boxes the crops were cut around.
  found: np.ndarray  # [N] bool, True where the subject's face was detected.


def _choose_subject(detections: list[mtcnn.Detection], frame_shape) -> np.ndarray:
  """Index of the subject's detection in each frame, -1 where it was not found.

  Detections are linked across frames into tracks (nearest centre, similar size),
  and the track with the largest summed score x size x centrality wins: the face
  that is big, central and present in many frames, not a passer-by.
  """
  h, w = frame_shape[:2]
  centre, half_diag = np.array([w / 2, h / 2]), math.hypot(w, h) / 2
  tracks = []  # Each: {'box': last box, 'members': {frame: index}, 'weight': float}
  for t, det in enumerate(detections):
    taken = set()
    for k in np.argsort(-det.scores, kind='stable'):
      box = det.boxes[k]
      c, s = (box[:2] + box[2:]) / 2, math.sqrt(max(np.prod(box[2:] - box[:2]), 1e-6))
      best, best_d = None, 0.5  # Move < half the face size, size change < 1.5x.
      for ti, tr in enumerate(tracks):
        if ti in taken:
          continue
        tb = tr['box']
        tc, ts = (tb[:2] + tb[2:]) / 2, math.sqrt(max(np.prod(tb[2:] - tb[:2]), 1e-6))
        d = np.linalg.norm(c - tc) / math.sqrt(s * ts)
        if d < best_d and max(s, ts) / min(s, ts) < 1.5:
          best, best_d = ti, d
      if best is None:
        tracks.append({'members': {}, 'weight': 0.0})
        best = len(tracks) - 1
      taken.add(best)
      tr = tracks[best]
      tr['box'], tr['members'][t] = box, k
      centrality = 1 - 0.5 * np.linalg.norm(c - centre) / half_diag
      tr['weight'] += float(det.scores[k]) * s / min(h, w) * centrality
  if not tracks:
    raise NoFaceError(f'no face detected in any of {len(detections)} frames')
  best = max(tracks, key=lambda tr: tr['weight'])
  chosen = np.full(len(detections), -1, np.int64)
  for t, k in best['members'].items():
    chosen[t] = k
  return chosen


def _fill_and_smooth(values: np.ndarray, found: np.ndarray, sigma: float) -> np.ndarray:
  """Linear interpolation over frames where `found` is False (held constant past
  the ends), then `gaussian_smooth` over time of width `sigma` frames."""
  t = np.arange(len(values))
  filled = np.stack([np.interp(t, t[found], v[found]) for v in values.T], 1)
  return gaussian_smooth(filled, sigma)


def _box_track(detections, chosen, sigma):
  found = chosen >= 0
  boxes = np.zeros((len(detections), 4))
  for t in np.flatnonzero(found):
    boxes[t] = detections[t].boxes[chosen[t]]
  # Smooth centre and size rather than corners, so the size does not jitter.
  cs = np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], 1)
  cs = _fill_and_smooth(cs, found, sigma)
  boxes = np.concatenate([cs[:, :2] - cs[:, 2:] / 2, cs[:, :2] + cs[:, 2:] / 2], 1)
  return boxes.astype(np.float32), found


def track_faces(detections: list[mtcnn.Detection], frame_shape,
                sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
  """The subject's box in every frame: (boxes [N, 4] float32, found [N] bool).

  Frames without a detection of the subject take boxes interpolated from their
  neighbours; all boxes are then smoothed over time (`sigma` frames). Raises
  NoFaceError when no frame has a face.
  """
  return _box_track(detections, _choose_subject(detections, frame_shape), sigma)


def crop_faces(frames, boxes, size: int, margin: float = CROP_MARGIN,
               eyes: np.ndarray | None = None) -> np.ndarray:
  """Square crops uint8 [N, size, size, 3] around boxes [N, 4].

  The square's side is the box's longer side plus `margin` of it on each side,
  centred on the box. With `eyes` [N, 2, 2] ((x, y) of the left and right eye)
  the square is rotated so the eyes lie on a horizontal line. Pixels outside the
  frame repeat its edge. Big faces are first shrunk with area averaging so the
  final resampling does not alias.
  """
  frames, boxes = np.asarray(frames), np.asarray(boxes, np.float64)
  out = np.zeros((len(frames), size, size, 3), np.uint8)
  for n, (frame, box) in enumerate(zip(frames, boxes)):
    fh, fw = frame.shape[:2]
    c = (box[:2] + box[2:]) / 2
    side = max(box[2] - box[0], box[3] - box[1], 1.0) * (1 + 2 * margin)
    angle = 0.0
    if eyes is not None:
      d = np.asarray(eyes[n], np.float64)[1] - np.asarray(eyes[n], np.float64)[0]
      angle = math.atan2(d[1], d[0])
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


def smallest_face(detector: mtcnn.FaceDetector, frame_shape,
                  fraction: float = MIN_FACE_FRACTION) -> float:
  """Smallest face (pixels) to look for in frames of `frame_shape` (H, W, ...): `fraction` of
  their shorter side, and never below the detector's own minimum."""
  return max(detector.min_face_size, fraction * min(frame_shape[:2]))


def extract_face_track(frames, size: int, margin: float = CROP_MARGIN, align: bool = False,
                       detector: mtcnn.FaceDetector | None = None, source: str = '<array>',
                       sigma: float = 1.0, min_face: float = MIN_FACE_FRACTION) -> FaceTrack:
  """Detect, track, smooth and crop the subject's face in frames uint8 [N, H, W, 3].

  `size`, `margin`, `align`: see crop_faces (`align` turns the eye line
  horizontal); `sigma`: see track_faces. Faces smaller than `min_face` of the
  frame's shorter side are not looked for (see `smallest_face`): a subject fills
  more than that, and P-Net's cost is mostly in the levels for small faces.

  Raises NoFaceError naming `source` (e.g. the video path) when no frame has a
  face: such a video must not silently enter a dataset.
  """
  frames = np.asarray(frames)
  if frames.ndim != 4 or not len(frames):
    raise NoFaceError(f'{source}: no frames (got an array of shape {frames.shape})')
  detector = detector or mtcnn.default_detector()
  detections = detector(frames, smallest_face(detector, frames.shape[1:3], min_face))
  try:
    chosen = _choose_subject(detections, frames.shape[1:3])
  except NoFaceError:
    raise NoFaceError(f'no face detected in any of the {len(frames)} frames of '
                      f'{source}') from None
  boxes, found = _box_track(detections, chosen, sigma)
  eyes = None
  if align:
    eyes = np.zeros((len(frames), 4))
    for t in np.flatnonzero(found):
      eyes[t] = detections[t].landmarks[chosen[t], :2].reshape(-1)
    eyes = _fill_and_smooth(eyes, found, sigma).reshape(-1, 2, 2)
  return FaceTrack(crop_faces(frames, boxes, size, margin, eyes), boxes, found)
