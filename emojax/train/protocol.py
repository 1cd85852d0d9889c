"""Cross-validation driver: the protocol's folds, one `train_fold` each, results for the whole run.

`config.protocol` is 'kfold' or 'loso' (folds by subject) or 'official_split' / 'official_folds'
(the dataset's own splits, `emojax.data.folds`). `fold_plan` gives each fold's train / validation /
test indices; validation (early stopping) is always drawn from the training part, or is an official
validation split, never the test part.

A finished fold leaves `fold_K/result.json` and is never retrained; an unfinished one resumes from
its checkpoints. Running the same command again therefore continues a killed run. A workdir keeps
the config that made it: a run with a config that computes something else stops at start, listing
the differences, unless told to continue with it or to start over (`prepare_workdir`).

With several processes every process runs all of this; process 0 alone builds the dataset and
writes the files the processes share (config, data record, folds, results, predictions, figures).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil

import jax
import ml_collections
import numpy as np

from emojax import checkpoints, models
from emojax.data import folds as folds_lib
from emojax.data import pipeline
from emojax.train import datasets, loop, metrics, report, steps


@dataclasses.dataclass(frozen=True)
class Fold:
  """One fold's example indices and what it holds out: test subjects, or (`by_split`) the names of
  its test splits."""
  held_out: list[str]
  train: np.ndarray
  validation: np.ndarray | None
  test: np.ndarray
  by_split: bool = False

  @property
  def held_out_key(self) -> str:
    return 'test_splits' if self.by_split else 'test_subjects'


def _validation_from_training(config, subjects, train, seed):
  """`(train, validation)`: `config.validation_fraction` of the training subjects held out."""
  if config.validation_fraction <= 0:
    return train, None
  val_subjects = folds_lib.validation_subjects(subjects[train], config.validation_fraction, seed)
  is_val = np.isin(subjects[train], val_subjects)
  return train[~is_val], train[is_val]


def fold_plan(config, subjects, example_splits) -> list[Fold]:
  """Every fold of `config.protocol` over examples with these subjects and split names."""
  subjects, example_splits = np.asarray(subjects), np.asarray(example_splits)
  protocol = config.protocol
  folds_lib.check_protocol(protocol)
  plan = []
  if protocol == 'official_split':
    splits = config.splits
    train, validation, test = folds_lib.official_split_indices(
        example_splits, splits.train, splits.test, splits.validation)
    if validation is not None and config.validation_fraction > 0:
      raise ValueError(f'config.splits.validation={splits.validation!r} and '
                       f'config.validation_fraction={config.validation_fraction}: set one')
    if validation is None:
      train, validation = _validation_from_training(config, subjects, train, config.fold_seed)
    return [Fold(list(folds_lib.split_names(splits.test)), train, validation, test, True)]
  if protocol == 'official_folds':
    assignment, values, by_split = folds_lib.official_folds(example_splits), example_splits, True
  else:
    assignment = folds_lib.make_folds(subjects, protocol, config.num_folds, config.fold_seed)
    values, by_split = subjects, False
  for k, held_out in enumerate(assignment):
    train, test = folds_lib.split_indices(values, held_out)
    train, validation = _validation_from_training(config, subjects, train, config.fold_seed + k)
    plan.append(Fold(list(held_out), train, validation, test, by_split))
  return plan


def check_config(config) -> None:
  """Fails at start, naming the setting, on what the run could only discover later. The class
  count comes with the dataset; any count serves to check the rest of the model."""
  model = models.create_model(config, num_classes=config.num_classes or 2)
  models.check_input(model, config)
  pipeline.process_batch_size(config.batch_size)
  pipeline.process_batch_size(config.eval_batch_size, 'config.eval_batch_size')
  if config.num_epochs < 1:
    raise ValueError(f'config.num_epochs={config.num_epochs} must be at least 1')
  folds_lib.check_protocol(config.protocol)
  metrics.check_extra_metrics(config.get('extra_metrics', ()))


def with_dataset_classes(config, class_names) -> ml_collections.ConfigDict:
  """`config` with `num_classes` taken from the dataset (configs leave it 0); a config that sets
  another count fails, naming it."""
  if config.num_classes and config.num_classes != len(class_names):
    raise ValueError(f'config.num_classes={config.num_classes} but {config.dataset.name} has '
                     f'{len(class_names)} classes {list(class_names)}; leave it 0 to follow the '
                     'dataset')
  config = config.copy_and_resolve_references()
  config.num_classes = len(class_names)
  return config


def describe_contract(record) -> str:
  """One line: how clips are drawn from the stored tracks (the run's `DataRecord`)."""
  sampling, fragments = record.sampling, record.sampling['num_fragments']
  method = sampling['method'] + (f' in {fragments} fragments' if fragments > 1 else '')
  span = 'the whole video' if record.whole_video else f'{record.span_frames} stored frames'
  seconds = f' ({record.span_seconds:.2f} s)' if record.span_seconds else ''
  side = round(record.image_size * (1 + record.resize_margin))
  upscaled = ' (upscaled)' if side > record.crop_size else ''
  fps = f'{record.fps:.1f} fps' if record.fps else 'no recorded rate'
  return (f'clips: {record.num_frames} frames, {method}, spanning {span}{seconds}; median video '
          f'{record.median_frames} frames at {fps}; {record.crop_size}px faces resized to '
          f'{side}px{upscaled}, {record.image_size}px crops')


RUN_FILES = (checkpoints.CONFIG_FILE, checkpoints.DATA_FILE, 'folds.json', 'results.json',
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
    raise ValueError('--overwrite and --resume_with_changed_config: choose one')
  os.makedirs(workdir, exist_ok=True)
  if overwrite:
    if jax.process_index() == 0:
      for name in os.listdir(workdir):
        path = os.path.join(workdir, name)
        if name in RUN_FILES:
          os.remove(path)
        elif re.fullmatch(r'fold_\d+', name) and os.path.isdir(path):
          shutil.rmtree(path)
    steps.sync_processes('emojax: workdir cleared')
    return
  path = os.path.join(workdir, checkpoints.CONFIG_FILE)
  if not os.path.exists(path):
    return
  differences = checkpoints.config_differences(checkpoints.read_config(path), config)
  if not differences:
    return
  listed = '; '.join(differences)
  if not resume_with_changed_config:
    raise ValueError(
        f'{path}: this workdir was made with another config ({listed}). Run with '
        '--resume_with_changed_config to continue it with this config (finished folds keep their '
        'results), with --overwrite to start it over, or give another --workdir')
  log(f'{workdir}: continuing with a changed config ({listed}); finished folds keep theirs')


def train_and_evaluate(config, workdir: str, log=print, overwrite: bool = False,
                       resume_with_changed_config: bool = False) -> dict:
  """Runs `config.protocol` over `config.dataset` in `workdir`; returns the results dict.

  `overwrite` / `resume_with_changed_config`: see `prepare_workdir`.
  """
  check_config(config)
  pipeline.check_sampling(config, datasets.data_record(datasets.dataset_builder(config)))
  source, record, example_splits = datasets.load_splits(config)
  class_names = record.class_names
  config = with_dataset_classes(config, class_names)
  index = pipeline.read_index(source, class_names)
  record = pipeline.data_contract(record, config, index)
  prepare_workdir(config, workdir, overwrite, resume_with_changed_config, log)
  steps.sync_processes('emojax: workdir checked')  # by all, before process 0 writes config.json
  if jax.process_index() == 0:
    checkpoints.save_config(config, workdir)
    checkpoints.save_data_record(record, workdir)
  plan = fold_plan(config, index.subjects, example_splits)
  assignment = [fold.held_out for fold in plan]
  if config.fold >= len(plan):
    raise ValueError(f'config.fold={config.fold} but the protocol has {len(plan)} folds')
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'folds.json'), 'w') as f:
      json.dump({'protocol': config.protocol, 'seed': config.fold_seed,
                 plan[0].held_out_key: assignment}, f, indent=2)
  run = range(len(plan)) if config.fold < 0 else [config.fold]
  splits = ', '.join(f'{n}: {c}' for n, c in zip(*np.unique(example_splits, return_counts=True)))
  log(f'{config.model.name} on {config.dataset.name}: {len(index.labels)} videos ({splits}), '
      f'{len(set(index.subjects))} subjects, {len(plan)} folds ({config.protocol}), running '
      f'{len(run)}; {jax.device_count()} device(s): {jax.devices()[0].platform}')
  log(describe_contract(record))
  mesh = steps.make_mesh()
  results = {}
  for k in run:
    fold_dir = os.path.join(workdir, f'fold_{k}')
    done_path = os.path.join(fold_dir, 'result.json')
    if os.path.exists(done_path):
      with open(done_path) as f:
        results[k] = json.load(f)
      log(f'fold {k}: already finished, accuracy {results[k]["accuracy"]:.4f}')
      continue
    fold = plan[k]
    if jax.process_index() == 0:
      os.makedirs(fold_dir, exist_ok=True)
      checkpoints.save_config(config, fold_dir)
    data = loop.FoldData(source, fold.train, fold.test, class_names, fold.validation,
                         index.video_ids)
    result = loop.train_fold(config, fold_dir, data, fold=k, mesh=mesh, log=log)
    result[fold.held_out_key] = list(fold.held_out)
    if jax.process_index() == 0:
      report.plot_confusion(result['confusion_matrix'], class_names,
                            os.path.join(fold_dir, 'confusion_matrix.png'), f'fold {k}')
      report.plot_history(result['history'], os.path.join(fold_dir, 'curves.png'), f'fold {k}')
      with open(done_path, 'w') as f:
        json.dump(result, f, indent=2)
    results[k] = result
    log(f'fold {k}: test accuracy (WAR) {result["accuracy"]:.4f}, UAR {result["uar"]:.4f}'
        + ''.join(f', {m} {result[m]:.4f}' for m in config.get('extra_metrics', ()))
        + f' ({result["num_examples"]} videos of {", ".join(fold.held_out)})')

  summary = report.write_results(workdir, results, assignment, class_names, config) if (
      jax.process_index() == 0) else {}
  if summary:
    extra = ''.join(f'; {m} {summary[m]["mean"]:.4f} ± {summary[m]["std"]:.4f}'
                    for m in config.get('extra_metrics', ()) if m in summary)
    log(f'accuracy over {len(results)} fold(s): {summary["accuracy"]["mean"]:.4f} ± '
        f'{summary["accuracy"]["std"]:.4f}; UAR {summary["uar"]["mean"]:.4f} ± '
        f'{summary["uar"]["std"]:.4f}{extra} with {report.describe_views(summary["views"])}; '
        f'results in {os.path.join(workdir, "results.json")}')
  return summary
