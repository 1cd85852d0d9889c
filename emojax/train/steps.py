"""The one pure train step, and its jit-compilation over the `data` mesh axis.

One step serves every model and device count: the state is replicated (`P()`), the batch is split
over the `data` axis spanning every device of every host (`P('data')`), and the compiler inserts
the gradient all-reduce, so BatchNorm statistics and the loss cover the global batch
(`emojax.sharding`).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from emojax import sharding
from emojax.models import normalize_clip
from emojax.train.state import TrainState


def frame_labels(labels: jax.Array, logits: jax.Array) -> jax.Array:
  """Each clip's label for every row of `logits` (`[B, C]`, or per-frame `[B, T, C]`)."""
  return jnp.broadcast_to(labels.reshape(-1, *[1] * (logits.ndim - 2)), logits.shape[:-1])


def train_step(state: TrainState, batch: dict, rng: jax.Array, label_smoothing: float = 0.0):
  """One optimizer step on `batch` (`clip` uint8 [B,T,H,W,C], `label` int [B])."""
  rng = jax.random.fold_in(rng, state.step)

  def loss_fn(params):
    logits, updates = state.apply_fn(
        {'params': params, 'batch_stats': state.batch_stats}, normalize_clip(batch['clip']),
        train=True, mutable=['batch_stats'], rngs={'dropout': rng})
    labels = frame_labels(batch['label'], logits)
    targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
    loss = optax.softmax_cross_entropy(logits, targets).mean()
    return loss, (logits, labels, updates)

  (loss, (logits, labels, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  state = state.apply_gradients(grads=grads, batch_stats=updates['batch_stats'])
  metrics = {'loss': loss, 'accuracy': jnp.mean(jnp.argmax(logits, -1) == labels)}
  return state, metrics


def compile_train_step(mesh: jax.sharding.Mesh, label_smoothing: float = 0.0):
  """`train_step` jitted with explicit shardings; the train state is donated."""
  repl = sharding.replicated(mesh)
  return jax.jit(functools.partial(train_step, label_smoothing=label_smoothing),
                 in_shardings=(repl, sharding.batch_sharded(mesh), repl),
                 out_shardings=(repl, repl), donate_argnums=0)
