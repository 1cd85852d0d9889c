"""What a model says about its own parameters, beside its forward pass: the one small interface
that training, the pretrained starts, the evaluator and prediction ask instead of knowing models.

A model module may define, as properties or class attributes:
  * `frozen_prefixes`: '/'-joined parameter-path prefixes that training leaves unchanged.
  * `pretrained_parts`: `PretrainedPart`s, the sub-trees of its variables that start from weights
    learned elsewhere (`emojax.pretrained` loads them by `source` name).
  * `video_feature_methods`: `(per_view, per_video)` method names for features averaged over a
    video's views, e.g. for the SVM: `per_view` gives each view's feature, `per_video` (or None)
    turns the mean of a video's `per_view` features into its feature.
  * `objective`: what training minimises: 'classification' (logits; the default) or
    'masked_reconstruction' (a masked autoencoder's `{'prediction', 'target', 'mask'}`).
  * `layer_ids`: a function from a parameter tree to each parameter's layer index, for layer-wise
    learning-rate decay (`config.layer_decay`).
  * `crops_face_box`: the model crops its input to the face box for an encoder trained on tight
    faces (FER2013), by its field `face_box` (the box's side as a fraction of the input's). A run
    fills `config.model.face_box` from the dataset's stored face margin and its resize margin
    (`emojax.train.protocol.with_dataset_facts`), so the run's config.json holds it and
    `emojax.restore`, evaluation and prediction rebuild the same model. Every other model takes
    the stored crop resized, never cut into.
`emojax.models.frozen_prefixes`, `pretrained_parts`, `video_feature_methods`, `objective`,
`layer_ids` and `crops_face_box` read them, with the defaults (nothing frozen, nothing pretrained,
`('features', None)`, 'classification', None, False) for a model that defines none.
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PretrainedPart:
  """Variables at `path` (inside `params` / `batch_stats`) filled from `source`, a weights source
  of `emojax.pretrained.start.SOURCES`, called with `options` (and the dataset's class names)."""
  path: tuple[str, ...]
  source: str
  options: tuple[tuple[str, object], ...] = ()
