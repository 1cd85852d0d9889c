"""SVM stage of RFSCNN: an SVM on the network's features, trained per fold.

After a fold's network is trained, `svm_result` extracts the feature of every view of every
training and test video (evaluation's `config.eval.num_clips` x `num_crops` views) and averages it
over the video's views, as the model says (`models.video_feature_methods`): its `features` per
view, averaged; or (RFSCNN) each view's stream features, averaged, then fused: the paper
average-pools its segments' features into one video feature before the fusion. It standardises
the video features with the training videos' mean and variance, fits `config.svm.kernel`
('linear': `sklearn.svm.LinearSVC`, 'rbf': `sklearn.svm.SVC`) with `config.svm.C` on the training
subjects and predicts the test subject(s). Its result sits beside the softmax one in the fold's
`result.json` under `svm`.
"""
from __future__ import annotations

from typing import Iterable

import jax
import jax.numpy as jnp
import numpy as np

from emojax import models
from emojax.evaluate import apply, metrics, views

KERNELS = ('linear', 'rbf')


def extract_features(variables, model, batches: Iterable[dict], mesh, num_videos=None):
  """SVM features and labels of `batches` (dicts with `clip` uint8, `label`, optional `mask`).

  Returns `(features float32 [N, D], labels int [N])` for the examples whose `mask` is True (all,
  without a mask); with `num_videos`, batches also carry `video` (as `views.view_batches`) and N
  is the number of videos, each feature from the mean over the video's views. Batches are this
  process's shards; every process takes part.
  """
  per_view, per_video = models.video_feature_methods(model)
  fn = apply.logits_fn(model, mesh, method=per_view)
  batches = ({**b, 'mask': b.get('mask', np.ones(len(b['label']), bool))} for b in batches)
  keys = ('label',) if num_videos is None else ('label', 'video')
  feats, gathered = apply.gather_outputs(fn, variables, batches, mesh, keys)
  labels = gathered['label']
  if num_videos is not None:
    videos = gathered['video']
    feats = metrics.mean_per_video(feats, videos, num_videos)
    labels = metrics.per_video_labels(labels, videos, num_videos)
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
    raise ValueError(f'kernel={kernel!r}: expected one of {KERNELS}')
  classifier = make_pipeline(StandardScaler(), svm)
  classifier.fit(np.asarray(train_feats, np.float64), np.asarray(train_labels))
  return classifier.predict(np.asarray(test_feats, np.float64))


def svm_result(config, model, variables, source, fold, class_names, mesh) -> dict:
  """`metrics.summarize` of the SVM's test predictions for one fold (`fold`: a `folds.Fold`),
  fitted on the fold's training videos."""
  train_feats, train_labels = extract_features(
      variables, model, views.view_batches(source, fold.train, config), mesh, len(fold.train))
  test_feats, test_labels = extract_features(
      variables, model, views.view_batches(source, fold.test, config), mesh, len(fold.test))
  predictions = fit_svm_on_features(train_feats, train_labels, test_feats, config.svm.kernel,
                                    config.svm.C, config.seed)
  matrix = metrics.confusion_matrix(test_labels, predictions, len(class_names))
  result = metrics.summarize(matrix, class_names)
  result['kernel'] = config.svm.kernel
  return result
