"""Foreign weights onto one of our modules' variable trees, by name, with every shape checked."""
from __future__ import annotations

from typing import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

Path = tuple[str, ...]


def abstract_variables(module: nn.Module,
                       input_shape: tuple[int, ...]) -> dict[Path, jax.ShapeDtypeStruct]:
  """The module's variables (`params`, `batch_stats`) as `{path: ShapeDtypeStruct}`, without
  computing anything."""
  tree = jax.eval_shape(lambda x: module.init(jax.random.key(0), x, train=False),
                        jax.ShapeDtypeStruct(input_shape, jnp.float32))
  return traverse_util.flatten_dict(tree)


def assign(module: nn.Module, input_shape: tuple[int, ...],
           entries: Mapping[Path, tuple[str, np.ndarray]], source: str) -> dict:
  """`{'params', 'batch_stats'}` of `module` from `entries`: our variable path -> (the variable's
  name in `source`, its array already in our layout).

  Every variable of the module must be given, with the module's shape; entries of layers that
  the module does not build (a head cut off by its `output`) are left out. Anything else raises
  ValueError naming `source` and the variable.
  """
  target = abstract_variables(module, input_shape)
  name = type(module).__name__
  missing = sorted('/'.join(p) for p in target if p not in entries)
  if missing:
    raise ValueError(f'{source}: no weights for {len(missing)} variable(s) of {name}, first '
                     f'{missing[0]!r}')
  built_layers = {p[:2] for p in target}  # (collection, top-level layer)
  stray = sorted(f'{entries[p][0]} (as {"/".join(p)})' for p in entries
                 if p not in target and p[:2] in built_layers)
  if stray:
    raise ValueError(f'{source}: {stray[0]} matches no variable of {name}')
  variables = {}
  for path, spec in target.items():
    original, array = entries[path]
    if array.shape != spec.shape:
      raise ValueError(f'{source}: {original} has shape {array.shape} (in our layout) but '
                       f'{"/".join(path)} of {name} has shape {spec.shape}')
    variables[path] = jnp.asarray(array, spec.dtype)
  return traverse_util.unflatten_dict(variables)


def drop_leading_ones(array: np.ndarray, ndim: int) -> np.ndarray:
  """`array` without leading axes of size 1 down to `ndim` axes (a `[1, 1, C]` vector -> `[C]`);
  other arrays are returned as they are, for the shape check to report."""
  while array.ndim > ndim and array.shape[0] == 1:
    array = array[0]
  return array
