"""The per-frame baseline every run reports beside its model (`config.report_frame_baseline`).

The FER2013 network (`emojax.pretrained.start.fer_frame_baseline`) on every frame of the same test
views the model is scored on, its probabilities averaged over each clip, zero-shot: no training on
the run's data. FER2013's classes are mapped to the dataset's by name
(`emojax.pretrained.fer2013.class_indices`): a dataset class FER2013 lacks is never predicted, and
a FER2013 class the dataset lacks (neutral, on the six basic emotions) is left out, the others'
probabilities compared among themselves. It is what a network that has learned real faces gets
with no help from the data: the number a temporal model trained on the data has to beat.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from emojax.models import normalize_clip
from emojax.pretrained import fer2013
from emojax.pretrained import start as pretrained_start
from emojax.train import metrics as metrics_lib
from emojax.train import steps as steps_lib


def enabled(config) -> bool:
  return bool(config.get('report_frame_baseline', False))


def _eval_step(model, columns, mapped, variables, batch):
  log_probs = model.apply(variables, normalize_clip(batch['clip'][..., :3]), train=False)
  return jnp.where(mapped, log_probs[:, columns], -jnp.inf)


def zero_shot_step(class_names: Sequence[str], mesh):
  """`(eval_fn, variables)`: `eval_fn(variables, batch)` gives the baseline's scores over the
  dataset's classes (log probabilities; -inf for a class FER2013 lacks), jitted like the model's
  eval step; None when fewer than two of the dataset's classes map to FER2013's."""
  indices = fer2013.class_indices(class_names)
  if sum(i is not None for i in indices) < 2:
    return None
  model, variables = pretrained_start.fer_frame_baseline()
  columns = np.asarray([0 if i is None else i for i in indices])
  mapped = np.asarray([i is not None for i in indices])
  repl = steps_lib.replicated(mesh)
  fn = jax.jit(functools.partial(_eval_step, model, columns, mapped),
               in_shardings=(repl, NamedSharding(mesh, P('data'))),
               out_shardings=NamedSharding(mesh, P('data')))
  return fn, steps_lib.replicate(variables, mesh)


def zero_shot_result(class_names: Sequence[str], mesh,
                     evaluate: Callable[..., tuple[np.ndarray, np.ndarray]]) -> dict | None:
  """The baseline's metrics (`metrics.summarize`) on a fold's test videos; `evaluate(eval_fn,
  variables)` returns per-video probabilities and labels as the run's own evaluation computes
  them (its views, aggregated). None when the classes do not map (see `zero_shot_step`)."""
  step = zero_shot_step(class_names, mesh)
  if step is None:
    return None
  probabilities, labels = evaluate(*step)
  matrix = metrics_lib.confusion_matrix(labels, np.argmax(probabilities, -1), len(class_names))
  result = metrics_lib.summarize(matrix, class_names)
  result['classes_mapped'] = {name: None if i is None else fer2013.CLASS_NAMES[i]
                              for name, i in zip(class_names, fer2013.class_indices(class_names))}
  return result
