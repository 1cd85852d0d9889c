"""The evaluator: a trained model scored on a fold's test videos, and everything reported beside it.

    python -m emojax.evaluate --workdir=W --views 1x1 4x3 [--fold=K] [--svm]

`evaluate_fold` is what the training loop calls at the end of a fold and what the command line
calls on a finished run: the model's per-video probabilities over evaluation's views
(`views`, aggregated as `config.eval.aggregate` says, by the one sharded function of `apply`), the
metrics (`metrics`: accuracy / WAR, UAR, per-class recall, confusion matrix, the config's extra
metrics), each test video's prediction (`predictions.csv`), the zero-shot per-frame FER2013
baseline on the same views (`baseline`, with `config.report_frame_baseline`) and the SVM on the
model's features (`svm`, with `config.svm.enabled`). A masked autoencoder is scored by its
reconstruction error instead, with a figure (`reconstruction`).
"""
from __future__ import annotations

import csv
import os

import jax
import numpy as np

from emojax import models
from emojax.evaluate import apply, baseline, metrics, reconstruction, svm, views

PREDICTIONS_FILE = 'predictions.csv'


def write_predictions(path: str, video_ids, labels, probabilities, class_names) -> None:
  """One row per video: id, true and predicted class names, then the probability of each class."""
  probabilities = np.asarray(probabilities)
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['video_id', 'label', 'predicted', *[f'p_{c}' for c in class_names]])
    for video_id, label, p in zip(video_ids, labels, probabilities):
      writer.writerow([video_id, class_names[int(label)], class_names[int(np.argmax(p))],
                       *[f'{v:.6f}' for v in p]])


def evaluate_fold(config, model, variables, dataset, fold, mesh, out_dir: str | None = None,
                  log=print, name: str = 'fold') -> dict:
  """The metrics of `model` with `variables` on `fold.test` of `dataset` (`emojax.datasets.
  Dataset`), with the baseline and SVM the config asks for; writes `out_dir/predictions.csv`
  (process 0). Every process takes part."""
  if models.objective(model) == 'masked_reconstruction':
    result = reconstruction.reconstruction_result(config, model, variables, dataset, fold, mesh,
                                                  out_dir)
    log(f"{name}: masked reconstruction error {result['reconstruction_loss']:.4f} on "
        f"{result['num_examples']} videos; {result['figure']}")
    return result
  class_names = dataset.class_names
  fn = apply.logits_fn(model, mesh)
  probabilities, labels = apply.video_probabilities(fn, variables, dataset.source, fold.test,
                                                    config, mesh)
  matrix = metrics.confusion_matrix(labels, np.argmax(probabilities, -1), len(class_names))
  result = metrics.summarize(matrix, class_names, tuple(config.extra_metrics))
  result['views'] = views.describe(config)
  if out_dir and jax.process_index() == 0:
    write_predictions(os.path.join(out_dir, PREDICTIONS_FILE), dataset.index.video_ids[fold.test],
                      labels, probabilities, class_names)
  if config.report_frame_baseline:
    result['frame_baseline'] = baseline.zero_shot_result(dataset, fold.test, config, mesh)
    if result['frame_baseline']:
      log(f"{name}: per-frame FER2013 baseline (zero-shot): accuracy "
          f"{result['frame_baseline']['accuracy']:.4f}, UAR {result['frame_baseline']['uar']:.4f}")
  if config.svm.enabled:
    result['svm'] = svm.svm_result(config, model, variables, dataset.source, fold, class_names,
                                   mesh)
    log(f"{name}: SVM ({config.svm.kernel}) on the model's features: accuracy "
        f"{result['svm']['accuracy']:.4f}")
  return result
