"""Protocols that follow a dataset's own splits, the metrics they report, and the CHEAVD recipe's
optimizer settings (exponential decay per epoch, L1 on kernels)."""
import csv
import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import default
from emojax.data import folds
from emojax.train import datasets, metrics, protocol, report, state as state_lib

from conftest import set_fields


def _config(**overrides):
  config = default.get_config()
  set_fields(config, overrides)
  return config


# Examples: 3 per subject; subjects s0-s9 in 'train', s10-s13 in 'validation', s14-s19 in 'test'.
SUBJECTS = np.repeat([f's{i}' for i in range(20)], 3)
SPLITS = np.array(['train'] * 30 + ['validation'] * 12 + ['test'] * 18)
FOLD_SPLITS = np.array([f'fold_{k}' for k in (1, 2, 3, 4, 5)] * 12)
CLIP_SUBJECTS = np.array([f'{i:05d}' for i in range(60)])  # DFEW: one "subject" per clip


def _check_disjoint(fold):
  train, test = set(fold.train), set(fold.test)
  validation = set() if fold.validation is None else set(fold.validation)
  assert train and test and not train & test and not validation & test and not train & validation


def test_official_split_trains_validates_and_tests_on_the_named_splits():
  config = _config(protocol='official_split', **{'splits.validation': 'validation'})
  fold, = protocol.fold_plan(config, SUBJECTS, SPLITS)
  _check_disjoint(fold)
  assert set(SPLITS[fold.train]) == {'train'} and len(fold.train) == 30
  assert set(SPLITS[fold.validation]) == {'validation'}
  assert set(SPLITS[fold.test]) == {'test'} and fold.held_out == ['test']
  assert fold.held_out_key == 'test_splits'


def test_official_split_validation_comes_from_the_training_part_only():
  config = _config(protocol='official_split', validation_fraction=0.2,
                   **{'splits.test': 'validation'})
  fold, = protocol.fold_plan(config, SUBJECTS, SPLITS)
  _check_disjoint(fold)
  assert set(SPLITS[fold.validation]) == {'train'} and set(SPLITS[fold.test]) == {'validation'}
  assert len(set(SUBJECTS[fold.validation])) == 2  # 20% of the 10 training subjects
  assert not set(SUBJECTS[fold.validation]) & set(SUBJECTS[fold.train])
  assert not np.isin(fold.train, np.flatnonzero(SPLITS == 'test')).any()  # test split unused


def test_official_folds_test_on_each_split_and_train_on_the_others():
  config = _config(protocol='official_folds', validation_fraction=0.1)
  plan = protocol.fold_plan(config, CLIP_SUBJECTS, FOLD_SPLITS)
  assert [f.held_out for f in plan] == [[f'fold_{k}'] for k in range(1, 6)]
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
  plan = protocol.fold_plan(_config(protocol='loso', validation_fraction=0.1), SUBJECTS, SPLITS)
  assert len(plan) == 20 and plan[0].held_out_key == 'test_subjects'
  for fold in plan:
    _check_disjoint(fold)
    assert set(SUBJECTS[fold.test]) == set(fold.held_out)
    assert not set(SUBJECTS[fold.train]) & set(fold.held_out)


@pytest.mark.parametrize('overrides, message', [
    ({'splits.test': 'tset'}, "config.splits.test='tset': the dataset has no split 'tset'"),
    ({'splits.train': 'train,test'}, 'a split is named twice'),
    ({'splits.train': ''}, 'config.splits.train is empty'),
    ({'splits.validation': 'validation', 'validation_fraction': 0.1}, 'set one'),
])
def test_official_split_settings_that_cannot_work_name_themselves(overrides, message):
  with pytest.raises(ValueError, match=message):
    protocol.fold_plan(_config(protocol='official_split', **overrides), SUBJECTS, SPLITS)


def test_official_folds_need_several_splits_and_protocols_are_checked():
  with pytest.raises(ValueError, match="'official_folds' needs a dataset with several splits"):
    protocol.fold_plan(_config(protocol='official_folds'), SUBJECTS, np.full(60, 'train'))
  with pytest.raises(ValueError, match="config.protocol='holdout'"):
    folds.check_protocol('holdout')


def test_concat_source_reads_the_splits_in_order():
  source = datasets.ConcatSource([['a0', 'a1'], [], ['b0'], ['c0', 'c1', 'c2']])
  assert len(source) == 6
  assert [source[i] for i in range(6)] == ['a0', 'a1', 'b0', 'c0', 'c1', 'c2']
  with pytest.raises(IndexError):
    source[6]
  assert folds.natural_order(['fold_10', 'fold_2', 'fold_1', 'fold_2']) == [
      'fold_1', 'fold_2', 'fold_10']


# ---------------------------------------------------------------------------
# Metrics on a hand-computed confusion matrix (rows true, columns predicted).

MATRIX = np.array([[3, 1, 0, 0],   # class 0: 4 examples, 3 right
                   [0, 2, 0, 0],   # class 1: 2 examples, both right
                   [2, 0, 0, 0],   # class 2: 2 examples, never predicted
                   [0, 0, 0, 0]])  # class 3: absent from labels and predictions


def test_war_uar_and_macro_precision_by_hand():
  assert metrics.accuracy(MATRIX) == pytest.approx(5 / 8)  # WAR
  assert metrics.unweighted_average_recall(MATRIX) == pytest.approx((3 / 4 + 1 + 0) / 3)
  # Precision: class 0 3/5, class 1 2/3, class 2 0 (has examples, never predicted); class 3 absent.
  assert metrics.macro_precision(MATRIX) == pytest.approx((3 / 5 + 2 / 3 + 0) / 3)
  summary = metrics.summarize(MATRIX, ['a', 'b', 'c', 'd'], ('macro_precision',))
  assert summary['war'] == summary['accuracy'] == pytest.approx(5 / 8)
  assert summary['macro_precision'] == pytest.approx(0.42222, abs=1e-5)
  assert 'macro_precision' not in metrics.summarize(MATRIX, ['a', 'b', 'c', 'd'])
  with pytest.raises(ValueError, match="config.extra_metrics: unknown \\['map'\\]"):
    metrics.summarize(MATRIX, ['a', 'b', 'c', 'd'], ('map',))


def test_results_report_war_uar_and_extra_metrics_per_fold_and_mean(tmp_path):
  config = _config(protocol='official_folds', extra_metrics=('macro_precision',))
  other = np.array([[4, 0, 0, 0], [1, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]])
  results = {}
  for k, (matrix, split) in enumerate(((MATRIX, 'fold_1'), (other, 'fold_2'))):
    results[k] = {**metrics.summarize(matrix, list('abcd'), config.extra_metrics),
                  'test_splits': [split], 'steps': 3}
  summary = report.write_results(str(tmp_path), results, [['fold_1'], ['fold_2']], list('abcd'),
                                 config)
  war = (5 / 8, 7 / 8)
  assert summary['war']['mean'] == pytest.approx(np.mean(war))
  assert summary['uar']['mean'] == pytest.approx(np.mean([(3 / 4 + 1) / 3, (1 + 0.5 + 1) / 3]))
  assert summary['macro_precision']['mean'] == pytest.approx(
      np.mean([(3 / 5 + 2 / 3) / 3, (4 / 5 + 1 + 1) / 3]))
  with open(tmp_path / 'results.csv') as f:
    rows = list(csv.DictReader(f))
  assert [r['held_out'] for r in rows[:2]] == ['fold_1', 'fold_2']
  assert [r['fold'] for r in rows[2:]] == ['mean', 'std']
  assert float(rows[0]['war']) == pytest.approx(0.625, abs=1e-4)
  assert float(rows[2]['macro_precision']) == pytest.approx(summary['macro_precision']['mean'],
                                                            abs=1e-4)
  assert json.load(open(tmp_path / 'results.json'))['folds']['1']['test_splits'] == ['fold_2']


# ---------------------------------------------------------------------------
# The CHEAVD recipe's optimizer settings.

def test_exponential_schedule_decays_once_per_epoch():
  config = _config(schedule='exponential', learning_rate=0.005, lr_decay_per_epoch=0.99)
  schedule = state_lib.learning_rate_schedule(config, steps_per_epoch=10)
  assert float(schedule(0)) == pytest.approx(0.005) and float(schedule(9)) == pytest.approx(0.005)
  assert float(schedule(10)) == pytest.approx(0.005 * 0.99)
  assert float(schedule(35)) == pytest.approx(0.005 * 0.99 ** 3)


def test_l1_adds_the_sign_of_every_kernel_to_its_gradient():
  params = {'dense': {'kernel': jnp.array([[2.0, -3.0], [0.0, 1.0]]),
                      'bias': jnp.array([1.0, -1.0])}}
  grads = jax.tree.map(lambda p: jnp.full_like(p, 0.25), params)
  l1 = state_lib.add_l1_gradient(0.5)
  updates, _ = l1.update(grads, l1.init(params), params)
  np.testing.assert_allclose(updates['dense']['kernel'], [[0.75, -0.25], [0.25, 0.75]])
  np.testing.assert_allclose(updates['dense']['bias'], 0.25)  # biases carry no penalty
  for strength in (0.0, 0.5):  # and make_optimizer applies it only when config.l1 is set
    tx = state_lib.make_optimizer(_config(optimizer='sgd', learning_rate=1.0, l1=strength), 1)
    zero = jax.tree.map(jnp.zeros_like, params)
    step, _ = tx.update(zero, tx.init(params), params)
    assert bool(np.any(step['dense']['kernel'])) == bool(strength)
    assert not np.any(step['dense']['bias'])


def test_configs_of_the_official_protocols():
  from configs import afew_rfscnn, cheavd_attention_lstm, dfew
  cheavd = cheavd_attention_lstm.get_config()
  assert (cheavd.protocol, cheavd.splits.train, cheavd.splits.validation, cheavd.splits.test) == (
      'official_split', 'train', 'validation', 'test')
  assert (cheavd.learning_rate, cheavd.schedule, cheavd.lr_decay_per_epoch, cheavd.l1) == (
      0.005, 'exponential', 0.99, 1e-4)
  assert cheavd.early_stopping_patience > 0 and cheavd.extra_metrics == ('macro_precision',)
  afew = afew_rfscnn.get_config()
  assert (afew.splits.train, afew.splits.test, afew.dataset.name) == ('train', 'validation', 'afew')
  assert dfew.get_config().protocol == 'official_folds'
  assert isinstance(cheavd.splits, ml_collections.ConfigDict)
  assert os.path.exists(os.path.join(os.path.dirname(default.__file__), 'ckplus.py'))
