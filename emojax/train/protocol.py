"""Cross-validation driver: folds by subject, one `train_fold` each, results for the whole run.

A finished fold leaves `fold_K/result.json` and is never retrained; an unfinished one resumes from
its checkpoints. Running the same command again therefore continues a killed run.
"""
from __future__ import annotations

import json
import os

import jax
import ml_collections
import numpy as np

from emojax import checkpoints, models
from emojax.data import folds as folds_lib
from emojax.data import pipeline
from emojax.train import datasets, loop, report, steps


def check_config(config) -> None:
  """Fails at start, naming the setting, on what the run could only discover later. The class
  count comes with the dataset; any count serves to check the rest of the model."""
  model = models.create_model(config, num_classes=config.num_classes or 2)
  models.check_input(model, config)
  pipeline.process_batch_size(config.batch_size)
  pipeline.process_batch_size(config.eval_batch_size, 'config.eval_batch_size')
  if config.num_epochs < 1:
    raise ValueError(f'config.num_epochs={config.num_epochs} must be at least 1')


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


def train_and_evaluate(config, workdir: str, log=print) -> dict:
  """Runs `config.protocol` over `config.dataset` in `workdir`; returns the results dict."""
  check_config(config)
  source, record = datasets.load_source(config)
  class_names = record.class_names
  config = with_dataset_classes(config, class_names)
  os.makedirs(workdir, exist_ok=True)
  if jax.process_index() == 0:
    checkpoints.save_config(config, workdir)
    checkpoints.save_data_record(record, workdir)
  pipeline.check_example_size(source, config)
  index = pipeline.read_index(source, class_names)
  assignment = folds_lib.make_folds(index.subjects, config.protocol, config.num_folds,
                                    config.fold_seed)
  if config.fold >= len(assignment):
    raise ValueError(f'config.fold={config.fold} but the protocol has {len(assignment)} folds')
  with open(os.path.join(workdir, 'folds.json'), 'w') as f:
    json.dump({'protocol': config.protocol, 'seed': config.fold_seed,
               'test_subjects': assignment}, f, indent=2)
  run = range(len(assignment)) if config.fold < 0 else [config.fold]
  log(f'{config.model.name} on {config.dataset.name}: {len(index.labels)} videos, '
      f'{len(set(index.subjects))} subjects, {len(assignment)} folds ({config.protocol}), running '
      f'{len(run)}; {jax.device_count()} device(s): {jax.devices()[0].platform}')

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
    train, test = folds_lib.split_indices(index.subjects, assignment[k])
    validation = None
    if config.validation_fraction > 0:
      val_subjects = folds_lib.validation_subjects(index.subjects[train], config.validation_fraction,
                                                   config.fold_seed + k)
      is_val = np.isin(index.subjects[train], val_subjects)
      train, validation = train[~is_val], train[is_val]
    data = loop.FoldData(source, train, test, class_names, validation)
    result = loop.train_fold(config, fold_dir, data, fold=k, mesh=mesh, log=log)
    result['test_subjects'] = list(assignment[k])
    if jax.process_index() == 0:
      report.plot_confusion(result['confusion_matrix'], class_names,
                            os.path.join(fold_dir, 'confusion_matrix.png'), f'fold {k}')
      report.plot_history(result['history'], os.path.join(fold_dir, 'curves.png'), f'fold {k}')
      with open(done_path, 'w') as f:
        json.dump(result, f, indent=2)
    results[k] = result
    log(f'fold {k}: test accuracy {result["accuracy"]:.4f}, UAR {result["uar"]:.4f} '
        f'({result["num_examples"]} videos of {", ".join(assignment[k])})')

  summary = report.write_results(workdir, results, assignment, class_names, config) if (
      jax.process_index() == 0) else {}
  if summary:
    log(f'accuracy over {len(results)} fold(s): {summary["accuracy"]["mean"]:.4f} ± '
        f'{summary["accuracy"]["std"]:.4f}; UAR {summary["uar"]["mean"]:.4f} ± '
        f'{summary["uar"]["std"]:.4f}; results in {os.path.join(workdir, "results.json")}')
  return summary
