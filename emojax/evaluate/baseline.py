"""The per-frame baseline every run reports beside its model (`config.report_frame_baseline`).

The FER2013 network (`emojax.pretrained.start.fer_frame_baseline`) on every frame of the same test
views the model is scored on (each frame's face box, as FER2013's faces were cropped), its
probabilities averaged over each clip, zero-shot: no training on the run's data. FER2013's classes
are mapped to the dataset's by name (`emojax.pretrained.fer2013.class_indices`): a dataset class
FER2013 lacks is never predicted, and a FER2013 class the dataset lacks (neutral, on the six basic
emotions) is left out, the others' probabilities compared among themselves. It is what a network that has learned real faces gets
with no help from the data: the number a temporal model trained on the data has to beat.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from emojax import sharding
from emojax.data import sampling
from emojax.evaluate import apply, metrics
from emojax.models import normalize_clip
from emojax.pretrained import fer2013
from emojax.pretrained import start as pretrained_start


def _scores(model, columns, mapped, variables, batch):
  log_probs = model.apply(variables, normalize_clip(batch['clip'][..., :3]), train=False)
  return jnp.where(mapped, log_probs[:, columns], -jnp.inf)


@functools.lru_cache(maxsize=4)
def zero_shot_fn(class_names: tuple[str, ...], face_box: float, mesh):
  """`(fn, variables)`: the sharded `fn(variables, batch)` gives the baseline's scores over the
  dataset's classes (log probabilities; -inf for a class FER2013 lacks) of views whose face box is
  `face_box` of their side; None when fewer than two of the dataset's classes map to FER2013's.
  Made once per process for equal arguments: the folds of a run share the weights and programs."""
  indices = fer2013.class_indices(class_names)
  if sum(i is not None for i in indices) < 2:
    return None
  model, variables = pretrained_start.fer_frame_baseline(face_box=face_box)
  columns = np.asarray([0 if i is None else i for i in indices])
  mapped = np.asarray([i is not None for i in indices])
  fn = apply.sharded_apply(functools.partial(_scores, model, columns, mapped), mesh)
  return fn, sharding.replicate(variables, mesh)


def zero_shot_result(dataset, indices, config, mesh) -> dict | None:
  """The baseline's metrics (`metrics.summarize`) on the videos `indices` of `dataset`
  (`emojax.datasets.Dataset`), scored on the run's views as its model is, each frame's face box
  cropped as FER2013's faces were (`sampling.face_box_fraction`). None when the classes do not map
  (see `zero_shot_fn`)."""
  class_names, source = dataset.class_names, dataset.source
  face_box = sampling.face_box_fraction(config.image_size, dataset.stored['crop_margin'],
                                        config.augment.crop_margin)
  found = zero_shot_fn(tuple(class_names), face_box, mesh)
  if found is None:
    return None
  probabilities, labels = apply.video_probabilities(*found, source, indices, config, mesh)
  matrix = metrics.confusion_matrix(labels, np.argmax(probabilities, -1), len(class_names))
  result = metrics.summarize(matrix, class_names)
  result['classes_mapped'] = {name: None if i is None else fer2013.CLASS_NAMES[i]
                              for name, i in zip(class_names, fer2013.class_indices(class_names))}
  return result
