"""Grain input pipelines over `tfds.data_source`: index, augment, batch, shard.

Examples follow DESIGN.md: `clip` uint8 [T, S, S, 3] faces stored slightly larger (S) than the model
input, `label`, `subject`, `video_id`. Training draws a randomly cropped, flipped, jittered and
colour-perturbed `num_frames x image_size` clip; evaluation takes the centre crop of evenly spaced
frames. Each process reads its own shard of the examples, and the training iterator's position is a
small JSON-able state saved beside the train state in checkpoints.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import grain
import jax
import numpy as np

from emojax import models
from emojax.data import flow
from emojax.data.video import fixed_interval_indices


@dataclasses.dataclass(frozen=True)
class DatasetIndex:
  """Per-example metadata read once from a source, used to split by subject."""
  labels: np.ndarray
  subjects: np.ndarray
  video_ids: np.ndarray
  class_names: tuple[str, ...]


def _text(value) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)


def read_index(source, class_names: Sequence[str]) -> DatasetIndex:
  """Labels, subjects and video ids of every example of `source`."""
  labels, subjects, video_ids = [], [], []
  for i in range(len(source)):
    example = source[i]
    labels.append(int(example['label']))
    subjects.append(_text(example['subject']))
    video_ids.append(_text(example['video_id']))
  return DatasetIndex(np.asarray(labels, np.int32), np.asarray(subjects), np.asarray(video_ids),
                      tuple(class_names))


class Subset:
  """A random-access view of `source` restricted to `indices`."""

  def __init__(self, source, indices: Sequence[int]):
    self._source = source
    self._indices = np.asarray(indices, np.int64)

  def __len__(self) -> int:
    return len(self._indices)

  def __getitem__(self, i):
    return self._source[int(self._indices[i])]


def temporal_indices(num_stored: int, num_frames: int, rng: np.random.Generator | None = None,
                     jitter: int = 0) -> np.ndarray:
  """Evenly spaced frame indices, each moved by up to `jitter` frames at random (kept in order)."""
  indices = fixed_interval_indices(num_stored, num_frames)
  if rng is not None and jitter:
    indices = np.sort(np.clip(indices + rng.integers(-jitter, jitter + 1, indices.shape), 0,
                              num_stored - 1))
  return indices


def train_transform(example: dict, rng: np.random.Generator, config) -> dict:
  """Random crop, horizontal flip, temporal jitter, brightness and contrast; uint8 in and out."""
  clip = example['clip']
  aug = config.augment
  frames = temporal_indices(clip.shape[0], config.num_frames, rng, aug.temporal_jitter)
  size = config.image_size
  height, width = clip.shape[1:3]
  if aug.random_crop:
    top, left = rng.integers(0, height - size + 1), rng.integers(0, width - size + 1)
  else:
    top, left = (height - size) // 2, (width - size) // 2
  window = (frames, slice(top, top + size), slice(left, left + size))
  clip = clip[window]
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
  if stored_flow is not None and config.get('flow'):
    stored_flow = stored_flow[window]
    if flip:
      stored_flow = flow.mirror_flow_images(stored_flow[:, :, ::-1])
  return {'clip': _with_flow(np.ascontiguousarray(clip), config, stored_flow),
          'label': np.int32(example['label'])}


def eval_transform(example: dict, config) -> dict:
  """Centre crop of evenly spaced frames."""
  clip = example['clip']
  size = config.image_size
  top, left = (clip.shape[1] - size) // 2, (clip.shape[2] - size) // 2
  window = (temporal_indices(clip.shape[0], config.num_frames), slice(top, top + size),
            slice(left, left + size))
  stored_flow = example.get('flow')
  return {'clip': _with_flow(np.ascontiguousarray(clip[window]), config,
                             None if stored_flow is None else stored_flow[window]),
          'label': np.int32(example['label'])}


def _with_flow(clip: np.ndarray, config, stored_flow: np.ndarray | None = None) -> np.ndarray:
  """Appends optical-flow images (two-stream models) to the RGB clip: the builder's `flow` feature
  cut like the clip when the dataset has one, else computed here from the final clip."""
  if not config.get('flow'):
    return clip
  if stored_flow is None:
    return flow.clip_with_flow(clip, config.flow.method)
  return np.concatenate([clip, np.ascontiguousarray(stored_flow)], axis=-1)


def check_example_size(source, config) -> None:
  """Fails at start, naming the setting, when stored clips are smaller than the model input."""
  clip = source[0]['clip']
  if min(clip.shape[1:3]) < config.image_size:
    raise ValueError(f'config.image_size={config.image_size} is larger than the stored faces '
                     f'({clip.shape[1]}x{clip.shape[2]}) of {config.dataset.name}')


def process_batch_size(global_batch_size: int, name: str = 'config.batch_size') -> int:
  """This process's share of a global batch, which must split evenly over every device."""
  if global_batch_size % jax.device_count():
    raise ValueError(f'{name}={global_batch_size} must be a multiple of the number of devices '
                     f'({jax.device_count()})')
  return global_batch_size // jax.process_count()


def train_dataset(source, indices: Sequence[int], config, seed: int) -> grain.IterDataset:
  """Endless, per-epoch reshuffled, augmented batches of this process's shard of `indices`."""
  batch_size = process_batch_size(config.batch_size)
  shard = np.asarray(indices)[jax.process_index()::jax.process_count()]
  ds = (grain.MapDataset.source(Subset(source, shard))
        .shuffle(seed=seed)
        .repeat(None)
        .random_map(lambda ex, rng: train_transform(ex, rng, config), seed=seed)
        .batch(batch_size, drop_remainder=True))
  return _prefetch(ds, config)


def eval_batches(source, indices: Sequence[int], config):
  """Yields padded eval batches of this process's shard with a `mask` of real examples.

  Every process yields the same number of equally sized batches (the global count), as a sharded
  step requires.
  """
  batch_size = process_batch_size(config.eval_batch_size, 'config.eval_batch_size')
  shard = np.asarray(indices)[jax.process_index()::jax.process_count()]
  per_process = -(-len(indices) // jax.process_count())
  num_batches = -(-per_process // batch_size)
  ds = grain.MapDataset.source(Subset(source, shard)).map(lambda ex: eval_transform(ex, config))
  examples = iter(_prefetch(ds, config, batch=False))
  blank = np.zeros(models.input_shape(config)[1:], np.uint8)
  for _ in range(num_batches):
    chunk = [x for _, x in zip(range(batch_size), examples)]
    pad = batch_size - len(chunk)
    clips = np.stack([x['clip'] for x in chunk] + [blank] * pad)
    labels = np.asarray([x['label'] for x in chunk] + [0] * pad, np.int32)
    mask = np.asarray([True] * len(chunk) + [False] * pad)
    yield {'clip': clips, 'label': labels, 'mask': mask}


def _prefetch(ds: grain.MapDataset, config, batch: bool = True) -> grain.IterDataset:
  read = grain.ReadOptions(num_threads=config.data_threads, prefetch_buffer_size=4 if batch else 16)
  it = ds.to_iter_dataset(read)
  if config.data_workers > 0:
    from absl import flags
    if not flags.FLAGS.is_parsed():  # Grain's workers read absl flags; outside an absl app too
      flags.FLAGS.mark_as_parsed()
    it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=config.data_workers))
  return it
