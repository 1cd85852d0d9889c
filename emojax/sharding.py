"""The `data` mesh over every device of every process, and moving arrays onto it.

One layout serves training and evaluation: state and variables replicated (`P()`), batches split
over the `data` axis (`P('data')`), so the compiler inserts the gradient all-reduce and BatchNorm
statistics cover the global batch. With several processes each process gives its own rows of a
global batch, and reads back whole global arrays (`global_value`).
"""
from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec as P


def make_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D mesh named `data` over every device (of every process).

  The axis is `Auto`: shardings are given at the jit boundary and the compiler propagates them
  (make_mesh's default, `Explicit`, would demand them on every op inside the model).
  """
  devices = jax.devices() if devices is None else devices
  return jax.make_mesh((len(devices),), ('data',), axis_types=(jax.sharding.AxisType.Auto,),
                       devices=devices)


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: jax.sharding.Mesh) -> NamedSharding:
  return NamedSharding(mesh, P('data'))


def shard_batch(batch: dict, mesh: jax.sharding.Mesh) -> dict:
  """This process's slice of the global batch -> global arrays split over `data`."""
  data = batch_sharded(mesh)
  return {k: jax.make_array_from_process_local_data(data, np.asarray(v)) for k, v in batch.items()}


def replicate(tree, mesh: jax.sharding.Mesh):
  """Places a pytree (e.g. a fresh train state) replicated on every device of `mesh`.

  With several processes each gives its own copy of the (equal) values for its devices, since
  `jax.device_put` cannot reach the other processes' devices; global arrays stay as they are.
  """
  if jax.process_count() == 1:
    return jax.device_put(tree, replicated(mesh))

  def leaf(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return x
    return multihost_utils.host_local_array_to_global_array(x, mesh, P())

  return jax.tree.map(leaf, tree)


def global_value(x: jax.Array) -> np.ndarray:
  """The whole of a global array on this host, from every process's shards."""
  if x.is_fully_addressable:
    return np.asarray(x)
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def sync_processes(name: str) -> None:
  """Waits until every process has reached the point called `name` (no-op with one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)
