import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.models.norm import BatchNorm

from conftest import first_fast


@pytest.mark.parametrize('train', [True, False])
@pytest.mark.parametrize('shape', first_fast([(2, 3, 4, 5, 6), (7, 3)], one_argument=True))
def test_batch_norm_equals_flax(shape, train):
  """Outputs, updated running statistics and gradients (input, scale, bias)."""
  x = 3. * jax.random.normal(jax.random.key(0), shape) + 1.
  weights = jax.random.normal(jax.random.key(1), shape)
  ours = BatchNorm(momentum=0.9, epsilon=1e-5)
  theirs = nn.BatchNorm(momentum=0.9, epsilon=1e-5)
  variables = theirs.init(jax.random.key(2), x, use_running_average=False)
  assert jax.tree.structure(variables) == jax.tree.structure(
      ours.init(jax.random.key(2), x, use_running_average=False))
  variables = jax.tree.map(lambda v: v + 0.1 * jax.random.normal(jax.random.key(v.size), v.shape),
                           variables)

  def loss(params, x, module):
    y, stats = module.apply({**variables, 'params': params}, x, use_running_average=not train,
                            mutable=['batch_stats'])
    return jnp.sum(jnp.tanh(y) * weights), (y, stats)

  got, want = [jax.grad(loss, argnums=(0, 1), has_aux=True)(variables['params'], x, module)
               for module in (ours, theirs)]
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), got, want)


def test_gradient_through_the_batch_statistics():
  """A loss on the returned mean and variance differentiates like the plain formulas."""
  from emojax.models.norm import batch_norm_train
  x = jax.random.normal(jax.random.key(0), (5, 4, 3))
  def loss(x, fused):
    if fused:
      y, mean, var = batch_norm_train(x, jnp.ones(3), jnp.zeros(3), 1e-5)
    else:
      mean, var = x.mean((0, 1)), x.var((0, 1))
      y = (x - mean) / jnp.sqrt(var + 1e-5)
    return jnp.sum(y ** 3) + jnp.sum(mean ** 2) + jnp.sum(jnp.sqrt(var))
  np.testing.assert_allclose(jax.grad(loss)(x, True), jax.grad(loss)(x, False), rtol=1e-4, atol=1e-5)
