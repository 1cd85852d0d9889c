"""Train and evaluate one fold: epochs, per-epoch test evaluation, Orbax checkpoints that resume.

The fold's reported accuracy is its final-epoch test accuracy: the test subjects never select a
model. An optional validation split of training subjects may stop training early.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Sequence

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp

from emojax import checkpoints, models
from emojax.data import pipeline, sampling
from emojax.train import baseline, finetune, report, svm
from emojax.train import metrics as metrics_lib
from emojax.train import state as state_lib
from emojax.train import steps as steps_lib


@dataclasses.dataclass
class FoldData:
  """One fold's examples: a source and the indices of its train / test (/ validation) examples;
  `video_ids` of every example of the source, for the fold's predictions.csv."""
  source: object
  train: np.ndarray
  test: np.ndarray
  class_names: Sequence[str]
  validation: np.ndarray | None = None
  video_ids: np.ndarray | None = None


def evaluate(eval_fn, state, source, indices, config, mesh) -> tuple[np.ndarray, np.ndarray]:
  """Per video of `indices`: class probabilities `[n, C]` aggregated over its views (as
  `config.eval` says) and labels `[n]`. All processes take part."""
  logits, gathered = steps_lib.gather_outputs(
      eval_fn, state, pipeline.eval_batches(source, indices, config), mesh, ('label', 'video'))
  videos = gathered['video']
  probabilities = metrics_lib.video_probabilities(
      logits, videos, len(indices), sampling.view_settings(config)['aggregate'])
  return probabilities, metrics_lib.per_video_labels(gathered['label'], videos, len(indices))


def evaluate_accuracy(eval_fn, state, source, indices, config, mesh) -> float:
  probabilities, labels = evaluate(eval_fn, state, source, indices, config, mesh)
  return float(np.mean(np.argmax(probabilities, -1) == labels))


def train_fold(config, workdir: str, data: FoldData, fold: int = 0, mesh=None, log=print) -> dict:
  """Trains on `data.train`, evaluates on `data.test` every epoch; resumes from `workdir`.

  Returns the fold's final test metrics (see `metrics.summarize`) and its per-epoch history.
  """
  mesh = mesh or steps_lib.make_mesh()
  steps_per_epoch = len(data.train) // config.batch_size
  if steps_per_epoch == 0:
    raise ValueError(f'config.batch_size={config.batch_size} exceeds the {len(data.train)} training '
                     f'examples of fold {fold}')
  total_steps = steps_per_epoch * config.num_epochs
  model = models.create_model(config)
  tx = state_lib.make_optimizer(config, steps_per_epoch, models.frozen_prefixes(model))
  init_rng, step_rng = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), fold))
  init = jax.jit(lambda rng: state_lib.create_train_state(
      model, tx, rng, models.input_shape(config)), out_shardings=steps_lib.replicated(mesh))
  state = init(init_rng)
  step_rng = steps_lib.replicate(step_rng, mesh)
  train_fn, eval_fn = steps_lib.compile_steps(mesh, config.label_smoothing)
  train_iter = iter(pipeline.train_dataset(data.source, data.train, config, seed=config.seed + fold))

  manager = checkpoints.checkpoint_manager(os.path.join(workdir, 'checkpoints'),
                                         config.keep_checkpoints)
  history: list[dict] = []
  start = 0
  if manager.latest_step() is not None:
    start = manager.latest_step()
    restored = manager.restore(start, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(state), data=grain.checkpoint.CheckpointRestore(train_iter),
        history=ocp.args.JsonRestore()))
    state, history = restored['state'], restored['history']['epochs']
    log(f'fold {fold}: resumed at step {start} (epoch {start / steps_per_epoch:.2f})')
  else:
    state = finetune.pretrain_into_state(config, state, data.source, data.train,
                                         seed=config.seed + fold, mesh=mesh, log=log)
    state = finetune.pretrained_start(config, state, data.class_names, mesh)

  def save(step):
    manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(train_iter),
        history=ocp.args.JsonSave({'epochs': history})), force=True)

  best_val, patience_left = -1.0, config.early_stopping_patience
  window, window_start, seen = [], time.perf_counter(), 0
  progress = _progress(total_steps, start, fold)
  writer = _summary_writer(os.path.join(workdir, 'tensorboard'))
  for step in range(start, total_steps):
    batch = steps_lib.shard_batch(next(train_iter), mesh)
    state, step_metrics = train_fn(state, batch, step_rng)
    window.append(step_metrics)
    seen += config.batch_size
    done = step + 1
    if done % config.log_every_steps == 0 or done % steps_per_epoch == 0:
      fetched = jax.device_get(window)
      loss = float(np.mean([m['loss'] for m in fetched]))
      train_acc = float(np.mean([m['accuracy'] for m in fetched]))
      rate = seen / (time.perf_counter() - window_start)
      progress.set_postfix(epoch=done // steps_per_epoch, loss=f'{loss:.3f}',
                           acc=f'{train_acc:.3f}', clips_s=f'{rate:.1f}')
      writer.add_scalar('train/loss', loss, done)
      writer.add_scalar('train/accuracy', train_acc, done)
      writer.add_scalar('train/clips_per_s', rate, done)
      window, window_start, seen = [], time.perf_counter(), 0
    progress.update(1)
    if done % steps_per_epoch == 0:
      epoch = done // steps_per_epoch
      test = evaluate_accuracy(eval_fn, state, data.source, data.test, config, mesh)
      record = {'epoch': epoch, 'step': done, 'train_loss': loss, 'train_accuracy': train_acc,
                'test_accuracy': test, 'clips_per_s': rate}
      if data.validation is not None and len(data.validation):
        record['val_accuracy'] = evaluate_accuracy(eval_fn, state, data.source,
                                                   data.validation, config, mesh)
      history.append(record)
      for key in ('test_accuracy', 'val_accuracy'):
        if key in record:
          writer.add_scalar(key.replace('_', '/'), record[key], done)
      writer.flush()
      log(f'fold {fold} epoch {epoch}/{config.num_epochs}: ' +
          ' '.join(f'{k}={v:.4f}' for k, v in record.items() if isinstance(v, float)))
      save(done)
      if 'val_accuracy' in record and config.early_stopping_patience:
        if record['val_accuracy'] > best_val:
          best_val, patience_left = record['val_accuracy'], config.early_stopping_patience
        else:
          patience_left -= 1
          if patience_left <= 0:
            log(f'fold {fold}: early stop at epoch {epoch}')
            break
    elif done % config.checkpoint_every_steps == 0:
      save(done)
  progress.close()
  writer.close()
  if hasattr(train_iter, 'close'):
    train_iter.close()  # stops Grain's worker processes, if any
  manager.wait_until_finished()

  probabilities, labels = evaluate(eval_fn, state, data.source, data.test, config, mesh)
  matrix = metrics_lib.confusion_matrix(labels, np.argmax(probabilities, -1), config.num_classes)
  result = metrics_lib.summarize(matrix, data.class_names, tuple(config.get('extra_metrics', ())))
  result.update(steps=int(jax.device_get(state.step)), views=report.views(config),
                history=history)
  if jax.process_index() == 0:
    video_ids = (data.video_ids[data.test] if data.video_ids is not None else
                 [pipeline.as_text(data.source[int(i)]['video_id']) for i in data.test])
    report.write_predictions(os.path.join(workdir, report.PREDICTIONS_FILE), video_ids, labels,
                             probabilities, data.class_names)
  if baseline.enabled(config):
    result['frame_baseline'] = baseline.zero_shot_result(
        data.class_names, mesh, lambda fn, v: evaluate(fn, v, data.source, data.test, config, mesh))
    if result['frame_baseline']:
      log(f"fold {fold}: per-frame FER2013 baseline (zero-shot): accuracy "
          f"{result['frame_baseline']['accuracy']:.4f}, UAR {result['frame_baseline']['uar']:.4f}")
  if svm.svm_enabled(config):
    result['svm'] = svm.svm_fold_result(config, state, model, data, mesh)
    log(f"fold {fold}: SVM ({config.svm.kernel}) on fused features: accuracy "
        f"{result['svm']['accuracy']:.4f}")
  manager.close()
  return result


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


def _progress(total: int, initial: int, fold: int):
  from tqdm.auto import tqdm
  return tqdm(total=total, initial=initial, desc=f'fold {fold}', unit='step', dynamic_ncols=True,
              disable=jax.process_index() != 0, mininterval=2.0)
