"""The one jitted, sharded evaluation function, and running it over a fold's videos.

`sharded_apply(fn, mesh)` compiles `fn(variables, batch)` with the variables replicated and the
batch and its outputs split over the `data` axis: the model's logits, the per-frame FER2013
baseline and the SVM's features all go through it. `gather_outputs` runs it over padded view
batches (`views.view_batches`) and reads outputs, masks and labels from the same global arrays,
in mesh order, on every process.
"""
from __future__ import annotations

import functools
from typing import Callable

import jax
import numpy as np

from emojax import models, sharding
from emojax.evaluate import metrics, views


def sharded_apply(fn: Callable, mesh: jax.sharding.Mesh):
  """`fn(variables, batch)` jitted: variables replicated, batch and outputs split over `data`."""
  return jax.jit(fn, in_shardings=(sharding.replicated(mesh), sharding.batch_sharded(mesh)),
                 out_shardings=sharding.batch_sharded(mesh))


@functools.lru_cache(maxsize=8)
def logits_fn(model, mesh: jax.sharding.Mesh, method: str | None = None):
  """The sharded `[B, num_classes]` logits of `model` (or its `method`'s output) on a batch's
  uint8 `clip`, with BatchNorm's running statistics and no dropout. Made once per process for
  equal arguments (models compare by value): every fold of a run reuses its compilations."""
  def apply(variables, batch):
    out = model.apply(variables, models.normalize_clip(batch['clip']), train=False,
                      **({'method': method} if method else {}))
    return out if method else models.clip_logits(out)

  return sharded_apply(apply, mesh)


def model_variables(state) -> dict:
  """`{'params', 'batch_stats'}` of a train state (or such a dict itself)."""
  if isinstance(state, dict):
    return {'params': state['params'], 'batch_stats': state.get('batch_stats', {})}
  return {'params': state.params, 'batch_stats': state.batch_stats}


def gather_outputs(fn, variables, batches, mesh: jax.sharding.Mesh, keys=('label',)):
  """Runs the sharded `fn(variables, batch)` over padded batches (each with a `mask` of real
  examples); returns `(outputs, {key: values})` of the real examples for the batch entries `keys`
  (`outputs`: an array, or a dict of arrays, as `fn` gives).

  The outputs, the mask and the `keys` are all read from the same global arrays, in mesh order
  (which on some meshes is not process order), from every process.
  """
  outputs, gathered = [], {key: [] for key in keys}
  for batch in batches:
    sharded = sharding.shard_batch(batch, mesh)
    mask = sharding.global_value(sharded['mask'])
    outputs.append(jax.tree.map(lambda x: sharding.global_value(x)[mask], fn(variables, sharded)))
    for key in keys:
      gathered[key].append(sharding.global_value(sharded[key])[mask])
  return (jax.tree.map(lambda *x: np.concatenate(x), *outputs),
          {key: np.concatenate(v) for key, v in gathered.items()})


def video_probabilities(fn, variables, source, indices, config, mesh):
  """Per video of `indices`: class probabilities `[n, C]` aggregated over its views (as
  `config.eval.aggregate` says) and labels `[n]`. All processes take part."""
  logits, gathered = gather_outputs(fn, variables, views.view_batches(source, indices, config),
                                    mesh, ('label', 'video'))
  videos = gathered['video']
  probabilities = metrics.video_probabilities(logits, videos, len(indices), config.eval.aggregate)
  return probabilities, metrics.per_video_labels(gathered['label'], videos, len(indices))


def accuracy(fn, variables, source, indices, config, mesh) -> float:
  probabilities, labels = video_probabilities(fn, variables, source, indices, config, mesh)
  return float(np.mean(np.argmax(probabilities, -1) == labels))
