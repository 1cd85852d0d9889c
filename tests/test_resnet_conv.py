import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.models.resnet3d import Conv3D


@pytest.mark.parametrize('kernel,strides,frames', [
    ((3, 3, 3), (1, 1, 1), 5), ((3, 3, 3), (2, 2, 2), 6), ((7, 7, 7), (1, 2, 2), 4),
    ((1, 1, 1), (1, 2, 2), 3), ((3, 1, 1), (1, 1, 1), 4), ((1, 3, 3), (2, 1, 1), 5)])
def test_frames_impl_equals_native_3d_convolution(kernel, strides, frames):
  x = jax.random.normal(jax.random.key(0), (2, frames, 9, 9, 3))
  native = Conv3D(5, kernel, strides, use_bias=True, impl='xla')
  variables = native.init(jax.random.key(1), x)
  variables = jax.tree.map(lambda p: p + 0.1, variables)
  want = native.apply(variables, x)
  got = Conv3D(5, kernel, strides, use_bias=True, impl='frames').apply(variables, x)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_unknown_conv_impl_names_the_setting():
  with pytest.raises(ValueError, match='config.model.conv_impl'):
    Conv3D(2, (3, 3, 3), impl='winograd').init(jax.random.key(0), jnp.zeros((1, 2, 4, 4, 1)))
