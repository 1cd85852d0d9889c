"""The one train step and the optimizer: every model trains through the step (clip or per-frame
logits), BatchNorm statistics and the step count move, learning-rate schedules, L1 on kernels,
frozen parameters."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from emojax import models, sharding
from emojax.errors import ConfigError
from emojax.train import state as state_lib, steps

from conftest import (TINY_MODELS, first_fast, param_paths, random_batch, tiny_config,
                      tiny_input_shape, tiny_model)


def _state(model, tx, shape):
  """A train state, initialised under jit (eager initialisation compiles op by op: slow)."""
  return jax.jit(lambda: state_lib.create_train_state(model, tx, jax.random.key(0), shape))()


def _perturbed(params, scale=0.1, seed=2):
  """Zero-initialised parameters (residual scales, peepholes, biases) would hide the layers behind
  them from the gradient."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda p: p + scale * rng.standard_normal(p.shape).astype(p.dtype), params)


# The quickest to compile in the fast tier; the others' programs take 8-20 s each (the demo's model,
# in the fast tier: every parameter of the finished demo run moved, tests/test_protocol.py).
@pytest.mark.parametrize('name', first_fast(
    ['frame_cnn', *sorted(set(TINY_MODELS) - {'frame_cnn'})], one_argument=True))
def test_the_train_step_trains_every_model(name):
  """The sharded step, on every registered model (the frame classifier's per-frame logits too):
  its gradient reaches every parameter (Adam's first step moves each one it reaches), BatchNorm
  statistics move, and the loss of a fixed batch falls."""
  model = tiny_model(name)
  # The demo's own rate for its model (the same program as a run's step); product fusion of tiny
  # features starts slowly.
  config = tiny_config(learning_rate={'emotion_net': 1e-3, 'rfscnn': 3e-2}.get(name, 3e-3))
  shape = tiny_input_shape(name, 4)
  state = _state(model, state_lib.make_optimizer(config, 6), shape)
  state = state.replace(params=_perturbed(state.params))
  mesh = sharding.make_mesh()
  train_fn = steps.compile_train_step(mesh)
  batch = sharding.shard_batch(random_batch(shape), mesh)
  rng = sharding.replicate(jax.random.key(1), mesh)
  before = jax.device_get((state.params, state.batch_stats))
  losses = []
  for _ in range(12):
    state, metrics = train_fn(state, batch, rng)
    losses.append(float(metrics['loss']))
    if len(losses) == 1:
      first = param_paths(jax.device_get(state.params))
      unreached = [p for p, v in param_paths(before[0]).items() if np.array_equal(v, first[p])]
      assert not unreached, f'parameters without gradient: {unreached}'
      stats = jax.device_get(state.batch_stats)
      assert all(not np.array_equal(v, param_paths(stats)[p])
                 for p, v in param_paths(before[1]).items())
  assert int(state.step) == 12
  assert np.isfinite(losses).all() and losses[-1] < 0.8 * losses[0], losses


class _PerFrame(nn.Module):
  """Per-frame logits `[B, T, 3]` from each frame's mean pixel."""

  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(3)(x.mean(axis=(2, 3)))


def test_per_frame_logits_label_every_frame_with_its_clips_label():
  model = _PerFrame()
  state = _state(model, optax.sgd(0.0), (2, 3, 4, 4, 3))
  rng = np.random.default_rng(0)
  batch = {'clip': rng.integers(0, 256, (2, 3, 4, 4, 3), dtype=np.uint8),
           'label': np.array([2, 0], np.int32)}
  _, metrics = jax.jit(steps.train_step)(state, batch, jax.random.key(0))
  logits = model.apply({'params': state.params}, models.normalize_clip(batch['clip']))
  frame_labels = np.array([[2, 2, 2], [0, 0, 0]])
  want = optax.softmax_cross_entropy_with_integer_labels(logits, frame_labels).mean()
  assert float(metrics['loss']) == pytest.approx(float(want), rel=1e-5)
  assert float(metrics['accuracy']) == pytest.approx(
      float(np.mean(np.argmax(logits, -1) == frame_labels)))


# Learning rate at steps of 10-step epochs: 1 epoch of warm-up from 0, then 1e-3 decaying over 10
# epochs as each schedule says ('step': x0.1 at epoch 5; 'exponential': x0.9 after every epoch).
SCHEDULES = {
    'constant': {0: 0.0, 10: 1e-3, 60: 1e-3, 99: 1e-3},
    'cosine': {0: 0.0, 10: 1e-3, 55: 0.5e-3, 100: 0.0},
    'step': {0: 0.0, 10: 1e-3, 49: 1e-3, 50: 1e-4, 99: 1e-4},
    'exponential': {0: 0.0, 10: 1e-3, 19: 1e-3, 20: 0.9e-3, 45: 0.9 ** 3 * 1e-3},
}


@pytest.mark.parametrize('schedule', sorted(SCHEDULES))
def test_learning_rate_schedules(schedule):
  config = tiny_config(schedule=schedule, learning_rate=1e-3, num_epochs=10, warmup_epochs=1.0,
                       lr_decay_epochs=(5,), lr_decay_per_epoch=0.9)
  fn = state_lib.learning_rate_schedule(config, steps_per_epoch=10)
  for step, want in SCHEDULES[schedule].items():
    assert float(fn(step)) == pytest.approx(want, abs=2e-7), step


def test_bad_schedule_and_optimizer_name_the_setting():
  with pytest.raises(ConfigError, match="config.schedule='linear'"):
    state_lib.learning_rate_schedule(tiny_config(schedule='linear'), 10)
  with pytest.raises(ConfigError, match="config.optimizer='rmsprop'"):
    state_lib.make_optimizer(tiny_config(optimizer='rmsprop'), 10)


def test_l1_adds_the_sign_of_every_kernel_to_its_gradient():
  params = {'dense': {'kernel': jnp.array([[2.0, -3.0], [0.0, 1.0]]),
                      'bias': jnp.array([1.0, -1.0])}}
  grads = jax.tree.map(lambda p: jnp.full_like(p, 0.25), params)
  l1 = state_lib.add_l1_gradient(0.5)
  updates, _ = l1.update(grads, l1.init(params), params)
  np.testing.assert_allclose(updates['dense']['kernel'], [[0.75, -0.25], [0.25, 0.75]])
  np.testing.assert_allclose(updates['dense']['bias'], 0.25)  # biases carry no penalty
  for strength in (0.0, 0.5):  # and make_optimizer applies it only when config.l1 is set
    tx = state_lib.make_optimizer(tiny_config(optimizer='sgd', learning_rate=1.0, l1=strength), 1)
    zero = jax.tree.map(jnp.zeros_like, params)
    step, _ = tx.update(zero, tx.init(params), params)
    assert bool(np.any(step['dense']['kernel'])) == bool(strength)
    assert not np.any(step['dense']['bias'])


def test_frozen_mask_by_path_prefix():
  params = {'cnn': {'conv_0': {'kernel': 1}, 'conv_0_bn': {'scale': 2}, 'fc_0': {'kernel': 3}},
            'head': {'kernel': 4}}
  mask = param_paths(state_lib.frozen_mask(params, ('cnn/conv_',)))
  assert mask == {'cnn/conv_0/kernel': True, 'cnn/conv_0_bn/scale': True,
                  'cnn/fc_0/kernel': False, 'head/kernel': False}


@pytest.mark.parametrize('name, switch, frozen', [
    ('attention_lstm', 'freeze_cnn', ('cnn/conv_',)),
    pytest.param('rfscnn', 'freeze_streams', ('spatial/', 'temporal/'), marks=pytest.mark.slow),
])
def test_a_models_frozen_parts_stay_through_a_train_step(name, switch, frozen):
  """The optimizer a run builds for the model leaves the parts it freezes as they were, with their
  BatchNorm statistics (weight decay would move them even with zero gradients); every other
  parameter trains."""
  config = tiny_config(name, weight_decay=1e-2, learning_rate=1e-2, **{f'model.{switch}': True})
  model = models.create_model(config)
  assert models.frozen_prefixes(model) == frozen
  tx = state_lib.make_optimizer(config, 10, models.frozen_prefixes(model))
  state = _state(model, tx, models.input_shape(config, 4))
  new, _ = jax.jit(steps.train_step)(state, random_batch(models.input_shape(config, 4)),
                                     jax.random.key(1))
  before, after = param_paths(state.params), param_paths(new.params)
  for path in before:
    assert np.array_equal(before[path], after[path]) == path.startswith(frozen), path
  stats_before, stats_after = param_paths(state.batch_stats), param_paths(new.batch_stats)
  for path in stats_before:
    if path.startswith(frozen):
      assert np.array_equal(stats_before[path], stats_after[path]), path
  config.model[switch] = False
  assert models.frozen_prefixes(models.create_model(config)) == ()
