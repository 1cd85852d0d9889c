"""One program for any number of devices: a batch split over 4 (fake CPU) devices trains and is
evaluated as on one device (the tiny frame classifier, quickest to compile; the demo's model runs
sharded over two processes in test_multihost.py)."""
from conftest import script_result

SCRIPT = r'''
import json
import jax, numpy as np
from conftest import PIXEL_VIEWS, pixel_logits, pixel_source, random_batch, tiny_config
from emojax import models, sharding
from emojax.evaluate import apply
from emojax.train import state as state_lib, steps
assert jax.device_count() == 4, jax.devices()
config = tiny_config('frame_cnn')
model = models.create_model(config)
tx = state_lib.make_optimizer(config, 10)
out = {}
for n in (1, 4):
  mesh = sharding.make_mesh(jax.devices()[:n])
  state = jax.jit(lambda rng: state_lib.create_train_state(model, tx, rng, models.input_shape(
      config)), out_shardings=sharding.replicated(mesh))(jax.random.key(0))
  train_fn = steps.compile_train_step(mesh)
  rng = sharding.replicate(jax.random.key(1), mesh)
  losses = []
  for i in range(3):
    batch = sharding.shard_batch(random_batch(models.input_shape(config, 4), seed=i), mesh)
    state, metrics = train_fn(state, batch, rng)
    losses.append(float(metrics['loss']))
  views = sharding.shard_batch(random_batch(models.input_shape(config, 8), seed=9), mesh)
  logits = apply.logits_fn(model, mesh)(apply.model_variables(state), views)
  probabilities, labels = apply.video_probabilities(
      apply.sharded_apply(pixel_logits, mesh), {}, pixel_source(7), np.arange(7),
      tiny_config(**{**PIXEL_VIEWS, 'eval_batch_size': 8}), mesh)
  out[n] = {'losses': losses, 'logits': sharding.global_value(logits).tolist(),
            'state_on': len(jax.tree.leaves(state.params)[0].sharding.device_set),
            'logits_on': len(logits.sharding.device_set),
            'probabilities': probabilities.tolist(), 'labels': labels.tolist()}
print('RESULT', json.dumps(out))
'''


def test_a_batch_split_over_devices_trains_and_evaluates_as_on_one():
  """3 train steps of batches of 4 and the logits of a batch of 8, on 1 and on 4 devices; and 7
  videos x 6 views in padded batches of 8 scored per video."""
  import numpy as np
  out = script_result(SCRIPT, devices=4)
  one, four = out['1'], out['4']
  assert (four['state_on'], four['logits_on']) == (4, 4)
  np.testing.assert_allclose(one['losses'], four['losses'], rtol=2e-4)
  np.testing.assert_allclose(one['logits'], four['logits'], rtol=1e-2, atol=1e-2)  # 3 Adam steps
  np.testing.assert_allclose(one['probabilities'], four['probabilities'], rtol=1e-6)
  assert four['labels'] == [k % 3 for k in range(7)]
