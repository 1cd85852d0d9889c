"""What a run leaves in its workdir for later use: its config, its data record, the Orbax
checkpoints of each fold, and `restore`, which reads them back for inference.

    W/config.json                  the run's config (JSON; nothing is unpickled)
    W/data.json                    the run's data contract (`DataRecord`): classes, crops, sampling
    W/fold_K/config.json           the config fold K was trained with (the run's, unless the run
                                   was continued with a changed config)
    W/fold_K/checkpoints/STEP/     Orbax: `state` (params, batch_stats, opt_state, step), plus the
                                   training loop's `data` (iterator position) and `history`
                                   (epochs so far, early-stopping state, the epoch's running sums)

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

CONFIG_FILE = 'config.json'
DATA_FILE = 'data.json'


@dataclasses.dataclass(frozen=True)
class DataRecord:
  """The data contract of a run: the dataset it trained on and how it drew clips from it.

  The first four fields come from the dataset's builder info; the rest from the run's config and
  the dataset's tracks (`emojax.data.pipeline.data_contract`). Prediction reads them, so its
  windows span and sample what a training clip did. A field a run did not record is None.

  Attributes:
    dataset: TFDS name (with config) and version, e.g. 'oulu_casia/vl_strong:3.0.0'.
    class_names: the dataset's classes in label order (its builder info's `ClassLabel`).
    crop_size: side of the stored square face crops.
    crop_margin: face-box margin of those crops (None: the dataset is not MTCNN-cropped).
    fps: stored frames per second (the dataset's median).
    median_frames: stored frames per video (the dataset's median).
    image_size: side of the model input; the stored crop is resized to it plus `resize_margin`.
    resize_margin: `config.augment.crop_margin`: crops were resized to image_size * (1 + margin)
      and cut to image_size (random in training, centre in evaluation).
    num_frames: frames per model clip.
    sampling: `config.sampling` as used: {'method', 'num_fragments', 'stride'}.
    whole_video: whether a clip spans the whole video (else one segment of it).
    span_frames: stored frames one clip spans, first to last (for a whole video: the median one).
    span_seconds: the same span in seconds.
    views: evaluation's {'num_clips', 'num_crops', 'aggregate'}.
    align: the stored crops are aligned by the eyes (`emojax.data.faces.face_squares`); None: not
      recorded (a build from before alignment: upright crops).
    key_frame_interval: frames between the build's face detections (`faces.extract_face_track`).
    given_faces: the build took the release's face crops as given (landmarks only, no search).
  """
  dataset: str
  class_names: tuple[str, ...]
  crop_size: int
  crop_margin: float | None = None
  fps: float | None = None
  median_frames: int | None = None
  image_size: int | None = None
  resize_margin: float | None = None
  num_frames: int | None = None
  sampling: dict | None = None
  whole_video: bool | None = None
  span_frames: int | None = None
  span_seconds: float | None = None
  views: dict | None = None
  align: bool | None = None
  key_frame_interval: int | None = None
  given_faces: bool | None = None

  def to_json(self) -> dict:
    return {**dataclasses.asdict(self), 'class_names': list(self.class_names)}

  @classmethod
  def from_json(cls, values: dict) -> 'DataRecord':
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in values.items() if k in fields}
    return cls(**{**values, 'class_names': tuple(values['class_names'])})


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


def save_data_record(record: DataRecord, workdir: str) -> None:
  with open(os.path.join(workdir, DATA_FILE), 'w') as f:
    json.dump(record.to_json(), f, indent=2)


@dataclasses.dataclass
class Restored:
  """A trained model: its config, flax module, variables and the data it was trained on."""
  config: ml_collections.ConfigDict
  model: Any
  variables: dict
  step: int
  path: str
  data: DataRecord | None = None

  @property
  def class_names(self) -> tuple[str, ...]:
    """The training dataset's class names; `class_K` for a run that recorded none."""
    if self.data is not None:
      return self.data.class_names
    return tuple(f'class_{k}' for k in range(self.config.num_classes))


def find_run_file(path: str, name: str) -> str | None:
  """`name` in `path` or one of its first parents (a run's file seen from a fold or step folder)."""
  directory = os.path.abspath(path)
  for _ in range(5):
    candidate = os.path.join(directory, name)
    if os.path.exists(candidate):
      return candidate
    directory = os.path.dirname(directory)
  return None


def read_data_record(path: str) -> DataRecord | None:
  """The `DataRecord` of the run `path` belongs to, or None if it wrote none."""
  found = find_run_file(path, DATA_FILE)
  if found is None:
    return None
  with open(found) as f:
    return DataRecord.from_json(json.load(f))


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
    raise FileNotFoundError(f'{path}: no {CONFIG_FILE} in it or its parents; pass a workdir of '
                            'launch.py, one of its fold_K folders, or a checkpoint folder in them')
  if os.path.basename(os.path.normpath(path)).isdigit():
    step = int(os.path.basename(os.path.normpath(path)))
    path = os.path.dirname(os.path.normpath(path))
  directory = _checkpoints_dir(path, fold)
  config_path = find_run_file(directory, CONFIG_FILE)
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
    raise FileNotFoundError(f'{directory}: no finished checkpoint')
  step, variables = found
  return Restored(config, model, dict(variables), int(step), directory,
                  read_data_record(config_path))
