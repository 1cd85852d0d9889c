"""The protocol driver: the dataset's folds, each fold's training stages then its `train_fold`,
and the results of the whole run.

`config.protocol` is 'kfold' or 'loso' (folds by subject) or 'official_split' / 'official_folds'
(the dataset's own splits); `emojax.data.folds.fold_plan` gives each fold's train / validation /
test indices. Before fold K, every stage the config starts from (`config.init_from.stages`) trains
its own fold K under `W/stages/NAME` (`emojax.train.stages`), each a run of its own.

A finished fold leaves `fold_K/result.json` and is never retrained; an unfinished one resumes from
its checkpoints (a stage's too). Running the same command again therefore continues a killed run.
A workdir keeps the config that made it: a run with a config that computes something else stops
at start, listing the differences, unless told to continue with it or to start over
(`prepare_workdir`).

With several processes every process runs all of this; process 0 alone builds the dataset and
writes the files the processes share (config, data record, folds, results, predictions, figures).
"""
from __future__ import annotations

import json
import os
import re
import shutil

import jax
import ml_collections
import numpy as np

from emojax import checkpoints, datasets, models, sharding
from emojax.data import folds as folds_lib
from emojax.data import sampling as sampling_lib
from emojax.data import record as record_lib
from emojax.data.record import DataRecord
from emojax.errors import ConfigError, DataError
from emojax.evaluate import views
from emojax.train import loop, report, stages, validate


def with_dataset_facts(config, stored: dict) -> ml_collections.ConfigDict:
  """`config` (and its stages) with what the dataset (`stored`: `datasets.stored_facts`) decides:
  `num_classes` (configs leave it 0) and, for a model that crops its input to the face box
  (`models.crops_face_box`), `model.face_box` from the stored crops' face margin and
  `augment.crop_margin` (`sampling.face_box_fraction`)."""
  config = config.copy_and_resolve_references()
  config.num_classes = len(stored['class_names'])
  if models.crops_face_box(models.create_model(config)):
    with config.unlocked():
      config.model.face_box = sampling_lib.face_box_fraction(
          config.image_size, stored['crop_margin'], config.augment.crop_margin)
  for name in config.stages:
    config.stages[name] = with_dataset_facts(config.stages[name], stored)
  return config


def describe_record(record: DataRecord) -> str:
  """One line: how clips are drawn from the stored tracks."""
  sampling, fragments = record.sampling, record.sampling['num_fragments']
  method = sampling['method'] + (f' in {fragments} fragments' if fragments > 1 else '')
  span = 'the whole video' if record.whole_video else f'{record.span_frames} stored frames'
  seconds = f' ({record.span_seconds:.2f} s)' if record.span_seconds else ''
  side = round(record.image_size * (1 + record.resize_margin))
  upscaled = ' (upscaled)' if side > record.crop_size else ''
  fps = f'{record.fps:.1f} fps' if record.fps else 'no recorded rate'
  flow = f'; {record.flow_method} flow' if record.flow_method else ''
  return (f'clips: {record.num_frames} frames, {method}, spanning {span}{seconds}; median video '
          f'{record.median_frames} frames at {fps}; {record.crop_size}px faces resized to '
          f'{side}px{upscaled}, {record.image_size}px crops{flow}')


RUN_FILES = (checkpoints.CONFIG_FILE, record_lib.DATA_FILE, 'folds.json', 'results.json',
             'results.csv', 'confusion_matrix.png')


def prepare_workdir(config, workdir: str, overwrite: bool = False,
                    resume_with_changed_config: bool = False, log=print) -> None:
  """Checks `config` against the one that made `workdir` (its config.json).

  A difference in what the run computes (`checkpoints.config_differences`) stops the run with the
  differing keys, unless `resume_with_changed_config` (finished folds are kept, each with the
  config in its result.json and fold_K/config.json; unfinished ones resume with this config).
  `overwrite` removes the workdir's run files (config, data record, folds, results, fold_K
  folders; nothing else) so that the run starts over.
  """
  if overwrite and resume_with_changed_config:
    raise ConfigError('--overwrite and --resume_with_changed_config: choose one')
  os.makedirs(workdir, exist_ok=True)
  if overwrite:
    if jax.process_index() == 0:
      for name in os.listdir(workdir):
        path = os.path.join(workdir, name)
        if name in RUN_FILES:
          os.remove(path)
        elif (re.fullmatch(r'fold_\d+', name) or name == 'stages') and os.path.isdir(path):
          shutil.rmtree(path)
    sharding.sync_processes('emojax: workdir cleared')
    return
  path = os.path.join(workdir, checkpoints.CONFIG_FILE)
  if not os.path.exists(path):
    return
  if os.path.exists(os.path.join(workdir, record_lib.DATA_FILE)):
    record_lib.load(os.path.join(workdir, record_lib.DATA_FILE))  # refuses another layout
  differences = checkpoints.config_differences(checkpoints.read_config(path), config)
  if not differences:
    return
  listed = '; '.join(differences)
  if not resume_with_changed_config:
    raise DataError(
        f'{path}: this workdir was made with another config ({listed}). Run with '
        '--resume_with_changed_config to continue it with this config (finished folds keep their '
        'results), with --overwrite to start it over, or give another --workdir')
  log(f'{workdir}: continuing with a changed config ({listed}); finished folds keep theirs')


def _write_run_files(config, run_dir: str, dataset) -> None:
  """config.json and data.json of the run in `run_dir` and of each of its stages (process 0)."""
  os.makedirs(run_dir, exist_ok=True)
  checkpoints.save_config(config, run_dir)
  index = dataset.index
  record_lib.save(DataRecord.for_tracks(dataset.stored, config, index.fps, index.num_stored),
                  run_dir)
  for name, stage in config.stages.items():
    _write_run_files(stage, stages.stage_dir(run_dir, name), dataset)


def run_fold(config, run_dir: str, dataset, plan, k: int, mesh, log=print, stage: str = '') -> dict:
  """Fold `k` of the run of `config` in `run_dir`: its stages' fold `k` first (each a run of its
  own under `stages/NAME`), then its own; the fold's result, from `fold_K/result.json` when it
  finished before."""
  fold_dir = stages.fold_dir(run_dir, k)
  done_path = os.path.join(fold_dir, 'result.json')
  if os.path.exists(done_path):
    with open(done_path) as f:
      return json.load(f)
  for name in config.init_from.stages:
    stage_result = run_fold(config.stages[name], stages.stage_dir(run_dir, name), dataset, plan,
                            k, mesh, log, f'{stage}stage {name}, ')
    log(f'{stage}stage {name}, fold {k}: test accuracy {stage_result["accuracy"]:.4f}')
  fold = plan[k]
  if jax.process_index() == 0:
    os.makedirs(fold_dir, exist_ok=True)
    checkpoints.save_config(config, fold_dir)
  result = loop.train_fold(config, fold_dir, dataset, fold, k, run_dir, mesh, log,
                           f'{stage}fold {k}')
  result[fold.held_out_key] = list(fold.held_out)
  if jax.process_index() == 0:
    if 'confusion_matrix' in result:  # a classifier's (a masked autoencoder has none)
      report.plot_confusion(result['confusion_matrix'], dataset.class_names,
                            os.path.join(fold_dir, 'confusion_matrix.png'), f'fold {k}')
    report.plot_history(result['history'], os.path.join(fold_dir, 'curves.png'), f'fold {k}')
    with open(done_path, 'w') as f:
      json.dump(result, f, indent=2)
  return result


def train_and_evaluate(config, workdir: str, log=print, overwrite: bool = False,
                       resume_with_changed_config: bool = False) -> dict:
  """Runs `config.protocol` over `config.dataset` in `workdir`; returns the results dict.

  `overwrite` / `resume_with_changed_config`: see `prepare_workdir`.
  """
  builder = datasets.dataset_builder(config)
  stored = datasets.stored_facts(builder)
  validate.validate(config, stored)
  dataset = datasets.load(config, builder)
  config = with_dataset_facts(config, dataset.stored)
  index = dataset.index
  prepare_workdir(config, workdir, overwrite, resume_with_changed_config, log)
  sharding.sync_processes('emojax: workdir checked')  # by all, before process 0 writes config.json
  if jax.process_index() == 0:
    _write_run_files(config, workdir, dataset)
  plan = folds_lib.fold_plan(config, index.subjects, index.splits)
  assignment = [list(fold.held_out) for fold in plan]
  if config.fold >= len(plan):
    raise ConfigError(f'config.fold={config.fold} but the protocol has {len(plan)} folds '
                      f'(0 to {len(plan) - 1}; -1 runs them all)')
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'folds.json'), 'w') as f:
      json.dump({'protocol': config.protocol, 'seed': config.fold_seed,
                 plan[0].held_out_key: assignment}, f, indent=2)
  run = range(len(plan)) if config.fold < 0 else [config.fold]
  splits = ', '.join(f'{n}: {c}' for n, c in zip(*np.unique(index.splits, return_counts=True)))
  log(f'{config.model.name} on {config.dataset.name}: {len(index.labels)} videos ({splits}), '
      f'{len(set(index.subjects))} subjects, {len(plan)} folds ({config.protocol}), running '
      f'{len(run)}; {jax.device_count()} device(s): {jax.devices()[0].platform}')
  log(describe_record(DataRecord.for_tracks(dataset.stored, config, index.fps, index.num_stored)))
  mesh = sharding.make_mesh()
  pretraining = models.objective(models.create_model(config)) == 'masked_reconstruction'
  results = {}
  for k in run:
    finished = os.path.exists(os.path.join(stages.fold_dir(workdir, k), 'result.json'))
    results[k] = result = run_fold(config, workdir, dataset, plan, k, mesh, log)
    if pretraining:
      log(f'fold {k}: masked reconstruction error {result["reconstruction_loss"]:.4f}')
    elif finished:
      log(f'fold {k}: already finished, accuracy {result["accuracy"]:.4f}')
    else:
      log(f'fold {k}: test accuracy (WAR) {result["accuracy"]:.4f}, UAR {result["uar"]:.4f}'
          + ''.join(f', {m} {result[m]:.4f}' for m in config.extra_metrics)
          + f' ({result["num_examples"]} videos of {", ".join(report.held_out(result))})')

  if jax.process_index() != 0:
    return {}
  if pretraining:
    return report.write_pretraining_results(workdir, results, config)
  for name, stage in config.stages.items():
    report.write_stage_results(stages.stage_dir(workdir, name), stage, assignment,
                               dataset.class_names)
  summary = report.write_results(workdir, results, assignment, dataset.class_names, config)
  extra = ''.join(f'; {m} {summary[m]["mean"]:.4f} ± {summary[m]["std"]:.4f}'
                  for m in config.extra_metrics)
  log(f'accuracy over {len(results)} fold(s): {summary["accuracy"]["mean"]:.4f} ± '
      f'{summary["accuracy"]["std"]:.4f}; UAR {summary["uar"]["mean"]:.4f} ± '
      f'{summary["uar"]["std"]:.4f}{extra} with {views.describe_text(summary["views"])}; '
      f'results in {os.path.join(workdir, "results.json")}')
  return summary
