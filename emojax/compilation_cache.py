"""JAX's persistent compilation cache for the entry points a user waits on (prediction, builds).

A fresh process compiles MTCNN's pyramid levels and the model again; with the cache, a second run
on the same machine reads them from disk. `enable()` points JAX at `default_folder()`
(`$XDG_CACHE_HOME/emojax/jax`, else `~/.cache/emojax/jax`) and caches every compilation that took
at least `MIN_COMPILE_SECONDS` (MTCNN's are many and short). It leaves alone what the user set:
`JAX_COMPILATION_CACHE_DIR` (their folder is used as it is) and
`JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`. `EMOJAX_COMPILATION_CACHE=0` (or the prediction
CLI's `--no_compilation_cache`) turns it off. Must run before the first compilation to help it.
"""
from __future__ import annotations

import os

ENV_SWITCH = 'EMOJAX_COMPILATION_CACHE'
MIN_COMPILE_SECONDS = 0.05


def default_folder() -> str:
  base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return os.path.join(base, 'emojax', 'jax')


def enable(enabled: bool = True) -> str | None:
  """Turns the cache on (unless `enabled` is False or $EMOJAX_COMPILATION_CACHE is 0); returns
  its folder, or None when it is off."""
  if not enabled or os.environ.get(ENV_SWITCH, '1').strip().lower() in ('0', 'false', 'no', 'off'):
    return None
  import jax
  folder = jax.config.jax_compilation_cache_dir  # JAX_COMPILATION_CACHE_DIR, if the user set it.
  if not folder:
    folder = default_folder()
    jax.config.update('jax_compilation_cache_dir', folder)
  if 'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS' not in os.environ:
    jax.config.update('jax_persistent_cache_min_compile_time_secs', MIN_COMPILE_SECONDS)
  return folder
