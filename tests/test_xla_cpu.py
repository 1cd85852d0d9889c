import os
import subprocess
import sys

import pytest

from emojax import xla_cpu


def test_default_flags_give_convolutions_to_eigen_and_keep_other_flags():
  env = {'XLA_FLAGS': '--xla_force_host_platform_device_count=4'}
  assert xla_cpu.set_default_flags(env, jaxlib_version=(0, 10))
  assert env['XLA_FLAGS'].split() == ['--xla_force_host_platform_device_count=4',
                                      '--xla_cpu_experimental_ynn_fusion_type=individual_dot']
  assert not xla_cpu.set_default_flags(env, jaxlib_version=(0, 10))  # idempotent


def test_a_users_own_setting_is_kept():
  env = {'XLA_FLAGS': '--xla_cpu_experimental_ynn_fusion_type=individual_dot,individual_convolution'}
  assert not xla_cpu.set_default_flags(env, jaxlib_version=(0, 11))
  assert env['XLA_FLAGS'].endswith('individual_dot,individual_convolution')


def test_unknown_jaxlib_versions_get_no_flag():
  """XLA aborts on a flag it does not know, so versions not run with it are left alone."""
  env = {}
  assert not xla_cpu.set_default_flags(env, jaxlib_version=(0, 99))
  assert env == {}


_COMPILED_OPS = """
import emojax, jax, jax.numpy as jnp
def f(x, k, a):
  y = jax.lax.conv_general_dilated(x, k, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  return y, a @ a
text = jax.jit(f).lower(jnp.ones((4, 28, 28, 64)), jnp.ones((3, 3, 64, 64)),
                        jnp.ones((64, 64))).compile().as_text()
fused = [line for line in text.splitlines() if 'fusion_config' in line and '__ynn_fusion' in line]
print('conv_in_ynn' if any('conv_general_dilated' in line for line in fused) else 'conv_not_in_ynn')
print('dot_in_ynn' if any('dot_general' in line for line in fused) else 'dot_not_in_ynn')
"""


def _compiled_placement(xla_flags):
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  if xla_flags is not None:
    env['XLA_FLAGS'] = xla_flags
  out = subprocess.run([sys.executable, '-c', _COMPILED_OPS], env=env, capture_output=True,
                       text=True, check=True).stdout
  return out.split()


@pytest.mark.slow
def test_the_backend_compiles_convolutions_with_eigen_and_dots_with_ynnpack():
  """What XLA:CPU compiled after `import emojax`: the convolution outside YNNPACK's fusions, the
  matrix product inside; with the user's own setting restoring jaxlib's default, both inside."""
  assert _compiled_placement(None) == ['conv_not_in_ynn', 'dot_in_ynn']
  assert _compiled_placement(
      '--xla_cpu_experimental_ynn_fusion_type=individual_dot,individual_convolution') == [
          'conv_in_ynn', 'dot_in_ynn']
