"""Orbax checkpoints of a fold (train state, data-iterator position, history) and `restore`."""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import ml_collections
import orbax.checkpoint as ocp

CONFIG_FILE = 'config.json'


def checkpoint_manager(directory: str, config) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(max_to_keep=config.keep_checkpoints, create=True,
                                         enable_async_checkpointing=False)
  return ocp.CheckpointManager(os.path.abspath(directory), options=options)


def save_config(config, workdir: str) -> None:
  with open(os.path.join(workdir, CONFIG_FILE), 'w') as f:
    f.write(config.to_json(indent=2))


@dataclasses.dataclass
class Restored:
  config: ml_collections.ConfigDict
  model: Any
  variables: dict
  step: int
  path: str


def _find_config(path: str) -> str:
  directory = os.path.abspath(path)
  for _ in range(5):
    candidate = os.path.join(directory, CONFIG_FILE)
    if os.path.exists(candidate):
      return candidate
    directory = os.path.dirname(directory)
  raise FileNotFoundError(f'{path}: no {CONFIG_FILE} in it or its parents; pass a workdir of '
                          'launch.py, one of its fold_K folders, or a checkpoint folder in them')


def _checkpoints_dir(path: str, fold: int | None) -> str:
  path = os.path.abspath(path)
  if os.path.basename(path) == 'checkpoints':
    return path
  if os.path.isdir(os.path.join(path, 'checkpoints')):
    return os.path.join(path, 'checkpoints')
  folds = sorted(int(d.split('_')[1]) for d in os.listdir(path)
                 if d.startswith('fold_') and os.path.isdir(os.path.join(path, d, 'checkpoints')))
  if not folds:
    raise FileNotFoundError(f'{path}: no checkpoints (expected fold_K/checkpoints/STEP)')
  return os.path.join(path, f'fold_{folds[0] if fold is None else fold}', 'checkpoints')


def restore(path: str, fold: int | None = None, step: int | None = None) -> Restored:
  """The config, model and variables (`params`, `batch_stats`) saved under `path`.

  `path` is a workdir (the first fold's latest checkpoint unless `fold` is given), a `fold_K`
  folder, its `checkpoints` folder, or one step's folder inside it. Nothing is unpickled: the config
  is JSON and the arrays are Orbax's.
  """
  from emojax import models

  with open(_find_config(path)) as f:
    config = ml_collections.ConfigDict(json.load(f))
  if os.path.basename(os.path.normpath(path)).isdigit():
    step = int(os.path.basename(os.path.normpath(path)))
    path = os.path.dirname(os.path.normpath(path))
  directory = _checkpoints_dir(path, fold)
  with ocp.CheckpointManager(directory) as manager:
    step = manager.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f'{directory}: no finished checkpoint')
    state = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))['state']
  variables = {'params': state['params']}
  if state.get('batch_stats'):
    variables['batch_stats'] = state['batch_stats']
  return Restored(config, models.create_model(config), variables, int(step), directory)
