"""One fold of a run: init (or restore), the epoch loop, Orbax checkpoints that resume, and the
evaluator at the end. Nothing here knows a model.

The fold's reported accuracy is its final-epoch test accuracy: the test subjects never select a
model. An optional validation part of the training subjects may stop training early.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from typing import Sequence

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp

from emojax import checkpoints, evaluate, models, sharding
from emojax.data import pipeline
from emojax.errors import ConfigError
from emojax.evaluate import apply
from emojax.train import stages
from emojax.train import state as state_lib
from emojax.train import steps as steps_lib


@dataclasses.dataclass
class FoldProgress:
  """What a resumed fold carries on from, beside its train state and data position: the running
  sums of the current epoch's training metrics (`loss`, and `accuracy` for a classifier; so an
  epoch's means are over all its steps, across a restart) and the early-stopping state."""
  sums: dict = dataclasses.field(default_factory=dict)
  steps: int = 0
  seconds: float = 0.0
  best_val: float = -1.0
  patience_left: int = 0
  stopped: bool = False

  def add(self, step_metrics: Sequence[dict], seconds: float) -> None:
    for m in step_metrics:
      for key, value in m.items():
        self.sums[key] = self.sums.get(key, 0.0) + float(value)
    self.steps += len(step_metrics)
    self.seconds += seconds

  def end_epoch(self, batch_size: int) -> dict:
    """The epoch's mean training metrics (`train_loss`, ...) and its clips per second; the sums
    restart."""
    record = {f'train_{key}': total / self.steps for key, total in self.sums.items()}
    record['clips_per_s'] = self.steps * batch_size / max(self.seconds, 1e-9)
    self.sums, self.steps, self.seconds = {}, 0, 0.0
    return record

  def validated(self, score: float, patience: int) -> None:
    """Early stopping after an epoch's validation score."""
    if score > self.best_val:
      self.best_val, self.patience_left = score, patience
    else:
      self.patience_left -= 1
      self.stopped = self.patience_left <= 0


def _resume(manager, abstract_state, train_iter, log):
  """`(step, state, history, progress)` from the newest checkpoint that restores, or None. The
  state is restored into `abstract_state` (its shapes and this run's shardings), whatever devices
  saved it; newer steps that could not be restored are set aside (`STEP.unrestorable`) so that
  training can save those steps again."""
  def read(step):
    return manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state),
        data=grain.checkpoint.CheckpointRestore(train_iter), history=ocp.args.JsonRestore()))

  found = checkpoints.restore_newest(manager, read, log)
  if found is None:
    return None
  step, restored = found
  newer = [s for s in manager.all_steps() if s > step]
  if newer:
    if jax.process_index() == 0:
      for s in newer:
        os.rename(os.path.join(manager.directory, str(s)),
                  os.path.join(manager.directory, f'{s}.unrestorable'))
    sharding.sync_processes('emojax: unrestorable checkpoints set aside')
    manager.reload()
  saved = restored['history']
  progress = FoldProgress(**saved['progress'])
  return step, restored['state'], saved['epochs'], progress


def train_fold(config, fold_dir: str, dataset, fold, k: int, run_dir: str, mesh=None,
               log=print, name: str = '') -> dict:
  """Trains on `fold.train` of `dataset` (`emojax.datasets.Dataset`), evaluates on `fold.test`
  every epoch; resumes from `fold_dir`. Fold `k` of the run in `run_dir` starts from the
  model's pretrained parts and `config.init_from` (`stages.starting_variables`).

  Returns the fold's final test metrics (`evaluate.evaluate_fold`), its step count, per-epoch
  history and the config it was trained with. `name` (default 'fold K') names it in logs.
  """
  name = name or f'fold {k}'
  mesh = mesh or sharding.make_mesh()
  steps_per_epoch = len(fold.train) // config.batch_size
  if steps_per_epoch == 0:
    raise ConfigError(f'config.batch_size={config.batch_size} exceeds the {len(fold.train)} '
                      f'training examples of {name}')
  total_steps = steps_per_epoch * config.num_epochs
  model = models.create_model(config)
  tx = state_lib.make_optimizer(config, steps_per_epoch, models.frozen_prefixes(model),
                                models.layer_ids(model))
  init_rng, step_rng = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), k))
  init = _init_fn(model, tx, models.input_shape(config), mesh)
  step_rng = sharding.replicate(step_rng, mesh)
  train_fn = steps_lib.compile_train_step(mesh, config.label_smoothing, models.objective(model))
  eval_fn = apply.logits_fn(model, mesh)
  source = dataset.source
  train_iter = iter(pipeline.train_dataset(source, fold.train, config, seed=config.seed + k))

  manager = checkpoints.checkpoint_manager(os.path.join(fold_dir, 'checkpoints'),
                                           config.keep_checkpoints)
  resumed = _resume(manager, jax.eval_shape(init, init_rng), train_iter, log)
  if resumed is not None:
    start, state, history, progress = resumed
    log(f'{name}: resumed at step {start} (epoch {start / steps_per_epoch:.2f})')
  else:
    start, history = 0, []
    progress = FoldProgress(patience_left=config.early_stopping_patience)
    state = init(init_rng)
    fresh = apply.model_variables(state)
    variables = stages.starting_variables(config, model, fresh, dataset.class_names, run_dir, k)
    if variables is not fresh:
      state = sharding.replicate(state_lib.with_variables(state, variables), mesh)

  def save(step):
    manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(train_iter),
        history=ocp.args.JsonSave({'epochs': history, 'progress': dataclasses.asdict(progress)})),
                 force=True)

  def accuracy(indices):
    return apply.accuracy(eval_fn, apply.model_variables(state), source, indices, config, mesh)

  window, window_start = [], time.perf_counter()
  bar = _progress(total_steps, start, name)
  writer = _summary_writer(os.path.join(fold_dir, 'tensorboard'))

  def flush(done):
    """The window's step metrics into the epoch's sums and the logs."""
    nonlocal window, window_start
    fetched, seconds = jax.device_get(window), time.perf_counter() - window_start
    progress.add(fetched, seconds)
    means = {key: float(np.mean([m[key] for m in fetched])) for key in fetched[0]}
    rate = len(fetched) * config.batch_size / max(seconds, 1e-9)
    postfix = {{'accuracy': 'acc'}.get(key, key): f'{v:.3f}' for key, v in means.items()}
    bar.set_postfix(epoch=done // steps_per_epoch, **postfix, clips_s=f'{rate:.1f}')
    for key, value in {**means, 'clips_per_s': rate}.items():
      writer.add_scalar(f'train/{key}', value, done)
    window, window_start = [], time.perf_counter()

  last = start if progress.stopped else total_steps  # a fold stopped early stays stopped
  for step in range(start, last):
    batch = sharding.shard_batch(next(train_iter), mesh)
    state, step_metrics = train_fn(state, batch, step_rng)
    window.append(step_metrics)
    done = step + 1
    end_of_epoch = done % steps_per_epoch == 0
    if end_of_epoch or done % config.log_every_steps == 0 or (
        done % config.checkpoint_every_steps == 0):
      flush(done)
    bar.update(1)
    if end_of_epoch:
      epoch = done // steps_per_epoch
      record = {'epoch': epoch, 'step': done, **progress.end_epoch(config.batch_size)}
      if len(fold.test):
        record['test_accuracy'] = accuracy(fold.test)
      if fold.validation is not None and len(fold.validation):
        record['val_accuracy'] = accuracy(fold.validation)
        if config.early_stopping_patience:
          progress.validated(record['val_accuracy'], config.early_stopping_patience)
      history.append(record)
      for key in ('test_accuracy', 'val_accuracy'):
        if key in record:
          writer.add_scalar(key.replace('_', '/'), record[key], done)
      writer.flush()
      log(f'{name} epoch {epoch}/{config.num_epochs}: ' +
          ' '.join(f'{name}={v:.4f}' for name, v in record.items() if isinstance(v, float)))
      save(done)
      if progress.stopped:
        log(f'{name}: early stop at epoch {epoch}')
        break
    elif done % config.checkpoint_every_steps == 0:
      save(done)
  bar.close()
  writer.close()
  if hasattr(train_iter, 'close'):
    train_iter.close()  # stops Grain's worker processes, if any
  manager.wait_until_finished()
  manager.close()

  result = evaluate.evaluate_fold(config, model, apply.model_variables(state), dataset, fold, mesh,
                                  fold_dir, log, name)
  result.update(steps=int(jax.device_get(state.step)), history=history,
                config=json.loads(config.to_json()))
  return result


@functools.lru_cache(maxsize=8)
def _init_fn(model, tx, input_shape, mesh):
  """The jitted `rng -> TrainState` of a fold, made once per process for equal arguments (models
  compare by value), so that every fold after the first reuses its trace and compilation, and its
  train states hold the same `apply_fn`, part of the key under which the jitted train step keeps
  its compiled program."""
  return jax.jit(lambda rng: state_lib.create_train_state(model, tx, rng, input_shape),
                 out_shardings=sharding.replicated(mesh))


class _NoWriter:
  def add_scalar(self, *args, **kwargs):
    pass

  flush = close = add_scalar


def _summary_writer(logdir: str):
  """TensorBoard event files written without TensorFlow (tensorboardX), by process 0 only."""
  if jax.process_index() != 0:
    return _NoWriter()
  from tensorboardX import SummaryWriter
  return SummaryWriter(logdir)


def _progress(total: int, initial: int, name: str):
  from tqdm.auto import tqdm
  return tqdm(total=total, initial=initial, desc=name, unit='step', dynamic_ncols=True,
              disable=jax.process_index() != 0, mininterval=2.0)
