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
                                           -> average over T -> fully connected layer
                                           -> stream feature [B, fc_features]
      fusion (`fusion`): 'concat' | 'sum' | 'product' (the paper's multiplication fusion)
      -> fused feature -> BatchNorm -> dropout -> dense -> logits (trained with softmax
         cross-entropy; the SVM stage of the paper is `emojax.evaluate.svm`, trained on the fused
         feature before the BatchNorm, `model.apply(..., method='features')`)

The paper's sizes are the class defaults: 227x227 face crops, stream CNNs whose convolution layers
have 8 and 16 filters, a 64-unit fully connected layer closing each stream (so the product fusion
multiplies two 64-d features). The recurrent widths are not given; 64 here. The fully connected
layer has no activation: with a ReLU, a unit of the product is zero wherever either stream's unit is
off, and small networks started with every fused unit at zero. `fc_features=0` drops the layer (the
stream feature is then the averaged BiLSTM output, `2 * temporal_features` wide).

`streams` gives the rows of the paper's Table 1: 'both', or 'spatial' / 'temporal' alone (no fusion;
the one stream's feature is classified; a spatial-only model never reads the flow channels).

Training in two stages, as the paper (a config choice, `configs/stages.py`): each stream first
with its own softmax head (the one-stream model `streams='spatial'` / `'temporal'`), then the fusion
and head on the streams as trained (`freeze_streams=True`: their parameters stay as loaded,
`frozen_prefixes`, their BatchNorm runs on its running statistics and no gradient flows into them),
or fine-tuned with them (`freeze_streams=False`). Without stage 1 the whole network trains end to
end.

Per video, the paper averages the stream features of its segments before fusion: a video's
segments go through `method='stream_features'` (`[S, D_streams]`), their mean through
`method='fuse_streams'` (the fused feature, for the SVM) or `method='classify_streams'` (logits).
With one segment these equal `method='features'` and the logits.

`normalize_fused` (the BatchNorm; not in the paper) rescales the fused feature for the softmax head:
a product of two small features is small, and without it training starts very slowly.

StreamCNN is VGG-like: per entry of `cnn_features`, a 3x3 conv + BatchNorm + ReLU and a 2x2
max-pool.
Recurrences run in float32 whatever `dtype` is (the CNNs use `dtype`).
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from emojax.models.norm import BatchNorm

FUSIONS = ('concat', 'sum', 'product')
STREAMS = ('both', 'spatial', 'temporal')
OUTPUTS = ('logits', 'features', 'streams')
INPUT_CHANNELS = 6  # RGB + flow images


class StreamCNN(nn.Module):
  """Frames `[N, H, W, C]` -> feature maps `[N, H / 2^k, W / 2^k, features[-1]]`."""
  features: Sequence[int] = (8, 16)
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
  temporal average -> fully connected layer (`fc_features`; none with 0). `[B, T, H, W, C]` ->
  `[B, fc_features or 2 * temporal_features]`. `frozen`: BatchNorm on its running statistics and
  the output a constant for the gradient."""
  cnn_features: Sequence[int]
  srl_features: int
  temporal_features: int
  srl_merge: str = 'concat'
  fc_features: int = 0
  frozen: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    batch, frames = x.shape[:2]
    maps = StreamCNN(self.cnn_features, self.dtype, name='cnn')(
        x.reshape(batch * frames, *x.shape[2:]), train and not self.frozen)
    maps = SpatialRecursiveLayer(self.srl_features, self.srl_merge, name='srl')(maps)
    tokens = maps.mean(axis=(1, 2)).reshape(batch, frames, -1)
    hidden = nn.Bidirectional(
        nn.RNN(nn.OptimizedLSTMCell(self.temporal_features, name='trl_forward')),
        nn.RNN(nn.OptimizedLSTMCell(self.temporal_features, name='trl_backward')))(tokens)
    feature = hidden.mean(axis=1)
    if self.fc_features:
      feature = nn.Dense(self.fc_features, name='fc')(feature)
    return jax.lax.stop_gradient(feature) if self.frozen else feature


def fuse(spatial, temporal, mode: str):
  """Fusion of the two stream features: 'concat' [B, 2D], 'sum' or 'product' [B, D]."""
  if mode == 'concat':
    return jnp.concatenate([spatial, temporal], axis=-1)
  if mode == 'sum':
    return spatial + temporal
  if mode == 'product':
    return spatial * temporal
  raise ValueError(f'config.model.fusion={mode!r}: expected one of {FUSIONS}')


def stream_names(streams: str) -> tuple[str, ...]:
  """The streams a model of `config.model.streams=streams` has, in input order."""
  if streams not in STREAMS:
    raise ValueError(f'config.model.streams={streams!r}: expected one of {STREAMS}')
  return ('spatial', 'temporal') if streams == 'both' else (streams,)


class RFSCNN(nn.Module):
  """Two-stream RFSCNN: `[B, T, H, W, 6]` (RGB ++ flow images) -> logits `[B, num_classes]`.

  `output`: 'logits', 'features' (the fused feature) or 'streams' (the stream features,
  concatenated in `stream_names` order). `from_streams=True` takes such stream features (e.g. a
  video's mean over its segments) instead of clips. The methods `features`, `stream_features`,
  `fuse_streams` and `classify_streams` name these calls for `apply(..., method=...)`.
  """
  num_classes: int
  cnn_features: Sequence[int] = (8, 16)
  srl_features: int = 64
  srl_merge: str = 'concat'
  temporal_features: int = 64
  fc_features: int = 64
  streams: str = 'both'  # | 'spatial' | 'temporal' (Table 1's one-stream rows)
  fusion: str = 'product'
  normalize_fused: bool = True  # BatchNorm on the fused feature before the softmax classifier
  freeze_streams: bool = False  # stage 2 of two-stage training: the streams stay as loaded
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32

  @property
  def frozen_prefixes(self) -> tuple[str, ...]:
    """Parameter paths training leaves unchanged: every stream's, with `freeze_streams`."""
    return tuple(f'{name}/' for name in stream_names(self.streams)) if self.freeze_streams else ()

  # The SVM's video feature: the mean of the segments' stream features, fused (as the paper).
  video_feature_methods = ('stream_features', 'fuse_streams')

  @nn.compact
  def __call__(self, x, train: bool = True, output: str = 'logits', from_streams: bool = False):
    names = stream_names(self.streams)
    if output not in OUTPUTS:
      raise ValueError(f'RFSCNN output={output!r}: expected one of {OUTPUTS}')
    if from_streams:
      feats = jnp.split(x, len(names), axis=-1)
    else:
      feats = [self._stream(name)(self._stream_input(x, name), train) for name in names]
      if output == 'streams':
        return jnp.concatenate(feats, axis=-1)
    fused = fuse(*feats, self.fusion) if len(feats) == 2 else feats[0]
    if output == 'features':
      return fused
    if self.normalize_fused:
      fused = BatchNorm(use_running_average=not train, name='fused_norm')(fused)
    fused = nn.Dropout(self.dropout_rate, deterministic=not train)(fused)
    return nn.Dense(self.num_classes, name='head')(fused)

  def _stream(self, name: str) -> Stream:
    return Stream(self.cnn_features, self.srl_features, self.temporal_features, self.srl_merge,
                  self.fc_features, self.freeze_streams, self.dtype, name=name)

  def _stream_input(self, x, name: str):
    """RGB for the spatial stream, the flow images for the temporal one."""
    needed = 3 if self.streams == 'spatial' else INPUT_CHANNELS
    if x.shape[-1] < needed:
      raise ValueError(
          f"config.model.name='rfscnn' with config.model.streams={self.streams!r} takes "
          f'{needed}-channel clips (RGB ++ optical-flow images, emojax.data.flow.clip_with_flow), '
          f'got {x.shape[-1]} channels')
    return x[..., :3] if name == 'spatial' else x[..., 3:INPUT_CHANNELS]

  def features(self, x, train: bool = False):
    """The fused feature `[B, D]` (for the SVM stage)."""
    return self(x, train, output='features')

  def stream_features(self, x, train: bool = False):
    """The stream features, concatenated `[B, D_streams]` (to average over a video's segments)."""
    return self(x, train, output='streams')

  def fuse_streams(self, stream_feats):
    """The fused feature of (e.g. segment-averaged) stream features `[B, D_streams]`."""
    return self(stream_feats, False, output='features', from_streams=True)

  def classify_streams(self, stream_feats, train: bool = False):
    """Logits of (e.g. segment-averaged) stream features `[B, D_streams]`."""
    return self(stream_feats, train, from_streams=True)
