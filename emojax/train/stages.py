"""Training stages: a run's parameters started from earlier runs (`config.init_from`).

A stage that trains something before the main training (the RFSCNN's streams, the attention
LSTM's frame CNN) is a run of its own: a complete config in `config.stages[NAME]`, trained per
fold under `W/stages/NAME/fold_K` with its own checkpoints, so it resumes like any fold
(`emojax.train.protocol` trains it before fold K of the run). Fold K of the run then starts from
it: `config.init_from.stages` names the stages, `config.init_from.subtrees` the parameter
sub-trees copied (with their BatchNorm statistics), each from the one source that has it.
`config.init_from.workdir` starts every fold from another finished run instead or as well (its
fold K, or its only fold): e.g. a model pretrained without labels.

Weights learned elsewhere (FER2013, Kinetics-400) are not stages: a model names them itself
(`emojax.models.pretrained_parts`, loaded by `emojax.pretrained.start`); they are put in first, so
a stage's weights, where both fill a part, win.
"""
from __future__ import annotations

import os
from typing import Sequence

import jax
import numpy as np
from flax import traverse_util

from emojax import checkpoints
from emojax.errors import ConfigError, DataError
from emojax.pretrained import start as pretrained_start

COLLECTIONS = ('params', 'batch_stats')
SAME_SHAPES = ("the config.model settings that shape the sub-tree (and the input's, where they "
               "size parameters) must be the source run's (its config.json)")


def stage_dir(run_dir: str, name: str) -> str:
  """Where stage `name` of the run in `run_dir` keeps its folds."""
  return os.path.join(run_dir, 'stages', name)


def fold_dir(run_dir: str, fold: int) -> str:
  return os.path.join(run_dir, f'fold_{fold}')


def source_dirs(config, run_dir: str, fold: int) -> list[str]:
  """The fold folders fold `fold` of `config`'s run starts from: its stages' fold `fold`, then
  `init_from.workdir`'s fold `fold` (or its only fold)."""
  found = [fold_dir(stage_dir(run_dir, name), fold) for name in config.init_from.stages]
  workdir = config.init_from.workdir
  if workdir:
    folds = sorted(d for d in os.listdir(workdir) if d.startswith('fold_')) if (
        os.path.isdir(workdir)) else []
    if f'fold_{fold}' in folds:
      found.append(fold_dir(workdir, fold))
    elif len(folds) == 1:
      found.append(os.path.join(workdir, folds[0]))
    else:
      raise DataError(f'config.init_from.workdir={workdir!r}: no fold_{fold} in it, nor a single '
                      f'fold to start every fold from (it has {folds or "none"})')
  return found


def _copy_subtrees(variables: dict, source: dict, subtrees: Sequence[str], where: str,
                   taken: dict) -> dict:
  """`variables` with each of `subtrees` ('/'-joined paths) that `source` has replaced by its
  values, shapes checked; records in `taken` where each came from."""
  flat = traverse_util.flatten_dict(variables, sep='/')
  loaded = traverse_util.flatten_dict(source, sep='/')
  for subtree in subtrees:
    prefix = subtree.strip('/') + '/'
    for collection in COLLECTIONS:
      keys = [k for k in loaded if k.startswith(f'{collection}/{prefix}')]
      if collection == 'params' and keys:
        if subtree in taken:
          raise ConfigError(f'config.init_from.subtrees: {subtree!r} is in both {taken[subtree]} '
                            f'and {where}; name each sub-tree of one source')
        taken[subtree] = where
      lacking = [k for k in flat if k.startswith(f'{collection}/{prefix}') and k not in loaded]
      if keys and lacking:
        raise ConfigError(f'config.init_from.subtrees: this model has {lacking[0]}, which '
                          f'{where} lacks; {SAME_SHAPES}')
      for key in keys:
        if key not in flat:
          raise ConfigError(f'config.init_from.subtrees: {where} has {key}, which this model '
                            f'lacks (a sub-tree of another model?); {SAME_SHAPES}')
        if flat[key].shape != loaded[key].shape:
          raise ConfigError(f'config.init_from.subtrees: {key} of {where} has shape '
                            f'{loaded[key].shape}, this model {flat[key].shape}; {SAME_SHAPES}')
        flat[key] = np.asarray(loaded[key], flat[key].dtype)
  return traverse_util.unflatten_dict(flat, sep='/')


def starting_variables(config, model, variables: dict, class_names: Sequence[str], run_dir: str,
                       fold: int) -> dict:
  """A fold's initial `{'params', 'batch_stats'}`: `variables` (fresh) with the model's pretrained
  parts, then the `config.init_from` sub-trees of its sources, put in."""
  variables = pretrained_start.init_variables(model, class_names, variables)
  subtrees = tuple(config.init_from.subtrees)
  taken = {}
  for directory in source_dirs(config, run_dir, fold):
    restored = checkpoints.restore(directory)
    source = jax.device_get(restored.variables)
    variables = _copy_subtrees(variables, source, subtrees, directory, taken)
  missing = [s for s in subtrees if s not in taken]
  if missing:
    raise ConfigError(f'config.init_from.subtrees: {missing} found in none of '
                      f'{source_dirs(config, run_dir, fold)}')
  return variables
