import numpy as np
import pytest

from emojax.data import folds

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
