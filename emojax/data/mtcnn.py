"""MTCNN face detection in JAX: the three networks, their weights, and `FaceDetector`.

MTCNN (Zhang et al. 2016): P-Net slides over an image pyramid and proposes windows, R-Net (24x24
crops) and O-Net (48x48 crops) rescore and refine them; O-Net also gives five landmarks. The trained
weights are the ones the `mtcnn` PyPI wheel ships (`mtcnn/assets/weights/*.lz4`); we read the files
directly and never import that package, which needs TensorFlow.

Every network call is jitted with static shapes: P-Net once per pyramid level, R-Net/O-Net once per
(padded) number of crops, each over a batch of frames. Non-maximum suppression and bookkeeping run
in numpy. Coordinates are continuous pixels: the pixel at array index (i, j) covers
[j, j+1) x [i, i+1), so a box (x1, y1, x2, y2) has width x2 - x1.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import joblib
import numpy as np


@dataclasses.dataclass(frozen=True)
class Detection:
  """Faces found in one frame, best score first."""
  boxes: np.ndarray  # [K, 4] float32 x1, y1, x2, y2 pixels, clipped to the frame.
  scores: np.ndarray  # [K] float32 O-Net face probability.
  # [K, 5, 2] float32 (x, y): left eye, right eye, nose, mouth left, mouth right
  # ("left" is the image's left, i.e. the subject's right).
  landmarks: np.ndarray


# Networks. Layer names follow the Keras definitions in the `mtcnn` wheel
# (mtcnn/network/{pnet,rnet,onet}.py), whose weight lists we load in order.


class PReLU(nn.Module):
  """PReLU with one slope per channel (Keras `shared_axes=[1, 2]`)."""

  @nn.compact
  def __call__(self, x):
    alpha = self.param('alpha', nn.initializers.constant(0.25), (x.shape[-1],))
    return jnp.where(x >= 0, x, alpha * x)


def _conv(features, kernel, name):
  return nn.Conv(features, (kernel, kernel), padding='VALID', name=name)


def _flatten_transposed(x):
  # The Keras nets flatten after Permute((2, 1, 3)), i.e. in W, H, C order: the
  # original Caffe nets were trained on transposed (column-major) images.
  return jnp.transpose(x, (0, 2, 1, 3)).reshape(x.shape[0], -1)


class PNet(nn.Module):
  """Fully convolutional: one output per 12x12 window, stride 2."""

  @nn.compact
  def __call__(self, x):
    x = PReLU(name='prelu1')(_conv(10, 3, 'conv1')(x))
    x = nn.max_pool(x, (2, 2), (2, 2), padding='SAME')
    x = PReLU(name='prelu2')(_conv(16, 3, 'conv2')(x))
    x = PReLU(name='prelu3')(_conv(32, 3, 'conv3')(x))
    reg = _conv(4, 1, 'conv4_1')(x)
    prob = nn.softmax(_conv(2, 1, 'conv4_2')(x))[..., 1]
    return prob, reg


class RNet(nn.Module):
  """24x24 crops -> (face probability, box offsets)."""

  @nn.compact
  def __call__(self, x):
    x = PReLU(name='prelu1')(_conv(28, 3, 'conv1')(x))
    x = nn.max_pool(x, (3, 3), (2, 2), padding='SAME')
    x = PReLU(name='prelu2')(_conv(48, 3, 'conv2')(x))
    x = nn.max_pool(x, (3, 3), (2, 2), padding='VALID')
    x = PReLU(name='prelu3')(_conv(64, 2, 'conv3')(x))
    x = PReLU(name='prelu4')(nn.Dense(128, name='fc4')(_flatten_transposed(x)))
    reg = nn.Dense(4, name='fc5_1')(x)
    prob = nn.softmax(nn.Dense(2, name='fc5_2')(x))[..., 1]
    return prob, reg


class ONet(nn.Module):
  """48x48 crops -> (face probability, box offsets, landmarks x1..x5, y1..y5)."""

  @nn.compact
  def __call__(self, x):
    x = PReLU(name='prelu1')(_conv(32, 3, 'conv1')(x))
    x = nn.max_pool(x, (3, 3), (2, 2), padding='SAME')
    x = PReLU(name='prelu2')(_conv(64, 3, 'conv2')(x))
    x = nn.max_pool(x, (3, 3), (2, 2), padding='VALID')
    x = PReLU(name='prelu3')(_conv(64, 3, 'conv3')(x))
    x = nn.max_pool(x, (2, 2), (2, 2), padding='SAME')
    x = PReLU(name='prelu4')(_conv(128, 2, 'conv4')(x))
    x = PReLU(name='prelu5')(nn.Dense(256, name='fc5')(_flatten_transposed(x)))
    reg = nn.Dense(4, name='fc6_1')(x)
    landmarks = nn.Dense(10, name='fc6_2')(x)
    prob = nn.softmax(nn.Dense(2, name='fc6_3')(x))[..., 1]
    return prob, reg, landmarks


# Keras weight order of each net: (flax module name, 'conv' | 'dense' | 'prelu').
_LAYOUTS = {
    'pnet': ['conv1', 'prelu1', 'conv2', 'prelu2', 'conv3', 'prelu3', 'conv4_1', 'conv4_2'],
    'rnet': ['conv1', 'prelu1', 'conv2', 'prelu2', 'conv3', 'prelu3', 'fc4', 'prelu4', 'fc5_1',
             'fc5_2'],
    'onet': ['conv1', 'prelu1', 'conv2', 'prelu2', 'conv3', 'prelu3', 'conv4', 'prelu4', 'fc5',
             'prelu5', 'fc6_1', 'fc6_2', 'fc6_3'],
}
_NETS = {'pnet': PNet(), 'rnet': RNet(), 'onet': ONet()}


def _weights_dir() -> str:
  spec = importlib.util.find_spec('mtcnn')  # Locates the wheel without importing it.
  if spec is None or not spec.submodule_search_locations:
    raise ImportError('the `mtcnn` package (pip install mtcnn) provides the MTCNN weights; it is '
                      'not installed')
  return os.path.join(list(spec.submodule_search_locations)[0], 'assets', 'weights')


def load_params(name: str) -> dict:
  """Flax params of 'pnet' | 'rnet' | 'onet' from the wheel's joblib/lz4 file.

  Keras and flax agree on conv kernels (HWIO) and dense kernels (in, out); PReLU
  slopes are stored [1, 1, C] for conv layers and become [C].
  """
  arrays = list(joblib.load(os.path.join(_weights_dir(), f'{name}.lz4')))
  params = {}
  for layer in _LAYOUTS[name]:
    if layer.startswith('prelu'):
      params[layer] = {'alpha': arrays.pop(0).reshape(-1)}
    else:
      params[layer] = {'kernel': arrays.pop(0), 'bias': arrays.pop(0)}
  if arrays:
    raise ValueError(f'{name}: {len(arrays)} weight arrays left unassigned')
  params = {'params': jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params)}
  # Fail loudly if the layout above and the module definitions disagree.
  side = 48 if name == 'onet' else 24
  shapes = jax.eval_shape(_NETS[name].init, jax.random.key(0), jnp.zeros((1, side, side, 3)))
  if jax.tree.map(lambda s: s.shape, shapes) != jax.tree.map(jnp.shape, params):
    raise ValueError(f'{name}: weight shapes do not match the network')
  return params


# Jitted stages.


def _resize_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
  """Source indices and weights [n_out, taps] of a 1-D resize.

  Downscaling averages the covered input pixels (area / box filter, exactly
  OpenCV's INTER_AREA) so small pyramid levels do not alias; upscaling is linear.
  """
  r = n_in / n_out
  if r <= 1:
    x = (np.arange(n_out) + 0.5) * r - 0.5
    x0 = np.floor(x)
    idx = np.stack([x0, x0 + 1], -1)
    w = np.stack([1 - (x - x0), x - x0], -1)
  else:
    start = np.arange(n_out) * r
    idx = np.floor(start)[:, None] + np.arange(math.ceil(r) + 1)
    w = np.clip(np.minimum(start[:, None] + r, idx + 1) - np.maximum(start[:, None], idx),
                0, None) / r
  return np.clip(idx, 0, n_in - 1).astype(np.int32), w.astype(np.float32)


def _resize(x, height: int, width: int):
  """Separable resize of [N, H, W, C] to float32 [N, height, width, C].

  Per axis, a sum over taps of gathered rows (then columns) times their weights: a few taps per
  output pixel, where jax.image.resize multiplies by dense matrices. Rows go first and are gathered
  from the uint8 input, so the full-size frame is never converted to float (XLA:CPU gathers far
  slower from a float copy).
  """
  for axis, n_out in ((1, height), (2, width)):
    idx, w = _resize_taps(x.shape[axis], n_out)
    shape = (-1,) + (1,) * (x.ndim - axis - 1)
    x = sum(jnp.take(x, idx[:, k], axis=axis, mode='clip').astype(jnp.float32) *
            w[:, k].reshape(shape) for k in range(idx.shape[1]))
  return x


def _normalize(x):
  return (x - 127.5) / 128.0


@functools.partial(jax.jit, static_argnums=(2, 3))
def _pnet_level(params, frames, height: int, width: int):
  """P-Net on frames [N, H, W, 3] uint8 resized to (height, width)."""
  x = _normalize(_resize(frames, height, width))
  return PNet().apply(params, x)


def _crop_patches(frames, boxes, frame_idx, size: int):
  """Bilinear crops [K, size, size, 3] of boxes [K, 4] from frames[frame_idx].

  Plain bilinear sampling (no antialiasing) and black outside the frame, as the original MTCNN
  prepared its R-Net/O-Net inputs.
  """
  _, h, w, _ = frames.shape
  t = (jnp.arange(size) + 0.5) / size
  xs = boxes[:, 0:1] + t * (boxes[:, 2:3] - boxes[:, 0:1]) - 0.5  # [K, S] indices
  ys = boxes[:, 1:2] + t * (boxes[:, 3:4] - boxes[:, 1:2]) - 0.5
  x0, y0 = jnp.floor(xs), jnp.floor(ys)
  fx, fy = xs - x0, ys - y0
  n = frame_idx[:, None, None]
  out = 0.
  for dy, wy in ((0, 1 - fy), (1, fy)):
    for dx, wx in ((0, 1 - fx), (1, fx)):
      yi, xi = (y0 + dy).astype(jnp.int32), (x0 + dx).astype(jnp.int32)
      valid = ((yi >= 0) & (yi < h))[:, :, None] & ((xi >= 0) & (xi < w))[:, None, :]
      v = frames[n, jnp.clip(yi, 0, h - 1)[:, :, None], jnp.clip(xi, 0, w - 1)[:, None, :]]
      weight = jnp.where(valid, wy[:, :, None] * wx[:, None, :], 0.)
      out = out + v.astype(jnp.float32) * weight[..., None]
  return out


@functools.partial(jax.jit, static_argnums=(4,))
def _refine(params, frames, boxes, frame_idx, name: str):
  size = 24 if name == 'rnet' else 48
  return _NETS[name].apply(params, _normalize(_crop_patches(frames, boxes, frame_idx, size)))


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
    frames = np.asarray(frames)
    if frames.ndim == 3:
      frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
      raise ValueError(f'expected uint8 [N, H, W, 3] RGB frames, got {frames.dtype} '
                       f'{frames.shape}')
    out = []
    for start in range(0, len(frames), self.batch_size):
      out += self._detect(frames[start:start + self.batch_size],
                          min_face_size or self.min_face_size)
    return out

  def _detect(self, frames, min_face_size):
    n, h, w, _ = frames.shape
    padded = np.zeros((_bucket(n),) + frames.shape[1:], np.uint8)
    padded[:n] = frames
    images = jnp.asarray(padded)
    t1, t2, t3 = self.thresholds
    empty = [Detection(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                       np.zeros((0, 5, 2), np.float32)) for _ in range(n)]

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
    prob, reg = self._run('rnet', images, boxes, groups)
    keep = prob > t2
    boxes, prob, groups = _apply_offsets(boxes[keep], reg[keep]), prob[keep], groups[keep]
    keep = nms(boxes, prob, groups, 0.7)
    boxes, groups = _square(boxes[keep]), groups[keep]
    if not len(boxes):
      return empty

    # Stage 3: O-Net rescoring, refinement and landmarks.
    prob, reg, marks = self._run('onet', images, boxes, groups)
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

  def _run(self, name, images, boxes, groups):
    k, kp = len(boxes), _bucket(len(boxes), 16)
    b, g = np.zeros((kp, 4), np.float32), np.zeros(kp, np.int32)
    b[:k], b[k:], g[:k] = boxes, (0, 0, 1, 1), groups
    return tuple(np.asarray(o)[:k] for o in _refine(self.params[name], images, b, g, name))


@functools.lru_cache(maxsize=None)
def default_detector() -> FaceDetector:
  """The process-wide detector, so the weights load (and nets compile) once."""
  return FaceDetector()
