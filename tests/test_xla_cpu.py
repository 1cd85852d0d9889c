import os
import subprocess
import sys

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


def test_importing_emojax_sets_the_flag_before_jax_starts():
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  script = ('import jax, emojax, os; jax.numpy.ones(2).block_until_ready(); '
            'print(os.environ["XLA_FLAGS"])')
  out = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True,
                       check=True).stdout
  assert '--xla_cpu_experimental_ynn_fusion_type=individual_dot' in out
