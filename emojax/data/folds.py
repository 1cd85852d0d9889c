"""Subject-independent splits: k-fold over subjects and leave-one-subject-out.

Folds are assigned to subjects, never clips, so no subject is in both the training and the test set
of a fold. The assignment depends only on the set of subject ids and the seed.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def subject_folds(subjects: Sequence[str], num_folds: int, seed: int = 0) -> list[list[str]]:
  """Test subjects of each of `num_folds` folds: a seeded permutation of the sorted unique subjects,
  cut into near-equal parts."""
  unique = sorted(set(subjects))
  if not 2 <= num_folds <= len(unique):
    raise ValueError(f'config.num_folds={num_folds} needs 2 <= folds <= number of subjects '
                     f'({len(unique)})')
  order = np.random.default_rng(seed).permutation(len(unique))
  return [sorted(unique[i] for i in part) for part in np.array_split(order, num_folds)]


def leave_one_subject_out(subjects: Sequence[str]) -> list[list[str]]:
  """One fold per subject, testing on that subject alone."""
  return [[s] for s in sorted(set(subjects))]


def make_folds(subjects: Sequence[str], protocol: str, num_folds: int, seed: int) -> list[list[str]]:
  """`protocol`: 'kfold' (subject k-fold) or 'loso' (leave one subject out)."""
  if protocol == 'kfold':
    return subject_folds(subjects, num_folds, seed)
  if protocol == 'loso':
    return leave_one_subject_out(subjects)
  raise ValueError(f"config.protocol={protocol!r}: expected 'kfold' or 'loso'")


def split_indices(example_subjects: Sequence[str], test_subjects: Sequence[str]):
  """`(train, test)` example indices: an example is in test iff its subject is a test subject."""
  is_test = np.isin(np.asarray(example_subjects), np.asarray(list(test_subjects)))
  return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def validation_subjects(train_subjects: Sequence[str], fraction: float, seed: int) -> list[str]:
  """A seeded subset of the training subjects (at least one) held out for early stopping."""
  unique = sorted(set(train_subjects))
  count = max(1, int(round(fraction * len(unique))))
  if count >= len(unique):
    raise ValueError(f'config.validation_fraction={fraction} leaves no training subject')
  chosen = np.random.default_rng(seed).choice(len(unique), count, replace=False)
  return sorted(unique[i] for i in chosen)
