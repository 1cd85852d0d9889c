"""SVM stage of RFSCNN: an SVM on the network's fused features, trained per fold.

After a fold's network is trained, `svm_fold_result` extracts the fused feature
(`model.apply(..., method='features')`) of every view of every training and test video (evaluation's
`config.eval.num_clips` x `num_crops` views) and averages it over the video's views, standardises
the video features with the training videos' mean and variance, fits
`config.svm.kernel` ('linear': `sklearn.svm.LinearSVC`, 'rbf': `sklearn.svm.SVC`) with
`config.svm.C` on the training subjects and predicts the test subject(s). Its result sits beside
the softmax one in the fold's `result.json` under `svm`.
"""
from __future__ import annotations

from typing import Iterable

import jax
import numpy as np

from emojax import models
from emojax.train import metrics as metrics_lib
from emojax.train import steps as steps_lib

KERNELS = ('linear', 'rbf')


def svm_enabled(config) -> bool:
  return bool(config.get('svm') and config.svm.get('enabled', False))


def extract_features(state, model, batches: Iterable[dict], mesh=None, num_videos=None):
  """Fused features and labels of `batches` (dicts with `clip` uint8, `label`, optional `mask`).

  Returns `(features float32 [N, D], labels int [N])` for the examples whose `mask` is True (all,
  without a mask); with `num_videos`, batches also carry `video` (as `pipeline.eval_batches`) and
  N is the number of videos, each feature the mean over the video's views. Batches are this
  process's shards; every process takes part.
  """
  from jax.sharding import NamedSharding, PartitionSpec as P

  mesh = mesh or steps_lib.make_mesh()

  def features(state, batch):
    return model.apply({'params': state.params, 'batch_stats': state.batch_stats},
                       models.normalize_clip(batch['clip']), train=False, method='features')

  fn = jax.jit(features, in_shardings=(steps_lib.replicated(mesh), NamedSharding(mesh, P('data'))),
               out_shardings=NamedSharding(mesh, P('data')))
  batches = ({**b, 'mask': b.get('mask', np.ones(len(b['label']), bool))} for b in batches)
  keys = ('label',) if num_videos is None else ('label', 'video')
  feats, gathered = steps_lib.gather_outputs(fn, state, batches, mesh, keys)
  if num_videos is None:
    return feats.astype(np.float32), gathered['label']
  videos = gathered['video']
  return (metrics_lib.mean_per_video(feats, videos, num_videos).astype(np.float32),
          metrics_lib.per_video_labels(gathered['label'], videos, num_videos))


def fit_svm_on_features(train_feats, train_labels, test_feats, kernel: str = 'linear',
                        C: float = 1.0, seed: int = 0) -> np.ndarray:
  """Standardise with the training features, fit a `kernel` SVM, return test predictions."""
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler
  from sklearn.svm import SVC, LinearSVC
  if kernel == 'linear':
    svm = LinearSVC(C=C, max_iter=20000, random_state=seed)
  elif kernel == 'rbf':
    svm = SVC(kernel='rbf', C=C, gamma='scale', random_state=seed)
  else:
    raise ValueError(f'config.svm.kernel={kernel!r}: expected one of {KERNELS}')
  classifier = make_pipeline(StandardScaler(), svm)
  classifier.fit(np.asarray(train_feats, np.float64), np.asarray(train_labels))
  return classifier.predict(np.asarray(test_feats, np.float64))


def svm_fold_result(config, state, model, data, mesh=None) -> dict:
  """`metrics.summarize` of the SVM's test predictions for one fold (`data`: `loop.FoldData`)."""
  from emojax.data import pipeline
  train_feats, train_labels = extract_features(
      state, model, pipeline.eval_batches(data.source, data.train, config), mesh, len(data.train))
  test_feats, test_labels = extract_features(
      state, model, pipeline.eval_batches(data.source, data.test, config), mesh, len(data.test))
  predictions = fit_svm_on_features(train_feats, train_labels, test_feats, config.svm.kernel,
                                    config.svm.C, config.seed)
  matrix = metrics_lib.confusion_matrix(test_labels, predictions, config.num_classes)
  result = metrics_lib.summarize(matrix, data.class_names)
  result['kernel'] = config.svm.kernel
  return result
