"""The subject's face over a video from detections on some of its frames: key frames, the frames
where the track was unsure, the subject among other faces, values between detections.

A video is detected on key frames (every `key_frame_interval`-th frame and the last); between two
key frames the face is carried, its box and landmarks interpolated, unless the track is unsure
there: the subject is missing at either end, its score is below `CONFIDENT`, or it moved, grew or
turned more than `MAX_MOVE`, `MAX_ZOOM`, `MAX_TURN_DEG` between them. Those frames are detected
too (`frames_to_recheck`), then the subject's track is chosen again over every detected frame.
A face seen on no key frame is looked for on every frame. Interval 1 detects every frame.

Coordinates are continuous pixels, as in `emojax.data.mtcnn`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from emojax.data import mtcnn
from emojax.data.smoothing import gaussian_smooth

CONFIDENT = 0.95  # O-Net score above which a face is carried to the next key frame unchecked
MAX_MOVE = 0.2  # centre displacement between key frames, as a fraction of the face's size
MAX_ZOOM = 1.15  # size ratio between key frames
MAX_TURN_DEG = 8.0  # change of the eye line's angle between key frames


class NoFaceError(ValueError):
  """No face was detected in any frame of a video."""


def key_frames(num_frames: int, interval: int) -> np.ndarray:
  """Every `interval`-th frame index from 0, and the last frame."""
  if interval < 1:
    raise ValueError(f'key_frame_interval={interval} must be at least 1')
  return np.unique(np.append(np.arange(0, num_frames, interval), num_frames - 1))


def choose_subject(detections: list[mtcnn.Detection], frame_shape) -> np.ndarray:
  """Index of the subject's detection in each of a sequence of detections, -1 where absent.

  Detections are linked in order into tracks (nearest centre, similar size), and the track with
  the largest summed score x size x centrality wins: the face that is big, central and present
  in many frames, not a passer-by.
  """
  h, w = frame_shape[:2]
  centre, half_diag = np.array([w / 2, h / 2]), math.hypot(w, h) / 2
  tracks = []  # Each: {'box': last box, 'members': {position: index}, 'weight': float}
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


def _subject(detections: Mapping[int, mtcnn.Detection], frame_shape):
  """(detected frame indices in order, the subject's detection index in each, -1: absent)."""
  frames = np.array(sorted(detections), np.int64)
  return frames, choose_subject([detections[t] for t in frames], frame_shape)


def _unsure(a: mtcnn.Detection, ka: int, b: mtcnn.Detection, kb: int) -> bool:
  """Whether the subject (detection ka of a, kb of b) may do between a and b what a straight
  line from a to b does not show."""
  if min(a.scores[ka], b.scores[kb]) < CONFIDENT:
    return True
  (ca, sa), (cb, sb) = (((d.boxes[k, :2] + d.boxes[k, 2:]) / 2,
                         math.sqrt(max(np.prod(d.boxes[k, 2:] - d.boxes[k, :2]), 1e-6)))
                        for d, k in ((a, ka), (b, kb)))
  la, lb = a.landmarks[ka, 1] - a.landmarks[ka, 0], b.landmarks[kb, 1] - b.landmarks[kb, 0]
  turn = abs(math.degrees(math.atan2(la[0] * lb[1] - la[1] * lb[0], la @ lb)))
  return (np.linalg.norm(cb - ca) > MAX_MOVE * math.sqrt(sa * sb)
          or max(sa, sb) / min(sa, sb) > MAX_ZOOM or turn > MAX_TURN_DEG)


def frames_to_recheck(detections: Mapping[int, mtcnn.Detection], frame_shape,
                      num_frames: int) -> np.ndarray:
  """Undetected frames between detected ones where the subject's track is unsure (see the
  module docstring); every undetected frame when no detected frame has a face."""
  try:
    frames, chosen = _subject(detections, frame_shape)
  except NoFaceError:
    return np.setdiff1d(np.arange(num_frames), list(detections))
  out = []
  for (a, ka), (b, kb) in zip(zip(frames, chosen), zip(frames[1:], chosen[1:])):
    if b - a <= 1 or (ka < 0 and kb < 0):
      continue  # Nothing between, or no face at either end: none assumed between.
    if ka < 0 or kb < 0 or _unsure(detections[a], ka, detections[b], kb):
      out.append(np.arange(a + 1, b))
  return np.concatenate(out) if out else np.zeros(0, np.int64)


def _fill_and_smooth(values: np.ndarray, known: np.ndarray, sigma: float) -> np.ndarray:
  """Linear interpolation over frames where `known` is False (held constant past the ends),
  then `gaussian_smooth` over time of width `sigma` frames."""
  t = np.arange(len(values))
  filled = np.stack([np.interp(t, t[known], v[known]) for v in values.T], 1)
  return gaussian_smooth(filled, sigma)


def subject_track(detections: Mapping[int, mtcnn.Detection], frame_shape, num_frames: int,
                  sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """The subject's box and landmarks in every frame: (boxes [N, 4], landmarks [N, 5, 2] float32,
  found [N] bool), from the detections of some frames ({frame index: Detection}).

  Frames without the subject's detection take values interpolated from their neighbours; all
  are then smoothed over time (`sigma` frames). An undetected frame counts as found when the
  detected frames on both sides have the subject (the track carried it). Raises NoFaceError when
  no frame has a face.
  """
  frames, chosen = _subject(detections, frame_shape)
  anchors = frames[chosen >= 0]
  boxes, marks = np.zeros((num_frames, 4)), np.zeros((num_frames, 10))
  for t, k in zip(frames, chosen):
    if k >= 0:
      boxes[t] = detections[t].boxes[k]
      marks[t] = detections[t].landmarks[k].reshape(-1)
  known = np.zeros(num_frames, bool)
  known[anchors] = True
  with_subject = np.zeros(num_frames, bool)
  with_subject[frames] = chosen >= 0
  # An undetected frame takes the state of the detected frames around it, when they agree.
  pos = np.searchsorted(frames, np.arange(num_frames))
  before, after = frames[np.clip(pos - 1, 0, len(frames) - 1)], frames[np.clip(pos, 0,
                                                                               len(frames) - 1)]
  found = np.where(np.isin(np.arange(num_frames), frames), with_subject,
                   with_subject[before] & with_subject[after] & (pos > 0) & (pos < len(frames)))
  # Smooth centre and size rather than corners, so the size does not jitter.
  cs = np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], 1)
  cs = _fill_and_smooth(cs, known, sigma)
  boxes = np.concatenate([cs[:, :2] - cs[:, 2:] / 2, cs[:, :2] + cs[:, 2:] / 2], 1)
  marks = _fill_and_smooth(marks, known, sigma).reshape(-1, 5, 2)
  return boxes.astype(np.float32), marks.astype(np.float32), found


def track_subject(detect: Callable[[np.ndarray], list[mtcnn.Detection]], num_frames: int,
                  frame_shape, key_frame_interval: int, sigma: float = 1.0,
                  key_detections: Mapping[int, mtcnn.Detection] | None = None):
  """`subject_track` of a video whose frames `detect(indices)` detects: on the key frames (or
  `key_detections` of them, when the caller detected them already), then on the frames to
  recheck. Returns (boxes, landmarks, found) and the number of frames detected."""
  detections = dict(key_detections) if key_detections is not None else None
  if detections is None:
    keys = key_frames(num_frames, key_frame_interval)
    detections = dict(zip(keys.tolist(), detect(keys)))
  recheck = frames_to_recheck(detections, frame_shape, num_frames)
  if len(recheck):
    detections.update(zip(recheck.tolist(), detect(recheck)))
  return subject_track(detections, frame_shape, num_frames, sigma), len(detections)
