"""MTCNN's three networks in flax, the weights the `mtcnn` wheel ships, and their jitted calls.

MTCNN (Zhang et al. 2016): P-Net slides over an image pyramid and proposes windows, R-Net (24x24
crops) and O-Net (48x48 crops) rescore and refine them; O-Net also gives five landmarks. The trained
weights are the ones the `mtcnn` PyPI wheel ships (`mtcnn/assets/weights/*.lz4`); we read the files
directly and never import that package, which needs TensorFlow. `emojax.data.mtcnn` runs them.

Every network call is jitted with static shapes: P-Net once per pyramid level and (padded) batch
of frames, R-Net/O-Net once per (padded) number of crops, which are cut on the host.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import joblib
import numpy as np


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


def crop_patches(frames: np.ndarray, boxes: np.ndarray, frame_idx: np.ndarray,
                 size: int) -> np.ndarray:
  """Bilinear crops float32 [K, size, size, 3] of boxes [K, 4] from frames[frame_idx] (numpy).

  Plain bilinear sampling (no antialiasing) and black outside the frame, as the original MTCNN
  prepared its R-Net/O-Net inputs. Cut on the host, so the jitted nets see only [K, size, size,
  3]: one compilation per number of crops, whatever the frames' size or number.
  """
  _, h, w, _ = frames.shape
  t = (np.arange(size, dtype=np.float32) + 0.5) / size
  boxes = np.asarray(boxes, np.float32)
  xs = boxes[:, 0:1] + t * (boxes[:, 2:3] - boxes[:, 0:1]) - 0.5  # [K, S] indices
  ys = boxes[:, 1:2] + t * (boxes[:, 3:4] - boxes[:, 1:2]) - 0.5
  x0, y0 = np.floor(xs), np.floor(ys)
  fx, fy = xs - x0, ys - y0
  n = np.asarray(frame_idx)[:, None, None]
  out = np.zeros((len(boxes), size, size, frames.shape[-1]), np.float32)
  for dy, wy in ((0, 1 - fy), (1, fy)):
    for dx, wx in ((0, 1 - fx), (1, fx)):
      yi, xi = (y0 + dy).astype(np.int64), (x0 + dx).astype(np.int64)
      valid = ((yi >= 0) & (yi < h))[:, :, None] & ((xi >= 0) & (xi < w))[:, None, :]
      v = frames[n, np.clip(yi, 0, h - 1)[:, :, None], np.clip(xi, 0, w - 1)[:, None, :]]
      weight = np.where(valid, wy[:, :, None] * wx[:, None, :], 0.).astype(np.float32)
      out += v.astype(np.float32) * weight[..., None]
  return out


@functools.partial(jax.jit, static_argnums=(2,))
def _refine(params, patches, name: str):
  """R-Net ('rnet', 24x24) or O-Net ('onet', 48x48) on crops [K, size, size, 3] (0-255)."""
  return _NETS[name].apply(params, _normalize(patches))
