"""Results files of a run: per fold and mean ± std of WAR, UAR and the config's extra metrics, the
frame baseline beside the model, folds made with another config marked, a stage's own results."""
import csv
import json

import numpy as np
import pytest

from emojax.evaluate import metrics
from emojax.train import report

from conftest import CLASS_NAMES, tiny_config

MATRIX = np.array([[3, 1, 0, 0], [0, 2, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]])
OTHER = np.array([[4, 0, 0, 0], [1, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]])


def _fold(matrix, split, config, **extra):
  return {**metrics.summarize(matrix, list('abcd'), config.extra_metrics), 'test_splits': [split],
          'steps': 3, 'history': [], 'config': json.loads(config.to_json()), **extra}


def test_results_report_war_uar_and_extra_metrics_per_fold_and_mean(tmp_path):
  config = tiny_config(extra_metrics=('macro_precision',))
  results = {0: _fold(MATRIX, 'fold_1', config), 1: _fold(OTHER, 'fold_2', config)}
  summary = report.write_results(str(tmp_path), results, [['fold_1'], ['fold_2']], list('abcd'),
                                 config)
  assert summary['war']['mean'] == pytest.approx(np.mean((5 / 8, 7 / 8)))
  assert summary['uar']['mean'] == pytest.approx(np.mean([(3 / 4 + 1) / 3, (1 + 0.5 + 1) / 3]))
  assert summary['macro_precision']['mean'] == pytest.approx(
      np.mean([(3 / 5 + 2 / 3) / 3, (4 / 5 + 1 + 1) / 3]))
  assert summary['confusion_matrix'] == (MATRIX + OTHER).tolist()
  with open(tmp_path / 'results.csv') as f:
    rows = list(csv.DictReader(f))
  assert [r['held_out'] for r in rows[:2]] == ['fold_1', 'fold_2']
  assert [r['fold'] for r in rows[2:]] == ['mean', 'std']
  assert float(rows[0]['war']) == pytest.approx(0.625, abs=1e-4)
  assert float(rows[2]['macro_precision']) == pytest.approx(summary['macro_precision']['mean'],
                                                            abs=1e-4)
  assert json.load(open(tmp_path / 'results.json'))['folds']['1']['test_splits'] == ['fold_2']


def test_results_state_the_frame_baseline_beside_the_model(tmp_path):
  config = tiny_config()
  six = np.eye(6, dtype=int)

  def fold(accuracy, baseline_accuracy):
    return {**metrics.summarize(six, CLASS_NAMES), 'accuracy': accuracy, 'test_subjects': ['s1'],
            'steps': 1, 'config': json.loads(config.to_json()),
            'frame_baseline': {'accuracy': baseline_accuracy, 'uar': baseline_accuracy / 2,
                               'classes_mapped': dict(zip(CLASS_NAMES, CLASS_NAMES))}}

  results = report.write_results(str(tmp_path), {0: fold(0.5, 0.25), 1: fold(0.7, 0.75)},
                                 [['s1'], ['s2']], CLASS_NAMES, config)
  assert results['frame_baseline']['accuracy']['mean'] == pytest.approx(0.5)
  assert results['frame_baseline']['uar']['mean'] == pytest.approx(0.25)
  assert json.load(open(tmp_path / 'results.json'))['frame_baseline']['zero_shot'] is True
  with open(tmp_path / 'results.csv') as f:
    rows = list(csv.DictReader(f))
  assert [r['frame_baseline_accuracy'] for r in rows] == ['0.2500', '0.7500', '0.5000', '0.2500']


def test_results_mark_a_fold_made_with_another_config():
  old, new = tiny_config(), tiny_config(learning_rate=0.5)
  result = {'accuracy': 0.5, 'history': [], 'config': json.loads(old.to_json())}
  assert report.fold_summary(result, new) == {
      'accuracy': 0.5, 'config_differs': ['learning_rate: 0.001 -> 0.5']}
  assert report.fold_summary(result, old) == {'accuracy': 0.5}


def test_a_stage_reports_its_finished_folds_as_a_run(tmp_path):
  config = tiny_config()
  stage = tmp_path / 'stages' / 'spatial'
  assert report.write_stage_results(str(stage), config, [['fold_1']], list('abcd')) is None
  (stage / 'fold_1').mkdir(parents=True)
  (stage / 'fold_0').mkdir()  # unfinished: no result.json
  json.dump(_fold(OTHER, 'fold_2', config), open(stage / 'fold_1' / 'result.json', 'w'))
  summary = report.write_stage_results(str(stage), config, [['fold_1'], ['fold_2']],
                                       list('abcd'))
  assert list(summary['folds']) == ['1'] and summary['accuracy']['mean'] == pytest.approx(7 / 8)
  assert json.load(open(stage / 'results.json'))['accuracy']['n'] == 1
