"""A run from its config to results.json (the tiny demo run, shared; launch.py itself runs in
test_multihost.py and test_errors.py), what it leaves for later use (checkpoints that restore the
trained model, its data record), finished folds kept, stages before their run, and a workdir that
keeps the config and the layout that made it."""
import csv
import json
import os
import shutil

import jax
import numpy as np
import pytest

from emojax import checkpoints
from emojax.data import record as record_lib
from emojax.errors import DataError
from emojax.train import protocol

from conftest import CLASS_NAMES, param_paths, run_python, tiny_config, tiny_two_stage_config


def test_the_demo_runs_end_to_end(demo_run):
  results, out = demo_run.json('results.json'), demo_run.output
  fold = results['folds']['0']
  history = demo_run.json('fold_0/result.json')['history']
  assert 'accuracy over 1 fold(s)' in out and results['class_names'] == list(CLASS_NAMES)
  assert fold['num_examples'] == 12 and len(fold['test_subjects']) == 2
  assert sum(map(sum, results['confusion_matrix'])) == 12
  assert fold['steps'] == 4 * len(history) and [h['epoch'] for h in history] == list(
      range(1, len(history) + 1))
  assert all('val_accuracy' in h for h in history)
  # The zero-shot per-frame FER2013 baseline on the same test videos, beside the model.
  assert results['frame_baseline']['accuracy']['n'] == 1 and 'per-frame FER2013 baseline' in out
  assert fold['frame_baseline']['num_examples'] == 12
  for name in ('results.csv', 'confusion_matrix.png', 'folds.json', 'fold_0/curves.png',
               'fold_0/confusion_matrix.png'):
    assert os.path.getsize(os.path.join(demo_run.workdir, name)) > 0
  assert results['views'] == fold['views'] == {'num_clips': 1, 'num_crops': 1, 'per_video': 1,
                                               'aggregate': 'logits', 'flip': False}
  assert 'with 1 view(s) per video (1 clip(s) x 1 crop(s), mean of logits)' in out
  with open(os.path.join(demo_run.workdir, 'fold_0', 'predictions.csv')) as f:
    rows = list(csv.DictReader(f))
  assert list(rows[0]) == ['video_id', 'label', 'predicted', *[f'p_{c}' for c in CLASS_NAMES]]
  assert len(rows) == 12 and {r['video_id'].split('_')[0] for r in rows} == set(
      fold['test_subjects'])
  hits = sum(r['label'] == r['predicted'] for r in rows)
  assert hits == sum(fold['confusion_matrix'][i][i] for i in range(len(CLASS_NAMES)))
  for r in rows:
    probs = [float(r[f'p_{c}']) for c in CLASS_NAMES]
    assert sum(probs) == pytest.approx(1.0, abs=1e-4)
    assert r['predicted'] == CLASS_NAMES[int(np.argmax(probs))]
    assert r['label'] == r['video_id'].split('_')[1]  # S003_fear_01 is a fear video
  assert results['config'] == demo_run.json('fold_0/result.json')['config'] == demo_run.json(
      'fold_0/config.json')
  events = os.listdir(os.path.join(demo_run.workdir, 'fold_0', 'tensorboard'))
  assert any(e.startswith('events.out.tfevents') for e in events)


def test_restore_returns_the_trained_model(demo_run):
  """The restored variables are the run's last: they reproduce the fold's reported confusion
  matrix on its test videos. A step folder restores that step."""
  import emojax
  from emojax import datasets, models
  from emojax.data import folds
  from emojax.evaluate import metrics, views

  restored = emojax.restore(demo_run.workdir)
  config, fold = restored.config, demo_run.json('fold_0/result.json')
  assert restored.step == fold['steps'] and restored.class_names == CLASS_NAMES
  dataset = datasets.load(config)
  test = folds.fold_plan(config, dataset.index.subjects, dataset.index.splits)[0].test
  clips = np.stack([views.video_views(dataset.source[int(i)], config)['clip'][0] for i in test])
  logits = jax.jit(lambda v, x: restored.model.apply(v, models.normalize_clip(x), train=False))(
      restored.variables, clips)
  matrix = metrics.confusion_matrix(dataset.index.labels[test], np.argmax(logits, -1), 6)
  assert matrix.tolist() == fold['confusion_matrix']
  steps_dir = os.path.join(demo_run.workdir, 'fold_0', 'checkpoints')
  older = min(int(s) for s in os.listdir(steps_dir) if s.isdigit())
  assert older < restored.step and emojax.restore(os.path.join(steps_dir, str(older))).step == older
  with pytest.raises(DataError, match='config.json'):
    emojax.restore(os.path.dirname(demo_run.workdir))


def test_every_parameter_and_batch_norm_statistic_of_the_demo_model_trains(demo_run):
  """Between the fold's two kept checkpoints (2 steps apart) every parameter and running statistic
  moved: Adam moves each parameter the gradient ever reached (a parameter no gradient reaches, e.g.
  behind a layer that drops it, keeps its value)."""
  import emojax
  steps_dir = os.path.join(demo_run.workdir, 'fold_0', 'checkpoints')
  older, newer = (emojax.restore(os.path.join(steps_dir, s)).variables
                  for s in sorted((s for s in os.listdir(steps_dir) if s.isdigit()), key=int))
  for collection in ('params', 'batch_stats'):
    before, after = param_paths(older[collection]), param_paths(newer[collection])
    assert before.keys() == after.keys() and before
    unchanged = [path for path in before if np.array_equal(before[path], after[path])]
    assert not unchanged, f'{collection} that did not train: {unchanged}'


def test_the_run_records_its_data_and_restore_reads_it(demo_run):
  """synthetic_expressions/tiny: 8 stored frames per video at 20 fps; 4-frame clips at a fixed
  interval over the whole video; 32-pixel faces resized to 24 * 1.143 = 27, cut to 24."""
  import emojax
  written = demo_run.json(record_lib.DATA_FILE)
  assert emojax.restore(demo_run.workdir).data.to_json() == written
  assert written['format'] == record_lib.FORMAT and written['flow_method'] == ''
  assert written['dataset'] == 'synthetic_expressions/tiny/1.2.0'
  assert written['class_names'] == list(CLASS_NAMES) and written['crop_size'] == 32
  assert written['fps'] == 20.0 and written['median_frames'] == 8 and written['num_frames'] == 4
  assert written['whole_video'] and written['span_frames'] == 8
  assert written['span_seconds'] == pytest.approx(0.4)
  assert written['image_size'] == 24 and written['resize_margin'] == pytest.approx(0.143)


def test_restoring_for_inference_imports_no_training_code(demo_run):
  proc = run_python(['-c', f'import emojax, sys; emojax.restore({demo_run.workdir!r}); '
                     'print(" ".join(sorted(sys.modules)))'])
  assert proc.returncode == 0, proc.stderr[-3000:]
  loaded = proc.stdout.split()
  assert [m for m in loaded if m.startswith(('emojax.train', 'optax', 'grain'))] == []


def test_finished_folds_are_not_trained_again(demo_run, tmp_path):
  workdir = str(tmp_path / 'run')
  shutil.copytree(demo_run.workdir, workdir)
  config = checkpoints.read_config(os.path.join(workdir, checkpoints.CONFIG_FILE))
  steps = sorted(os.listdir(os.path.join(workdir, 'fold_0', 'checkpoints')))
  logs = []
  summary = protocol.train_and_evaluate(config, workdir, log=logs.append)
  assert 'fold 0: already finished, accuracy' in ' '.join(logs)
  assert summary['accuracy'] == demo_run.json('results.json')['accuracy']
  assert sorted(os.listdir(os.path.join(workdir, 'fold_0', 'checkpoints'))) == steps


def test_a_workdir_made_with_another_config_stops_unless_told(tmp_path):
  old = tiny_config()
  checkpoints.save_config(old, str(tmp_path))
  (tmp_path / 'fold_0').mkdir()
  (tmp_path / 'stages').mkdir()
  (tmp_path / 'notes.txt').write_text('mine')
  new = tiny_config(learning_rate=0.5, data_workers=3, **{'model.width': 8})
  listed = r'another config \(learning_rate: 0.001 -> 0.5; model.width: 4 -> 8\)\. '
  with pytest.raises(DataError, match=listed):
    protocol.prepare_workdir(new, str(tmp_path))
  protocol.prepare_workdir(tiny_config(data_workers=3), str(tmp_path))  # how, not what: runs
  said = []
  protocol.prepare_workdir(new, str(tmp_path), resume_with_changed_config=True, log=said.append)
  assert 'continuing with a changed config (learning_rate: 0.001 -> 0.5' in said[0]
  protocol.prepare_workdir(new, str(tmp_path), overwrite=True)
  assert sorted(os.listdir(tmp_path)) == ['notes.txt']


def test_a_workdir_of_another_layout_is_refused_naming_the_version(tmp_path):
  config = tiny_config()
  checkpoints.save_config(config, str(tmp_path))
  with open(tmp_path / record_lib.DATA_FILE, 'w') as f:
    json.dump({'dataset': 'synthetic_expressions/tiny/1.2.0', 'class_names': list(CLASS_NAMES),
               'crop_size': 32}, f)  # as emojax 0.1 wrote it
  with pytest.raises(DataError, match=rf'data.json: written by an emojax from before workdir '
                     rf'format {record_lib.FORMAT} \(emojax 0.1\)'):
    protocol.prepare_workdir(config, str(tmp_path))


def test_the_dataset_sets_the_class_count_of_the_run_and_its_stages():
  stored = {'class_names': ('a', 'b', 'c'), 'crop_margin': 0.2}
  config = protocol.with_dataset_facts(tiny_two_stage_config(num_classes=0), stored)
  assert config.num_classes == 3
  assert [stage.num_classes for stage in config.stages.values()] == [3, 3]


def test_each_fold_trains_its_stages_fold_first(tmp_path, tfds_dir, monkeypatch):
  """Fold K of a run with stages: each stage's fold K (in W/stages/NAME, as a run of its own),
  then the run's; a finished stage fold is not trained again."""
  from emojax import datasets, sharding
  from emojax.data import folds
  from emojax.train import loop
  trained = []

  def train_fold(config, fold_dir, *args, **kwargs):
    trained.append(os.path.relpath(fold_dir, tmp_path))
    return {'accuracy': 0.5, 'uar': 0.5, 'confusion_matrix': np.eye(6, dtype=int).tolist(),
            'history': []}

  monkeypatch.setattr(loop, 'train_fold', train_fold)
  config = tiny_two_stage_config(**{'dataset.data_dir': tfds_dir})
  dataset = datasets.load(config)
  plan = folds.fold_plan(config, dataset.index.subjects, dataset.index.splits)
  mesh = sharding.make_mesh()
  os.makedirs(tmp_path / 'stages' / 'temporal' / 'fold_1')
  (tmp_path / 'stages' / 'temporal' / 'fold_1' / 'result.json').write_text(json.dumps(
      {'accuracy': 0.25}))
  for k in (0, 1):
    protocol.run_fold(config, str(tmp_path), dataset, plan, k, mesh, log=lambda message: None)
  assert trained == ['stages/spatial/fold_0', 'stages/temporal/fold_0', 'fold_0',
                     'stages/spatial/fold_1', 'fold_1']
  assert json.load(open(tmp_path / 'fold_1' / 'result.json'))['test_subjects'] == list(
      plan[1].held_out)
