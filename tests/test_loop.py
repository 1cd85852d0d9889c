"""One fold's training loop, in-process on the tiny config and data: a fold stopped anywhere
resumes to the uninterrupted fold's numbers, early stopping stops (and stays stopped), and a
damaged newest checkpoint is set aside and trained again."""
import dataclasses
import json
import os
import shutil

import pytest

from emojax.data import folds
from emojax.evaluate import apply
from emojax.train import loop

from conftest import Killed, die_after_steps, tiny_config

# 18 training videos (a quarter of the 4 training subjects validates): 4 steps an epoch, 8 in all,
# a checkpoint every 2 steps of which the newest 2 are kept.
RUN = {'num_epochs': 2, 'checkpoint_every_steps': 2, 'keep_checkpoints': 2,
       'validation_fraction': 0.25, 'early_stopping_patience': 5, 'report_frame_baseline': False}


def _train(tfds_dir, dataset, fold_dir, log=None, **fields):
  config = tiny_config(**{'dataset.data_dir': tfds_dir, **RUN, **fields})
  fold = folds.fold_plan(config, dataset.index.subjects, dataset.index.splits)[0]
  os.makedirs(fold_dir, exist_ok=True)
  return loop.train_fold(config, str(fold_dir), dataset, fold, 0, os.path.dirname(fold_dir),
                         log=log or (lambda message: None))


def _numbers(result):
  """What a fold computed: its final metrics and every epoch's, without the timings."""
  history = [{k: v for k, v in h.items() if k != 'clips_per_s'} for h in result['history']]
  return {'history': history, 'steps': result['steps'],
          **{k: result[k] for k in ('accuracy', 'uar', 'confusion_matrix')}}


@pytest.fixture(scope='module')
def reference(tmp_path_factory, tfds_dir, tiny_dataset):
  fold_dir = str(tmp_path_factory.mktemp('reference') / 'fold_0')
  return fold_dir, _numbers(_train(tfds_dir, tiny_dataset, fold_dir))


def test_a_fold_killed_mid_epoch_resumes_to_the_uninterrupted_numbers(
    reference, tfds_dir, tiny_dataset, tmp_path, monkeypatch):
  """Killed in step 8 of 8 (its last checkpoint: step 6, mid-epoch), run again: the same epochs,
  training means and final test result as the fold that ran through."""
  fold_dir = str(tmp_path / 'fold_0')
  die_after_steps(monkeypatch, 7)
  with pytest.raises(Killed):
    _train(tfds_dir, tiny_dataset, fold_dir)
  monkeypatch.undo()
  logs = []
  assert _numbers(_train(tfds_dir, tiny_dataset, fold_dir, logs.append)) == reference[1]
  assert 'fold 0: resumed at step 6 (epoch 1.50)' in logs


def test_a_damaged_newest_checkpoint_is_set_aside_and_trained_again(
    reference, tfds_dir, tiny_dataset, tmp_path):
  fold_dir = str(tmp_path / 'fold_0')
  shutil.copytree(reference[0], fold_dir)
  checkpoints = os.path.join(fold_dir, 'checkpoints')
  assert sorted(os.listdir(checkpoints)) == ['6', '8']
  for directory, _, files in os.walk(os.path.join(checkpoints, '8')):  # half-written
    for name in files:
      path = os.path.join(directory, name)
      with open(path, 'r+b') as f:
        f.truncate(min(os.path.getsize(path), 16))
  logs = []
  assert _numbers(_train(tfds_dir, tiny_dataset, fold_dir, logs.append)) == reference[1]
  assert logs[0].startswith(f'{checkpoints}/8: cannot be restored') and logs[0].endswith(
      'trying step 6')
  assert logs[1] == 'fold 0: resumed at step 6 (epoch 1.50)'
  assert sorted(os.listdir(checkpoints)) == ['6', '8', '8.unrestorable']


@pytest.mark.parametrize('patience, validation, stop', [
    (1, [0.5, 0.5], 2),  # no better than the best: no patience left
    (2, [0.5, 0.4, 0.6, 0.6, 0.6], 5),  # a better epoch gives the patience back
])
def test_early_stopping_stops_when_validation_stops_improving_and_stays_stopped(
    patience, validation, stop, tfds_dir, tiny_dataset, tmp_path, monkeypatch):
  """Validation accuracies scripted epoch by epoch (the test accuracy: 0.25)."""
  scores = iter(validation)
  fold_dir = str(tmp_path / 'fold_0')

  def scripted(fn, variables, source, indices, config, mesh):
    return next(scores) if len(indices) == 6 else 0.25  # the 6 videos of 1 validation subject

  monkeypatch.setattr(apply, 'accuracy', scripted)
  logs = []
  result = _train(tfds_dir, tiny_dataset, fold_dir, logs.append, num_epochs=6,
                  early_stopping_patience=patience)
  assert [h['val_accuracy'] for h in result['history']] == validation
  assert result['steps'] == 4 * stop and f'fold 0: early stop at epoch {stop}' in logs
  again = _train(tfds_dir, tiny_dataset, fold_dir, num_epochs=6, early_stopping_patience=patience)
  assert again['steps'] == result['steps'] and again['history'] == result['history']


def test_epoch_means_cover_every_step_of_the_epoch_across_a_restart():
  progress = loop.FoldProgress()
  progress.add([{'loss': 1.0, 'accuracy': 0.0}] * 3, seconds=1.0)
  saved = loop.FoldProgress(**json.loads(json.dumps(dataclasses.asdict(progress))))  # a restart
  saved.add([{'loss': 3.0, 'accuracy': 1.0}], seconds=1.0)
  record = saved.end_epoch(batch_size=4)
  assert record == {'train_loss': 1.5, 'train_accuracy': 0.25, 'clips_per_s': 8.0}
  assert saved.steps == 0 and saved.sums == {}
