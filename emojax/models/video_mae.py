"""VideoMAE pretraining: a masked autoencoder on tube-masked clips (Tong et al., NeurIPS 2022; the
recipe MAE-DFER pretrains on face video with).

    clip [B, T, H, W, C] in [-1, 1], mask [B, N] (True: masked; the same spatial positions in
    every temporal slot, `tube_mask`)
      -> the video ViT's encoder (`encoder`, the sub-tree `VideoViT` holds) on the visible
         tokens only -> LayerNorm (`encoder_norm`) -> dense to decoder_dim (`encoder_to_decoder`)
      -> every token back in place: visible ones from the encoder, a learned `mask_token` at the
         masked ones; + fixed sine-cosine positions
      -> decoder_depth blocks of decoder_dim (`decoder/block_i`) -> LayerNorm -> dense to the
         tubelet's pixels (`decoder/head`)                         prediction [B, N, P]
    target [B, N, P]: each tubelet's pixels, normalised per tubelet and channel to zero mean and
    unit (unbiased) standard deviation (VideoMAE's `normlize_target`), or in [0, 1] without it.

`__call__` returns `{'prediction', 'target', 'mask'}` and `masked_reconstruction_loss` turns them
into the scalar: the mean squared error over the masked tubelets only. The decoder predicts every
token, visible ones included (VideoMAE's head reads only the masked ones); the loss ignores the
visible ones, so loss and gradients are VideoMAE's, and the reconstruction figure reads one array.

The mask is drawn from the 'mask' RNG stream (`model.apply(..., rngs={'mask': key, 'dropout':
key2})`), or passed as `mask=`; either way it masks `num_masked_per_slot(...)` of the H' x W'
positions in each of the T' temporal slots.

Fine-tuning starts a `video_vit` from the pretrained `encoder` sub-tree through the stage
mechanism (`config.init_from.workdir`, `config.init_from.subtrees=('encoder',)`,
`emojax.train.stages`); the pretraining model's `encoder_norm` is left behind, as VideoMAE's
fine-tuning (mean pooling) does.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from emojax.models import video_vit
from emojax.models.transformer import sinusoidal_encoding

TARGET_EPSILON = 1e-6


def num_masked_per_slot(grid: tuple[int, int, int], mask_ratio: float) -> int:
  """Masked spatial positions per temporal slot: `int(mask_ratio * H'W')` (VideoMAE's
  `TubeMaskingGenerator`); at least one position stays visible."""
  spatial = grid[1] * grid[2]
  masked = int(mask_ratio * spatial)
  if not 0 <= masked < spatial:
    raise ValueError(f'config.model.mask_ratio={mask_ratio} masks {masked} of the {spatial} '
                     'tubelet positions per time slot; it must leave at least one visible')
  return masked


def tube_mask(rng: jax.Array, batch: int, grid: tuple[int, int, int], mask_ratio: float):
  """`bool [batch, T'H'W']`, True where masked: per example a random set of
  `num_masked_per_slot` spatial positions, the same in every temporal slot (tokens in (t, h, w)
  order, as `video_vit.patchify` lays them out)."""
  t, h, w = grid
  masked = num_masked_per_slot(grid, mask_ratio)
  noise = jax.random.uniform(rng, (batch, h * w))
  rank = jnp.argsort(jnp.argsort(noise, axis=1), axis=1)
  return jnp.tile(rank < masked, (1, t))


def visible_indices(mask, num_visible: int):
  """`[B, num_visible]` indices of the unmasked tokens, ascending."""
  return jnp.argsort(mask, axis=1, stable=True)[:, :num_visible]


def patch_targets(clip, tubelet_size: int, patch_size: int, normalize: bool = True):
  """The reconstruction target `[B, N, P]` of `[B, T, H, W, C]` clips in [-1, 1]: tubelet
  pixels in [0, 1], normalised per tubelet and channel when `normalize` (mean 0, std 1 with
  `TARGET_EPSILON` added to the unbiased std, as VideoMAE)."""
  pixels = (clip.astype(jnp.float32) + 1.0) / 2.0
  patches = video_vit.patchify(pixels, tubelet_size, patch_size)
  if not normalize:
    return patches
  b, n, p = patches.shape
  x = patches.reshape(b, n, -1, clip.shape[-1])
  mean = x.mean(axis=2, keepdims=True)
  std = jnp.sqrt(x.var(axis=2, ddof=1, keepdims=True))
  return ((x - mean) / (std + TARGET_EPSILON)).reshape(b, n, p)


def masked_reconstruction_loss(outputs) -> jax.Array:
  """Mean squared error between `prediction` and `target` over the masked tokens only (and
  every value of each): the VideoMAE pretraining loss."""
  error = jnp.mean((outputs['prediction'].astype(jnp.float32) - outputs['target']) ** 2, axis=-1)
  mask = outputs['mask'].astype(jnp.float32)
  return jnp.sum(error * mask) / jnp.maximum(jnp.sum(mask), 1.0)


class VideoMAEDecoder(nn.Module):
  """Tokens `[B, N, decoder_dim]` (positions added) -> blocks -> LayerNorm -> pixels `[B, N, P]`."""
  num_pixels: int
  depth: int = 4
  num_heads: int = 6
  mlp_ratio: float = 4.0
  attention_impl: str = 'xla'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    for i in range(self.depth):
      x = video_vit.ViTBlock(self.num_heads, self.mlp_ratio, attention_impl=self.attention_impl,
                             dtype=self.dtype, name=f'block_{i}')(x, train)
    x = nn.LayerNorm(epsilon=video_vit.LAYER_NORM_EPSILON, dtype=self.dtype, name='norm')(x)
    return nn.Dense(self.num_pixels, dtype=self.dtype, kernel_init=video_vit.XAVIER,
                    name='head')(x)


class VideoMAE(nn.Module):
  """`[B, T, H, W, C]` clips in [-1, 1] -> `{'prediction', 'target', 'mask'}` (see the module
  docstring). The encoder fields are `VideoViT`'s, with its defaults (ViT-B); the decoder's are
  VideoMAE-B's (384 wide, 4 blocks, 6 heads)."""
  patch_size: int = 16
  tubelet_size: int = 2
  embed_dim: int = 768
  depth: int = 12
  num_heads: int = 12
  mlp_ratio: float = 4.0
  positional: str = 'sinusoidal'
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  decoder_dim: int = 384
  decoder_depth: int = 4
  decoder_num_heads: int = 6
  mask_ratio: float = 0.9
  normalize_target: bool = True
  attention_impl: str = 'xla'  # | 'cudnn' (see video_vit)
  dtype: Any = jnp.float32

  objective = 'masked_reconstruction'

  @nn.compact
  def __call__(self, clip, train: bool = True, mask=None):
    batch = clip.shape[0]
    grid = video_vit.token_grid(clip.shape, self.tubelet_size, self.patch_size)
    num_tokens = int(np.prod(grid))
    num_visible = num_tokens - grid[0] * num_masked_per_slot(grid, self.mask_ratio)
    if mask is None:
      mask = tube_mask(self.make_rng('mask'), batch, grid, self.mask_ratio)
    visible = visible_indices(mask, num_visible)
    x = video_vit.encoder_of(self)(clip, train, visible=visible)
    x = nn.LayerNorm(epsilon=video_vit.LAYER_NORM_EPSILON, dtype=self.dtype,
                     name='encoder_norm')(x)
    x = nn.Dense(self.decoder_dim, use_bias=False, dtype=self.dtype,
                 kernel_init=video_vit.XAVIER, name='encoder_to_decoder')(x)
    mask_token = self.param('mask_token', nn.initializers.truncated_normal(0.02),
                            (self.decoder_dim,))
    tokens = jnp.broadcast_to(mask_token.astype(x.dtype), (batch, num_tokens, self.decoder_dim))
    tokens = tokens.at[jnp.arange(batch)[:, None], visible].set(x)
    tokens = tokens + sinusoidal_encoding(num_tokens, self.decoder_dim).astype(x.dtype)
    num_pixels = self.tubelet_size * self.patch_size ** 2 * clip.shape[-1]
    prediction = VideoMAEDecoder(num_pixels, self.decoder_depth, self.decoder_num_heads,
                                 self.mlp_ratio, self.attention_impl, self.dtype,
                                 name='decoder')(tokens, train)
    target = patch_targets(clip, self.tubelet_size, self.patch_size, self.normalize_target)
    return {'prediction': prediction.astype(jnp.float32),
            'target': jax.lax.stop_gradient(target), 'mask': mask}


def reconstruction_grid(clip: np.ndarray, prediction: np.ndarray, mask: np.ndarray, *,
                        tubelet_size: int, patch_size: int, normalize_target: bool = True,
                        num_frames: int = 4, masked_value: float = 0.5) -> np.ndarray:
  """One example as a uint8 image `[3 H, num_frames W, C]`: rows original, masked input (masked
  tubelets grey) and reconstruction (visible tubelets as given, masked ones predicted), at
  `num_frames` frames evenly spaced over the clip.

  `clip`: `[T, H, W, C]` in [-1, 1]; `prediction` `[N, P]` and `mask` `[N]` the model's outputs for
  it. With `normalize_target`, predictions are mapped back to pixels with each tubelet's own
  mean and standard deviation, as VideoMAE's visualisation does: the row then shows every masked
  tubelet's true average colour and contrast even before training; what the model predicted is
  the pattern within each tubelet.
  """
  clip = np.asarray(clip, np.float32)[None]
  prediction, mask = np.asarray(prediction, np.float32), np.asarray(mask, bool)[:, None]
  grid = video_vit.token_grid(clip.shape, tubelet_size, patch_size)
  pixels = (clip + 1.0) / 2.0
  patches = video_vit.patchify(pixels, tubelet_size, patch_size)[0]
  if normalize_target:
    values = patches.reshape(len(patches), -1, clip.shape[-1])
    mean = values.mean(axis=1, keepdims=True)
    std = values.std(axis=1, ddof=1, keepdims=True)
    prediction = (prediction.reshape(values.shape) * (std + TARGET_EPSILON) + mean).reshape(
        prediction.shape)
  rows = [patches, np.where(mask, masked_value, patches), np.where(mask, prediction, patches)]
  frames = np.linspace(0, clip.shape[1] - 1, num_frames).round().astype(int)
  images = [video_vit.unpatchify(row[None], grid, tubelet_size, patch_size)[0][frames]
            for row in rows]
  grid_image = np.concatenate([np.concatenate(list(row), axis=1) for row in images], axis=0)
  return (np.clip(grid_image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
