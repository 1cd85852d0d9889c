"""What a run leaves in its workdir for later use: its config, its data record, the Orbax
checkpoints of each fold, and `restore`, which reads them back for inference.

    W/config.json                  the run's config (JSON; nothing is unpickled)
    W/data.json                    the run's data record (`emojax.data.record.DataRecord`):
                                   classes, crops, flow, sampling, views
    W/fold_K/config.json           the config fold K was trained with (the run's, unless the run
                                   was continued with a changed config)
    W/fold_K/checkpoints/STEP/     Orbax: `state` (params, batch_stats, opt_state, step), plus the
                                   training loop's `data` (iterator position) and `history`
                                   (epochs so far, early-stopping state, the epoch's running sums)
    W/stages/NAME/                 a training stage of the run, laid out as a run of its own

A workdir keeps the config that made it: `config_differences` says what another config changes.
Training (`emojax.train.loop`) writes through `checkpoint_manager` and restores into an abstract
state with its own shardings, so a checkpoint moves between device counts. `restore` reads only
`params` and `batch_stats` onto the restoring machine's device, and imports no training code. A
step that cannot be read (corrupt, half-copied) is reported and the step before it is used
(`restore_newest`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any, Callable

import ml_collections

from emojax.data import record as record_lib
from emojax.data.record import DataRecord
from emojax.errors import DataError

CONFIG_FILE = 'config.json'


def checkpoint_manager(directory: str, keep: int):
  """The Orbax manager of one fold's checkpoints, keeping the newest `keep` steps."""
  import orbax.checkpoint as ocp
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                         enable_async_checkpointing=False)
  return ocp.CheckpointManager(os.path.abspath(directory), options=options)


def save_config(config, directory: str) -> None:
  with open(os.path.join(directory, CONFIG_FILE), 'w') as f:
    f.write(config.to_json(indent=2))


def read_config(path: str) -> ml_collections.ConfigDict:
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


# Settings that say how a run goes, not what it computes: they may differ between the runs of one
# workdir (another fold, more data workers, another machine's paths).
RUN_SETTINGS = ('fold', 'data_workers', 'data_threads', 'log_every_steps',
                'checkpoint_every_steps', 'keep_checkpoints', 'eval_batch_size',
                'dataset.data_dir', 'dataset.manual_dir', 'model.conv_impl')


def _flat(tree, prefix: str = '') -> dict:
  if not isinstance(tree, dict):
    return {prefix: tree}
  out = {}
  for key, value in tree.items():
    out.update(_flat(value, f'{prefix}{key}.') if isinstance(value, dict) else
               {f'{prefix}{key}': value})
  return out


def config_differences(old, new) -> list[str]:
  """'key: old -> new' for every setting (dotted path) in which two configs (ConfigDicts or their
  JSON dicts) differ, except the `RUN_SETTINGS`."""
  def flat(config):
    return _flat(json.loads(config.to_json()) if hasattr(config, 'to_json') else dict(config))

  old, new = flat(old), flat(new)
  absent = '(absent)'
  return [f'{key}: {json.dumps(old.get(key, absent))} -> {json.dumps(new.get(key, absent))}'
          for key in sorted(set(old) | set(new))
          if key not in RUN_SETTINGS and old.get(key, absent) != new.get(key, absent)]


@dataclasses.dataclass
class Restored:
  """A trained model: its config, flax module, variables and the data it was trained on."""
  config: ml_collections.ConfigDict
  model: Any
  variables: dict
  step: int
  path: str
  data: DataRecord

  @property
  def class_names(self) -> tuple[str, ...]:
    """The training dataset's class names."""
    return self.data.class_names


def find_run_file(path: str, name: str) -> str | None:
  """`name` in `path` or one of its first parents (a run's file seen from a fold or step folder)."""
  directory = os.path.abspath(path)
  for _ in range(5):
    candidate = os.path.join(directory, name)
    if os.path.exists(candidate):
      return candidate
    directory = os.path.dirname(directory)
  return None


def read_data_record(path: str) -> DataRecord:
  """The `DataRecord` of the run `path` belongs to."""
  found = find_run_file(path, record_lib.DATA_FILE)
  if found is None:
    raise DataError(f'{path}: no {record_lib.DATA_FILE} in it or its parents; a workdir of '
                    'launch.py has one')
  return record_lib.load(found)


def _checkpoints_dir(path: str, fold: int | None) -> str:
  path = os.path.abspath(path)
  if os.path.basename(path) == 'checkpoints':
    return path
  if os.path.isdir(os.path.join(path, 'checkpoints')):
    return os.path.join(path, 'checkpoints')
  folds = sorted(int(d.split('_')[1]) for d in os.listdir(path)
                 if d.startswith('fold_') and os.path.isdir(os.path.join(path, d, 'checkpoints')))
  if not folds:
    raise DataError(f'{path}: no checkpoints (expected fold_K/checkpoints/STEP)')
  return os.path.join(path, f'fold_{folds[0] if fold is None else fold}', 'checkpoints')


def _stderr(message: str) -> None:
  print(message, file=sys.stderr)


def restore_newest(manager, restore_step: Callable[[int], Any], log=_stderr):
  """`(step, restore_step(step))` for the newest step of `manager` that restores, or None when it
  has no step. A step that fails (a corrupt or half-copied checkpoint) is reported in one line
  and the step before it is tried; when none restores, the newest step's error is raised."""
  steps = sorted(manager.all_steps(), reverse=True)
  first_error = None
  for k, step in enumerate(steps):
    try:
      return step, restore_step(step)
    except Exception as e:  # Orbax and TensorStore raise many types for damaged files.
      first_error = first_error or e
      problem = ' '.join(str(e).split())[:200]
      fallback = f'trying step {steps[k + 1]}' if k + 1 < len(steps) else 'no earlier step'
      log(f'{manager.directory}/{step}: cannot be restored ({type(e).__name__}: {problem}); '
          f'{fallback}')
  if first_error is not None:
    raise first_error
  return None


def inference_target(model, config, sharding=None) -> dict:
  """Abstract `{'params', 'batch_stats'}` of `model` for `config`'s input, placed by `sharding`
  (default: this machine's first device)."""
  import jax
  import jax.numpy as jnp

  from emojax import models

  sharding = sharding or jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  shapes = jax.eval_shape(lambda key: model.init(key, jnp.zeros(models.input_shape(config)),
                                                 train=False), jax.random.key(0))
  target = {name: shapes[name] for name in ('params', 'batch_stats') if shapes.get(name)}
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), target)


def restore(path: str, fold: int | None = None, step: int | None = None, sharding=None,
            log=_stderr) -> Restored:
  """The config, model and variables (`params`, `batch_stats`) saved under `path`.

  `path` is a workdir (the first fold's latest checkpoint unless `fold` is given), a `fold_K`
  folder, its `checkpoints` folder, or one step's folder inside it. The config is the fold's own
  (`fold_K/config.json`) where it has one. Only the variables are read, onto `sharding` (default:
  this machine's first device), whatever devices saved them; the latest step that cannot be read
  is reported through `log` and the one before it used. Nothing is unpickled: the config is JSON
  and the arrays are Orbax's.
  """
  import orbax.checkpoint as ocp

  from emojax import models

  if find_run_file(path, CONFIG_FILE) is None:
    raise DataError(f'{path}: no {CONFIG_FILE} in it or its parents; pass a workdir of '
                    'launch.py, one of its fold_K folders, or a checkpoint folder in them')
  if os.path.basename(os.path.normpath(path)).isdigit():
    step = int(os.path.basename(os.path.normpath(path)))
    path = os.path.dirname(os.path.normpath(path))
  directory = _checkpoints_dir(path, fold)
  config_path = find_run_file(directory, CONFIG_FILE)
  data = read_data_record(config_path)  # first: it refuses a workdir of another layout
  config = read_config(config_path)
  model = models.create_model(config)
  target = inference_target(model, config, sharding)

  def read(step):
    args = ocp.args.PyTreeRestore(target, ocp.checkpoint_utils.construct_restore_args(target),
                                  partial_restore=True)
    return manager.restore(step, args=ocp.args.Composite(state=args))['state']

  with ocp.CheckpointManager(directory) as manager:
    found = (step, read(step)) if step is not None else restore_newest(manager, read, log)
  if found is None:
    raise DataError(f'{directory}: no finished checkpoint')
  step, variables = found
  return Restored(config, model, dict(variables), int(step), directory, data)
