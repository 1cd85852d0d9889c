"""XLA:CPU settings applied when emojax is imported, before JAX starts its CPU backend.

jaxlib 0.10-0.11 run XLA:CPU convolutions through YNNPACK by default. For the convolutions of a
video network's backward pass YNNPACK is several times slower than XLA's older Eigen kernels; on a
2-core x86 machine (docs/benchmarks.md) a 3x3 convolution over 4x16 frames of 28x28x64 took 444 ms
for forward + both gradients with YNNPACK, and 135 ms with Eigen, whose kernel gradient alone is
4.9x faster. `--xla_cpu_experimental_ynn_fusion_type=individual_dot` keeps YNNPACK for matrix
products (where it is the faster of the two) and gives convolutions back to Eigen.

A flag of the same name already in `XLA_FLAGS` is kept as the user wrote it, e.g.
`XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=individual_dot,individual_convolution` restores
jaxlib's default. The flag is set only for jaxlib versions known to have it (XLA aborts on unknown
flags), and has no effect once a JAX backend is running.
"""
from __future__ import annotations

import os
from typing import MutableMapping, Sequence

YNN_FLAG = '--xla_cpu_experimental_ynn_fusion_type'
YNN_VALUE = 'individual_dot'
JAXLIB_VERSIONS_WITH_FLAG = ((0, 10), (0, 11))


def _jaxlib_version() -> tuple[int, int] | None:
  try:
    from jaxlib.version import __version__
  except ImportError:
    return None
  major, minor = __version__.split('.')[:2]
  return int(major), int(minor)


def add_flags(flags: Sequence[str], environ: MutableMapping[str, str] = os.environ) -> bool:
  """Appends each `--name=value` of `flags` to `environ['XLA_FLAGS']` unless a flag of that name
  is there already (a user's own setting wins); returns whether it changed anything."""
  present = environ.get('XLA_FLAGS', '')
  new = [flag for flag in flags if flag.split('=')[0] not in present]
  if new:
    environ['XLA_FLAGS'] = ' '.join([present, *new]).strip()
  return bool(new)


def set_default_flags(environ: MutableMapping[str, str] = os.environ,
                      jaxlib_version: tuple[int, int] | None = None) -> bool:
  """Adds emojax's XLA:CPU flags to `environ['XLA_FLAGS']`; returns whether it changed anything."""
  version = jaxlib_version or _jaxlib_version()
  if version not in JAXLIB_VERSIONS_WITH_FLAG:
    return False
  return add_flags([f'{YNN_FLAG}={YNN_VALUE}'], environ)
