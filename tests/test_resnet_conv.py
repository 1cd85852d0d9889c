import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.models.resnet3d import (Conv3D, auto_conv3d_impl, conv3d_by_pass, conv3d_frame_taps,
                                    conv3d_xla, separable_max_pool)

from conftest import first_fast


CONV_CASES = [((3, 3, 3), (1, 1, 1), 5), ((3, 3, 3), (2, 2, 2), 6), ((7, 7, 7), (1, 2, 2), 4),
              ((1, 1, 1), (1, 2, 2), 3), ((3, 1, 1), (1, 1, 1), 4), ((1, 3, 3), (2, 1, 1), 5)]


def _with_impls(cases):
  """Each case with every CPU implementation; 'matmul' (picked for maps of at most 2x2, where
  kernels are 3x3x3 or smaller) not with the 7x7x7 stem kernel, whose patch matrix takes a minute
  to compile."""
  return [(*case, impl) for case in cases for impl in ('frames', 'frame_taps', 'matmul')
          if not (impl == 'matmul' and case[0] == (7, 7, 7))]


@pytest.mark.parametrize('kernel,strides,frames,impl', first_fast(_with_impls(CONV_CASES), 3))
def test_impl_equals_native_3d_convolution(kernel, strides, frames, impl):
  x = jax.random.normal(jax.random.key(0), (2, frames, 9, 9, 3))
  native = Conv3D(5, kernel, strides, use_bias=True, impl='xla')
  variables = native.init(jax.random.key(1), x)
  variables = jax.tree.map(lambda p: p + 0.1, variables)
  want = native.apply(variables, x)
  got = Conv3D(5, kernel, strides, use_bias=True, impl=impl).apply(variables, x)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def _value_and_grads(conv, kernel, x):
  return jax.value_and_grad(lambda k, x: jnp.sum(jnp.sin(conv(x, k))), argnums=(0, 1))(kernel, x)


@pytest.mark.parametrize('kernel,strides,frames', first_fast(
    CONV_CASES + [((3, 3, 3), (3, 1, 1), 8), ((7, 3, 3), (1, 1, 1), 2)]))
def test_frame_taps_gradients_equal_native_3d_convolution(kernel, strides, frames):
  """`shifted_tap_sum` has a written-out gradient (strided time and taps outside the clip too)."""
  x = jax.random.normal(jax.random.key(0), (2, frames, 7, 7, 3))
  weights = 0.2 * jax.random.normal(jax.random.key(1), (*kernel, 3, 4))
  got = _value_and_grads(lambda x, k: conv3d_frame_taps(x, k, strides), weights, x)
  want = _value_and_grads(lambda x, k: conv3d_xla(x, k, strides), weights, x)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('kernel,strides,impl', first_fast(
    _with_impls([((3, 3, 3), (2, 1, 1)), ((7, 7, 7), (1, 2, 2))])))
def test_frame_difference_equals_convolving_the_clip_with_its_differences(kernel, strides, impl):
  """`frame_difference=True` on x is the convolution of [x, x - x_0] (values and gradients)."""
  x = jax.random.normal(jax.random.key(0), (2, 5, 9, 9, 3))
  with_differences = jnp.concatenate([x, x - x[:, :1]], axis=-1)
  native = Conv3D(4, kernel, strides, use_bias=True, impl='xla')
  variables = jax.tree.map(lambda p: p + 0.1, native.init(jax.random.key(1), with_differences))
  conv = Conv3D(4, kernel, strides, use_bias=True, impl=impl, frame_difference=True)
  assert jax.tree.map(jnp.shape, conv.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape,
                                                                                  variables)
  got = jax.value_and_grad(lambda v: jnp.sum(jnp.sin(conv.apply(v, x))))(variables)
  want = jax.value_and_grad(lambda v: jnp.sum(jnp.sin(native.apply(v, with_differences))))(
      variables)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('kernel,strides,impls', first_fast([
    ((3, 3, 3), (1, 1, 1), ('frame_taps', 'frames', 'frame_taps')),
    ((3, 3, 3), (2, 2, 2), ('frame_taps', 'frames', 'frame_taps')),
    ((3, 3, 3), (1, 2, 2), ('frames', 'matmul', 'frame_taps')),
    ((7, 3, 3), (1, 1, 1), ('matmul', 'frame_taps', 'frames'))]))
def test_conv_by_pass_values_and_gradients_equal_native_3d_convolution(kernel, strides, impls):
  x = jax.random.normal(jax.random.key(0), (2, 5, 7, 7, 3))
  weights = 0.2 * jax.random.normal(jax.random.key(1), (*kernel, 3, 4))
  got = _value_and_grads(lambda x, k: conv3d_by_pass(x, k, strides, impls), weights, x)
  want = _value_and_grads(lambda x, k: conv3d_xla(x, k, strides), weights, x)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def test_auto_conv3d_of_a_wide_layer_computes_its_passes_apart_and_equals_native():
  x = jax.random.normal(jax.random.key(0), (1, 3, 3, 3, 16))
  assert len(set(auto_conv3d_impl(x.shape, (3, 3, 3, 16, 16), (1, 1, 1), 'cpu'))) > 1
  native = Conv3D(16, (3, 3, 3), impl='xla')
  variables = native.init(jax.random.key(1), x)
  loss = lambda conv: lambda v, x: jnp.sum(jnp.sin(conv.apply(v, x)))
  got = jax.value_and_grad(loss(Conv3D(16, (3, 3, 3), impl='auto')), argnums=(0, 1))(variables, x)
  want = jax.value_and_grad(loss(native), argnums=(0, 1))(variables, x)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


MIXED = ('frame_taps', 'frames', 'frame_taps')


@pytest.mark.parametrize('input_shape,kernel_shape,strides,backend,expected', [
    ((4, 16, 112, 112, 3), (7, 7, 7, 3, 64), (1, 2, 2), 'cpu', ('frames',) * 3),
    ((8, 16, 56, 56, 3), (7, 7, 7, 3, 8), (1, 2, 2), 'cpu', ('frame_taps',) * 3),
    ((8, 16, 14, 14, 8), (3, 3, 3, 8, 8), (1, 1, 1), 'cpu', ('frame_taps',) * 3),
    ((8, 16, 14, 14, 8), (3, 3, 3, 8, 16), (1, 2, 2), 'cpu', ('frames',) * 3),
    ((4, 16, 28, 28, 64), (1, 1, 1, 64, 128), (1, 2, 2), 'cpu', ('frames',) * 3),
    ((4, 16, 28, 28, 64), (3, 3, 3, 64, 64), (1, 1, 1), 'cpu', MIXED),
    ((4, 16, 28, 28, 64), (3, 3, 3, 64, 128), (1, 2, 2), 'cpu', MIXED),
    ((4, 16, 4, 4, 512), (3, 3, 3, 512, 512), (1, 1, 1), 'cpu', MIXED),
    ((8, 16, 2, 2, 64), (3, 3, 3, 64, 64), (1, 1, 1), 'cpu', ('matmul',) * 3),
    ((8, 16, 4, 4, 32), (3, 3, 3, 32, 64), (1, 2, 2), 'cpu', ('matmul',) * 3),
    ((4, 16, 28, 28, 64), (3, 3, 3, 64, 64), (1, 1, 1), 'gpu', ('xla',) * 3)])
def test_auto_impl_choice(input_shape, kernel_shape, strides, backend, expected):
  """(forward, input gradient, kernel gradient) per layer."""
  assert auto_conv3d_impl(input_shape, kernel_shape, strides, backend) == expected


def test_unknown_conv_impl_names_the_setting():
  with pytest.raises(ValueError, match='config.model.conv_impl'):
    Conv3D(2, (3, 3, 3), impl='winograd').init(jax.random.key(0), jnp.zeros((1, 2, 4, 4, 1)))


@pytest.mark.parametrize('shape,window,strides', first_fast([
    ((2, 5, 9, 8, 3), (3, 3, 3), (1, 2, 2)), ((1, 4, 7, 7, 2), (1, 3, 3), (1, 2, 2)),
    ((1, 6, 6, 5, 2), (2, 2, 2), (2, 2, 2)), ((2, 3, 5, 5, 1), (3, 1, 3), (1, 1, 3))]))
def test_separable_max_pool_equals_max_pool(shape, window, strides):
  """Values and gradients, on distinct values (tied maxima may split the gradient differently)."""
  x = jax.random.permutation(jax.random.key(0), np.prod(shape)).reshape(shape).astype(jnp.float32)
  weights = jax.random.normal(jax.random.key(1), nn.max_pool(x, window, strides, 'SAME').shape)
  pooled = lambda pool: jax.value_and_grad(lambda x: jnp.sum(pool(x) * weights))(x)
  got = pooled(lambda x: separable_max_pool(x, window, strides))
  want = pooled(lambda x: nn.max_pool(x, window, strides, padding='SAME'))
  np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
  # A pixel that is the maximum of several windows sums their weights, in another order.
  np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-6)
