"""End to end through launch.py on the generated dataset, including kill-and-resume."""
import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT

TINY = ['--config.dataset.config=tiny', '--config.num_frames=4', '--config.image_size=24',
        '--config.model.depth=10', '--config.model.width=4', '--config.model.num_heads=2',
        '--config.model.num_layers=1', '--config.batch_size=4', '--config.eval_batch_size=8',
        '--config.num_folds=3', '--config.log_every_steps=2', '--config.data_threads=1']


def _launch(workdir, tfds_dir, *extra, wait=True):
  cmd = [sys.executable, os.path.join(ROOT, 'launch.py'), '--config=' + os.path.join(
      ROOT, 'configs', 'demo.py'), f'--workdir={workdir}', f'--config.dataset.data_dir={tfds_dir}',
         *TINY, *extra]
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  if not wait:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=ROOT)
  proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
  return proc.stdout + proc.stderr


def _load(workdir):
  with open(os.path.join(workdir, 'results.json')) as f:
    return json.load(f)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, tfds_dir):
  workdir = str(tmp_path_factory.mktemp('run'))
  out = _launch(workdir, tfds_dir, '--config.num_epochs=2')
  return workdir, out


@pytest.mark.slow
def test_demo_runs_end_to_end(uninterrupted):
  workdir, out = uninterrupted
  results = _load(workdir)
  assert 'accuracy over 1 fold(s)' in out
  fold = results['folds']['0']
  assert fold['num_examples'] == 12 and len(fold['test_subjects']) == 2
  assert 0.0 <= results['accuracy']['mean'] <= 1.0
  assert sum(map(sum, results['confusion_matrix'])) == 12
  assert results['config']['model']['name'] == 'emotion_net'
  assert results['versions']['jax']
  # The zero-shot per-frame FER2013 baseline on the same test videos, beside the model.
  assert results['frame_baseline']['accuracy']['n'] == 1 and 'per-frame FER2013 baseline' in out
  assert fold['frame_baseline']['num_examples'] == 12
  for name in ('results.csv', 'confusion_matrix.png', 'folds.json', 'fold_0/curves.png',
               'fold_0/confusion_matrix.png'):
    assert os.path.getsize(os.path.join(workdir, name)) > 0
  assert results['views'] == fold['views'] == {'num_clips': 1, 'num_crops': 1, 'per_video': 1,
                                               'aggregate': 'logits'}
  assert 'with 1 view(s) per video (1 clip(s) x 1 crop(s), mean of logits)' in out
  with open(os.path.join(workdir, 'fold_0', 'predictions.csv')) as f:
    rows = list(csv.DictReader(f))
  names = results['class_names']
  assert list(rows[0]) == ['video_id', 'label', 'predicted', *[f'p_{c}' for c in names]]
  assert len(rows) == 12 and len({r['video_id'] for r in rows}) == 12
  assert {r['video_id'].split('_')[0] for r in rows} == set(fold['test_subjects'])
  hits = sum(r['label'] == r['predicted'] for r in rows)
  assert hits == sum(fold['confusion_matrix'][i][i] for i in range(len(names)))
  for r in rows:
    probs = [float(r[f'p_{c}']) for c in names]
    assert sum(probs) == pytest.approx(1.0, abs=1e-4)
    assert r['predicted'] == names[int(np.argmax(probs))]
    assert r['label'] == r['video_id'].split('_')[1]  # S003_fear_01 is a fear video
  fold_result = json.load(open(os.path.join(workdir, 'fold_0', 'result.json')))
  assert [h['epoch'] for h in fold_result['history']] == [1, 2]
  assert fold_result['config'] == results['config'] == json.load(
      open(os.path.join(workdir, 'fold_0', 'config.json')))
  events = os.listdir(os.path.join(workdir, 'fold_0', 'tensorboard'))
  assert any(e.startswith('events.out.tfevents') for e in events)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(uninterrupted, tmp_path, tfds_dir):
  reference = _load(uninterrupted[0])
  workdir = str(tmp_path / 'killed')
  proc = _launch(workdir, tfds_dir, '--config.num_epochs=2', '--config.checkpoint_every_steps=2',
                 wait=False)
  ckpt = os.path.join(workdir, 'fold_0', 'checkpoints')
  deadline = time.time() + 600
  while time.time() < deadline and proc.poll() is None:
    steps = [int(d) for d in os.listdir(ckpt) if d.isdigit()] if os.path.isdir(ckpt) else []
    if any(2 <= s < 12 for s in steps):  # mid-fold: 12 steps make the fold
      break
    time.sleep(0.2)
  assert proc.poll() is None, 'the run ended before it could be killed'
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not os.path.exists(os.path.join(workdir, 'results.json'))
  out = _launch(workdir, tfds_dir, '--config.num_epochs=2', '--config.checkpoint_every_steps=2')
  assert 'resumed at step' in out
  resumed = _load(workdir)
  for key in ('accuracy', 'uar', 'confusion_matrix'):
    assert resumed[key] == reference[key]
  fold, ref_fold = resumed['folds']['0'], reference['folds']['0']
  assert fold['steps'] == ref_fold['steps'] == 12
  history = json.load(open(os.path.join(workdir, 'fold_0', 'result.json')))['history']
  ref_history = json.load(open(os.path.join(uninterrupted[0], 'fold_0', 'result.json')))['history']
  assert [h['train_loss'] for h in history] == pytest.approx(
      [h['train_loss'] for h in ref_history], rel=1e-6)
  # Finished folds are not retrained.
  again = _launch(workdir, tfds_dir, '--config.num_epochs=2')
  assert 'already finished' in again


def test_bad_config_fails_at_start_naming_the_setting(tmp_path, tfds_dir):
  cmd = [sys.executable, os.path.join(ROOT, 'launch.py'),
         '--config=' + os.path.join(ROOT, 'configs', 'demo.py'), f'--workdir={tmp_path}',
         '--config.model.name=resnet9000']
  proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert proc.returncode != 0 and "config.model.name='resnet9000'" in proc.stderr
  proc = subprocess.run(cmd[:-1] + [f'--config.dataset.data_dir={tfds_dir}', *TINY,
                                    '--config.augment.crop_margin=0.5'],
                        capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert proc.returncode != 0 and 'config.augment.crop_margin=0.5 must be' in proc.stderr


def test_restore_returns_the_trained_model(uninterrupted, tfds_dir):
  """The restored variables are the run's last ones: they are not the initial weights, and they
  reproduce the fold's reported confusion matrix on its test videos."""
  import jax
  import tensorflow_datasets as tfds

  import emojax
  from emojax import models
  from emojax.data import folds, pipeline
  from emojax.train import metrics, state

  workdir, _ = uninterrupted
  restored = emojax.restore(workdir)
  config = restored.config
  assert config.model.width == 4 and restored.step == 12
  assert restored.class_names == ('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')
  init_rng = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), 0))[0]
  initial = state.create_train_state(restored.model, state.make_optimizer(config, 1), init_rng,
                                     models.input_shape(config)).params
  assert not all(jax.tree.leaves(jax.tree.map(np.array_equal, initial,
                                              restored.variables['params'])))
  source = tfds.data_source('synthetic_expressions/tiny', split='train', data_dir=tfds_dir)
  index = pipeline.read_index(source, restored.class_names)
  _, test = folds.split_indices(index.subjects, _load(workdir)['folds']['0']['test_subjects'])
  clips = np.stack([pipeline.eval_views(source[int(i)], config)['clip'][0] for i in test])
  logits = restored.model.apply(restored.variables, models.normalize_clip(clips), train=False)
  matrix = metrics.confusion_matrix(index.labels[test], np.argmax(logits, -1), config.num_classes)
  assert matrix.tolist() == _load(workdir)['folds']['0']['confusion_matrix']
  step_dir = os.path.join(workdir, 'fold_0', 'checkpoints', '6')
  assert emojax.restore(step_dir).step == 6
  with pytest.raises(FileNotFoundError, match='config.json'):
    emojax.restore(os.path.dirname(workdir))


def test_the_run_records_its_data_contract_and_restore_reads_it(uninterrupted):
  """synthetic_expressions/tiny: 8 stored frames per video at 20 fps; 4-frame clips at a fixed
  interval over the whole video; 32-pixel faces resized to 24 * 1.143 = 27, cut to 24."""
  import emojax
  workdir, _ = uninterrupted
  with open(os.path.join(workdir, 'data.json')) as f:
    written = json.load(f)
  record = emojax.restore(workdir).data
  assert record.to_json() == written
  assert written['dataset'] == 'synthetic_expressions/tiny/1.2.0'
  assert written['class_names'][0] == 'anger' and written['crop_size'] == 32
  assert written['fps'] == 20.0 and written['median_frames'] == 8 and written['num_frames'] == 4
  assert written['sampling'] == {'method': 'fixed_interval', 'num_fragments': 1, 'stride': 1}
  assert written['whole_video'] and written['span_frames'] == 8
  assert written['span_seconds'] == pytest.approx(0.4)
  assert written['image_size'] == 24 and written['resize_margin'] == pytest.approx(0.143)
  assert written['views'] == {'num_clips': 1, 'num_crops': 1, 'aggregate': 'logits'}


def test_restoring_for_inference_imports_no_training_code(uninterrupted):
  script = (f'import emojax, sys; emojax.restore({uninterrupted[0]!r}); '
            'print(" ".join(sorted(sys.modules)))')
  loaded = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          check=True, cwd=ROOT).stdout.split()
  assert [m for m in loaded if m.startswith(('emojax.train', 'optax', 'grain'))] == []


def test_a_workdir_made_with_another_config_stops_unless_told(make_config, tmp_path):
  from emojax import checkpoints
  from emojax.train import protocol
  old = make_config()
  checkpoints.save_config(old, str(tmp_path))
  (tmp_path / 'fold_0').mkdir()
  (tmp_path / 'notes.txt').write_text('mine')
  new = make_config(learning_rate=0.5, data_workers=3, **{'model.width': 8})
  listed = r'another config \(learning_rate: 0.001 -> 0.5; model.width: 4 -> 8\)\. '
  with pytest.raises(ValueError, match=listed):
    protocol.prepare_workdir(new, str(tmp_path))
  protocol.prepare_workdir(make_config(data_workers=3), str(tmp_path))  # how, not what: runs
  said = []
  protocol.prepare_workdir(new, str(tmp_path), resume_with_changed_config=True, log=said.append)
  assert 'continuing with a changed config (learning_rate: 0.001 -> 0.5' in said[0]
  protocol.prepare_workdir(new, str(tmp_path), overwrite=True)
  assert sorted(os.listdir(tmp_path)) == ['notes.txt']


def test_results_mark_a_fold_made_with_another_config(make_config):
  from emojax.train import report
  old, new = make_config(), make_config(learning_rate=0.5)
  result = {'accuracy': 0.5, 'history': [], 'config': json.loads(old.to_json())}
  assert report.fold_summary(result, new) == {
      'accuracy': 0.5, 'config_differs': ['learning_rate: 0.001 -> 0.5']}
  assert report.fold_summary(result, old) == {'accuracy': 0.5}


def test_epoch_means_cover_every_step_of_the_epoch():
  from emojax.train import loop
  progress = loop.FoldProgress()
  progress.add([{'loss': 1.0, 'accuracy': 0.0}] * 3, seconds=1.0)
  saved = loop.FoldProgress(**json.loads(json.dumps(dataclasses.asdict(progress))))  # a restart
  saved.add([{'loss': 3.0, 'accuracy': 1.0}], seconds=1.0)
  record = saved.end_epoch(batch_size=4)
  assert record == {'train_loss': 1.5, 'train_accuracy': 0.25, 'clips_per_s': 8.0}
  assert saved.steps == 0 and saved.loss_sum == 0.0
