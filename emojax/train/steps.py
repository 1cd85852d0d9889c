"""The one pure train step, and its jit-compilation over the `data` mesh axis.

One step serves every model and device count: the state is replicated (`P()`), the batch is split
over the `data` axis spanning every device of every host (`P('data')`), and the compiler inserts
the gradient all-reduce, so BatchNorm statistics and the loss cover the global batch
(`emojax.sharding`). What it minimises is the model's objective (`models.objective`): softmax
cross-entropy on a classifier's logits, or a masked autoencoder's reconstruction error.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from emojax import sharding
from emojax.models import normalize_clip
from emojax.models.video_mae import masked_reconstruction_loss
from emojax.train.state import TrainState


def frame_labels(labels: jax.Array, logits: jax.Array) -> jax.Array:
  """Each clip's label for every row of `logits` (`[B, C]`, or per-frame `[B, T, C]`)."""
  return jnp.broadcast_to(labels.reshape(-1, *[1] * (logits.ndim - 2)), logits.shape[:-1])


def classification_loss(logits, batch: dict, label_smoothing: float = 0.0):
  """Softmax cross-entropy (with label smoothing) and accuracy of logits against the clips'
  labels (per-frame logits: each frame against its clip's)."""
  labels = frame_labels(batch['label'], logits)
  targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
  loss = optax.softmax_cross_entropy(logits, targets).mean()
  return loss, {'accuracy': jnp.mean(jnp.argmax(logits, -1) == labels)}


def reconstruction_loss(outputs, batch: dict, label_smoothing: float = 0.0):
  """A masked autoencoder's loss on the masked tubelets; labels (if any) are not read."""
  del batch, label_smoothing
  return masked_reconstruction_loss(outputs), {}


# `models.objective` -> loss(outputs, batch, label_smoothing) -> (loss, other metrics).
LOSSES = {'classification': classification_loss, 'masked_reconstruction': reconstruction_loss}


def train_step(state: TrainState, batch: dict, rng: jax.Array, label_smoothing: float = 0.0,
               objective: str = 'classification'):
  """One optimizer step on `batch` (`clip` uint8 [B,T,H,W,C], `label` int [B]); returns the new
  state and the step's `loss` (and `accuracy` for a classifier)."""
  rng = jax.random.fold_in(rng, state.step)
  rngs = {'dropout': rng, 'mask': jax.random.fold_in(rng, 1)}  # 'mask': a masked autoencoder's

  def loss_fn(params):
    outputs, updates = state.apply_fn(
        {'params': params, 'batch_stats': state.batch_stats}, normalize_clip(batch['clip']),
        train=True, mutable=['batch_stats'], rngs=rngs)
    loss, metrics = LOSSES[objective](outputs, batch, label_smoothing)
    return loss, (metrics, updates)

  (loss, (metrics, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  state = state.apply_gradients(grads=grads, batch_stats=updates['batch_stats'])
  return state, {'loss': loss, **metrics}


@functools.lru_cache(maxsize=8)
def compile_train_step(mesh: jax.sharding.Mesh, label_smoothing: float = 0.0,
                       objective: str = 'classification'):
  """`train_step` jitted with explicit shardings; the train state is donated. One jitted function
  per process for equal arguments: the folds of a run share its compilations (for train states
  of the same model and optimizer, `train.state.make_optimizer`)."""
  repl = sharding.replicated(mesh)
  return jax.jit(functools.partial(train_step, label_smoothing=label_smoothing,
                                   objective=objective),
                 in_shardings=(repl, sharding.batch_sharded(mesh), repl),
                 out_shardings=(repl, repl), donate_argnums=0)
