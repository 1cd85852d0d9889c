"""Datasets released with official folds as lists of test clips (DFEW, MAFW).

Each fold is one TFDS split holding its test list (`fold_1` ... `fold_5`); fold k trains on the
other folds' test sets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from etils import epath

from tfds_builders import common, layouts

log = logging.getLogger(__name__)

Rows = tuple[list[tuple[str, object, int]], list[common.Skipped]]


def fold_splits(test_lists: dict[int, epath.Path], read_rows: Callable[[epath.Path], Rows],
                source_of: Callable[[str, object], common.Source | str]):
  """Sources per fold, skipped entries (by list file and line), and the fold of each listed clip.

  `read_rows(path)` gives `(clip, label, line)` rows and skipped lines; `source_of(clip, label)`
  gives the clip's source, or why it is missing.
  """
  folds, skipped, fold_of = {}, [], {}
  for k, path in test_lists.items():
    rows, bad = read_rows(path)
    skipped.extend(bad)
    sources = []
    for clip, label, line in rows:
      where = f'{path}:{line}'
      if clip in fold_of:
        skipped.append(common.Skipped(where, f'duplicate: clip {clip} is in {fold_of[clip]}'))
        continue
      fold_of[clip] = layouts.fold_name(k)
      source = source_of(clip, label)
      if isinstance(source, str):
        skipped.append(common.Skipped(where, f'missing: clip {clip}: {source}'))
        continue
      sources.append(source)
    folds[layouts.fold_name(k)] = sources
  return folds, skipped, fold_of


def warn_if_train_lists_differ(dataset: str, train_lists: dict[int, epath.Path],
                               read_rows: Callable[[epath.Path], Rows],
                               fold_of: dict[str, str]) -> None:
  """Warns when a fold's train list is not the union of the other folds' test lists."""
  for k, path in train_lists.items():
    train = {clip for clip, _, _ in read_rows(path)[0]}
    others = {c for c, f in fold_of.items() if f != layouts.fold_name(k)}
    if train != others:
      log.warning("%s %s: its train list has %d clips, the other folds' test lists %d (%d "
                  "differ); folds train on the other folds' test sets", dataset, path, len(train),
                  len(others), len(train ^ others))
