"""The main system: 3D-ResNet34 + ConvLSTM + Transformer, fused and classified.

    clip -> ResNet3D -> feature maps F [B, T', h, w, C]
         -> ConvLSTM over T' -> last hidden state, spatially averaged      (temporal feature)
         -> spatial average of F -> frame tokens [B, T', C] -> Transformer -> CLS (attention feature)
         -> concatenation -> dropout -> dense -> logits

`use_convlstm` / `use_transformer` give the four rows of the paper's ablation; with both off the
backbone's globally averaged features are classified directly.

The paper's Transformer is one encoder layer with a linear projection before the attention
(`num_layers=1`, `attention_norm='projection'`, `emojax.models.transformer`) and its ConvLSTM has
peepholes (`convlstm_peephole=True`); configs/oulu.py selects both. The class defaults and
configs/default.py (two pre-LayerNorm layers, no peepholes) are the other configs' variant.

`frame_difference=True` appends each frame's difference from the clip's first (neutral) frame as
three more input channels, as TSN's RGB-difference input does: it removes the subject's static
appearance, so a small network trained briefly (the CPU demo) sees the expression's dynamics
directly. The paper's configs leave it off. The backbone's stem computes it (`resnet3d.Conv3D`).

`backbone='i3d'` replaces the 3D-ResNet by the Kinetics-400 Inception-I3D (`emojax.models.i3d`,
weights loaded at the start of training: `pretrained_parts`), cut at `i3d_layer`
(`Mixed_5c`: `[B, T/8, H/32, W/32, 1024]`); `i3d_frozen_through` keeps its layers up to that one
as loaded, and `i3d_freeze_batch_norm` keeps its BatchNorm on the loaded statistics
(`InceptionI3D.freeze_batch_norm`). The ConvLSTM and Transformer then read the I3D feature map.

`onset_reference` (`emojax.models.onset`) gives the ConvLSTM and Transformer the backbone's feature
map relative to its first `onset_frames` time steps, for sequences that start neutral: with the
pretrained I3D, the reference is taken in the space Kinetics taught it, as `frame_difference`
takes it in pixels for a network trained from scratch.
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from emojax.models import i3d
from emojax.models.convlstm import ConvLSTM
from emojax.models.interface import PretrainedPart
from emojax.models.onset import relative_to_onset
from emojax.models.resnet3d import resnet3d
from emojax.models.transformer import TransformerEncoder


class EmotionNet(nn.Module):
  """`[B, T, H, W, 3]` float clips -> logits `[B, num_classes]` (float32)."""
  num_classes: int
  depth: int = 34
  width: int = 64
  temporal_strides: Sequence[int] = (1, 1, 1, 1, 1)
  stem_stride: int = 2  # 1 keeps detail in small (e.g. 56 px) faces
  max_pool: bool = True
  frame_difference: bool = False  # add x_t - x_0 channels (see the class docstring)
  use_convlstm: bool = True
  use_transformer: bool = True
  convlstm_features: int | None = None  # default: half the backbone's output channels
  convlstm_peephole: bool = False
  transformer_dim: int | None = None  # default: the backbone's output channels
  num_layers: int = 2
  attention_norm: str = 'layernorm'  # | 'projection' (the paper's)
  num_heads: int = 8
  mlp_ratio: float = 2.0
  positional: str = 'sinusoidal'
  max_len: int = 65
  dropout_rate: float = 0.0
  scan_unroll: int = 1
  backbone: str = 'resnet3d'  # or 'i3d' (see the class docstring)
  i3d_layer: str = 'Mixed_5c'
  i3d_frozen_through: str = ''
  i3d_freeze_batch_norm: bool = False
  onset_reference: str = ''  # '' | 'difference' | 'concat' on the backbone's map (docstring)
  onset_frames: int = 1
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  @property
  def frozen_prefixes(self) -> tuple[str, ...]:
    if self.backbone != 'i3d':
      return ()
    return tuple(f'backbone/{name}/' for name in i3d.frozen_layers(self.i3d_frozen_through))

  @property
  def pretrained_parts(self) -> tuple[PretrainedPart, ...]:
    """The Kinetics-400 I3D up to `i3d_layer`, with `backbone='i3d'`."""
    if self.backbone != 'i3d':
      return ()
    return (PretrainedPart(('backbone',), 'kinetics_i3d', (('output', self.i3d_layer),)),)

  def _backbone(self):
    if self.backbone == 'i3d':
      if self.frame_difference:
        raise ValueError('config.model.frame_difference adds input channels the Kinetics I3D '
                         "(config.model.backbone='i3d') does not take")
      return i3d.InceptionI3D(output=self.i3d_layer, frozen_through=self.i3d_frozen_through,
                              freeze_batch_norm=self.i3d_freeze_batch_norm,
                              conv_impl=self.conv_impl, dtype=self.dtype, name='backbone')
    if self.backbone != 'resnet3d':
      raise ValueError(f"config.model.backbone={self.backbone!r}: expected 'resnet3d' or 'i3d'")
    return resnet3d(self.depth, num_filters=self.width, temporal_strides=self.temporal_strides,
                    stem_stride=self.stem_stride, max_pool=self.max_pool,
                    frame_difference=self.frame_difference, conv_impl=self.conv_impl,
                    dtype=self.dtype, name='backbone')

  @nn.compact
  def __call__(self, x, train: bool = True):
    features = relative_to_onset(self._backbone()(x, train), self.onset_reference,
                                 self.onset_frames)
    channels = features.shape[-1]
    fused = []
    if self.use_convlstm:
      hidden = ConvLSTM(self.convlstm_features or channels // 2, peephole=self.convlstm_peephole,
                        unroll=self.scan_unroll, conv_impl=self.conv_impl, dtype=self.dtype,
                        name='convlstm')(features)
      fused.append(hidden[:, -1].mean(axis=(1, 2)))
    if self.use_transformer:
      tokens = features.mean(axis=(2, 3))
      fused.append(TransformerEncoder(
          self.transformer_dim or channels, self.num_layers, self.num_heads, self.mlp_ratio,
          self.dropout_rate, self.positional, self.max_len, self.dtype,
          attention_norm=self.attention_norm, name='transformer')(tokens, train))
    if not fused:
      fused.append(features.mean(axis=(1, 2, 3)))
    x = jnp.concatenate([f.astype(jnp.float32) for f in fused], axis=-1)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, name='head')(x)
