"""Classification metrics on host numpy arrays: accuracy, per-class recall, UAR, confusion matrix."""
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


def summarize(matrix: np.ndarray, class_names) -> dict:
  """JSON-ready accuracy, UAR, per-class recall and the matrix itself."""
  recall = per_class_recall(matrix)
  return {
      'accuracy': accuracy(matrix),
      'uar': unweighted_average_recall(matrix),
      'per_class_recall': {name: (None if np.isnan(r) else float(r))
                           for name, r in zip(class_names, recall)},
      'confusion_matrix': matrix.tolist(),
      'num_examples': int(matrix.sum()),
  }
