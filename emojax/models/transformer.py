"""Transformer encoder that summarises a sequence of frame features into one CLS feature.

The main paper's eqs. 7-9: a learnable CLS token is prepended to the frame tokens, positional
encodings are added, and each encoder layer applies multi-head self-attention and a feed-forward
network of two dense layers with a LeakyReLU between them, each with a residual connection. The CLS
output, which attends over every frame, is batch-normalised and returned.

What comes before the attention is `attention_norm`:

  * 'projection' (the paper: one layer, `num_layers=1`): a linear projection, and nothing before
    the feed-forward network:  a = z + MHSA(W_p z + b_p),  out = a + FFN(a).
  * 'layernorm' (pre-layer normalisation, as ViT; the demo's two layers): a LayerNorm before the
    attention and another before the feed-forward network:  a = z + MHSA(LN(z)),
    out = a + FFN(LN(a)).

The projection composes with the attention's own query, key and value projections, so it adds no
expressive power; it changes the parameterisation, as the paper writes it.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from emojax.models.norm import BatchNorm


def sinusoidal_encoding(length: int, dim: int) -> np.ndarray:
  """The fixed sine/cosine positional encoding of Vaswani et al., `[length, dim]`."""
  position = np.arange(length)[:, None]
  rate = np.exp(-np.log(10000.0) * (np.arange(0, dim, 2) / dim))
  table = np.zeros((length, dim), np.float32)
  table[:, 0::2] = np.sin(position * rate)
  table[:, 1::2] = np.cos(position * rate[: dim // 2])
  return table


class FeedForward(nn.Module):
  """Dense -> LeakyReLU -> Dense."""
  hidden_dim: int
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    y = nn.leaky_relu(nn.Dense(self.hidden_dim, dtype=self.dtype)(x), negative_slope=0.01)
    y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
    return nn.Dense(x.shape[-1], dtype=self.dtype)(y)


ATTENTION_NORMS = ('layernorm', 'projection')


def residual_self_attention(x, num_heads: int, dropout_rate: float, dtype, train: bool,
                            norm: str = 'layernorm'):
  """`x + MHSA(LN(x))` (or `x + MHSA(W_p x + b_p)` with `norm='projection'`) over the sequence axis
  of `[B, T, D]` tokens.

  Called inside a compact method, so its LayerNorm (or projection) and attention are the caller's
  submodules (the encoder block's parameter names, and with them its initialisation, stay those of
  one flat block).
  """
  if x.shape[-1] % num_heads:
    raise ValueError(f'config.model.num_heads={num_heads} must divide the attention width '
                     f'{x.shape[-1]}')
  if norm == 'layernorm':
    y = nn.LayerNorm(dtype=dtype)(x)
  elif norm == 'projection':
    y = nn.Dense(x.shape[-1], dtype=dtype, name='projection')(x)
  else:
    raise ValueError(f'config.model.attention_norm={norm!r}: expected one of {ATTENTION_NORMS}')
  y = nn.MultiHeadDotProductAttention(num_heads=num_heads, dtype=dtype, dropout_rate=dropout_rate,
                                      deterministic=not train)(y, y)
  return x + nn.Dropout(dropout_rate, deterministic=not train)(y)


class ResidualSelfAttention(nn.Module):
  """`residual_self_attention` as a module of its own (P3D's temporal attention layers)."""
  num_heads: int
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    return residual_self_attention(x, self.num_heads, self.dropout_rate, self.dtype, train)


class EncoderBlock(nn.Module):
  """x + MHSA(LN(x)), then x + FFN(LN(x)); or x + MHSA(W_p x + b_p), then x + FFN(x)
  (`attention_norm='projection'`)."""
  num_heads: int
  mlp_dim: int
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  attention_norm: str = 'layernorm'

  @nn.compact
  def __call__(self, x, train: bool = True):
    x = residual_self_attention(x, self.num_heads, self.dropout_rate, self.dtype, train,
                                self.attention_norm)
    if self.attention_norm == 'projection':
      y = FeedForward(self.mlp_dim, self.dropout_rate, self.dtype)(x, train)
    else:
      y = FeedForward(self.mlp_dim, self.dropout_rate, self.dtype)(
          nn.LayerNorm(dtype=self.dtype)(x), train)
    return x + nn.Dropout(self.dropout_rate, deterministic=not train)(y)


class TransformerEncoder(nn.Module):
  """`[B, T, D_in]` frame tokens -> batch-normalised CLS feature `[B, dim]`.

  `positional='sinusoidal'` works for any length; `'learned'` holds `max_len` positions (CLS
  included) and rejects longer sequences.
  """
  dim: int
  num_layers: int = 2
  num_heads: int = 8
  mlp_ratio: float = 2.0
  dropout_rate: float = 0.0
  positional: str = 'sinusoidal'
  max_len: int = 65
  dtype: Any = jnp.float32
  attention_norm: str = 'layernorm'  # | 'projection' (the paper; see the module docstring)

  @nn.compact
  def __call__(self, tokens, train: bool = True):
    batch, length, _ = tokens.shape
    x = nn.Dense(self.dim, dtype=self.dtype, name='embed')(tokens)
    cls = self.param('cls', nn.initializers.normal(0.02), (1, 1, self.dim))
    x = jnp.concatenate([jnp.broadcast_to(cls, (batch, 1, self.dim)).astype(x.dtype), x], axis=1)
    if self.positional == 'sinusoidal':
      x = x + sinusoidal_encoding(length + 1, self.dim).astype(x.dtype)
    elif self.positional == 'learned':
      if length + 1 > self.max_len:
        raise ValueError(f'{length} frame tokens + CLS exceed the learned positional encoding '
                         f'of config.model.max_len={self.max_len}')
      pos = self.param('pos', nn.initializers.normal(0.02), (self.max_len, self.dim))
      x = x + pos[: length + 1].astype(x.dtype)
    else:
      raise ValueError(f"config.model.positional={self.positional!r}: expected 'sinusoidal' or "
                       "'learned'")
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    for i in range(self.num_layers):
      x = EncoderBlock(self.num_heads, int(self.dim * self.mlp_ratio), self.dropout_rate,
                       self.dtype, self.attention_norm, name=f'block_{i}')(x, train)
    return BatchNorm(use_running_average=not train, dtype=self.dtype, name='cls_norm')(x[:, 0])
