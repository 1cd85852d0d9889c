"""RFSCNN: two-stream spatio-temporal recursive network with feature fusion (Zhou, JIPS 2021).

"Video Expression Recognition Method Based on Spatiotemporal Recurrent Neural Network and Feature
Fusion": eNTERFACE'05 88.67%, RML 70.32%, AFEW 6.0 63.84%, with an SVM on the fused features.

    x [B, T, H, W, 6] = RGB frames (3) ++ optical-flow images (dx, dy, magnitude; emojax.data.flow)
      spatial stream  on x[..., :3]  \\  each stream, per frame (T folded into the batch):
      temporal stream on x[..., 3:]  /     StreamCNN -> feature maps [B*T, h, w, C]
                                           -> spatial recursive layer: four RNNs scan every row
                                              left->right and right->left and every column
                                              top->bottom and bottom->top; the four maps are
                                              concatenated (or summed) and projected (1x1) -> ReLU
                                           -> average over h, w -> frame features [B, T, D]
                                           -> temporal recursive layer: bidirectional LSTM over T
                                           -> average over T -> stream feature [B, 2 * temporal_features]
      fusion (`fusion`): 'concat' | 'sum' | 'product' (the paper's multiplication fusion)
      -> fused feature -> BatchNorm -> dropout -> dense -> logits (trained with softmax
         cross-entropy; the SVM stage of the paper is `emojax.train.svm`, trained on the fused
         feature before the BatchNorm, `model.apply(..., method='features')`)

`normalize_fused` (the BatchNorm; not in the paper) rescales the fused feature for the softmax head:
a product of two time-averaged LSTM outputs is small, and without it training starts very slowly.

StreamCNN is VGG-like: per entry of `cnn_features`, a 3x3 conv + BatchNorm + ReLU and a 2x2 max-pool.
The paper gives no widths; `cnn_features=(64, 128, 256, 512)` leaves a 7x7 grid at 112 px.
Recurrences run in float32 whatever `dtype` is (the CNNs use `dtype`).
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from emojax.models.norm import BatchNorm

FUSIONS = ('concat', 'sum', 'product')
INPUT_CHANNELS = 6  # RGB + flow images


class StreamCNN(nn.Module):
  """Frames `[N, H, W, C]` -> feature maps `[N, H / 2^k, W / 2^k, cnn_features[-1]]`."""
  features: Sequence[int] = (64, 128, 256, 512)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    x = x.astype(self.dtype)
    for k, width in enumerate(self.features):
      x = nn.Conv(width, (3, 3), use_bias=False, dtype=self.dtype, name=f'conv_{k}')(x)
      x = BatchNorm(use_running_average=not train, dtype=self.dtype, name=f'bn_{k}')(x)
      x = nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2), padding='SAME')
    return x


class SpatialRNNCell(nn.Module):
  """Elman step `h' = tanh(W_x x + W_h h + b)`: `(h, x) -> (h', h')`."""
  features: int

  @nn.compact
  def __call__(self, h, x):
    h = jnp.tanh(nn.Dense(self.features, name='w_x')(x) +
                 nn.Dense(self.features, use_bias=False, name='w_h')(h))
    return h, h


def _scan(features: int, reverse: bool, name: str) -> nn.Module:
  """A `SpatialRNNCell` scanned over axis 1 of `[N, L, C]` (backwards with `reverse`)."""
  scan = nn.scan(SpatialRNNCell, variable_broadcast='params', split_rngs={'params': False},
                 in_axes=1, out_axes=1, reverse=reverse)
  return scan(features, name=name)


DIRECTIONS = ('left_to_right', 'right_to_left', 'top_to_bottom', 'bottom_to_top')


class FourDirectionScan(nn.Module):
  """Four RNNs over a `[N, h, w, C]` grid; returns their hidden maps `[4, N, h, w, features]`.

  Order `DIRECTIONS`: rows scanned left->right and right->left, columns top->bottom and
  bottom->top. The hidden state at (i, j) has seen every position before it along its scan line.
  """
  features: int

  @nn.compact
  def __call__(self, x):
    n, h, w, c = x.shape
    x = x.astype(jnp.float32)
    zeros = lambda lines: jnp.zeros((lines, self.features), jnp.float32)  # noqa: E731
    rows = x.reshape(n * h, w, c)
    cols = x.transpose(0, 2, 1, 3).reshape(n * w, h, c)
    out = []
    for k, name in enumerate(DIRECTIONS):
      along_rows, reverse = k < 2, k % 2 == 1
      lines = rows if along_rows else cols
      _, y = _scan(self.features, reverse, name)(zeros(lines.shape[0]), lines)
      out.append(y.reshape(n, h, w, self.features) if along_rows else
                 y.reshape(n, w, h, self.features).transpose(0, 2, 1, 3))
    return jnp.stack(out)


class SpatialRecursiveLayer(nn.Module):
  """Four-direction scan, merged (`'concat'` or `'sum'`), projected 1x1 to `features`, ReLU."""
  features: int
  merge: str = 'concat'

  @nn.compact
  def __call__(self, x):
    maps = FourDirectionScan(self.features, name='scan')(x)
    if self.merge == 'concat':
      merged = jnp.concatenate(list(maps), axis=-1)
    elif self.merge == 'sum':
      merged = maps.sum(axis=0)
    else:
      raise ValueError(f"config.model.srl_merge={self.merge!r}: expected 'concat' or 'sum'")
    return nn.relu(nn.Dense(self.features, name='proj')(merged))


class Stream(nn.Module):
  """One stream: per-frame CNN -> spatial recursive layer -> spatial average -> BiLSTM over time ->
  temporal average. `[B, T, H, W, C]` -> `[B, 2 * temporal_features]`."""
  cnn_features: Sequence[int]
  srl_features: int
  temporal_features: int
  srl_merge: str = 'concat'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    batch, frames = x.shape[:2]
    maps = StreamCNN(self.cnn_features, self.dtype, name='cnn')(
        x.reshape(batch * frames, *x.shape[2:]), train)
    maps = SpatialRecursiveLayer(self.srl_features, self.srl_merge, name='srl')(maps)
    tokens = maps.mean(axis=(1, 2)).reshape(batch, frames, -1)
    hidden = nn.Bidirectional(
        nn.RNN(nn.OptimizedLSTMCell(self.temporal_features, name='trl_forward')),
        nn.RNN(nn.OptimizedLSTMCell(self.temporal_features, name='trl_backward')))(tokens)
    return hidden.mean(axis=1)


def fuse(spatial, temporal, mode: str):
  """Fusion of the two stream features: 'concat' [B, 2D], 'sum' or 'product' [B, D]."""
  if mode == 'concat':
    return jnp.concatenate([spatial, temporal], axis=-1)
  if mode == 'sum':
    return spatial + temporal
  if mode == 'product':
    return spatial * temporal
  raise ValueError(f'config.model.fusion={mode!r}: expected one of {FUSIONS}')


class RFSCNN(nn.Module):
  """Two-stream RFSCNN: `[B, T, H, W, 6]` (RGB ++ flow images) -> logits `[B, num_classes]`.

  `return_features=True` (or `apply(..., method='features')`) returns the fused feature instead.
  """
  num_classes: int
  cnn_features: Sequence[int] = (64, 128, 256, 512)
  srl_features: int = 256
  srl_merge: str = 'concat'
  temporal_features: int = 256
  fusion: str = 'product'
  normalize_fused: bool = True  # BatchNorm on the fused feature before the softmax classifier
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True, return_features: bool = False):
    if x.shape[-1] != INPUT_CHANNELS:
      raise ValueError(
          f"config.model.name='rfscnn' takes {INPUT_CHANNELS}-channel clips (RGB ++ optical-flow "
          f"images, emojax.data.flow.clip_with_flow), got {x.shape[-1]} channels")
    stream = lambda name: Stream(self.cnn_features, self.srl_features,  # noqa: E731
                                 self.temporal_features, self.srl_merge, self.dtype, name=name)
    fused = fuse(stream('spatial')(x[..., :3], train), stream('temporal')(x[..., 3:], train),
                 self.fusion)
    if return_features:
      return fused
    if self.normalize_fused:
      fused = BatchNorm(use_running_average=not train, name='fused_norm')(fused)
    fused = nn.Dropout(self.dropout_rate, deterministic=not train)(fused)
    return nn.Dense(self.num_classes, name='head')(fused)

  def features(self, x, train: bool = False):
    """The fused feature `[B, D]` (for the SVM stage)."""
    return self(x, train, return_features=True)
