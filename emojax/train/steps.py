"""Pure train and eval steps, and their jit-compilation over a `data` mesh axis.

One step function serves every model and device count: the state is replicated (`P()`), the batch
is split over the `data` axis spanning every device of every host (`P('data')`), and the compiler
inserts the gradient all-reduce, so BatchNorm statistics and the loss cover the global batch.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec as P

from emojax.models import normalize_clip
from emojax.train.state import TrainState


def train_step(state: TrainState, batch: dict, rng: jax.Array, label_smoothing: float = 0.0):
  """One optimizer step on `batch` (`clip` uint8 [B,T,H,W,3], `label` int [B])."""
  rng = jax.random.fold_in(rng, state.step)

  def loss_fn(params):
    logits, updates = state.apply_fn(
        {'params': params, 'batch_stats': state.batch_stats}, normalize_clip(batch['clip']),
        train=True, mutable=['batch_stats'], rngs={'dropout': rng})
    targets = optax.smooth_labels(jax.nn.one_hot(batch['label'], logits.shape[-1]),
                                  label_smoothing)
    loss = optax.softmax_cross_entropy(logits, targets).mean()
    return loss, (logits, updates)

  (loss, (logits, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  state = state.apply_gradients(grads=grads, batch_stats=updates['batch_stats'])
  metrics = {'loss': loss, 'accuracy': jnp.mean(jnp.argmax(logits, -1) == batch['label'])}
  return state, metrics


def eval_step(state: TrainState, batch: dict) -> jax.Array:
  """Logits `[B, num_classes]` with BatchNorm running statistics and no dropout."""
  return state.apply_fn({'params': state.params, 'batch_stats': state.batch_stats},
                        normalize_clip(batch['clip']), train=False)


def make_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D mesh named `data` over every device (of every process).

  The axis is `Auto`: shardings are given at the jit boundary and the compiler propagates them
  (make_mesh's default, `Explicit`, would demand them on every op inside the model).
  """
  devices = jax.devices() if devices is None else devices
  return jax.make_mesh((len(devices),), ('data',), axis_types=(jax.sharding.AxisType.Auto,),
                       devices=devices)


def compile_steps(mesh: jax.sharding.Mesh, label_smoothing: float = 0.0):
  """`(train_step, eval_step)` jitted with explicit shardings; the train state is donated."""
  repl = replicated(mesh)
  data = NamedSharding(mesh, P('data'))
  jit_train = jax.jit(functools.partial(train_step, label_smoothing=label_smoothing),
                      in_shardings=(repl, data, repl), out_shardings=(repl, repl),
                      donate_argnums=0)
  jit_eval = jax.jit(eval_step, in_shardings=(repl, data), out_shardings=data)
  return jit_train, jit_eval


def shard_batch(batch: dict, mesh: jax.sharding.Mesh) -> dict:
  """This process's slice of the global batch -> global arrays split over `data`."""
  data = NamedSharding(mesh, P('data'))
  return {k: jax.make_array_from_process_local_data(data, np.asarray(v)) for k, v in batch.items()}


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


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


def gather_outputs(fn, state, batches, mesh: jax.sharding.Mesh, keys=('label',)):
  """Runs the sharded `fn(state, batch)` over padded batches (each with a `mask` of real examples);
  returns `(outputs, {key: values})` of the real examples for the batch entries `keys`.

  The outputs, the mask and the `keys` are all read from the same global arrays, in mesh order
  (which on some meshes is not process order), from every process.
  """
  outputs, gathered = [], {key: [] for key in keys}
  for batch in batches:
    sharded = shard_batch(batch, mesh)
    mask = global_value(sharded['mask'])
    outputs.append(global_value(fn(state, sharded))[mask])
    for key in keys:
      gathered[key].append(global_value(sharded[key])[mask])
  return np.concatenate(outputs), {key: np.concatenate(v) for key, v in gathered.items()}


def global_value(x: jax.Array) -> np.ndarray:
  """The whole of a global array on this host, from every process's shards."""
  if x.is_fully_addressable:
    return np.asarray(x)
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def sync_processes(name: str) -> None:
  """Waits until every process has reached the point called `name` (no-op with one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)
