"""Grain input pipelines over `tfds.data_source`: sample, augment, batch, shard.

Examples follow the stored-example contract (docs/data.md): `clip` uint8 `[N, S, S, 3]`, the face
track of a whole video, `label`, `subject`, `video_id`, `fps`. Training draws a fresh clip from the
track every epoch (`emojax.data.sampling`), resizes it with the crop margin, random-crops, flips and
perturbs colour (evaluation's views are `emojax.evaluate.views`). Each process reads its own rows
of every global training batch; the training iterator's position is a small JSON-able state saved
beside the train state in checkpoints.
"""
from __future__ import annotations

import sys
from typing import Sequence

import grain
import jax
import numpy as np

from emojax.data import flow
from emojax.data import sampling as sampling_lib
from emojax.errors import ConfigError


class Subset:
  """A random-access view of `source` restricted to `indices`."""

  def __init__(self, source, indices: Sequence[int]):
    self._source = source
    self._indices = np.asarray(indices, np.int64)

  def __len__(self) -> int:
    return len(self._indices)

  def __getitem__(self, i):
    return self._source[int(self._indices[i])]


def train_transform(example: dict, rng: np.random.Generator, config) -> dict:
  """A fresh clip of the track (`config.sampling`), resized with the crop margin, randomly cropped
  and flipped, brightness and contrast perturbed; uint8 in and out."""
  clip = example['clip']
  aug = config.augment
  frames = sampling_lib.Sampling.from_config(config).train_indices(len(clip), rng,
                                                                    aug.temporal_jitter)
  size = config.image_size
  side = sampling_lib.resized_side(size, aug.crop_margin)
  if aug.random_crop:
    top, left = rng.integers(0, side - size + 1), rng.integers(0, side - size + 1)
  else:
    top, left = sampling_lib.crop_offsets(side, size)[0]
  window = (slice(None), slice(top, top + size), slice(left, left + size))
  clip = sampling_lib.resize_frames(clip[frames], side)[window]
  flip = aug.flip and rng.random() < 0.5
  if flip:
    clip = clip[:, :, ::-1]
  if aug.brightness or aug.contrast:
    pixels = clip.astype(np.float32)
    mean = pixels.mean()
    contrast = 1.0 + rng.uniform(-aug.contrast, aug.contrast)
    brightness = 255.0 * rng.uniform(-aug.brightness, aug.brightness)
    clip = np.clip((pixels - mean) * contrast + mean + brightness, 0, 255).astype(np.uint8)
  stored_flow = example.get('flow')
  if stored_flow is not None and config.flow.method:
    stored_flow = resized_flow(stored_flow[frames], side)[window]
    if flip:
      stored_flow = flow.mirror_flow_images(stored_flow[:, :, ::-1])
  return {'clip': with_flow(np.ascontiguousarray(clip), config, stored_flow),
          'label': np.int32(example['label'])}


def resized_flow(images: np.ndarray, side: int) -> np.ndarray:
  """Stored flow images at `side` pixels, their displacements scaled with the image."""
  return flow.scale_flow_images(sampling_lib.resize_frames(images, side),
                                side / images.shape[1])


def with_flow(clip: np.ndarray, config, stored_flow: np.ndarray | None = None) -> np.ndarray:
  """Appends optical-flow images (two-stream models) to the RGB clip: the builder's `flow` feature
  cut like the clip when the dataset has one, else computed here from the final clip."""
  if not config.flow.method:
    return clip
  if stored_flow is None:
    return flow.clip_with_flow(clip, config.flow.method)
  return np.concatenate([clip, np.ascontiguousarray(stored_flow)], axis=-1)


def process_batch_size(global_batch_size: int, name: str = 'config.batch_size') -> int:
  """This process's share of a global batch, which must split evenly over every device."""
  if global_batch_size % jax.device_count():
    raise ConfigError(f'{name}={global_batch_size} must be a multiple of the number of devices '
                     f'({jax.device_count()})')
  return global_batch_size // jax.process_count()


def train_dataset(source, indices: Sequence[int], config, seed: int,
                  process: tuple[int, int] | None = None) -> grain.IterDataset:
  """Endless, per-epoch reshuffled, augmented batches: this process's share of each global batch.

  The global order of `indices` and each example's augmentation depend only on `seed` and the
  example's position in that order, and process `k` of `n` (`process`, default this one's) takes
  rows `k * B / n` to `(k + 1) * B / n` of each global batch of `config.batch_size` B. So the
  processes draw different augmentations, and the global batches are the same for any number of
  processes.
  """
  index, count = (jax.process_index(), jax.process_count()) if process is None else process
  global_size = config.batch_size
  size = process_batch_size(global_size) if process is None else global_size // count
  examples = (grain.MapDataset.source(Subset(source, indices))
              .shuffle(seed=seed)
              .repeat(None)
              .random_map(lambda ex, rng: train_transform(ex, rng, config), seed=seed))
  first = index * size
  ds = (grain.MapDataset.range(size * (sys.maxsize // global_size))
        .map(lambda i: examples[i // size * global_size + first + i % size])
        .batch(size, drop_remainder=True))
  return prefetch(ds, config)


def prefetch(ds: grain.MapDataset, config, batch: bool = True) -> grain.IterDataset:
  read = grain.ReadOptions(num_threads=config.data_threads, prefetch_buffer_size=4 if batch else 16)
  it = ds.to_iter_dataset(read)
  if config.data_workers > 0:
    from absl import flags
    if not flags.FLAGS.is_parsed():  # Grain's workers read absl flags; outside an absl app too
      flags.FLAGS.mark_as_parsed()
    it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=config.data_workers))
  return it
