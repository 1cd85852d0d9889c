"""Fold plans: subject k-fold and leave-one-subject-out without leakage, and the protocols that
follow a dataset's own splits; validation always from the training part."""
import numpy as np
import pytest

from emojax.data import folds

from conftest import tiny_config

SUBJECTS = [f'P{i:03d}' for i in range(1, 81)]


def _examples():
  """Six sequences per subject, as Oulu-CASIA has, in shuffled order."""
  ex = np.repeat(SUBJECTS, 6)
  return ex[np.random.default_rng(0).permutation(len(ex))]


def test_kfold_partitions_subjects_without_leakage():
  assignment = folds.subject_folds(_examples(), 10, seed=3)
  assert len(assignment) == 10 and all(len(f) == 8 for f in assignment)
  assert sorted(s for f in assignment for s in f) == SUBJECTS
  examples = _examples()
  covered = np.zeros(len(examples), int)
  for test_subjects in assignment:
    train, test = folds.split_indices(examples, test_subjects)
    assert not set(examples[train]) & set(examples[test])
    assert set(examples[test]) == set(test_subjects)
    assert len(train) + len(test) == len(examples)
    covered[test] += 1
  assert (covered == 1).all()


def test_kfold_is_deterministic_and_seeded():
  a = folds.subject_folds(_examples(), 10, seed=0)
  assert a == folds.subject_folds(list(reversed(_examples())), 10, seed=0)
  assert a != folds.subject_folds(_examples(), 10, seed=1)


def test_leave_one_subject_out():
  assignment = folds.make_folds(['s2', 's1', 's2', 's10'], 'loso', 0, 0)
  assert assignment == [['s1'], ['s10'], ['s2']]


def test_bad_protocol_and_fold_count_name_the_setting():
  with pytest.raises(ValueError, match="config.protocol='holdout'"):
    folds.make_folds(SUBJECTS, 'holdout', 10, 0)
  with pytest.raises(ValueError, match='config.num_folds=81'):
    folds.subject_folds(SUBJECTS, 81)


def test_validation_subjects_come_from_training_subjects():
  train = SUBJECTS[:72]
  val = folds.validation_subjects(train, 0.1, seed=0)
  assert len(val) == 7 and set(val) <= set(train)


# Examples: 3 per subject; subjects s0-s9 in 'train', s10-s13 in 'validation', s14-s19 in 'test'.
SPLIT_SUBJECTS = np.repeat([f's{i}' for i in range(20)], 3)
SPLITS = np.array(['train'] * 30 + ['validation'] * 12 + ['test'] * 18)
FOLD_SPLITS = np.array([f'fold_{k}' for k in (1, 2, 3, 4, 5)] * 12)
CLIP_SUBJECTS = np.array([f'{i:05d}' for i in range(60)])  # DFEW: one "subject" per clip


def _plan(subjects, splits, **fields):
  return folds.fold_plan(tiny_config(**{'num_folds': 0, **fields}), subjects, splits)


def _check_disjoint(fold):
  train, test = set(fold.train), set(fold.test)
  validation = set() if fold.validation is None else set(fold.validation)
  assert train and test and not train & test and not validation & test and not train & validation


def test_official_split_trains_validates_and_tests_on_the_named_splits():
  fold, = _plan(SPLIT_SUBJECTS, SPLITS, protocol='official_split',
                **{'splits.validation': 'validation'})
  _check_disjoint(fold)
  assert set(SPLITS[fold.train]) == {'train'} and len(fold.train) == 30
  assert set(SPLITS[fold.validation]) == {'validation'}
  assert set(SPLITS[fold.test]) == {'test'} and fold.held_out == ('test',)
  assert fold.held_out_key == 'test_splits'


def test_official_split_validation_comes_from_the_training_part_only():
  fold, = _plan(SPLIT_SUBJECTS, SPLITS, protocol='official_split', validation_fraction=0.2,
                **{'splits.test': 'validation'})
  _check_disjoint(fold)
  assert set(SPLITS[fold.validation]) == {'train'} and set(SPLITS[fold.test]) == {'validation'}
  assert len(set(SPLIT_SUBJECTS[fold.validation])) == 2  # 20% of the 10 training subjects
  assert not set(SPLIT_SUBJECTS[fold.validation]) & set(SPLIT_SUBJECTS[fold.train])
  assert not np.isin(fold.train, np.flatnonzero(SPLITS == 'test')).any()  # test split unused


def test_official_folds_test_on_each_split_and_train_on_the_others():
  plan = _plan(CLIP_SUBJECTS, FOLD_SPLITS, protocol='official_folds', validation_fraction=0.1)
  assert [f.held_out for f in plan] == [(f'fold_{k}',) for k in range(1, 6)]
  covered = np.zeros(len(FOLD_SPLITS), int)
  for fold in plan:
    _check_disjoint(fold)
    assert set(FOLD_SPLITS[fold.test]) == set(fold.held_out)
    assert not set(FOLD_SPLITS[fold.train]) & set(fold.held_out)
    assert not set(FOLD_SPLITS[fold.validation]) & set(fold.held_out)
    assert len(fold.train) + len(fold.validation) == 48
    covered[fold.test] += 1
  assert (covered == 1).all()


def test_subject_protocols_keep_their_folds_on_a_pooled_dataset():
  plan = _plan(SPLIT_SUBJECTS, SPLITS, protocol='loso', validation_fraction=0.1)
  assert len(plan) == 20 and plan[0].held_out_key == 'test_subjects'
  for fold in plan:
    _check_disjoint(fold)
    assert set(SPLIT_SUBJECTS[fold.test]) == set(fold.held_out)
    assert not set(SPLIT_SUBJECTS[fold.train]) & set(fold.held_out)


@pytest.mark.parametrize('overrides, message', [
    ({'splits.test': 'tset'}, "config.splits.test='tset': the dataset has no split 'tset'"),
    ({'splits.train': 'train,test'}, 'a split is named twice'),
    ({'splits.train': ''}, 'config.splits.train is empty'),
])
def test_official_splits_that_the_dataset_lacks_or_shares_name_themselves(overrides, message):
  with pytest.raises(ValueError, match=message):
    _plan(SPLIT_SUBJECTS, SPLITS, protocol='official_split', **overrides)


def test_official_folds_need_several_splits():
  with pytest.raises(ValueError, match="'official_folds' needs a dataset with several splits"):
    _plan(SPLIT_SUBJECTS, np.full(60, 'train'), protocol='official_folds')


def test_split_names_sort_naturally():
  assert folds.natural_order(['fold_10', 'fold_2', 'fold_1', 'fold_2']) == [
      'fold_1', 'fold_2', 'fold_10']
