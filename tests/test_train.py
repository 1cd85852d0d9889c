import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from emojax import models
from emojax.train import metrics, state as state_lib, steps

from conftest import ROOT


def _tiny_state(make_config, **overrides):
  config = make_config(**overrides)
  model = models.create_model(config)
  tx = state_lib.make_optimizer(config, steps_per_epoch=10)
  return config, state_lib.create_train_state(model, tx, jax.random.key(0),
                                              models.input_shape(config))


def _batch(config, n=4, seed=0):
  rng = np.random.default_rng(seed)
  shape = (n, config.num_frames, config.image_size, config.image_size, 3)
  return {'clip': rng.integers(0, 256, shape, dtype=np.uint8),
          'label': (np.arange(n) % config.num_classes).astype(np.int32)}


def test_tiny_model_overfits_a_tiny_batch(make_config):
  config, state = _tiny_state(make_config, learning_rate=3e-3, schedule='constant')
  mesh = steps.make_mesh()
  train_fn, eval_fn = steps.compile_steps(mesh)
  batch = steps.shard_batch(_batch(config), mesh)
  rng = steps.replicate(jax.random.key(1), mesh)
  for _ in range(60):
    state, m = train_fn(state, batch, rng)
  assert float(m['accuracy']) == 1.0 and float(m['loss']) < 0.2
  logits = eval_fn(state, batch)
  assert np.mean(np.argmax(logits, -1) == np.asarray(batch['label'])) == 1.0


def test_train_step_updates_batch_stats_and_step(make_config):
  config, state = _tiny_state(make_config)
  before = jax.tree.leaves(state.batch_stats)[0].copy()
  new, m = jax.jit(steps.train_step)(state, _batch(config), jax.random.key(0))
  assert int(new.step) == 1 and np.isfinite(float(m['loss']))
  assert not np.allclose(before, jax.tree.leaves(new.batch_stats)[0])


SHARDED_SCRIPT = r'''
import jax, numpy as np, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from conftest import tiny_config
from test_train import _tiny_state, _batch
from emojax.train import steps
assert jax.device_count() == 4, jax.devices()
losses = {{}}
for n in (1, 4):
  config, state = _tiny_state(tiny_config, batch_size=8)
  mesh = steps.make_mesh(jax.devices()[:n])
  state = steps.replicate(state, mesh)
  train_fn, eval_fn = steps.compile_steps(mesh)
  rng = steps.replicate(jax.random.key(1), mesh)
  out = []
  for i in range(3):
    batch = steps.shard_batch(_batch(config, n=8, seed=i), mesh)
    state, m = train_fn(state, batch, rng)
    out.append(float(m['loss']))
  assert len(state.params['head']['kernel'].sharding.device_set) == n
  losses[n] = (out, np.asarray(eval_fn(state, batch)).tolist())
print('RESULT', losses[1][0], losses[4][0])
np.testing.assert_allclose(losses[1][0], losses[4][0], rtol=2e-4)
np.testing.assert_allclose(losses[1][1], losses[4][1], rtol=1e-2, atol=1e-2)  # 3 Adam steps amplify reduction-order noise
print('OK')
'''


def test_sharded_step_equals_single_device_step():
  """Batch split over 4 (fake CPU) devices: same losses and predictions as on one device."""
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4',
             JAX_PLATFORMS='cpu')
  script = SHARDED_SCRIPT.format(root=ROOT, tests=os.path.join(ROOT, 'tests'))
  proc = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True,
                        timeout=600)
  assert proc.returncode == 0 and 'OK' in proc.stdout, proc.stdout + proc.stderr[-3000:]


def test_metrics():
  matrix = metrics.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 4)
  assert matrix.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
  assert metrics.accuracy(matrix) == pytest.approx(4 / 6)
  recall = metrics.per_class_recall(matrix)
  np.testing.assert_allclose(recall[:3], [0.5, 1.0, 2 / 3])
  assert np.isnan(recall[3])
  assert metrics.unweighted_average_recall(matrix) == pytest.approx((0.5 + 1 + 2 / 3) / 3)
  summary = metrics.summarize(matrix, ['a', 'b', 'c', 'd'])
  assert summary['per_class_recall']['d'] is None and summary['num_examples'] == 6
  json.dumps(summary)


@pytest.mark.parametrize('schedule', ['constant', 'cosine', 'step'])
def test_learning_rate_schedules(make_config, schedule):
  config = make_config(schedule=schedule, learning_rate=1e-3, num_epochs=10, warmup_epochs=1.0,
                       lr_decay_epochs=(5,))
  fn = state_lib.learning_rate_schedule(config, steps_per_epoch=10)
  assert float(fn(0)) == 0.0 and float(fn(10)) == pytest.approx(1e-3)
  if schedule == 'step':
    assert float(fn(60)) == pytest.approx(1e-4)
  if schedule == 'cosine':
    assert float(fn(99)) < 1e-5


def test_bad_schedule_and_optimizer_name_the_setting(make_config):
  with pytest.raises(ValueError, match="config.schedule='linear'"):
    state_lib.learning_rate_schedule(make_config(schedule='linear'), 10)
  with pytest.raises(ValueError, match="config.optimizer='rmsprop'"):
    state_lib.make_optimizer(make_config(optimizer='rmsprop'), 10)
