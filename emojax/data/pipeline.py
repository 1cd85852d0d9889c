"""Grain input pipelines over `tfds.data_source`: index, sample, augment, batch, shard.

Examples follow DESIGN.md: `clip` uint8 `[N, S, S, 3]`, the face track of a whole video, `label`,
`subject`, `video_id`, `fps` (stored frames per second). Training draws a fresh clip from the track
every epoch (`emojax.data.sampling`), resizes it with the crop margin, random-crops, flips and
perturbs colour; evaluation takes `config.eval.num_clips` x `num_crops` views per video, which
`eval_batches` flattens into padded batches with the video each view belongs to. Each process
reads its own rows of every global training batch and its own share of the evaluated videos; the
training iterator's position is a small JSON-able state saved beside the train state in
checkpoints.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Sequence

import grain
import jax
import numpy as np

from emojax import models
from emojax.data import faces, flow
from emojax.data import sampling as sampling_lib


@dataclasses.dataclass(frozen=True)
class DatasetIndex:
  """Per-example metadata read once from a source, used to split by subject.

  `num_stored` is each track's length in stored frames, `fps` its stored frame rate (NaN for a
  dataset that records none).
  """
  labels: np.ndarray
  subjects: np.ndarray
  video_ids: np.ndarray
  class_names: tuple[str, ...]
  num_stored: np.ndarray | None = None
  fps: np.ndarray | None = None


def as_text(value) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)


def read_index(source, class_names: Sequence[str]) -> DatasetIndex:
  """Labels, subjects, video ids, track lengths and frame rates of every example of `source`."""
  labels, subjects, video_ids, lengths, rates = [], [], [], [], []
  for i in range(len(source)):
    example = source[i]
    labels.append(int(example['label']))
    subjects.append(as_text(example['subject']))
    video_ids.append(as_text(example['video_id']))
    lengths.append(len(example['clip']))
    rates.append(float(example.get('fps', np.nan)))
  return DatasetIndex(np.asarray(labels, np.int32), np.asarray(subjects), np.asarray(video_ids),
                      tuple(class_names), np.asarray(lengths, np.int64),
                      np.asarray(rates, np.float64))


def data_contract(record, config, index: DatasetIndex):
  """`record` (a `checkpoints.DataRecord` of the dataset) with what the run draws from it: frame
  rate, sampling, clip length and span, resize margin and evaluation views."""
  sampling = check_sampling(config, record)
  fps = float(np.nanmedian(index.fps)) if np.isfinite(index.fps).any() else None
  median_frames = int(np.median(index.num_stored))
  span = sampling.span(median_frames)
  return dataclasses.replace(
      record, fps=fps, median_frames=median_frames, image_size=config.image_size,
      resize_margin=float(config.augment.get('crop_margin', 0.0)), num_frames=config.num_frames,
      sampling={'method': sampling.method, 'num_fragments': sampling.num_fragments,
                'stride': sampling.stride},
      whole_video=sampling.whole_video, span_frames=span,
      span_seconds=None if fps is None else span / fps,
      views=sampling_lib.view_settings(config))


def check_sampling(config, record) -> sampling_lib.Sampling:
  """`sampling.check_config` against the face margin of the dataset's crops (the builders' default
  for data not cropped by MTCNN): fails at start, naming the setting that cannot work."""
  face_margin = faces.CROP_MARGIN if record.crop_margin is None else record.crop_margin
  return sampling_lib.check_config(config, face_margin)


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
  side = sampling_lib.resized_side(size, aug.get('crop_margin', 0.0))
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
  if stored_flow is not None and config.get('flow'):
    stored_flow = _resized_flow(stored_flow[frames], side)[window]
    if flip:
      stored_flow = flow.mirror_flow_images(stored_flow[:, :, ::-1])
  return {'clip': _with_flow(np.ascontiguousarray(clip), config, stored_flow),
          'label': np.int32(example['label'])}


def eval_views(example: dict, config) -> dict:
  """The `config.eval.num_clips` x `num_crops` views of a video, `clip` `[V, T, H, W, C]` (clip
  k's crops together), from the track resized with the crop margin."""
  clip, stored_flow = example['clip'], example.get('flow')
  settings = sampling_lib.view_settings(config)
  size = config.image_size
  side = sampling_lib.resized_side(size, config.augment.get('crop_margin', 0.0))
  offsets = sampling_lib.crop_offsets(side, size, settings['num_crops'])
  views = []
  for frames in sampling_lib.Sampling.from_config(config).view_indices(
      len(clip), settings['num_clips']):
    resized = sampling_lib.resize_frames(clip[frames], side)
    resized_flow = None if stored_flow is None else _resized_flow(stored_flow[frames], side)
    for top, left in offsets:
      window = (slice(None), slice(top, top + size), slice(left, left + size))
      views.append(_with_flow(np.ascontiguousarray(resized[window]), config,
                              None if resized_flow is None else resized_flow[window]))
  return {'clip': np.stack(views), 'label': np.int32(example['label'])}


def _resized_flow(images: np.ndarray, side: int) -> np.ndarray:
  """Stored flow images at `side` pixels, their displacements scaled with the image."""
  return flow.scale_flow_images(sampling_lib.resize_frames(images, side),
                                side / images.shape[1])


def _with_flow(clip: np.ndarray, config, stored_flow: np.ndarray | None = None) -> np.ndarray:
  """Appends optical-flow images (two-stream models) to the RGB clip: the builder's `flow` feature
  cut like the clip when the dataset has one, else computed here from the final clip."""
  if not config.get('flow'):
    return clip
  if stored_flow is None:
    return flow.clip_with_flow(clip, config.flow.method)
  return np.concatenate([clip, np.ascontiguousarray(stored_flow)], axis=-1)


def process_batch_size(global_batch_size: int, name: str = 'config.batch_size') -> int:
  """This process's share of a global batch, which must split evenly over every device."""
  if global_batch_size % jax.device_count():
    raise ValueError(f'{name}={global_batch_size} must be a multiple of the number of devices '
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
  return _prefetch(ds, config)


def eval_batches(source, indices: Sequence[int], config):
  """Yields padded batches of this process's views with a `mask` of real ones and `video`, the
  position in `indices` of the video each view belongs to.

  Each video gives `sampling.num_views(config)` consecutive views (`eval_views`). Every process
  yields the same number of equally sized batches (the global count), as a sharded step requires.
  """
  batch_size = process_batch_size(config.eval_batch_size, 'config.eval_batch_size')
  positions = np.arange(len(indices))[jax.process_index()::jax.process_count()]
  per_process = -(-len(indices) // jax.process_count()) * sampling_lib.num_views(config)
  num_batches = -(-per_process // batch_size)
  ds = (grain.MapDataset.source(Subset(source, np.asarray(indices)[positions]))
        .map(lambda ex: eval_views(ex, config)))
  views = ((view, example['label'], position)
           for position, example in zip(positions, _prefetch(ds, config, batch=False))
           for view in example['clip'])
  blank = np.zeros(models.input_shape(config)[1:], np.uint8)
  for _ in range(num_batches):
    chunk = [x for _, x in zip(range(batch_size), views)]
    pad = batch_size - len(chunk)
    yield {'clip': np.stack([c for c, _, _ in chunk] + [blank] * pad),
           'label': np.asarray([y for _, y, _ in chunk] + [0] * pad, np.int32),
           'video': np.asarray([v for _, _, v in chunk] + [-1] * pad, np.int32),
           'mask': np.asarray([True] * len(chunk) + [False] * pad)}


def _prefetch(ds: grain.MapDataset, config, batch: bool = True) -> grain.IterDataset:
  read = grain.ReadOptions(num_threads=config.data_threads, prefetch_buffer_size=4 if batch else 16)
  it = ds.to_iter_dataset(read)
  if config.data_workers > 0:
    from absl import flags
    if not flags.FLAGS.is_parsed():  # Grain's workers read absl flags; outside an absl app too
      flags.FLAGS.mark_as_parsed()
    it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=config.data_workers))
  return it
