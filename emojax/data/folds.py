"""Fold assignment: k-fold over subjects, leave-one-subject-out, and the datasets' own splits.

Subject folds are assigned to subjects, never clips, so no subject is in both the training and the
test set of a fold; the assignment depends only on the set of subject ids and the seed. The
official protocols follow the dataset's TFDS splits instead: 'official_split' trains, validates and
tests on the splits a config names (AFEW Train / Val, CHEAVD train / validation / test),
'official_folds' makes each split a test fold and trains on the others (DFEW's five folds).
'all' is one fold of every example with no test part: a masked autoencoder pretraining on
unlabelled video.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Sequence

import numpy as np

from emojax.errors import ConfigError

SUBJECT_PROTOCOLS = ('kfold', 'loso')
SPLIT_PROTOCOLS = ('official_split', 'official_folds')
# 'all': one fold that trains on every example and tests on none (pretraining without labels).
PROTOCOLS = SUBJECT_PROTOCOLS + SPLIT_PROTOCOLS + ('all',)


def subject_folds(subjects: Sequence[str], num_folds: int, seed: int = 0) -> list[list[str]]:
  """Test subjects of each of `num_folds` folds: a seeded permutation of the sorted unique subjects,
  cut into near-equal parts."""
  unique = sorted(set(subjects))
  if not 2 <= num_folds <= len(unique):
    raise ConfigError(f'config.num_folds={num_folds} needs 2 <= folds <= number of subjects '
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
  raise ConfigError(f'config.protocol={protocol!r}: expected one of {", ".join(PROTOCOLS)}')


def natural_order(names: Sequence[str]) -> list[str]:
  """Split names sorted so that 'fold_2' comes before 'fold_10'."""
  return sorted({str(n) for n in names}, key=lambda n: [int(t) if t.isdigit() else t for t in
                                           re.split(r'(\d+)', n)])


def split_names(value: str | Sequence[str]) -> tuple[str, ...]:
  """A config's split setting: 'train', 'train,validation' or a sequence -> names; '' -> ()."""
  parts = value.split(',') if isinstance(value, str) else list(value)
  return tuple(p.strip() for p in parts if p.strip())


def official_split_indices(example_splits: Sequence[str], train, test, validation=()):
  """`(train, validation, test)` indices of the examples in the named splits (each a name, a
  comma-separated string or a sequence); `validation` is None when no split is named.

  Raises ConfigError, naming the `config.splits` setting, for a split the dataset lacks, an empty
  part, or a split named in two parts (a test example must never train or validate).
  """
  example_splits = np.asarray(example_splits)
  present = natural_order(example_splits.tolist())
  parts = {'train': split_names(train), 'validation': split_names(validation),
           'test': split_names(test)}
  for part, names in parts.items():
    for name in names:
      if name not in present:
        raise ConfigError(f'config.splits.{part}={",".join(names)!r}: the dataset has no split '
                         f'{name!r} (it has {", ".join(present)})')
  for part in ('train', 'test'):
    if not parts[part]:
      raise ConfigError(f'config.splits.{part} is empty: name the split(s) to {part} on')
  named = [n for names in parts.values() for n in names]
  if len(set(named)) != len(named):
    raise ConfigError(f'config.splits: a split is named twice ({parts}); train, validation and '
                     'test must not share examples')
  found = {part: np.flatnonzero(np.isin(example_splits, names)) for part, names in parts.items()}
  return found['train'], (found['validation'] if parts['validation'] else None), found['test']


def official_folds(example_splits: Sequence[str]) -> list[list[str]]:
  """One fold per split of the dataset, testing on that split alone (in natural order)."""
  names = natural_order(list(example_splits))
  if len(names) < 2:
    raise ConfigError(f"config.protocol='official_folds' needs a dataset with several splits "
                     f'(its folds); this one has {names}')
  return [[name] for name in names]


def split_indices(example_subjects: Sequence[str], test_subjects: Sequence[str]):
  """`(train, test)` example indices: an example is in test iff its subject is a test subject."""
  is_test = np.isin(np.asarray(example_subjects), np.asarray(list(test_subjects)))
  return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def validation_subjects(train_subjects: Sequence[str], fraction: float, seed: int) -> list[str]:
  """A seeded subset of the training subjects (at least one) held out for early stopping."""
  unique = sorted(set(train_subjects))
  count = max(1, int(round(fraction * len(unique))))
  if count >= len(unique):
    raise ConfigError(f'config.validation_fraction={fraction} leaves no training subject')
  chosen = np.random.default_rng(seed).choice(len(unique), count, replace=False)
  return sorted(unique[i] for i in chosen)


@dataclasses.dataclass(frozen=True)
class Fold:
  """One fold of a protocol: the example indices it trains, validates (early stopping; None
  without) and tests on, and what it holds out: test subjects, or (`by_split`) the names of its
  test splits."""
  held_out: tuple[str, ...]
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
  val_subjects = validation_subjects(subjects[train], config.validation_fraction, seed)
  is_val = np.isin(subjects[train], val_subjects)
  return train[~is_val], train[is_val]


def fold_plan(config, subjects, example_splits) -> list[Fold]:
  """Every fold of `config.protocol` over examples with these subjects and split names.

  Validation (early stopping) always comes from the training part, or is an official validation
  split, never from the test part.
  """
  subjects, example_splits = np.asarray(subjects), np.asarray(example_splits)
  if config.protocol == 'all':
    return [Fold((), np.arange(len(subjects)), None, np.zeros(0, np.int64))]
  if config.protocol == 'official_split':
    splits = config.splits
    train, validation, test = official_split_indices(
        example_splits, splits.train, splits.test, splits.validation)
    if validation is None:
      train, validation = _validation_from_training(config, subjects, train, config.fold_seed)
    return [Fold(split_names(splits.test), train, validation, test, True)]
  if config.protocol == 'official_folds':
    assignment, values, by_split = official_folds(example_splits), example_splits, True
  else:
    assignment = make_folds(subjects, config.protocol, config.num_folds, config.fold_seed)
    values, by_split = subjects, False
  plan = []
  for k, held_out in enumerate(assignment):
    train, test = split_indices(values, held_out)
    train, validation = _validation_from_training(config, subjects, train, config.fold_seed + k)
    plan.append(Fold(tuple(held_out), train, validation, test, by_split))
  return plan
