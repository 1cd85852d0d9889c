"""Results files of a cross-validation run: results.json, results.csv, confusion matrices and
training curves (each fold's predictions.csv is the evaluator's, `emojax.evaluate`)."""
from __future__ import annotations

import csv
import importlib.metadata
import json
import os
from typing import Sequence

import numpy as np

from emojax import checkpoints
from emojax.evaluate import views as views_lib

PACKAGES = ('emojax', 'jax', 'jaxlib', 'flax', 'optax', 'orbax-checkpoint', 'grain',
            'tensorflow-datasets', 'numpy', 'opencv-python-headless')


def package_versions() -> dict:
  versions = {}
  for name in PACKAGES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = None
  return versions


def mean_std(values: Sequence[float]) -> dict:
  values = np.asarray(values, np.float64)
  return {'mean': float(values.mean()), 'std': float(values.std(ddof=0)), 'n': int(values.size)}


def plot_confusion(matrix, class_names, path: str, title: str) -> None:
  """Counts (left) and row-normalised recall (right) side by side."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  matrix = np.asarray(matrix)
  normalized = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
  for ax, values, fmt, sub in ((axes[0], matrix, 'd', 'counts'),
                               (axes[1], normalized, '.2f', 'row-normalised')):
    ax.imshow(values, cmap='Blues', vmin=0)
    ax.set(xticks=range(len(class_names)), yticks=range(len(class_names)),
           xticklabels=class_names, yticklabels=class_names, xlabel='predicted', ylabel='true',
           title=f'{title} ({sub})')
    ax.tick_params(axis='x', rotation=45)
    peak = values.max() if values.size else 0
    for (i, j), v in np.ndenumerate(values):
      ax.text(j, i, format(v, fmt), ha='center', va='center', fontsize=8,
              color='white' if peak and v > 0.6 * peak else 'black')
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_history(history: Sequence[dict], path: str, title: str) -> None:
  """Training loss and train / test (/ validation) accuracy per epoch."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  epochs = [h['epoch'] for h in history]
  fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
  ax_loss.plot(epochs, [h['train_loss'] for h in history])
  ax_loss.set(xlabel='epoch', ylabel='train loss', title=title)
  keys = [k for k in ('train_accuracy', 'test_accuracy', 'val_accuracy') if history and k in history[0]]
  for key in keys:
    ax_acc.plot(epochs, [h[key] for h in history], label=key.replace('_', ' '))
  ax_acc.set(xlabel='epoch', ylabel='accuracy', ylim=(0, 1), title=title)
  if keys:  # a masked autoencoder has no accuracy
    ax_acc.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def held_out(result: dict) -> list[str]:
  """A fold's test subjects, or the names of its test splits (official protocols)."""
  return list(result['test_splits'] if 'test_splits' in result else result['test_subjects'])


def fold_means(folds: dict, keys, config) -> dict:
  """Mean ± std over folds of accuracy (= WAR), UAR and the config's extra metrics."""
  names = ['accuracy', 'war', 'uar', *config.extra_metrics]
  return {name: mean_std([folds[k][name] for k in keys]) for name in names}


def _frame_baseline_summary(folds: Sequence[dict]) -> dict:
  """Mean ± std of the per-frame FER2013 baseline (`emojax.evaluate.baseline`) when every fold has
  it, as `{'frame_baseline': {'accuracy', 'uar', 'zero_shot', 'classes_mapped'}}`; else nothing."""
  if not folds or not all(f.get('frame_baseline') for f in folds):
    return {}
  return {'frame_baseline': {
      'accuracy': mean_std([f['frame_baseline']['accuracy'] for f in folds]),
      'uar': mean_std([f['frame_baseline']['uar'] for f in folds]),
      'zero_shot': True,
      'classes_mapped': folds[0]['frame_baseline']['classes_mapped']}}


def fold_summary(result: dict, config) -> dict:
  """A fold's result.json for results.json: without its history and config, but with
  `config_differs` where the fold was made with another config than the run's."""
  summary = {key: v for key, v in result.items() if key not in ('history', 'config')}
  differences = checkpoints.config_differences(result['config'], config)
  if differences:
    summary['config_differs'] = differences
  return summary


def write_results(workdir: str, folds: dict, assignment: Sequence[Sequence[str]], class_names,
                  config) -> dict:
  """Writes results.json / results.csv / confusion_matrix.png for the folds run so far."""
  keys = sorted(folds)
  total = np.sum([folds[k]['confusion_matrix'] for k in keys], axis=0)
  means = fold_means(folds, keys, config)
  results = {
      'dataset': config.dataset.name,
      'model': config.model.name,
      'protocol': config.protocol,
      'class_names': list(class_names),
      'views': views_lib.describe(config),
      'folds': {str(k): fold_summary(folds[k], config) for k in keys},
      **means,
      'confusion_matrix': total.tolist(),
      **({'svm_accuracy': mean_std([folds[k]['svm']['accuracy'] for k in keys])}
         if all('svm' in folds[k] for k in keys) else {}),
      **_frame_baseline_summary([folds[k] for k in keys]),
      'pooled_accuracy': float(np.trace(total) / max(total.sum(), 1)),
      'fold_assignment': [list(f) for f in assignment],
      'config': json.loads(config.to_json()),
      'versions': package_versions(),
  }
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump(results, f, indent=2)
  scores = [m for m in means if m != 'accuracy']  # WAR is the accuracy column's name here
  with open(os.path.join(workdir, 'results.csv'), 'w', newline='') as f:
    writer = csv.writer(f)
    baseline = results.get('frame_baseline')
    writer.writerow(['fold', 'held_out', 'num_test', *scores, 'steps',
                     *[f'recall_{c}' for c in class_names],
                     *(['frame_baseline_accuracy', 'frame_baseline_uar'] if baseline else [])])
    for k in keys:
      r = folds[k]
      writer.writerow([k, ' '.join(held_out(r)), r['num_examples'],
                       *[f'{r[m]:.4f}' for m in scores], r['steps'],
                       *['' if r['per_class_recall'][c] is None else
                         f"{r['per_class_recall'][c]:.4f}" for c in class_names],
                       *([f"{r['frame_baseline'][m]:.4f}" for m in ('accuracy', 'uar')]
                         if baseline else [])])
    for stat in ('mean', 'std'):
      writer.writerow([stat, '', '', *[f"{results[m][stat]:.4f}" for m in scores], '',
                       *[''] * len(class_names),
                       *([f"{baseline[m][stat]:.4f}" for m in ('accuracy', 'uar')]
                         if baseline else [])])
  plot_confusion(total, class_names, os.path.join(workdir, 'confusion_matrix.png'),
                 f'all folds ({len(keys)})')
  return results


def write_stage_results(stage_dir: str, config, assignment: Sequence[Sequence[str]],
                        class_names) -> dict | None:
  """Results files of a training stage (`emojax.train.stages`) for its finished folds: a stage is
  a run, and its accuracy (e.g. one RFSCNN stream alone) a result of its own."""
  folds = {}
  for name in os.listdir(stage_dir) if os.path.isdir(stage_dir) else ():
    path = os.path.join(stage_dir, name, 'result.json')
    if name.startswith('fold_') and os.path.exists(path):
      with open(path) as f:
        folds[int(name.split('_')[1])] = json.load(f)
  return write_results(stage_dir, folds, assignment, class_names, config) if folds else None


def write_pretraining_results(workdir: str, folds: dict, config) -> dict:
  """results.json of a pretraining run (a masked autoencoder, `config.protocol='all'`): each
  fold's reconstruction error, steps and history, and the config and versions."""
  keys = sorted(folds)
  results = {
      'dataset': config.dataset.name, 'more_datasets': list(config.dataset.more),
      'model': config.model.name, 'protocol': config.protocol,
      'folds': {str(k): fold_summary(folds[k], config) for k in keys},
      'reconstruction_loss': mean_std([folds[k]['reconstruction_loss'] for k in keys]),
      'config': json.loads(config.to_json()), 'versions': package_versions()}
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump(results, f, indent=2)
  return results
