"""MTCNN face detection in JAX: `FaceDetector` and the faces it finds (`Detection`).

MTCNN (Zhang et al. 2016): P-Net slides over an image pyramid and proposes windows, R-Net and O-Net
rescore and refine them; O-Net also gives five landmarks (the networks, their weights and jitted
calls: `emojax.data.mtcnn_nets`). `FaceDetector` searches whole frames; `FaceDetector.on_boxes`
runs O-Net alone on a box given per frame (landmarks of a face whose place is known).

Non-maximum suppression and bookkeeping run in numpy. Coordinates are continuous pixels: the pixel
at array index (i, j) covers [j, j+1) x [i, i+1), so a box (x1, y1, x2, y2) has width x2 - x1.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax.numpy as jnp
import numpy as np

from emojax.data.mtcnn_nets import _NETS, _pnet_level, _refine, crop_patches, load_params


@dataclasses.dataclass(frozen=True)
class Detection:
  """Faces found in one frame, best score first."""
  boxes: np.ndarray  # [K, 4] float32 x1, y1, x2, y2 pixels, clipped to the frame.
  scores: np.ndarray  # [K] float32 O-Net face probability.
  # [K, 5, 2] float32 (x, y): left eye, right eye, nose, mouth left, mouth right
  # ("left" is the image's left, i.e. the subject's right).
  landmarks: np.ndarray


# Box utilities (numpy).


def nms(boxes, scores, groups=None, threshold=0.5, mode='union') -> np.ndarray:
  """Greedy non-maximum suppression; returns kept indices, best score first.

  Boxes of different `groups` (frame indices) never suppress each other: each group is moved far
  away from the others so one pass serves a whole batch. `mode='min'` divides the overlap by the
  smaller area, which also removes a box nested inside a better one.
  """
  boxes = np.asarray(boxes, np.float64)
  if len(boxes) == 0:
    return np.zeros(0, np.int64)
  if groups is not None:
    span = boxes.max() - boxes.min() + 1
    boxes = boxes + (np.asarray(groups, np.float64) * 2 * span)[:, None]
  x1, y1, x2, y2 = boxes.T
  area = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
  order = np.argsort(-np.asarray(scores), kind='stable')
  keep = []
  while order.size:
    i, rest = order[0], order[1:]
    keep.append(i)
    inter = (np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0) *
             np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0))
    denom = (np.minimum(area[i], area[rest]) if mode == 'min'
             else area[i] + area[rest] - inter)
    order = rest[inter <= threshold * np.maximum(denom, 1e-9)]
  return np.asarray(keep, np.int64)


def _as_frames(frames) -> np.ndarray:
  frames = np.asarray(frames)
  if frames.ndim == 3:
    frames = frames[None]
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
    raise ValueError(f'expected uint8 [N, H, W, 3] RGB frames, got {frames.dtype} '
                     f'{frames.shape}')
  return frames


def _batch(frames):
  """frames on the device, padded to a `_bucket` of frames (few batch shapes compile)."""
  padded = np.zeros((_bucket(len(frames)),) + frames.shape[1:], np.uint8)
  padded[:len(frames)] = frames
  return jnp.asarray(padded)


def _empty() -> Detection:
  return Detection(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                   np.zeros((0, 5, 2), np.float32))


def _square(boxes):
  """Grow each box to a square around its centre (R-Net/O-Net take squares)."""
  c = (boxes[:, :2] + boxes[:, 2:]) / 2
  half = (boxes[:, 2:] - boxes[:, :2]).max(1, keepdims=True) / 2
  return np.concatenate([c - half, c + half], 1)


def _apply_offsets(boxes, offsets):
  wh = boxes[:, 2:] - boxes[:, :2]
  return boxes + offsets * np.concatenate([wh, wh], 1)


def _bucket(n: int, smallest: int = 1) -> int:
  """Smallest 2^k or 3 * 2^k >= n: dynamic sizes are padded to these so jit
  compiles a few shapes only, while padding wastes at most a third."""
  k = max(n - 1, 0).bit_length()  # 2^k >= n
  b = 3 << (k - 2) if k >= 2 and 3 << (k - 2) >= n else 1 << k
  return max(b, smallest)


def _pyramid(height, width, min_face_size, scale_factor):
  """(height, width) of each P-Net level: a face of `min_face_size` pixels becomes
  P-Net's 12x12 window at the first level; stop when the image is below 12."""
  levels, scale = [], 12.0 / min_face_size
  while min(height, width) * scale >= 12:
    levels.append((math.ceil(height * scale), math.ceil(width * scale)))
    scale *= scale_factor
  return levels


class FaceDetector:
  """MTCNN over batches of same-sized frames. Loads the weights once; callable.

  Args:
    min_face_size: smallest face (pixels) to find; larger is faster, since it drops the biggest
      pyramid levels.
    thresholds: face-probability cut-offs of P-Net, R-Net, O-Net.
    scale_factor: ratio between consecutive pyramid levels.
    batch_size: frames per network call (a shorter last chunk is padded to 2^k or 3 * 2^k frames,
      so few batch shapes compile).
  """

  def __init__(self, min_face_size=20, thresholds=(0.6, 0.7, 0.7), scale_factor=0.709,
               batch_size: int = 16):
    self.min_face_size = min_face_size
    self.thresholds = tuple(thresholds)
    self.scale_factor = scale_factor
    self.batch_size = batch_size
    self.params = {name: load_params(name) for name in _NETS}

  def __call__(self, frames: np.ndarray, min_face_size: float | None = None) -> list[Detection]:
    """frames uint8 [N, H, W, 3] RGB (or one [H, W, 3]) -> one Detection per frame.

    `min_face_size` overrides the detector's for this call.
    """
    frames = _as_frames(frames)
    out = []
    for start in range(0, len(frames), self.batch_size):
      out += self._detect(frames[start:start + self.batch_size],
                          min_face_size or self.min_face_size)
    return out

  def on_boxes(self, frames: np.ndarray, boxes, passes: int = 2) -> list[Detection]:
    """O-Net alone, on candidate boxes [N, K, 4] (or one [N, 4]) given per frame of frames
    [N, H, W, 3]: a Detection per frame of the face there (refined box, score, landmarks), or an
    empty one where O-Net's score is below its threshold. The first pass scores every candidate;
    each further pass looks again at the best one's refined box (squared), as MTCNN's own stages
    hand on their boxes."""
    frames = _as_frames(frames)
    boxes = np.asarray(boxes, np.float64)
    boxes = boxes.reshape(len(frames), -1, 4) if boxes.size else boxes
    if boxes.shape[:1] != (len(frames),) or boxes.shape[-1:] != (4,):
      raise ValueError(f'candidate boxes of shape {boxes.shape} for {len(frames)} frames')
    out = []
    for start in range(0, len(frames), self.batch_size):
      chunk = slice(start, start + self.batch_size)
      out += self._on_boxes(frames[chunk], boxes[chunk], passes)
    return out

  def _on_boxes(self, frames, candidates, passes):
    n, h, w, _ = frames.shape
    k = candidates.shape[1]
    boxes, groups = _square(candidates.reshape(-1, 4)), np.repeat(np.arange(n), k)
    for p in range(max(passes, 1)):
      if p:
        boxes, groups = _square(_apply_offsets(boxes, reg)), np.arange(n)
      prob, reg, marks = self._run('onet', frames, boxes, groups)
      if not p:  # The best candidate of each frame.
        best = np.arange(n) * k + prob.reshape(n, k).argmax(1)
        boxes, prob, reg, marks = boxes[best], prob[best], reg[best], marks[best]
    wh = (boxes[:, 2:] - boxes[:, :2])[:, None, :]
    marks = boxes[:, None, :2] + np.stack([marks[:, :5], marks[:, 5:]], -1) * wh
    boxes = np.clip(_apply_offsets(boxes, reg), 0, [w, h, w, h])
    return [Detection(boxes[i:i + 1].astype(np.float32), prob[i:i + 1].astype(np.float32),
                      marks[i:i + 1].astype(np.float32)) if prob[i] > self.thresholds[2]
            else _empty() for i in range(n)]

  def _detect(self, frames, min_face_size):
    n, h, w, _ = frames.shape
    images = _batch(frames)
    t1, t2, t3 = self.thresholds
    empty = [_empty() for _ in range(n)]

    # Stage 1: P-Net proposals on every pyramid level (all levels dispatched first).
    levels = _pyramid(h, w, min_face_size, self.scale_factor)
    outputs = [_pnet_level(self.params['pnet'], images, *hw) for hw in levels]
    boxes, scores, groups = [], [], []
    for (hs, ws), (prob, reg) in zip(levels, outputs):
      prob = np.asarray(prob)[:n]
      g, i, j = np.nonzero(prob > t1)
      if not len(g):
        continue
      sx, sy = ws / w, hs / h  # Actual per-axis scale of this level.
      win = np.stack([2 * j / sx, 2 * i / sy, (2 * j + 12) / sx, (2 * i + 12) / sy], 1)
      b = _apply_offsets(win, np.asarray(reg)[g, i, j])
      keep = nms(b, prob[g, i, j], g, 0.5)
      boxes.append(b[keep]), scores.append(prob[g, i, j][keep]), groups.append(g[keep])
    if not boxes:
      return empty
    boxes, scores, groups = map(np.concatenate, (boxes, scores, groups))
    keep = nms(boxes, scores, groups, 0.7)
    boxes, groups = _square(boxes[keep]), groups[keep]

    # Stage 2: R-Net rescoring and refinement.
    prob, reg = self._run('rnet', frames, boxes, groups)
    keep = prob > t2
    boxes, prob, groups = _apply_offsets(boxes[keep], reg[keep]), prob[keep], groups[keep]
    keep = nms(boxes, prob, groups, 0.7)
    boxes, groups = _square(boxes[keep]), groups[keep]
    if not len(boxes):
      return empty

    # Stage 3: O-Net rescoring, refinement and landmarks.
    prob, reg, marks = self._run('onet', frames, boxes, groups)
    keep = prob > t3
    boxes, prob, groups, reg, marks = (a[keep] for a in (boxes, prob, groups, reg, marks))
    wh = (boxes[:, 2:] - boxes[:, :2])[:, None, :]
    marks = boxes[:, None, :2] + np.stack([marks[:, :5], marks[:, 5:]], -1) * wh
    boxes = _apply_offsets(boxes, reg)
    keep = nms(boxes, prob, groups, 0.7, mode='min')
    boxes, prob, groups, marks = (a[keep] for a in (boxes, prob, groups, marks))
    boxes = np.clip(boxes, 0, [w, h, w, h])

    out = list(empty)
    for f in np.unique(groups):
      sel = groups == f  # `keep` is sorted by score, so each frame's faces are too.
      out[f] = Detection(boxes[sel].astype(np.float32), prob[sel].astype(np.float32),
                         marks[sel].astype(np.float32))
    return out

  def _run(self, name, frames, boxes, groups):
    k, kp = len(boxes), _bucket(len(boxes), 16)
    b, g = np.zeros((kp, 4), np.float32), np.zeros(kp, np.int32)
    b[:k], b[k:], g[:k] = boxes, (0, 0, 1, 1), groups
    patches = crop_patches(frames, b, g, 24 if name == 'rnet' else 48)
    return tuple(np.asarray(o)[:k] for o in _refine(self.params[name], patches, name))


@functools.lru_cache(maxsize=None)
def default_detector() -> FaceDetector:
  """The process-wide detector, so the weights load (and nets compile) once."""
  return FaceDetector()
