"""What a masked autoencoder learned: its reconstruction error on held-out views, and a figure.

A pretraining run (`models.objective` 'masked_reconstruction', e.g. `video_mae`) has no classes to
score. At the end of its fold the evaluator runs the model on the centre view of a few videos
(the fold's test videos, or its training videos when it has none) with a fixed tube mask, reports
the mean masked reconstruction error, and draws `reconstructions.png`: per video the original, the
masked input and the reconstruction at a few frames (`video_mae.reconstruction_grid`), for a person
to look at.
"""
from __future__ import annotations

import os

import cv2
import jax
import numpy as np

from emojax import models
from emojax.evaluate import apply, views
from emojax.models import video_mae

FIGURE_FILE = 'reconstructions.png'
NUM_VIDEOS = 8  # videos scored
NUM_SHOWN = 4  # of them, drawn


def _outputs_fn(model, mesh):
  def run(variables, batch):
    outputs = model.apply(variables, models.normalize_clip(batch['clip']), train=False,
                          rngs={'mask': jax.random.key(0)})
    error = (outputs['prediction'] - outputs['target']) ** 2
    mask = outputs['mask'].astype(error.dtype)
    loss = (error.mean(-1) * mask).sum(-1) / mask.sum(-1)
    return {'loss': loss, 'prediction': outputs['prediction'], 'mask': outputs['mask']}

  return apply.sharded_apply(run, mesh)


def reconstruction_result(config, model, variables, dataset, fold, mesh,
                          out_dir: str | None = None) -> dict:
  """`{'reconstruction_loss', 'num_examples'}` of `model` on up to `NUM_VIDEOS` videos of
  `fold.test` (else `fold.train`), their centre views; writes `out_dir/reconstructions.png`
  (process 0)."""
  pool = fold.test if len(fold.test) else fold.train
  chosen = pool[np.linspace(0, len(pool) - 1, min(NUM_VIDEOS, len(pool))).round().astype(int)]
  single = config.copy_and_resolve_references()
  single.eval.num_clips, single.eval.num_crops, single.eval.flip = 1, 1, False
  outputs, gathered = apply.gather_outputs(
      _outputs_fn(model, mesh), variables, views.view_batches(dataset.source, chosen, single),
      mesh, ('clip',))
  if out_dir and jax.process_index() == 0:
    clips = models.normalize_clip(gathered['clip'][:NUM_SHOWN])
    rows = [video_mae.reconstruction_grid(
        np.asarray(clip), outputs['prediction'][k], outputs['mask'][k],
        tubelet_size=model.tubelet_size, patch_size=model.patch_size,
        normalize_target=model.normalize_target) for k, clip in enumerate(clips)]
    image = np.concatenate(rows, axis=0)
    cv2.imwrite(os.path.join(out_dir, FIGURE_FILE), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
  return {'reconstruction_loss': float(np.mean(outputs['loss'])),
          'num_examples': int(len(outputs['loss'])), 'figure': FIGURE_FILE}
