"""The pretrained start of a run: loaded weights put into a freshly initialised model's variables.

A model names the parts of its variables that start from weights learned elsewhere
(`emojax.models.pretrained_parts`: a path and a source name); `SOURCES` maps each name to its
loader. `init_variables(model, class_names, variables)` is a pure function of them: training calls
it once, at the start of a fold, on the initial variables (never on resume, where the checkpoint
has them). The sources:

| source | what it loads | options |
|---|---|---|
| `fer2013` | the FER2013 mini-Xception's convolutions (`fer2013.load_fer2013`) | |
| `fer2013_head` | FER2013's classifier, per class of the dataset mapped by name (`fer_head`) | |
| `kinetics_i3d` | the Kinetics-400 I3D up to `output` (`kinetics_i3d.load_kinetics_i3d`) | `output` |

Parts a model does not name (new heads, LSTMs, ...) stay as initialised. A loaded array that finds
no variable of its shape raises ValueError naming the model's class and the variable.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from emojax import models
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
      raise ValueError(f'{model_name}: the model has no variable '
                       f'{"/".join(target)} for the pretrained weights')
    if flat[target].shape != array.shape:
      raise ValueError(f'{model_name}: {"/".join(target)} has shape '
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


def _fer2013(initial: dict, class_names: Sequence[str]) -> dict:
  del initial, class_names
  return fer2013.load_fer2013(module=MiniXception(output='features'))


def _fer2013_head(initial: dict, class_names: Sequence[str]) -> dict:
  return {'params': fer_head(initial['params'], class_names)}


def _kinetics_i3d(initial: dict, class_names: Sequence[str], output: str) -> dict:
  del initial, class_names
  return kinetics_i3d.load_kinetics_i3d(module=InceptionI3D(output=output))


# Source name -> loader(initial, class_names, **options) -> {'params', 'batch_stats'} of the part:
# `initial` is the part's own fresh variables (a loader may keep some of them).
SOURCES = {'fer2013': _fer2013, 'fer2013_head': _fer2013_head, 'kinetics_i3d': _kinetics_i3d}


def _subtree(variables: dict, path: tuple[str, ...]) -> dict:
  out = {}
  for collection, tree in variables.items():
    for name in path:
      tree = tree.get(name, {}) if isinstance(tree, dict) else {}
    if tree:
      out[collection] = tree
  return out


def init_variables(model, class_names: Sequence[str], variables: dict) -> dict:
  """`variables` (a fresh `{'params', 'batch_stats'}` of `model`) with every part the model names
  (`models.pretrained_parts`) filled from its source."""
  for part in models.pretrained_parts(model):
    loaded = SOURCES[part.source](_subtree(variables, part.path), class_names,
                                  **dict(part.options))
    variables = _put(variables, part.path, loaded, type(model).__name__)
  return variables


def fer_frame_baseline(class_names: Sequence[str] = fer2013.CLASS_NAMES, face_box: float = 1.0
                       ) -> tuple[FrameBaseline, dict]:
  """The per-frame FER2013 baseline over `class_names` (default FER2013's own seven) on inputs
  whose face box is `face_box` of their side, and its variables, all from FER2013; classes without
  a FER2013 counterpart get zero head columns."""
  model = FrameBaseline(len(class_names), face_box=face_box)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 1, 64, 64, 3)),
                                             train=False))
  zeros = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
  return model, init_variables(model, class_names, zeros)
