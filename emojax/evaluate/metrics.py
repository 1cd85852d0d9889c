"""Classification metrics on host numpy arrays: accuracy (WAR), per-class recall, UAR,
macro-averaged precision, confusion matrix; and a video's scores from its views'.

WAR (weighted average recall, the in-the-wild benchmarks' name) is accuracy: the recall of each
class weighted by its share of the examples. UAR weighs every class alike.
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
  """`[num_classes, num_classes]` counts; rows are true classes, columns predictions."""
  matrix = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(matrix, (np.asarray(labels, np.int64), np.asarray(predictions, np.int64)), 1)
  return matrix


def accuracy(matrix: np.ndarray) -> float:
  total = matrix.sum()
  return float(np.trace(matrix) / total) if total else float('nan')


def per_class_recall(matrix: np.ndarray) -> np.ndarray:
  """Recall of each true class; NaN for a class with no examples."""
  support = matrix.sum(axis=1)
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(support > 0, np.diag(matrix) / np.maximum(support, 1), np.nan)


def unweighted_average_recall(matrix: np.ndarray) -> float:
  """Mean per-class recall over the classes present (UAR; the "MAP" of the attention-LSTM paper)."""
  recall = per_class_recall(matrix)
  return float(np.nanmean(recall)) if np.isfinite(recall).any() else float('nan')


def per_class_precision(matrix: np.ndarray) -> np.ndarray:
  """Precision of each predicted class; NaN for a class never predicted."""
  predicted = matrix.sum(axis=0)
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(predicted > 0, np.diag(matrix) / np.maximum(predicted, 1), np.nan)


def macro_precision(matrix: np.ndarray) -> float:
  """Mean precision over the classes that occur in the labels or the predictions (the "MAP" of the
  MEC / CHEAVD challenges). A class with examples that is never predicted counts as precision 0,
  as scikit-learn's `precision_score(average='macro', zero_division=0)`."""
  present = (matrix.sum(axis=0) > 0) | (matrix.sum(axis=1) > 0)
  if not present.any():
    return float('nan')
  return float(np.nan_to_num(per_class_precision(matrix))[present].mean())


# How a video's views are combined (`config.eval.aggregate`).
AGGREGATES = ('logits', 'probabilities')
# Metrics a config may ask for beside accuracy / WAR and UAR (`config.extra_metrics`).
EXTRA_METRICS = {'macro_precision': macro_precision}


def summarize(matrix: np.ndarray, class_names, extra_metrics=()) -> dict:
  """JSON-ready accuracy (= WAR), UAR, the `extra_metrics` asked for, per-class recall and the
  matrix itself."""
  recall = per_class_recall(matrix)
  return {
      'accuracy': accuracy(matrix),
      'war': accuracy(matrix),
      'uar': unweighted_average_recall(matrix),
      **{name: EXTRA_METRICS[name](matrix) for name in extra_metrics},
      'per_class_recall': {name: (None if np.isnan(r) else float(r))
                           for name, r in zip(class_names, recall)},
      'confusion_matrix': matrix.tolist(),
      'num_examples': int(matrix.sum()),
  }


def mean_per_video(values, videos, num_videos: int) -> np.ndarray:
  """`[num_videos, ...]`: the mean of the `values` rows (views) of each video (`videos`: the
  video of each row); a video with no row is an error."""
  values, videos = np.asarray(values, np.float64), np.asarray(videos, np.int64)
  counts = np.bincount(videos, minlength=num_videos)
  if len(counts) != num_videos or not counts.all():
    raise ValueError(f'views of {num_videos} videos expected, got views of '
                     f'{int(np.count_nonzero(counts))} (video positions up to {videos.max()})')
  sums = np.zeros((num_videos, *values.shape[1:]), np.float64)
  np.add.at(sums, videos, values)
  return sums / counts.reshape(-1, *[1] * (values.ndim - 1))


def softmax(logits) -> np.ndarray:
  logits = np.asarray(logits, np.float64)
  exp = np.exp(logits - logits.max(-1, keepdims=True))
  return exp / exp.sum(-1, keepdims=True)


def video_probabilities(logits, videos, num_videos: int, aggregate: str = 'logits') -> np.ndarray:
  """Class probabilities of each video from its views' logits: the softmax of their mean
  ('logits') or the mean of their softmaxes ('probabilities')."""
  if aggregate == 'logits':
    return softmax(mean_per_video(logits, videos, num_videos))
  if aggregate == 'probabilities':
    return mean_per_video(softmax(logits), videos, num_videos)
  raise ValueError(f"aggregate={aggregate!r}: expected one of {AGGREGATES}")


def per_video_labels(labels, videos, num_videos: int) -> np.ndarray:
  """The label of each video, from its views' labels."""
  out = np.zeros(num_videos, np.int64)
  out[np.asarray(videos, np.int64)] = labels
  return out
