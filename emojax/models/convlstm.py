"""Convolutional LSTM (Shi et al., 2015) run over time with `nn.scan`.

    i_t = sigma(W_xi * x_t + W_hi * h_{t-1} + W_ci o c_{t-1} + b_i)
    f_t = sigma(W_xf * x_t + W_hf * h_{t-1} + W_cf o c_{t-1} + b_f)
    c_t = f_t o c_{t-1} + i_t o tanh(W_xc * x_t + W_hc * h_{t-1} + b_c)
    o_t = sigma(W_xo * x_t + W_ho * h_{t-1} + W_co o c_t + b_o)
    h_t = o_t o tanh(c_t)

`*` is a convolution and `o` the Hadamard product. The four input convolutions are one convolution
(`input_gates`, with the biases) and the four hidden ones another (`hidden_gates`). The input part
does not depend on the recurrence, so `ConvLSTM` computes it for every frame in one convolution
before the scan, and only the hidden part runs per step, as one matrix product over 3x3 patches:
on the small maps a ConvLSTM reads (4x4 at the paper's size) XLA:CPU ran the scan's forward and
backward 13x faster that way than with a convolution per step (docs/benchmarks.md). The peephole
weights `W_c?` are per-position, per-channel parameters and are optional (`peephole=False` gives
the common variant without them).
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from emojax.models.resnet3d import conv3d, conv3d_matmul


def gates_kernel_init(in_features: int, start: int, stop: int):
  """`lecun_normal` for input channels `[start:stop]` of the paper's single gates convolution over
  `[x_t, h_{t-1}]` (`in_features` channels), so the split convolutions start at its scale."""
  def init(key, shape, dtype=jnp.float32):
    full = nn.initializers.lecun_normal()(key, (*shape[:-2], in_features, shape[-1]), dtype)
    return full[..., start:stop, :]
  return init


class FrameConv(nn.Module):
  """`nn.Conv` ('SAME', with bias, the same parameters) applied to every frame of `[B, T, H, W, C]`,
  computed the way `resnet3d.Conv3D` picks for the layer (`auto_conv3d_impl`): XLA:CPU's 2D
  convolution is slow on the tiny maps a ConvLSTM reads (2x2 at the demo size), where a matrix
  product over 3x3 patches is several times faster. `impl` as `resnet3d.Conv3D`'s."""
  features: int
  kernel_size: tuple[int, int]
  impl: str = 'auto'
  dtype: Any = jnp.float32
  kernel_init: Any = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x):
    kernel = self.param('kernel', self.kernel_init, (*self.kernel_size, x.shape[-1], self.features))
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
    x, kernel = x.astype(self.dtype), kernel[None].astype(self.dtype)
    return conv3d(x, kernel, (1, 1, 1), self.impl) + bias.astype(self.dtype)


class ConvLSTMCell(nn.Module):
  """One ConvLSTM step on `[B, H, W, ·]` maps: `((c, h), x_gates_t) -> ((c, h), h)`.

  `x_gates_t` is the input's share of the gates, `W_x * x_t + b` with `4 * features` channels
  (`ConvLSTM` computes it for all frames at once).
  """
  features: int
  kernel_size: tuple[int, int] = (3, 3)
  peephole: bool = False
  dtype: Any = jnp.float32
  kernel_init: Any = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, carry, x_gates):
    c, h = carry
    kernel = self.param('hidden_gates', self.kernel_init,
                        (*self.kernel_size, self.features, 4 * self.features))
    gates = x_gates + conv3d_matmul(h[:, None].astype(self.dtype), kernel[None].astype(self.dtype),
                                    (1, 1, 1))[:, 0]
    i, f, g, o = jnp.split(gates.astype(jnp.float32), 4, axis=-1)
    if self.peephole:
      shape = c.shape[1:]
      w_ci = self.param('w_ci', nn.initializers.zeros_init(), shape)
      w_cf = self.param('w_cf', nn.initializers.zeros_init(), shape)
      w_co = self.param('w_co', nn.initializers.zeros_init(), shape)
      i = i + w_ci * c
      f = f + w_cf * c
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    if self.peephole:
      o = o + w_co * c
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (c, h), h


def zero_carry(batch_shape: tuple[int, ...], features: int):
  """The all-zero `(c, h)` state for `[B, H, W]` maps with `features` channels, kept in float32."""
  zeros = jnp.zeros((*batch_shape, features), jnp.float32)
  return zeros, zeros


class ConvLSTM(nn.Module):
  """ConvLSTM over the time axis of `[B, T, H, W, C]`; returns every hidden state `[B, T, H, W, F]`.

  The cell is scanned with shared parameters (`nn.scan`), so compile time does not grow with T.
  """
  features: int
  kernel_size: tuple[int, int] = (3, 3)
  peephole: bool = False
  unroll: int = 1
  conv_impl: str = 'auto'  # of the input gates' convolution (`FrameConv`)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    in_features = x.shape[-1] + self.features
    x_gates = FrameConv(4 * self.features, self.kernel_size, self.conv_impl, dtype=self.dtype,
                        name='input_gates',
                        kernel_init=gates_kernel_init(in_features, 0, x.shape[-1]))(x)
    scan = nn.scan(ConvLSTMCell, variable_broadcast='params', split_rngs={'params': False},
                   in_axes=1, out_axes=1, unroll=self.unroll)
    cell = scan(self.features, self.kernel_size, self.peephole, self.dtype,
                kernel_init=gates_kernel_init(in_features, x.shape[-1], in_features), name='cell')
    carry = zero_carry((x.shape[0], *x.shape[2:4]), self.features)
    _, hidden = cell(carry, x_gates)
    return hidden
