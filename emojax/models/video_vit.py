"""Video Vision Transformer with joint space-time attention, as VideoMAE fine-tunes it.

    clip [B, T, H, W, C] in [-1, 1]
      -> tubelets of tubelet_size x patch_size x patch_size (2 x 16 x 16), each flattened and
         projected to embed_dim (`encoder/patch_embed`: a dense layer on the flattened tubelet, the
         same function as VideoMAE's Conv3d with stride = kernel)
      -> + positional embedding of the T' x H' x W' tokens, flattened in (t, h, w) order (fixed
         sine-cosine over the flat index as VideoMAE, or learned)
      -> depth pre-LayerNorm blocks: x + MHSA(LN(x)), x + MLP(LN(x)) over all tokens (joint
         space-time attention), with stochastic depth (drop path)            `encoder/block_i`
      -> mean over tokens -> LayerNorm (`fc_norm`) -> dropout -> dense (`head`) -> logits

The parameter tree is `{encoder: {patch_embed, [pos_embed], block_0 ...}, fc_norm, head}`: the
masked autoencoder (`emojax.models.video_mae`) holds the same `encoder` sub-tree, so fine-tuning
after pretraining copies that sub-tree and starts `fc_norm` and `head` new.

Choices where VideoMAE's code and ours differ in form, not in function: Flax's attention has a bias
on the keys, which VideoMAE leaves out (it adds the same number to every key's score of a query, so
softmax removes it; its gradient is zero); q, k and v are three xavier-initialised projections
(big_vision), where VideoMAE initialises one fused qkv matrix; the tubelet embedding is
xavier-initialised as a dense layer (MAE's choice; VideoMAE keeps PyTorch's Conv3d default). As
VideoMAE: LayerNorm epsilon 1e-6, exact GELU, dropout after the attention projection and after
the MLP (its `drop_rate`), and the head initialised at `head_init_scale` x truncated normal(0.02)
(its `init_scale`, 0.001).

`dtype=bfloat16` computes in bfloat16 with float32 parameters; the pooled feature, `fc_norm` and
the head run in float32, so logits are float32. `attention_impl='cudnn'` takes cuDNN's fused
attention (`jax.nn.dot_product_attention`; NVIDIA GPUs, bfloat16 or float16) instead of XLA's,
which holds every token pair's score in memory.

`layer_ids` gives each parameter its layer for layer-wise learning-rate decay (BEiT, VideoMAE
fine-tuning; `config.layer_decay`, applied by `emojax.train.state.make_optimizer`).
"""
from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from emojax.models.transformer import sinusoidal_encoding

POSITIONAL = ('sinusoidal', 'learned')
LAYER_NORM_EPSILON = 1e-6
XAVIER = nn.initializers.xavier_uniform()

# VideoMAE's sizes (modeling_finetune.py / modeling_pretrain.py); a tiny one for tests and demos.
# The decoder widths are the pretraining model's (`emojax.models.video_mae`).
SIZES = {
    'tiny': dict(embed_dim=64, depth=4, num_heads=4, decoder_dim=32, decoder_depth=2,
                 decoder_num_heads=2),
    'small': dict(embed_dim=384, depth=12, num_heads=6, decoder_dim=192, decoder_depth=4,
                  decoder_num_heads=3),
    'base': dict(embed_dim=768, depth=12, num_heads=12, decoder_dim=384, decoder_depth=4,
                 decoder_num_heads=6),
}
ENCODER_SIZE_KEYS = ('embed_dim', 'depth', 'num_heads')


def token_grid(clip_shape, tubelet_size: int, patch_size: int) -> tuple[int, int, int]:
  """(T', H', W'): tubelets along time, height and width of `[B, T, H, W, C]` clips."""
  _, t, h, w, _ = clip_shape
  if t % tubelet_size:
    raise ValueError(f'config.num_frames={t} must be a multiple of config.model.tubelet_size='
                     f'{tubelet_size}')
  if h % patch_size or w % patch_size:
    raise ValueError(f'config.image_size={h}x{w} must be a multiple of config.model.patch_size='
                     f'{patch_size}')
  return t // tubelet_size, h // patch_size, w // patch_size


def patchify(clip, tubelet_size: int, patch_size: int):
  """`[B, T, H, W, C]` -> `[B, T'H'W', tubelet_size * patch_size**2 * C]`: tokens in (t, h, w)
  order, each tubelet's values in (t, h, w, c) order. Works on numpy and jax arrays."""
  b, _, _, _, c = clip.shape
  t, h, w = token_grid(clip.shape, tubelet_size, patch_size)
  x = clip.reshape(b, t, tubelet_size, h, patch_size, w, patch_size, c)
  x = x.transpose(0, 1, 3, 5, 2, 4, 6, 7)
  return x.reshape(b, t * h * w, tubelet_size * patch_size * patch_size * c)


def unpatchify(tokens, grid: tuple[int, int, int], tubelet_size: int, patch_size: int):
  """The inverse of `patchify`: `[B, T'H'W', P]` -> `[B, T, H, W, C]`."""
  b = tokens.shape[0]
  t, h, w = grid
  c = tokens.shape[-1] // (tubelet_size * patch_size * patch_size)
  x = tokens.reshape(b, t, h, w, tubelet_size, patch_size, patch_size, c)
  x = x.transpose(0, 1, 4, 2, 5, 3, 6, 7)
  return x.reshape(b, t * tubelet_size, h * patch_size, w * patch_size, c)


ATTENTION_IMPLS = ('xla', 'cudnn')


def fused_attention(query, key, value, bias=None, mask=None, *, implementation: str = 'xla',
                    dropout_rate: float = 0.0, deterministic: bool = True, **unused):
  """`jax.nn.dot_product_attention` as Flax's `attention_fn`: XLA's, or cuDNN's fused (flash)
  attention on NVIDIA GPUs with bfloat16 / float16 compute (`implementation='cudnn'`). No
  attention dropout (VideoMAE uses none)."""
  del unused
  if implementation not in ATTENTION_IMPLS:
    raise ValueError(f'config.model.attention_impl={implementation!r}: expected one of '
                     f'{ATTENTION_IMPLS}')
  if dropout_rate and not deterministic:
    raise ValueError('attention dropout is not supported by the video ViT')
  return jax.nn.dot_product_attention(query, key, value, bias, mask,
                                      implementation=implementation)


class MlpBlock(nn.Module):
  """Dense (`fc1`) -> exact GELU -> Dense (`fc2`) -> dropout."""
  hidden_dim: int
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    y = nn.Dense(self.hidden_dim, dtype=self.dtype, kernel_init=XAVIER, name='fc1')(x)
    y = nn.gelu(y, approximate=False)
    y = nn.Dense(x.shape[-1], dtype=self.dtype, kernel_init=XAVIER, name='fc2')(y)
    return nn.Dropout(self.dropout_rate, deterministic=not train)(y)


class ViTBlock(nn.Module):
  """x + DropPath(MHSA(LN(x))), then x + DropPath(MLP(LN(x))). Drop path drops a sample's whole
  residual branch (dropout broadcast over tokens and features), scaling kept ones by 1/(1-rate)."""
  num_heads: int
  mlp_ratio: float = 4.0
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  attention_impl: str = 'xla'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    if x.shape[-1] % self.num_heads:
      raise ValueError(f'config.model.num_heads={self.num_heads} must divide the width '
                       f'{x.shape[-1]}')

    def drop_path(y):
      return nn.Dropout(self.drop_path_rate, broadcast_dims=(1, 2), deterministic=not train)(y)

    y = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON, dtype=self.dtype, name='norm1')(x)
    y = nn.MultiHeadDotProductAttention(self.num_heads, dtype=self.dtype, kernel_init=XAVIER,
                                        attention_fn=functools.partial(
                                            fused_attention, implementation=self.attention_impl),
                                        name='attention')(y, y)
    y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
    x = x + drop_path(y)
    y = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON, dtype=self.dtype, name='norm2')(x)
    y = MlpBlock(int(x.shape[-1] * self.mlp_ratio), self.dropout_rate, self.dtype, name='mlp')(
        y, train)
    return x + drop_path(y)


def drop_path_rates(rate: float, depth: int) -> list[float]:
  """Stochastic depth rising linearly from 0 at the first block to `rate` at the last."""
  return [float(r) for r in np.linspace(0.0, rate, depth)]


class VideoViTEncoder(nn.Module):
  """Clips -> tokens `[B, n, embed_dim]` after the last block (no final norm: the classifier and
  the autoencoder each add their own). `visible`: `[B, n]` token indices to keep after the
  positional embedding (the autoencoder's unmasked tokens); None keeps all."""
  patch_size: int = 16
  tubelet_size: int = 2
  embed_dim: int = 768
  depth: int = 12
  num_heads: int = 12
  mlp_ratio: float = 4.0
  positional: str = 'sinusoidal'
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  attention_impl: str = 'xla'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, clip, train: bool = True, visible=None):
    grid = token_grid(clip.shape, self.tubelet_size, self.patch_size)
    num_tokens = int(np.prod(grid))
    x = patchify(clip.astype(self.dtype), self.tubelet_size, self.patch_size)
    x = nn.Dense(self.embed_dim, dtype=self.dtype, kernel_init=XAVIER, name='patch_embed')(x)
    if self.positional == 'sinusoidal':
      x = x + sinusoidal_encoding(num_tokens, self.embed_dim).astype(x.dtype)
    elif self.positional == 'learned':
      pos = self.param('pos_embed', nn.initializers.truncated_normal(0.02),
                       (num_tokens, self.embed_dim))
      x = x + pos.astype(x.dtype)
    else:
      raise ValueError(f'config.model.positional={self.positional!r}: expected one of '
                       f'{POSITIONAL}')
    if visible is not None:
      x = jnp.take_along_axis(x, visible[..., None], axis=1)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    for i, rate in enumerate(drop_path_rates(self.drop_path_rate, self.depth)):
      x = ViTBlock(self.num_heads, self.mlp_ratio, self.dropout_rate, rate, self.attention_impl,
                   self.dtype, name=f'block_{i}')(x, train)
    return x


def encoder_of(model: nn.Module) -> VideoViTEncoder:
  """The `encoder` sub-module with `model`'s encoder fields (VideoViT and VideoMAE share them)."""
  return VideoViTEncoder(model.patch_size, model.tubelet_size, model.embed_dim, model.depth,
                         model.num_heads, model.mlp_ratio, model.positional, model.dropout_rate,
                         model.drop_path_rate, model.attention_impl, model.dtype, name='encoder')


class VideoViT(nn.Module):
  """`[B, T, H, W, C]` clips in [-1, 1] -> logits `[B, num_classes]` (float32). The class defaults
  are ViT-B with 2 x 16 x 16 tubelets (VideoMAE's `vit_base_patch16_224`)."""
  num_classes: int
  patch_size: int = 16
  tubelet_size: int = 2
  embed_dim: int = 768
  depth: int = 12
  num_heads: int = 12
  mlp_ratio: float = 4.0
  positional: str = 'sinusoidal'  # | 'learned'
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  head_dropout_rate: float = 0.0
  head_init_scale: float = 0.001
  attention_impl: str = 'xla'  # | 'cudnn' (fused attention on NVIDIA GPUs, bfloat16)
  dtype: Any = jnp.float32

  @staticmethod
  def layer_ids(params):
    """Each parameter's layer, for layer-wise learning-rate decay (module `layer_ids`)."""
    return layer_ids(params)

  @nn.compact
  def __call__(self, x, train: bool = True):
    tokens = encoder_of(self)(x, train)
    pooled = tokens.astype(jnp.float32).mean(axis=1)
    pooled = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON, name='fc_norm')(pooled)
    pooled = nn.Dropout(self.head_dropout_rate, deterministic=not train)(pooled)
    head_init = nn.initializers.truncated_normal(0.02 * self.head_init_scale)
    return nn.Dense(self.num_classes, kernel_init=head_init, name='head')(pooled)


VideoViTTiny = functools.partial(VideoViT, **{k: SIZES['tiny'][k] for k in ENCODER_SIZE_KEYS})
VideoViTSmall = functools.partial(VideoViT, **{k: SIZES['small'][k] for k in ENCODER_SIZE_KEYS})
VideoViTBase = functools.partial(VideoViT, **{k: SIZES['base'][k] for k in ENCODER_SIZE_KEYS})


def num_blocks(params) -> int:
  """The encoder blocks in a parameter tree (`encoder/block_i`)."""
  return sum(1 for name in params['encoder'] if name.startswith('block_'))


def layer_ids(params):
  """A pytree like `params` of each parameter's layer: the embedding (`encoder/patch_embed`,
  `encoder/pos_embed`) 0, `encoder/block_i` i + 1, everything after the encoder (`fc_norm`,
  `head`) depth + 1 (VideoMAE's `get_num_layer_for_vit`)."""
  depth = num_blocks(params)

  def layer(path, _):
    names = jax.tree_util.keystr(path, simple=True, separator='/').split('/')
    if names[0] != 'encoder':
      return depth + 1
    if names[1].startswith('block_'):
      return int(names[1].removeprefix('block_')) + 1
    return 0

  return jax.tree_util.tree_map_with_path(layer, params)
