"""A temporal head on the FER2013 network that keeps what the network knows.

    clip [B, T, H, W, 3] -> each frame's face box, grey 64x64 (`face_box`, filled by the run)
      -> FER2013 mini-Xception, frozen: maps M_t [4, 4, 128]                 (`fer`)
      -> relative to the onset: [M_t, M_t - M_onset]     (`onset_reference`, `emojax.models.onset`)
      -> flattened, keeping the 4x4 layout -> dense + ReLU: h_t              (`embed`)
      -> attention over time: alpha = softmax_t(w^T tanh(W h_t))            (`attention`)
      -> per-frame logits: V h_t + FER2013's own classifier on M_t     (`classifier`, `fer_head`)
      -> sum_t alpha_t logits_t

Why this shape, against the attention LSTM (`attention_lstm` with `frame_encoder='fer2013'`), whose
class scores come from an LSTM state that summarises the frames' dense features:
- **Per-frame scores on the spatial maps.** Where on the face a map responds (brows, mouth
  corners) is what tells expressions apart, and a linear classifier on FER2013's last maps of apex
  frames is a strong baseline on real posed data. Here each frame's scores are one hidden layer
  away from its whole 4x4x128 map; time only weighs them.
- **The onset as reference** (sequences that start neutral): the change of the maps from the
  subject's own neutral face is the expression; the maps themselves carry identity and resting
  face too.
- **Attention picks the apex.** A posed sequence is mostly onset and offset; each frame's score
  chooses the frames that show the expression, for the new classifier and for FER2013's.
- **FER2013's own classifier fused** (`fer_logits`): its per-frame logits, mapped to the dataset's
  classes by name (`emojax.pretrained.start.fer_head`), are added to the new ones. The new
  classifier and the attention scores start at zero, so the untrained model is FER2013's zero-shot
  prediction on the clip's frames (their mean logits), and training learns what to add to it.

With `freeze_features` the mini-Xception is frozen (inference-mode BatchNorm, no gradient, left
out by the optimizer); everything after it trains, FER2013's classifier included.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from emojax.models.fer_frames import fer_clip_maps, fer_head_logits
from emojax.models.interface import PretrainedPart
from emojax.models.onset import relative_to_onset


class FERTemporalNet(nn.Module):
  """Clips `[B, T, H, W, 3]` -> logits `[B, num_classes]` (float32); see the module docstring."""
  num_classes: int
  embed_features: int = 256
  attention_features: int = 64
  onset_reference: str = 'concat'  # '' | 'difference' | 'concat' (emojax.models.onset)
  onset_frames: int = 1
  fer_logits: bool = True  # add FER2013's own per-frame classifier
  freeze_features: bool = True
  face_box: float = 1.0  # filled by the run (emojax.models.fer_frames)
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32

  crops_face_box = True

  @property
  def pretrained_parts(self) -> tuple[PretrainedPart, ...]:
    """The mini-Xception, and FER2013's classifier with `fer_logits`."""
    head = (PretrainedPart(('fer_head',), 'fer2013_head'),) if self.fer_logits else ()
    return (PretrainedPart(('fer',), 'fer2013'),) + head

  @property
  def frozen_prefixes(self) -> tuple[str, ...]:
    return ('fer/',) if self.freeze_features else ()

  def frame_logits(self, maps, train: bool):
    """`(logits [B, T, C], attention scores [B, T])` of FER2013 maps `[B, T, 4, 4, 128]`."""
    x = relative_to_onset(maps, self.onset_reference, self.onset_frames)
    x = x.reshape(*x.shape[:2], -1)
    x = nn.relu(nn.Dense(self.embed_features, dtype=self.dtype, name='embed')(x))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x).astype(jnp.float32)
    hidden = jnp.tanh(nn.Dense(self.attention_features, name='attention')(x))
    scores = nn.Dense(1, kernel_init=nn.initializers.zeros, name='attention_score')(hidden)[..., 0]
    logits = nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros, name='classifier')(x)
    if self.fer_logits:
      logits = logits + fer_head_logits(maps, self.num_classes, self.dtype, 'fer_head')
    return logits, scores

  @nn.compact
  def __call__(self, x, train: bool = True):
    maps = fer_clip_maps(x, train, self.freeze_features, self.dtype, self.face_box)
    logits, scores = self.frame_logits(maps, train)
    alpha = jax.nn.softmax(scores, axis=-1)
    return jnp.einsum('bt,btc->bc', alpha, logits)
