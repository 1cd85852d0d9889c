"""Checkpoints move between device counts, and a damaged step is reported and passed over."""
import time

import numpy as np
import pytest

from conftest import clip_variables, save_run, script_result, tiny_config

# Trains a fold of the tiny frame classifier on random videos (or resumes it) on however many devices the
# process has; prints what `emojax.restore` predicts on fixed clips.
TOPOLOGY_SCRIPT = r'''
import json, sys
import jax, numpy as np
from conftest import CLASS_NAMES, random_source, tiny_config
import emojax
from emojax import checkpoints, datasets, models, sharding
from emojax.data import folds, record
from emojax.train import loop
workdir, epochs = sys.argv[1], int(sys.argv[2])
config = tiny_config('frame_cnn', num_epochs=epochs, report_frame_baseline=False)
clips = models.normalize_clip(np.stack([ex['clip'][:4, 4:28, 4:28]
                                        for ex in random_source(4, frames=8, size=32)]))

def predict(restored):
  return np.asarray(restored.model.apply(restored.variables, clips, train=False)).tolist()

before = predict(emojax.restore(workdir)) if epochs > 1 else None
source = random_source(12, frames=8, size=32, num_classes=6)
stored = {'dataset': 'random', 'class_names': CLASS_NAMES, 'crop_size': 32, 'crop_margin': 0.2,
          'flow_method': '', 'align': True, 'key_frame_interval': 5, 'given_faces': False}
dataset = datasets.Dataset(source, datasets.read_index(source, ['train'] * 12), stored)
checkpoints.save_config(config, workdir)
record.save(record.DataRecord.for_run(stored, config, 10.0, 8), workdir)
fold = folds.Fold(('S4', 'S5'), np.arange(8), None, np.arange(8, 12))
log = []
loop.train_fold(config, workdir, dataset, fold, 0, workdir, log=log.append)
single = emojax.restore(workdir)
spread = emojax.restore(workdir, sharding=sharding.replicated(sharding.make_mesh()))
print('RESULT', json.dumps({
    'devices': jax.device_count(), 'log': log, 'step': single.step, 'before': before,
    'restored_on': len(jax.tree.leaves(spread.variables)[0].sharding.device_set),
    'single': predict(single), 'spread': predict(spread)}))
'''


@pytest.mark.slow
def test_a_fold_saved_on_some_devices_restores_and_resumes_on_others(tmp_path):
  """Restore reads a checkpoint of another device count onto this machine's devices with the
  saving machine's predictions, and training resumes from it: saved on 4 devices, resumed on 1,
  then on 4 again (one chain, so each direction is crossed once)."""
  start = time.perf_counter()
  saved = script_result(TOPOLOGY_SCRIPT, tmp_path, 1, devices=4)
  assert saved['devices'] == 4 and saved['restored_on'] == 4 and saved['step'] == 2
  np.testing.assert_allclose(saved['single'], saved['spread'], atol=1e-5)
  previous = saved
  for devices, epochs in ((1, 2), (4, 3)):
    moved = script_result(TOPOLOGY_SCRIPT, tmp_path, epochs, devices=devices)
    assert moved['devices'] == devices and moved['restored_on'] == devices
    np.testing.assert_allclose(moved['before'], previous['spread'], atol=1e-5)
    assert f'fold 0: resumed at step {previous["step"]} (epoch {epochs - 1}.00)' in moved['log']
    assert moved['step'] == 2 * epochs
    np.testing.assert_allclose(moved['single'], moved['spread'], atol=1e-5)
    previous = moved
  print(f'4 -> 1 -> 4 devices: {time.perf_counter() - start:.1f} s')


def test_a_damaged_newest_step_is_reported_and_the_one_before_restored(tmp_path):
  import jax

  import emojax
  from emojax import models
  config = tiny_config()
  model = models.create_model(config)
  variables = clip_variables(model, config)
  save_run(str(tmp_path), config, {k: {'params': jax.tree.map(lambda x: x * k, variables[
      'params']), 'batch_stats': variables['batch_stats']} for k in (1, 2, 3)})
  checkpoints_dir = tmp_path / 'fold_0' / 'checkpoints'
  for path in (checkpoints_dir / '3').rglob('*'):  # half-written: every file cut short
    if path.is_file() and path.stat().st_size > 16:
      path.write_bytes(path.read_bytes()[:16])
  for path in (checkpoints_dir / '2' / 'state').rglob('*'):  # garbage in the arrays
    if path.is_file():
      path.write_bytes(b'\0' * max(path.stat().st_size, 64))
  reported = []
  restored = emojax.restore(str(tmp_path), log=reported.append)
  assert restored.step == 1
  assert [line.split(': cannot')[0] for line in reported] == [
      f'{checkpoints_dir}/3', f'{checkpoints_dir}/2']
  assert reported[0].endswith('trying step 2') and reported[1].endswith('trying step 1')
  assert all(jax.tree.leaves(jax.tree.map(np.array_equal, restored.variables['params'],
                                          variables['params'])))
