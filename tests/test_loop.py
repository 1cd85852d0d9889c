"""One fold's training loop, in-process on the tiny config and data: a fold stopped anywhere
resumes to the numbers of the demo run's fold, which ran through; early stopping stops (and stays
stopped); a damaged newest checkpoint is set aside and trained again."""
import dataclasses
import json
import logging
import os
import shutil

import jax
import pytest

from emojax.data import folds
from emojax.evaluate import apply
from emojax.train import loop

from conftest import DEMO_RUN, Killed, die_after_steps, tiny_config

def _train(tfds_dir, dataset, fold_dir, log=None, **fields):
  """Fold 0 of the demo run's config (`DEMO_RUN`: 4 steps an epoch, a checkpoint every 2 steps
  of which the newest 2 are kept; validation) in `fold_dir`, with `fields` changed."""
  config = tiny_config(**{'dataset.data_dir': tfds_dir, **DEMO_RUN, **fields})
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
def reference(demo_run):
  """The demo run's fold 0, which ran through: its folder and numbers."""
  return os.path.join(demo_run.workdir, 'fold_0'), _numbers(demo_run.json('fold_0/result.json'))


def test_a_fold_killed_mid_epoch_resumes_to_the_uninterrupted_numbers(
    reference, tfds_dir, tiny_dataset, tmp_path, monkeypatch):
  """Killed in its last step (its last checkpoint: 2 steps before the end, mid-epoch), run again:
  the same epochs, training means and final test result as the fold that ran through."""
  fold_dir, steps = str(tmp_path / 'fold_0'), reference[1]['steps']
  die_after_steps(monkeypatch, steps - 1)
  with pytest.raises(Killed):
    _train(tfds_dir, tiny_dataset, fold_dir)
  monkeypatch.undo()
  logs = []
  assert _numbers(_train(tfds_dir, tiny_dataset, fold_dir, logs.append)) == reference[1]
  assert f'fold 0: resumed at step {steps - 2} (epoch {(steps - 2) / 4:.2f})' in logs


def test_a_damaged_newest_checkpoint_is_set_aside_and_trained_again(
    reference, tfds_dir, tiny_dataset, tmp_path):
  fold_dir, steps = str(tmp_path / 'fold_0'), reference[1]['steps']
  shutil.copytree(reference[0], fold_dir)
  checkpoints = os.path.join(fold_dir, 'checkpoints')
  assert sorted(os.listdir(checkpoints), key=int) == [str(steps - 2), str(steps)]
  for directory, _, files in os.walk(os.path.join(checkpoints, str(steps))):  # half-written
    for name in files:
      path = os.path.join(directory, name)
      with open(path, 'r+b') as f:
        f.truncate(min(os.path.getsize(path), 16))
  logs = []
  assert _numbers(_train(tfds_dir, tiny_dataset, fold_dir, logs.append)) == reference[1]
  assert logs[0].startswith(f'{checkpoints}/{steps}: cannot be restored') and logs[0].endswith(
      f'trying step {steps - 2}')
  assert logs[1] == f'fold 0: resumed at step {steps - 2} (epoch {(steps - 2) / 4:.2f})'
  assert sorted(os.listdir(checkpoints)) == sorted([str(steps - 2), str(steps),
                                                    f'{steps}.unrestorable'])


def test_a_fold_after_the_first_in_a_process_traces_and_compiles_nothing_again(
    reference, tfds_dir, tiny_dataset, tmp_path, caplog):
  """The demo run's fold 0 resumed 2 steps before its end, in the process that ran it (the
  programs of a fold are made once per process for equal models, optimizers and meshes): its train
  steps, evaluations and the frame baseline reuse the first fold's programs."""
  fold_dir, steps = str(tmp_path / 'fold_0'), reference[1]['steps']
  shutil.copytree(reference[0], fold_dir)
  shutil.rmtree(os.path.join(fold_dir, 'checkpoints', str(steps)))
  with jax.log_compiles(True), caplog.at_level(logging.WARNING):
    assert _numbers(_train(tfds_dir, tiny_dataset, fold_dir)) == reference[1]
  made = [r.getMessage() for r in caplog.records if r.getMessage().startswith(
      ('Finished tracing', 'Compiling'))]
  assert not made, made


@pytest.mark.parametrize('patience, validation, stop', [
    (1, [0.5, 0.5], 2),  # no better than the best: no patience left
    (2, [0.5, 0.4, 0.6, 0.6, 0.6], 5),  # a better epoch gives the patience back
])
def test_early_stopping_stops_when_validation_stops_improving_and_stays_stopped(
    patience, validation, stop, tfds_dir, tiny_dataset, tmp_path, monkeypatch):
  """Validation accuracies scripted epoch by epoch (the test accuracy: 0.25); a checkpoint at the
  end of each epoch only."""
  scores = iter(validation)
  fold_dir = str(tmp_path / 'fold_0')
  settings = dict(num_epochs=6, early_stopping_patience=patience, report_frame_baseline=False,
                  checkpoint_every_steps=4)

  def scripted(fn, variables, source, indices, config, mesh):
    return next(scores) if len(indices) == 6 else 0.25  # the 6 videos of 1 validation subject

  monkeypatch.setattr(apply, 'accuracy', scripted)
  logs = []
  result = _train(tfds_dir, tiny_dataset, fold_dir, logs.append, **settings)
  assert [h['val_accuracy'] for h in result['history']] == validation
  assert result['steps'] == 4 * stop and f'fold 0: early stop at epoch {stop}' in logs
  again = _train(tfds_dir, tiny_dataset, fold_dir, **settings)
  assert again['steps'] == result['steps'] and again['history'] == result['history']


def test_epoch_means_cover_every_step_of_the_epoch_across_a_restart():
  progress = loop.FoldProgress()
  progress.add([{'loss': 1.0, 'accuracy': 0.0}] * 3, seconds=1.0)
  saved = loop.FoldProgress(**json.loads(json.dumps(dataclasses.asdict(progress))))  # a restart
  saved.add([{'loss': 3.0, 'accuracy': 1.0}], seconds=1.0)
  record = saved.end_epoch(batch_size=4)
  assert record == {'train_loss': 1.5, 'train_accuracy': 0.25, 'clips_per_s': 8.0}
  assert saved.steps == 0 and saved.sums == {}
