"""Train state (parameters, BatchNorm statistics, optimizer state) and the optimizer.

`config.l1` adds the gradient of `l1 * sum |w|` over every kernel (parameters of rank >= 2, not
biases or normalisation scales) to the loss gradient before clipping and the optimizer: an L1
penalty in the loss, as Keras' `kernel_regularizer=l1(...)` adds it. The logged loss excludes it.

Freezing lives in the optimizer: `make_optimizer(config, steps, frozen)` sends every parameter whose
'/'-joined path starts with one of the `frozen` prefixes (a model's `frozen_prefixes`, e.g. the
attention-LSTM's pre-trained convolutions) to `optax.set_to_zero()`: no update, weight decay included.
"""
from __future__ import annotations

import collections
import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from emojax.errors import ConfigError


class TrainState(train_state.TrainState):
  batch_stats: Any = None


def learning_rate_schedule(config, steps_per_epoch: int) -> optax.Schedule:
  """`config.schedule`: 'constant' (the papers), 'cosine', 'step' (x0.1 at `lr_decay_epochs`), or
  'exponential' (x`lr_decay_per_epoch` after every epoch, in steps), each after `warmup_epochs` of
  linear warm-up."""
  total = max(1, config.num_epochs * steps_per_epoch)
  warmup = int(config.warmup_epochs * steps_per_epoch)
  lr = config.learning_rate
  if config.schedule == 'constant':
    main = optax.constant_schedule(lr)
  elif config.schedule == 'cosine':
    main = optax.cosine_decay_schedule(lr, max(1, total - warmup))
  elif config.schedule == 'step':
    main = optax.piecewise_constant_schedule(
        lr, {max(1, int(e * steps_per_epoch) - warmup): 0.1 for e in config.lr_decay_epochs})
  elif config.schedule == 'exponential':
    main = optax.exponential_decay(lr, transition_steps=max(1, steps_per_epoch),
                                   decay_rate=config.lr_decay_per_epoch, staircase=True)
  else:
    raise ConfigError(f"config.schedule={config.schedule!r}: expected 'constant', 'cosine', 'step' "
                     "or 'exponential'")
  if warmup <= 0:
    return main
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), main], [warmup])


def param_path(path) -> str:
  """'/'-joined names of a pytree key path: `('cnn', 'conv_0', 'kernel')` -> 'cnn/conv_0/kernel'."""
  return '/'.join(str(getattr(k, 'key', getattr(k, 'name', getattr(k, 'idx', k)))) for k in path)


def frozen_mask(params, prefixes: Sequence[str]):
  """Pytree of bools like `params`: True where the parameter's path starts with a prefix."""
  prefixes = tuple(prefixes)
  return jax.tree_util.tree_map_with_path(
      lambda path, _: param_path(path).startswith(prefixes) if prefixes else False, params)


def freeze(tx: optax.GradientTransformation, prefixes: Sequence[str]) -> optax.GradientTransformation:
  """`tx` for every parameter except those under `prefixes`, which never change."""
  if not prefixes:
    return tx

  def labels(params):
    return jax.tree.map(lambda frozen: 'frozen' if frozen else 'train', frozen_mask(params, prefixes))

  return optax.multi_transform({'train': tx, 'frozen': optax.set_to_zero()}, labels)


def add_l1_gradient(strength: float) -> optax.GradientTransformation:
  """Adds `strength * sign(w)`, the gradient of `strength * |w|`, for every kernel (rank >= 2)."""

  def update(updates, state, params):
    if params is None:
      raise ValueError('add_l1_gradient needs the parameters: update(grads, state, params)')
    return jax.tree.map(lambda g, w: g + strength * jnp.sign(w) if w.ndim >= 2 else g,
                        updates, params), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def kernel_mask(params):
  """True for kernels (rank >= 2): what weight decay and L1 act on, not biases or norm scales."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def scale_by_layer(layer_ids: Callable, decay: float) -> optax.GradientTransformation:
  """Multiplies each update by `decay ** (top - layer)`, `layer` its parameter's layer
  (`layer_ids(params)`, the model's) and `top` the highest (the head): layer-wise learning-rate
  decay (BEiT, VideoMAE), applied after the optimizer so that it scales the decoupled weight
  decay step too, as a per-group learning rate does."""

  def update(updates, state, params=None):
    del params
    ids = layer_ids(updates)
    top = max(jax.tree.leaves(ids))
    return jax.tree.map(lambda u, i: u * decay ** (top - i), updates, ids), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


# The config fields `make_optimizer` reads.
OPTIMIZER_FIELDS = ('optimizer', 'learning_rate', 'adam_b2', 'weight_decay', 'grad_clip_norm', 'l1',
                    'layer_decay', 'schedule', 'num_epochs', 'warmup_epochs', 'lr_decay_epochs',
                    'lr_decay_per_epoch')
OptimizerSettings = collections.namedtuple('OptimizerSettings', OPTIMIZER_FIELDS)


def make_optimizer(config, steps_per_epoch: int, frozen: Sequence[str] = (),
                   layer_ids: Callable | None = None) -> optax.GradientTransformation:
  """Adam (the papers' optimizer) with optional decoupled weight decay on the kernels, gradient
  clipping and layer-wise learning-rate decay (`layer_ids`: the model's), leaving the parameters
  under the `frozen` path prefixes unchanged.

  Equal settings give the same optimizer object: a train state's optimizer is part of the cache
  key of its compiled programs (`TrainState.tx` is static), so the next fold of a run reuses the
  train step compiled for the one before instead of tracing and compiling it again.
  """
  if config.layer_decay and layer_ids is None:
    raise ConfigError(f'config.layer_decay={config.layer_decay} needs a model with layers '
                      f'(a video ViT); config.model.name={config.model.name!r} has none')
  settings = OptimizerSettings(*(tuple(v) if isinstance(v, list) else v
                                 for v in (config[field] for field in OPTIMIZER_FIELDS)))
  return _optimizer(settings, steps_per_epoch, tuple(frozen), layer_ids)


@functools.lru_cache(maxsize=16)
def _optimizer(settings: OptimizerSettings, steps_per_epoch: int, frozen: tuple[str, ...],
               layer_ids: Callable | None) -> optax.GradientTransformation:
  schedule = learning_rate_schedule(settings, steps_per_epoch)
  if settings.optimizer == 'adam':
    opt = (optax.adamw(schedule, b2=settings.adam_b2, weight_decay=settings.weight_decay,
                       mask=kernel_mask) if settings.weight_decay
           else optax.adam(schedule, b2=settings.adam_b2))
  elif settings.optimizer == 'sgd':
    opt = optax.chain(optax.add_decayed_weights(settings.weight_decay, kernel_mask),
                      optax.sgd(schedule, momentum=0.9, nesterov=True))
  else:
    raise ConfigError(f"config.optimizer={settings.optimizer!r}: expected 'adam' or 'sgd'")
  if settings.grad_clip_norm:
    opt = optax.chain(optax.clip_by_global_norm(settings.grad_clip_norm), opt)
  if settings.l1:
    opt = optax.chain(add_l1_gradient(settings.l1), opt)
  if settings.layer_decay:
    opt = optax.chain(opt, scale_by_layer(layer_ids, settings.layer_decay))
  return freeze(opt, frozen)


def create_train_state(model: nn.Module, tx: optax.GradientTransformation, rng: jax.Array,
                       input_shape: tuple[int, ...]) -> TrainState:
  """Initialises the model on a zero clip of `input_shape` and wraps it with its optimizer."""
  variables = model.init(rng, jnp.zeros(input_shape, jnp.float32), train=False)
  return TrainState.create(apply_fn=model.apply, params=variables['params'], tx=tx,
                           batch_stats=variables.get('batch_stats', {}))


def with_variables(state: TrainState, variables: dict) -> TrainState:
  """`state` with other `{'params', 'batch_stats'}` (a pretrained start) and its optimizer's
  state made afresh for them; the step count is kept."""
  return state.replace(params=variables['params'], batch_stats=variables.get('batch_stats', {}),
                       opt_state=state.tx.init(variables['params']))
