"""ConvNet + attention LSTM (CHEAVD: ACC 38.49%, macro average recall 23.04%).

    clip [B, T, H, W, C] -> frames [B*T, H, W, C] -> FrameCNN -> frame features [B, T, D]
         -> LSTM over the T frames -> hidden states H = (h_1 .. h_N), N = T
         -> attention (Wang et al., EMNLP 2016, as used by the paper):
              M     = tanh(W_h H)            [B, N, d]
              alpha = softmax(w^T M)         [B, N]     (over frames)
              r     = H alpha^T              [B, d]     (attention-weighted sum of hidden states)
              h*    = tanh(W_p r + W_x h_N)  [B, d]
         -> dense softmax classifier on h*

`use_attention=False` gives the plain-LSTM baseline (classifier on h_N).

FrameCNN is AlexNet-like with 3x3 kernels for 100x100 faces: five convolutions
`cnn_features=(96, 256, 384, 384, 256)` (the first with stride 2), overlapping 3x3/2 max-pools after
the 1st, 2nd and 5th, BatchNorm in place of AlexNet's local response normalisation
(`batch_norm`), then dense layers `fc_features`; the last dense layer's output is the frame
feature. The paper's dense widths are not known; 1024 is the choice here.

Training as in the paper, in two stages: the frame CNN is first trained on single frames with its
own softmax (`FrameClassifier`, `config.model.name='frame_cnn'`, which shares the `cnn` parameter
names: a training stage of its own, `configs/stages.py`), then the whole network starts from its
`cnn` (`config.init_from`) and is fine-tuned with the conv layers frozen (`freeze_cnn=True`: `frozen_prefixes` names every parameter under `cnn/conv_`, which
the optimizer leaves unchanged, see `emojax.train.state.freeze`; here the frozen layers' BatchNorm
also runs on its running statistics and no gradient is computed through them).

`frame_encoder='fer2013'` replaces the CNN by the FER2013 mini-Xception
(`emojax.models.fer_frames.FERFrameEncoder`, weights loaded at the start of training by
`emojax.pretrained.start`): each frame's face box (`face_box`, filled by the run) to greyscale
64x64, its convolutions (`cnn/fer`, frozen with `freeze_cnn`), then new dense layers `fc_features`.
This is the paper's recipe with a CNN that has already learned faces; no frame pre-training is
needed. With it, `onset_reference` (`emojax.models.onset`) gives the dense layers each frame's
FER2013 maps relative to the clip's first `onset_frames` frames (sequences that start neutral).

Recurrences run in float32 whatever `dtype` is (the CNN uses `dtype`).
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from emojax.models.fer_frames import FERFrameEncoder
from emojax.models.interface import PretrainedPart
from emojax.models.norm import BatchNorm

FRAME_ENCODERS = ('alexnet', 'fer2013')

class FrameCNN(nn.Module):
  """AlexNet-like 2D CNN with 3x3 kernels: frames `[N, H, W, C]` -> features `[N, fc_features[-1]]`.

  Conv layer k is `conv_k` (with BatchNorm `conv_k_bn`); dense layer k is `fc_k`. With `frozen`,
  the conv layers' BatchNorm uses its running statistics and their output is a constant for the
  gradient.
  """
  features: Sequence[int] = (96, 256, 384, 384, 256)
  pool_after: Sequence[int] = (0, 1, 4)
  fc_features: Sequence[int] = (1024, 1024)
  first_stride: int = 2
  batch_norm: bool = True
  dropout_rate: float = 0.5
  frozen: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    x = x.astype(self.dtype)
    for k, width in enumerate(self.features):
      stride = self.first_stride if k == 0 else 1
      x = nn.Conv(width, (3, 3), (stride, stride), use_bias=not self.batch_norm, dtype=self.dtype,
                  name=f'conv_{k}')(x)
      if self.batch_norm:
        x = BatchNorm(use_running_average=not train or self.frozen, dtype=self.dtype,
                      name=f'conv_{k}_bn')(x)
      x = nn.relu(x)
      if k in self.pool_after:
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding='SAME')
    if self.frozen:
      x = jax.lax.stop_gradient(x)
    x = x.reshape(x.shape[0], -1)
    for k, width in enumerate(self.fc_features):
      x = nn.relu(nn.Dense(width, dtype=self.dtype, name=f'fc_{k}')(x))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return x


class LSTMAttention(nn.Module):
  """`h* = tanh(W_p r + W_x h_N)` with `r = H softmax(w^T tanh(W_h H))^T`; returns `(h*, alpha)`.

  `hidden` is `[B, N, d]`; parameters `w_h` (d x d), `w` (d x 1), `w_p`, `w_x` (d x d), no biases.
  """

  @nn.compact
  def __call__(self, hidden):
    d = hidden.shape[-1]
    dense = lambda n, name: nn.Dense(n, use_bias=False, name=name)  # noqa: E731
    m = jnp.tanh(dense(d, 'w_h')(hidden))
    alpha = jax.nn.softmax(dense(1, 'w')(m)[..., 0], axis=-1)
    r = jnp.einsum('bn,bnd->bd', alpha, hidden)
    return jnp.tanh(dense(d, 'w_p')(r) + dense(d, 'w_x')(hidden[:, -1])), alpha


class AttentionLSTMNet(nn.Module):
  """ConvNet + (attention) LSTM: `[B, T, H, W, C]` clips -> logits `[B, num_classes]` (float32)."""
  num_classes: int
  cnn_features: Sequence[int] = (96, 256, 384, 384, 256)
  pool_after: Sequence[int] = (0, 1, 4)
  fc_features: Sequence[int] = (1024, 1024)
  first_stride: int = 2
  batch_norm: bool = True
  lstm_features: int = 512
  use_attention: bool = True
  freeze_cnn: bool = False
  frame_encoder: str = 'alexnet'  # or 'fer2013' (see the module docstring)
  face_box: float = 1.0  # 'fer2013': filled by the run (emojax.models.fer_frames)
  onset_reference: str = ''  # 'fer2013': '' | 'difference' | 'concat' (emojax.models.onset)
  onset_frames: int = 1
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32

  @property
  def frozen_prefixes(self) -> tuple[str, ...]:
    """Parameter paths training leaves unchanged: the conv layers and their norms with `freeze_cnn`."""
    if not self.freeze_cnn:
      return ()
    return ('cnn/fer/',) if self.frame_encoder == 'fer2013' else ('cnn/conv_',)

  @property
  def pretrained_parts(self) -> tuple[PretrainedPart, ...]:
    """The FER2013 mini-Xception, with `frame_encoder='fer2013'`."""
    return (PretrainedPart(('cnn', 'fer'), 'fer2013'),) if self.frame_encoder == 'fer2013' else ()

  @property
  def crops_face_box(self) -> bool:
    """The FER2013 encoder takes tight faces (`face_box`)."""
    return self.frame_encoder == 'fer2013'

  def _frame_features(self, x, train: bool):
    """Clips `[B, T, H, W, C]` -> frame features `[B, T, D]` (float32) of the frame encoder."""
    if self.frame_encoder not in FRAME_ENCODERS:
      raise ValueError(f'config.model.frame_encoder={self.frame_encoder!r}: expected one of '
                       f'{FRAME_ENCODERS}')
    if self.frame_encoder == 'fer2013':
      return FERFrameEncoder(tuple(self.fc_features), self.dropout_rate, self.freeze_cnn,
                             self.face_box, self.onset_reference, self.onset_frames, self.dtype,
                             name='cnn')(x, train).astype(jnp.float32)
    if self.onset_reference:
      raise ValueError(f'config.model.onset_reference={self.onset_reference!r} is taken on the '
                       "FER2013 encoder's maps: set config.model.frame_encoder='fer2013'")
    batch, frames = x.shape[:2]
    feats = FrameCNN(self.cnn_features, self.pool_after, self.fc_features, self.first_stride,
                     self.batch_norm, self.dropout_rate, self.freeze_cnn, self.dtype,
                     name='cnn')(x.reshape(batch * frames, *x.shape[2:]), train)
    return feats.reshape(batch, frames, -1).astype(jnp.float32)

  @nn.compact
  def __call__(self, x, train: bool = True):
    feats = self._frame_features(x, train)
    hidden = nn.RNN(nn.OptimizedLSTMCell(self.lstm_features, name='lstm'))(feats)
    if self.use_attention:
      out, _ = LSTMAttention(name='attention')(hidden)
    else:
      out = hidden[:, -1]
    out = nn.Dropout(self.dropout_rate, deterministic=not train)(out)
    return nn.Dense(self.num_classes, name='head')(out)


class FrameClassifier(nn.Module):
  """Stage one of the paper's training: the frame CNN of `AttentionLSTMNet` (named `cnn`, with the
  same fields) and a softmax head of its own (`frame_head`), classifying every frame of a clip on
  its own. Clips `[B, T, H, W, C]` -> per-frame logits `[B, T, num_classes]`: training labels each
  frame with its clip's label, evaluation averages the frames' logits."""
  num_classes: int
  cnn_features: Sequence[int] = (96, 256, 384, 384, 256)
  pool_after: Sequence[int] = (0, 1, 4)
  fc_features: Sequence[int] = (1024, 1024)
  first_stride: int = 2
  batch_norm: bool = True
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    batch, frames = x.shape[:2]
    feats = FrameCNN(self.cnn_features, self.pool_after, self.fc_features, self.first_stride,
                     self.batch_norm, self.dropout_rate, dtype=self.dtype, name='cnn')(
                         x.reshape(batch * frames, *x.shape[2:]), train)
    logits = nn.Dense(self.num_classes, name='frame_head')(feats.astype(jnp.float32))
    return logits.reshape(batch, frames, -1)
