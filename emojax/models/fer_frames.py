"""The FER2013 mini-Xception (`emojax.models.mini_xception`) on the frames of RGB clips.

The network was trained on 64x64 greyscale faces. `fer_faces` turns frames `[N, H, W, 3]` in
[-1, 1] into its input: greyscale with OpenCV's `COLOR_BGR2GRAY` weights (`GREY_WEIGHTS`, ITU-R
BT.601: 0.299 R + 0.587 G + 0.114 B; `fer` converts with that call), then resized to 64x64
(bilinear, antialiased when shrinking) unless already that size. The weights that fill these
modules are loaded at the start of training (`emojax.pretrained.start`); the modules themselves
hold no weights.

- `FERFrameEncoder`: the frame encoder of `AttentionLSTMNet(frame_encoder='fer2013')`: the
  mini-Xception's last block `[N, 4, 4, 128]`, flattened, then new dense layers (`fc_k`), as the
  AlexNet-like CNN's convolutions feed its dense layers.
- `FrameBaseline`: the per-frame baseline: the network on every frame of a clip, its class
  probabilities averaged over the frames; it returns the log of that average (softmax of it gives
  the average back), so it trains with the shared step and cross-entropy like every model.

Both take `frozen`: the mini-Xception's BatchNorm then runs on its running statistics and no
gradient flows into it; `frozen_prefixes` names its parameters for the optimizer.
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from emojax.models.interface import PretrainedPart
from emojax.models.mini_xception import MiniXception

GREY_WEIGHTS = (0.299, 0.587, 0.114)  # R, G, B: OpenCV's COLOR_BGR2GRAY / COLOR_RGB2GRAY
FACE_SIZE = 64  # the side of the FER2013 network's input faces


def fer_faces(frames: jax.Array) -> jax.Array:
  """RGB frames `[N, H, W, 3]` in [-1, 1] -> greyscale `[N, 64, 64, 1]` in [-1, 1]."""
  if frames.shape[-1] != 3:
    raise ValueError(f'the FER2013 network takes RGB frames, got {frames.shape[-1]} channels')
  # A weighted mean of [-1, 1] values is the [-1, 1] value of the uint8 weighted mean.
  grey = jnp.tensordot(frames.astype(jnp.float32), jnp.asarray(GREY_WEIGHTS, jnp.float32),
                       axes=1)[..., None]
  if grey.shape[1:3] != (FACE_SIZE, FACE_SIZE):
    grey = jax.image.resize(grey, (grey.shape[0], FACE_SIZE, FACE_SIZE, 1), 'linear')
  return grey


def fer_trunk(frames: jax.Array, train: bool, frozen: bool, dtype: Any) -> jax.Array:
  """The mini-Xception's last block `[N, 4, 4, 128]` of RGB frames, as a submodule `fer` of the
  calling module (call it inside a compact method)."""
  x = MiniXception(output='features', dtype=dtype, name='fer')(fer_faces(frames),
                                                                train and not frozen)
  return jax.lax.stop_gradient(x) if frozen else x


class FERFrameEncoder(nn.Module):
  """Frames `[N, H, W, 3]` -> features `[N, fc_features[-1]]`: the FER2013 mini-Xception (`fer`)
  and new dense layers `fc_k` with ReLU and dropout."""
  fc_features: Sequence[int] = (1024,)
  dropout_rate: float = 0.5
  frozen: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    x = fer_trunk(x, train, self.frozen, self.dtype)
    x = x.reshape(x.shape[0], -1)
    for k, width in enumerate(self.fc_features):
      x = nn.relu(nn.Dense(width, dtype=self.dtype, name=f'fc_{k}')(x))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return x


class FrameBaseline(nn.Module):
  """Clips `[B, T, H, W, 3]` -> log of the clip's mean per-frame class probabilities
  `[B, num_classes]` (float32), from the FER2013 network (`fer`) and its classifier (`head`: the
  3x3 convolution to the classes, averaged over the 4x4 map, as in `MiniXception`).

  With `freeze_features` only the head trains. At the start of training the head takes FER2013's
  classifier for every class whose name maps to a FER2013 class (`emojax.pretrained.fer2013`).
  """
  num_classes: int
  freeze_features: bool = True
  dtype: Any = jnp.float32

  pretrained_parts = (PretrainedPart(('fer',), 'fer2013'), PretrainedPart(('head',), 'fer2013_head'))

  @property
  def frozen_prefixes(self) -> tuple[str, ...]:
    """The mini-Xception below the head, with `freeze_features`."""
    return ('fer/',) if self.freeze_features else ()

  @nn.compact
  def __call__(self, x, train: bool = True):
    batch, frames = x.shape[:2]
    x = fer_trunk(x.reshape(batch * frames, *x.shape[2:]), train, self.freeze_features,
                  self.dtype)
    logits = nn.Conv(self.num_classes, (3, 3), padding='SAME', dtype=self.dtype, name='head')(x)
    logits = logits.astype(jnp.float32).mean(axis=(1, 2)).reshape(batch, frames, -1)
    # log(mean_t softmax(logits_t)), computed stably.
    return jax.nn.logsumexp(jax.nn.log_softmax(logits, axis=-1), axis=1) - np.log(frames)
