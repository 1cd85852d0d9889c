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
from typing import MutableMapping

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


def set_default_flags(environ: MutableMapping[str, str] = os.environ,
                      jaxlib_version: tuple[int, int] | None = None) -> bool:
  """Adds emojax's XLA:CPU flags to `environ['XLA_FLAGS']`; returns whether it changed anything."""
  version = jaxlib_version or _jaxlib_version()
  flags = environ.get('XLA_FLAGS', '')
  if version not in JAXLIB_VERSIONS_WITH_FLAG or YNN_FLAG in flags:
    return False
  environ['XLA_FLAGS'] = f'{flags} {YNN_FLAG}={YNN_VALUE}'.strip()
  return True
