"""The FER2013 mini-Xception (`emojax.models.mini_xception`) on the frames of RGB clips.

The network was trained on 64x64 greyscale faces cropped tightly around the face. `fer_faces` turns
frames `[N, H, W, 3]` in [-1, 1] into its input: greyscale with OpenCV's `COLOR_BGR2GRAY` weights
(`GREY_WEIGHTS`, ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B; `fer` converts with that call), then
the centre `face_box` of the frame (the face box's side as a fraction of the frame's) resized to
64x64 (bilinear, antialiased when shrinking). A run fills `face_box` from the dataset's stored face
margin and its resize margin (`emojax.data.sampling.face_box_fraction`, `emojax.train.protocol`),
so the network sees faces framed as FER2013's were in training, evaluation and prediction; 1.0
(a model built by hand) resizes the whole frame. The weights that fill these modules are loaded at
the start of training (`emojax.pretrained.start`); the modules themselves hold no weights.

- `FERFrameEncoder`: the frame encoder of `AttentionLSTMNet(frame_encoder='fer2013')`: the
  mini-Xception's last block `[4, 4, 128]` per frame, flattened (relative to the clip's onset with
  `onset_reference`, `emojax.models.onset`), then new dense layers (`fc_k`), as the AlexNet-like
  CNN's convolutions feed its dense layers.
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
from emojax.models.onset import relative_to_onset

GREY_WEIGHTS = (0.299, 0.587, 0.114)  # R, G, B: OpenCV's COLOR_BGR2GRAY / COLOR_RGB2GRAY
FACE_SIZE = 64  # the side of the FER2013 network's input faces


def fer_faces(frames: jax.Array, face_box: float = 1.0) -> jax.Array:
  """RGB frames `[N, H, W, 3]` in [-1, 1] -> greyscale faces `[N, 64, 64, 1]` in [-1, 1]: the
  centre `face_box` of each frame's side, resized."""
  if frames.shape[-1] != 3:
    raise ValueError(f'the FER2013 network takes RGB frames, got {frames.shape[-1]} channels')
  if not 0.0 < face_box <= 1.0:
    raise ValueError(f'config.model.face_box={face_box}: the face box must lie inside the input '
                     '(a fraction of its side in (0, 1])')
  # A weighted mean of [-1, 1] values is the [-1, 1] value of the uint8 weighted mean.
  grey = jnp.tensordot(frames.astype(jnp.float32), jnp.asarray(GREY_WEIGHTS, jnp.float32),
                       axes=1)[..., None]
  sides = grey.shape[1:3]
  if face_box == 1.0 and sides == (FACE_SIZE, FACE_SIZE):
    return grey
  # Output pixel centres map to input ones by x_out = scale * x_in + translation (continuous
  # coordinates): the centre face_box of the frame fills the output.
  scale = jnp.asarray([FACE_SIZE / (face_box * side) for side in sides], jnp.float32)
  translation = jnp.asarray([-(1.0 - face_box) * side / 2 * FACE_SIZE / (face_box * side)
                             for side in sides], jnp.float32)
  return jax.image.scale_and_translate(grey, (grey.shape[0], FACE_SIZE, FACE_SIZE, 1), (1, 2),
                                       scale, translation, 'linear', antialias=True)


def fer_trunk(frames: jax.Array, train: bool, frozen: bool, dtype: Any,
              face_box: float = 1.0) -> jax.Array:
  """The mini-Xception's last block `[N, 4, 4, 128]` of RGB frames' face boxes, as a submodule
  `fer` of the calling module (call it inside a compact method)."""
  x = MiniXception(output='features', dtype=dtype, name='fer')(fer_faces(frames, face_box),
                                                                train and not frozen)
  return jax.lax.stop_gradient(x) if frozen else x


def fer_clip_maps(clips: jax.Array, train: bool, frozen: bool, dtype: Any,
                  face_box: float = 1.0) -> jax.Array:
  """`fer_trunk` of every frame of clips `[B, T, H, W, 3]` -> `[B, T, 4, 4, 128]` (float32)."""
  batch, frames = clips.shape[:2]
  maps = fer_trunk(clips.reshape(batch * frames, *clips.shape[2:]), train, frozen, dtype, face_box)
  return maps.astype(jnp.float32).reshape(batch, frames, *maps.shape[1:])


class FERFrameEncoder(nn.Module):
  """Clips `[B, T, H, W, 3]` -> frame features `[B, T, fc_features[-1]]`: the FER2013
  mini-Xception (`fer`) on each frame's face box, its maps relative to the clip's onset
  (`onset_reference`), then new dense layers `fc_k` with ReLU and dropout."""
  fc_features: Sequence[int] = (1024,)
  dropout_rate: float = 0.5
  frozen: bool = True
  face_box: float = 1.0
  onset_reference: str = ''
  onset_frames: int = 1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    maps = fer_clip_maps(x, train, self.frozen, self.dtype, self.face_box)
    x = relative_to_onset(maps, self.onset_reference, self.onset_frames)
    x = x.reshape(*x.shape[:2], -1).astype(self.dtype)
    for k, width in enumerate(self.fc_features):
      x = nn.relu(nn.Dense(width, dtype=self.dtype, name=f'fc_{k}')(x))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return x


def fer_head_logits(maps: jax.Array, num_classes: int, dtype: Any, name: str) -> jax.Array:
  """FER2013's classifier (a 3x3 convolution to the classes, averaged over the 4x4 map, as in
  `MiniXception`) on maps `[B, T, 4, 4, 128]` -> per-frame logits `[B, T, num_classes]`, as a
  submodule `name` of the calling module."""
  logits = nn.Conv(num_classes, (3, 3), padding='SAME', dtype=dtype, name=name)(maps)
  return logits.astype(jnp.float32).mean(axis=(2, 3))


class FrameBaseline(nn.Module):
  """Clips `[B, T, H, W, 3]` -> log of the clip's mean per-frame class probabilities
  `[B, num_classes]` (float32), from the FER2013 network (`fer`) and its classifier (`head`: the
  3x3 convolution to the classes, averaged over the 4x4 map, as in `MiniXception`).

  With `freeze_features` only the head trains. At the start of training the head takes FER2013's
  classifier for every class whose name maps to a FER2013 class (`emojax.pretrained.fer2013`).
  """
  num_classes: int
  freeze_features: bool = True
  face_box: float = 1.0  # filled by the run (see the module docstring)
  dtype: Any = jnp.float32

  pretrained_parts = (PretrainedPart(('fer',), 'fer2013'), PretrainedPart(('head',), 'fer2013_head'))
  crops_face_box = True

  @property
  def frozen_prefixes(self) -> tuple[str, ...]:
    """The mini-Xception below the head, with `freeze_features`."""
    return ('fer/',) if self.freeze_features else ()

  @nn.compact
  def __call__(self, x, train: bool = True):
    frames = x.shape[1]
    maps = fer_clip_maps(x, train, self.freeze_features, self.dtype, self.face_box)
    logits = fer_head_logits(maps, self.num_classes, self.dtype, 'head')
    # log(mean_t softmax(logits_t)), computed stably.
    return jax.nn.logsumexp(jax.nn.log_softmax(logits, axis=-1), axis=1) - np.log(frames)
