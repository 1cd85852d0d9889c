"""SVM stage of RFSCNN: an SVM on the network's fused features, trained per fold.

After a fold's network is trained, `svm_fold_result` extracts the feature of every view of every
training and test video (evaluation's `config.eval.num_clips` x `num_crops` views) and averages it
over the video's views: the fused feature (`model.apply(..., method='features')`), or, for a model
with stream features (RFSCNN), each view's stream features, averaged, then fused: the paper
average-pools its segments' features into one video feature before the fusion
(`video_feature_methods`). It standardises the video features with the training videos' mean and
variance, fits
`config.svm.kernel` ('linear': `sklearn.svm.LinearSVC`, 'rbf': `sklearn.svm.SVC`) with
`config.svm.C` on the training subjects and predicts the test subject(s). Its result sits beside
the softmax one in the fold's `result.json` under `svm`.
"""
from __future__ import annotations

from typing import Iterable

import jax
import jax.numpy as jnp
import numpy as np

from emojax import models
from emojax.train import metrics as metrics_lib
from emojax.train import steps as steps_lib

KERNELS = ('linear', 'rbf')


def svm_enabled(config) -> bool:
  return bool(config.get('svm') and config.svm.get('enabled', False))


def video_feature_methods(model) -> tuple[str, str | None]:
  """(method giving each view's feature, method turning a video's mean of them into its SVM
  feature, or None): a model with stream features fuses the mean of its views' stream features."""
  if hasattr(model, 'stream_features') and hasattr(model, 'fuse_streams'):
    return 'stream_features', 'fuse_streams'
  return 'features', None


def model_variables(state) -> dict:
  """`{'params', 'batch_stats'}` of a train state (or such a dict itself)."""
  if isinstance(state, dict):
    return {'params': state['params'], 'batch_stats': state.get('batch_stats', {})}
  return {'params': state.params, 'batch_stats': state.batch_stats}


def extract_features(state, model, batches: Iterable[dict], mesh=None, num_videos=None):
  """SVM features and labels of `batches` (dicts with `clip` uint8, `label`, optional `mask`).

  Returns `(features float32 [N, D], labels int [N])` for the examples whose `mask` is True (all,
  without a mask); with `num_videos`, batches also carry `video` (as `pipeline.eval_batches`) and
  N is the number of videos, each feature from the mean over the video's views
  (`video_feature_methods`). `state`: a train state or its variables. Batches are this process's
  shards; every process takes part.
  """
  from jax.sharding import NamedSharding, PartitionSpec as P

  mesh = mesh or steps_lib.make_mesh()
  per_view, per_video = video_feature_methods(model)

  def features(variables, batch):
    return model.apply(variables, models.normalize_clip(batch['clip']), train=False,
                       method=per_view)

  fn = jax.jit(features, in_shardings=(steps_lib.replicated(mesh), NamedSharding(mesh, P('data'))),
               out_shardings=NamedSharding(mesh, P('data')))
  variables = model_variables(state)
  batches = ({**b, 'mask': b.get('mask', np.ones(len(b['label']), bool))} for b in batches)
  keys = ('label',) if num_videos is None else ('label', 'video')
  feats, gathered = steps_lib.gather_outputs(fn, variables, batches, mesh, keys)
  labels = gathered['label']
  if num_videos is not None:
    videos = gathered['video']
    feats = metrics_lib.mean_per_video(feats, videos, num_videos)
    labels = metrics_lib.per_video_labels(labels, videos, num_videos)
  if per_video:
    feats = jax.device_get(model.apply(variables, jnp.asarray(feats, jnp.float32),
                                       method=per_video))
  return np.asarray(feats, np.float32), labels


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
  """`metrics.summarize` of the SVM's test predictions for one fold (`data`: `loop.FoldData`;
  `state`: a train state or its variables)."""
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
