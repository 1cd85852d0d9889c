"""Checkpoints move between device counts, and a damaged step is reported and passed over."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT

# Trains a fold of a tiny model on random videos (or resumes it) on however many devices the
# process has; prints what `emojax.restore` and the fold's own eval step predict on fixed clips.
TOPOLOGY_SCRIPT = r'''
import json, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
import jax, numpy as np
from conftest import tiny_config
from test_pipeline import _source
import emojax
from emojax import checkpoints, models
from emojax.train import loop, steps
workdir, epochs = sys.argv[1], int(sys.argv[2])
config = tiny_config(num_frames=4, image_size=16, batch_size=4, eval_batch_size=4,
                     num_epochs=epochs, num_classes=3, **{{'augment.crop_margin': 0.25}})
clips = models.normalize_clip(np.stack([ex['clip'][:4, 2:18, 2:18] for ex in _source(4)]))

def predict(restored):
  return np.asarray(restored.model.apply(restored.variables, clips, train=False)).tolist()

before = predict(emojax.restore(workdir)) if epochs > 1 else None
checkpoints.save_config(config, workdir)
data = loop.FoldData(_source(12), np.arange(8), np.arange(8, 12), ['a', 'b', 'c'])
log = []
loop.train_fold(config, workdir, data, log=log.append)
single = emojax.restore(workdir)
spread = emojax.restore(workdir, sharding=steps.replicated(steps.make_mesh()))
print('RESULT', json.dumps({{
    'devices': jax.device_count(), 'log': log, 'step': single.step, 'before': before,
    'restored_on': len(jax.tree.leaves(spread.variables)[0].sharding.device_set),
    'single': predict(single), 'spread': predict(spread)}}))
'''


def _run_fold(workdir, devices: int, epochs: int) -> dict:
  env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}',
             JAX_PLATFORMS='cpu')
  script = TOPOLOGY_SCRIPT.format(root=ROOT, tests=os.path.join(ROOT, 'tests'))
  proc = subprocess.run([sys.executable, '-c', script, str(workdir), str(epochs)], env=env,
                        capture_output=True, text=True, timeout=600, cwd=ROOT)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
  line = [x for x in proc.stdout.splitlines() if x.startswith('RESULT ')][-1]
  return json.loads(line[len('RESULT '):])


@pytest.mark.slow
def test_a_fold_saved_on_some_devices_restores_and_resumes_on_others(tmp_path):
  """Restore reads a checkpoint of another device count onto this machine's devices with the
  saving machine's predictions, and training resumes from it: saved on 4 devices, resumed on 1,
  then on 4 again (one chain, so each direction is crossed once)."""
  start = time.perf_counter()
  saved = _run_fold(tmp_path, 4, epochs=1)
  assert saved['devices'] == 4 and saved['restored_on'] == 4 and saved['step'] == 2
  np.testing.assert_allclose(saved['single'], saved['spread'], atol=1e-5)
  previous = saved
  for devices, epochs in ((1, 2), (4, 3)):
    moved = _run_fold(tmp_path, devices, epochs=epochs)
    assert moved['devices'] == devices and moved['restored_on'] == devices
    np.testing.assert_allclose(moved['before'], previous['spread'], atol=1e-5)
    assert f'fold 0: resumed at step {previous["step"]} (epoch {epochs - 1}.00)' in moved['log']
    assert moved['step'] == 2 * epochs
    np.testing.assert_allclose(moved['single'], moved['spread'], atol=1e-5)
    previous = moved
  print(f'4 -> 1 -> 4 devices: {time.perf_counter() - start:.1f} s')


def _save_steps(workdir, config, steps):
  """Saves `steps` checkpoints of a tiny model in `workdir/fold_0` (step k: the weights times k);
  returns the weights."""
  import jax
  import orbax.checkpoint as ocp

  from emojax import checkpoints, models

  checkpoints.save_config(config, workdir)
  model = models.create_model(config)
  variables = model.init(jax.random.key(0), np.zeros(models.input_shape(config), np.float32),
                         train=False)
  manager = checkpoints.checkpoint_manager(os.path.join(workdir, 'fold_0', 'checkpoints'), 5)
  for k in steps:
    state = {'params': jax.tree.map(lambda x: x * k, variables['params']),
             'batch_stats': variables['batch_stats'], 'step': k}
    manager.save(k, args=ocp.args.Composite(state=ocp.args.StandardSave(state)))
  manager.close()
  return variables


def test_a_damaged_newest_step_is_reported_and_the_one_before_restored(make_config, tmp_path):
  import jax

  import emojax
  config = make_config(num_classes=3)
  variables = _save_steps(str(tmp_path), config, (1, 2, 3))
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
