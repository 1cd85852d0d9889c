"""Evaluation's views of a video: `config.eval.num_clips` evenly spaced clips x `num_crops` crops,
each also mirrored left-right with `config.eval.flip`.

A test video is scored by several views whose outputs are averaged per video (scenic's ViViT
`test_step`; the VideoMAE-family codebases use 2 x 2; image classifiers average a flipped copy, as
training flips at random). `view_batches` flattens every video's views into padded, equally sized
batches, with the video each view belongs to, so one sharded function serves every model and
device count.
"""
from __future__ import annotations

from typing import Sequence

import grain
import jax
import numpy as np

from emojax import models
from emojax.data import flow, pipeline
from emojax.data import sampling as sampling_lib


def num_views(config) -> int:
  """Views per video: clips x crops (x 2 with flips)."""
  return config.eval.num_clips * config.eval.num_crops * (2 if config.eval.flip else 1)


def describe(config) -> dict:
  """How evaluation scores a video, for results files: `config.eval` and the views per video."""
  return {**config.eval.to_dict(), 'per_video': num_views(config)}


def describe_text(views: dict) -> str:
  flips = ' x 2 flips' if views.get('flip') else ''  # results of runs before flips lack it
  return (f"{views['per_video']} view(s) per video ({views['num_clips']} clip(s) x "
          f"{views['num_crops']} crop(s){flips}, mean of {views['aggregate']})")


def video_views(example: dict, config) -> dict:
  """The views of a video, `clip` `[V, T, H, W, C]` (clip k's crops together, each crop followed
  by its mirror image with `config.eval.flip`), from the track resized with the crop margin."""
  clip, stored_flow = example['clip'], example.get('flow')
  size = config.image_size
  side = sampling_lib.resized_side(size, config.augment.crop_margin)
  offsets = sampling_lib.crop_offsets(side, size, config.eval.num_crops)
  views = []
  for frames in sampling_lib.Sampling.from_config(config).view_indices(
      len(clip), config.eval.num_clips):
    resized = sampling_lib.resize_frames(clip[frames], side)
    flow_images = None if stored_flow is None else pipeline.resized_flow(stored_flow[frames], side)
    for top, left in offsets:
      window = (slice(None), slice(top, top + size), slice(left, left + size))
      crop = resized[window]
      crop_flow = None if flow_images is None else flow_images[window]
      views.append(pipeline.with_flow(np.ascontiguousarray(crop), config, crop_flow))
      if config.eval.flip:
        views.append(pipeline.with_flow(
            np.ascontiguousarray(crop[:, :, ::-1]), config,
            None if crop_flow is None else flow.mirror_flow_images(crop_flow[:, :, ::-1])))
  return {'clip': np.stack(views), 'label': np.int32(example['label'])}


def view_batches(source, indices: Sequence[int], config):
  """Yields padded batches of this process's views with a `mask` of real ones and `video`, the
  position in `indices` of the video each view belongs to.

  Each video gives `num_views(config)` consecutive views (`video_views`). Every process yields the
  same number of equally sized batches (the global count), as a sharded function requires.
  """
  batch_size = pipeline.process_batch_size(config.eval_batch_size, 'config.eval_batch_size')
  positions = np.arange(len(indices))[jax.process_index()::jax.process_count()]
  per_process = -(-len(indices) // jax.process_count()) * num_views(config)
  num_batches = -(-per_process // batch_size)
  ds = (grain.MapDataset.source(pipeline.Subset(source, np.asarray(indices)[positions]))
        .map(lambda ex: video_views(ex, config)))
  views = ((view, example['label'], position)
           for position, example in zip(positions, pipeline.prefetch(ds, config, batch=False))
           for view in example['clip'])
  blank = np.zeros(models.input_shape(config)[1:], np.uint8)
  for _ in range(num_batches):
    chunk = [x for _, x in zip(range(batch_size), views)]
    pad = batch_size - len(chunk)
    yield {'clip': np.stack([c for c, _, _ in chunk] + [blank] * pad),
           'label': np.asarray([y for _, y, _ in chunk] + [0] * pad, np.int32),
           'video': np.asarray([v for _, _, v in chunk] + [-1] * pad, np.int32),
           'mask': np.asarray([True] * len(chunk) + [False] * pad)}
