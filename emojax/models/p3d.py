"""P3D 3Res-att ("3D residual attention network") and the C3D baseline.

P3D 3Res-att ("Research on Video Emotion Recognition Method Based on Deep Learning", IJCSIT 5(2);
eNTERFACE'05: 67.5%, 18.2 points above C3D):

    clip -> stem (1x7x7 conv, 1x3x3 max-pool)
         -> stages of pseudo-3D bottleneck residual blocks (Qiu et al., ICCV 2017), each 3x3x3
            convolution decoupled into a 1x3x3 spatial conv S and a 3x1x1 temporal conv T:
              P3D-A  y = T(S(x))          serial
              P3D-B  y = S(x) + T(x)      parallel
              P3D-C  y = S(x) + T(S(x))   serial with a shortcut
            (`block_style` 'A' | 'B' | 'C', or 'cycle' for A, B, C, A, ... as in P3D ResNet)
         -> 3D spatial attention: x * sigmoid(conv3d([mean_c(x), max_c(x)])), one weight per position
            of each frame (a CBAM-style spatial map; the conv's 3x7x7 kernel lets a frame's map see
            its neighbours)
         -> frame tokens (spatial average) [B, T', C], projected to `attention_dim` (512)
         -> tokens + MHA(LN(tokens)) over time, `temporal_attention_layers` times (residual
            connections with multi-head attention)
         -> temporal average -> dropout -> dense -> logits

The paper does not give the depth, the widths or where the attention modules sit. Choices here, all
configurable: a P3D ResNet-50 layout (`stage_sizes=(3, 4, 6, 3)`, bottleneck x4, width 64); spatial
attention after every stage (`spatial_attention='every_stage'`; or 'every_block', 'last_stage',
'none'); one temporal attention layer on the final tokens, with sinusoidal positions so the
attention sees frame order. Time is never strided by default, as in `ResNet3D`.

C3D (Tran et al., ICCV 2015): eight 3x3x3 convolutions 64-128-256-256-512-512-512-512 with five
max-pools (the first 1x2x2, then 2x2x2), fc6 and fc7 of 4096 with dropout, softmax. `width` scales
the convolutions (64 in the paper), `fc_dim` the dense layers; `batch_norm=True` adds BatchNorm after
each convolution (not in the paper; helps training from scratch on small data).

Convolutions use `resnet3d.Conv3D` (`conv_impl`: 'auto' picks a faster path on CPU).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from emojax.models.norm import BatchNorm
from emojax.models.resnet3d import Conv3D, residual_shortcut, separable_max_pool
from emojax.models.transformer import ResidualSelfAttention, sinusoidal_encoding

ModuleDef = Any
BLOCK_STYLES = ('A', 'B', 'C')
SPATIAL_ATTENTION = ('every_stage', 'every_block', 'last_stage', 'none')


class P3DBlock(nn.Module):
  """Pseudo-3D bottleneck: 1x1x1 -> (S, T arranged by `style`) -> 1x1x1 (x`expansion`), residual.

  The stride is taken by the first 1x1x1 convolution, as in the reference P3D implementation.
  """
  filters: int
  style: str
  conv: ModuleDef
  norm: ModuleDef
  act: Callable = nn.relu
  strides: tuple[int, int, int] = (1, 1, 1)
  expansion: int = 4

  @nn.compact
  def __call__(self, x):
    if self.style not in BLOCK_STYLES:
      raise ValueError(f"config.model.block_style: block style {self.style!r} is not one of "
                       f"{BLOCK_STYLES} or 'cycle'")
    residual = x
    y = self.act(self.norm(name='bn1')(self.conv(self.filters, (1, 1, 1), self.strides,
                                                 name='conv1')(x)))

    def spatial(z):
      return self.act(self.norm(name='bn_s')(self.conv(self.filters, (1, 3, 3), name='conv_s')(z)))

    def temporal(z):
      return self.act(self.norm(name='bn_t')(self.conv(self.filters, (3, 1, 1), name='conv_t')(z)))

    if self.style == 'A':
      y = temporal(spatial(y))
    elif self.style == 'B':
      y = spatial(y) + temporal(y)
    else:
      s = spatial(y)
      y = s + temporal(s)
    y = self.conv(self.filters * self.expansion, (1, 1, 1), name='conv3')(y)
    y = self.norm(scale_init=nn.initializers.zeros_init(), name='bn3')(y)
    return self.act(residual_shortcut(residual, y, self.conv, self.norm, self.strides) + y)


def channel_max(x):
  """The maximum over the last axis (kept), its gradient all to the first channel that holds it,
  as PyTorch's `torch.max(x, dim)` gives it. JAX's own gradient of a maximum divides by the number
  of entries equal to it, 0/0 where XLA recomputes `x` with other roundings than the maximum saw
  (XLA:CPU does at optimisation level 0)."""
  first = jax.nn.one_hot(jnp.argmax(x, axis=-1), x.shape[-1], dtype=x.dtype)
  return (x * first).sum(axis=-1, keepdims=True)


class SpatialAttention3D(nn.Module):
  """Weights every spatial position of every frame: `x * sigmoid(conv3d([mean_c x, max_c x]))`.

  The map has one channel, so all feature maps of a frame share it.
  """
  kernel_size: tuple[int, int, int] = (3, 7, 7)
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    pooled = jnp.concatenate([x.mean(axis=-1, keepdims=True), channel_max(x)], -1)
    logits = Conv3D(1, tuple(self.kernel_size), use_bias=True, impl=self.conv_impl,
                    dtype=self.dtype, name='conv')(pooled)
    return x * jax.nn.sigmoid(logits.astype(jnp.float32)).astype(x.dtype)


class P3DNet(nn.Module):
  """P3D 3Res-att: `[B, T, H, W, C]` clips -> logits `[B, num_classes]` (float32)."""
  num_classes: int
  stage_sizes: Sequence[int] = (3, 4, 6, 3)
  width: int = 64
  block_style: str = 'cycle'
  expansion: int = 4
  stem_kernel: tuple[int, int, int] = (1, 7, 7)
  max_pool: bool = True
  temporal_strides: Sequence[int] | None = None  # stem + one per stage; default all 1
  spatial_attention: str = 'every_stage'
  attention_kernel: tuple[int, int, int] = (3, 7, 7)
  temporal_attention_layers: int = 1
  attention_dim: int | None = 512  # tokens projected to this width first; None: channels
  num_heads: int = 8
  positional: bool = True
  dropout_rate: float = 0.5
  attention_dropout_rate: float = 0.0
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  def _style(self, index: int) -> str:
    return BLOCK_STYLES[index % 3] if self.block_style == 'cycle' else self.block_style

  @nn.compact
  def __call__(self, x, train: bool = True):
    if self.spatial_attention not in SPATIAL_ATTENTION:
      raise ValueError(f'config.model.spatial_attention={self.spatial_attention!r}: expected one '
                       f'of {SPATIAL_ATTENTION}')
    strides_t = tuple(self.temporal_strides or (1,) * (len(self.stage_sizes) + 1))
    if len(strides_t) != len(self.stage_sizes) + 1:
      raise ValueError(f'config.model.temporal_strides needs {len(self.stage_sizes) + 1} entries '
                       f'(stem + one per stage), got {strides_t}')
    conv = functools.partial(Conv3D, impl=self.conv_impl, dtype=self.dtype)
    norm = functools.partial(BatchNorm, use_running_average=not train, dtype=self.dtype)
    attend = functools.partial(SpatialAttention3D, tuple(self.attention_kernel), self.conv_impl,
                               self.dtype)
    x = conv(self.width, tuple(self.stem_kernel), (strides_t[0], 2, 2), name='conv_init')(
        x.astype(self.dtype))
    x = nn.relu(norm(name='bn_init')(x))
    if self.max_pool:
      x = separable_max_pool(x, (1, 3, 3), (1, 2, 2))
    index, last = 0, len(self.stage_sizes) - 1
    for i, size in enumerate(self.stage_sizes):
      for j in range(size):
        space = 2 if i > 0 else 1
        strides = (strides_t[i + 1], space, space) if j == 0 else (1, 1, 1)
        x = P3DBlock(self.width * 2**i, self._style(index), conv, norm, strides=strides,
                     expansion=self.expansion, name=f'block_{i}_{j}')(x)
        index += 1
        if self.spatial_attention == 'every_block':
          x = attend(name=f'spatial_attention_{i}_{j}')(x)
      if self.spatial_attention == 'every_stage' or (
          self.spatial_attention == 'last_stage' and i == last):
        x = attend(name=f'spatial_attention_{i}')(x)

    tokens = x.mean(axis=(2, 3))
    if self.attention_dim:
      tokens = nn.Dense(self.attention_dim, dtype=self.dtype, name='token_proj')(tokens)
    if self.temporal_attention_layers and self.positional:
      tokens = tokens + sinusoidal_encoding(tokens.shape[1], tokens.shape[2]).astype(tokens.dtype)
    for k in range(self.temporal_attention_layers):
      tokens = ResidualSelfAttention(self.num_heads, self.attention_dropout_rate, self.dtype,
                                     name=f'temporal_attention_{k}')(tokens, train)
    feature = tokens.mean(axis=1).astype(jnp.float32)
    feature = nn.Dropout(self.dropout_rate, deterministic=not train)(feature)
    return nn.Dense(self.num_classes, name='head')(feature)


class C3D(nn.Module):
  """C3D (Tran et al. 2015): `[B, T, H, W, C]` clips -> logits `[B, num_classes]` (float32).

  At 16 x 112 x 112 the fifth pool leaves 1 x 4 x 4 x 512 = 8192 features for fc6 (as in the paper,
  whose pool5 pads H and W by one; here pools pad 'SAME').
  """
  num_classes: int
  width: int = 64
  fc_dim: int = 4096
  dropout_rate: float = 0.5
  batch_norm: bool = False
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  # (conv widths in units of width/64, pool window after the group)
  GROUPS = (((64,), (1, 2, 2)), ((128,), (2, 2, 2)), ((256, 256), (2, 2, 2)),
            ((512, 512), (2, 2, 2)), ((512, 512), (2, 2, 2)))

  @nn.compact
  def __call__(self, x, train: bool = True):
    x = x.astype(self.dtype)
    for g, (widths, pool) in enumerate(self.GROUPS):
      for k, w in enumerate(widths):
        name = f'conv{g + 1}{"ab"[k]}'
        x = Conv3D(max(1, w * self.width // 64), (3, 3, 3), use_bias=not self.batch_norm,
                   impl=self.conv_impl, dtype=self.dtype, name=name)(x)
        if self.batch_norm:
          x = BatchNorm(use_running_average=not train, dtype=self.dtype, name=f'{name}_bn')(x)
        x = nn.relu(x)
      x = nn.max_pool(x, pool, strides=pool, padding='SAME')
    x = x.reshape(x.shape[0], -1)
    for name in ('fc6', 'fc7'):
      x = nn.relu(nn.Dense(self.fc_dim, dtype=self.dtype, name=name)(x))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, name='head')(x.astype(jnp.float32))
