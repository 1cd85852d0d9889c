"""The dataset of a run: built on first use (generated data, or the user's `manual_dir`), then read
with `tfds.data_source` as one random-access source over every split, with an index of its
examples' labels, subjects and tracks.

This sits above both `emojax.data` (which only reads examples) and `tfds_builders` (which registers
the builders), so neither imports the other's side; the evaluator and training load data here.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Sequence

import jax
import numpy as np
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401  (registers the builders)
from tfds_builders import archives
from emojax import sharding
from emojax.data import faces, folds
from emojax.errors import ConfigError, DataError


def dataset_name(config) -> str:
  """`config.dataset` as a TFDS name: 'name' or 'name/config'."""
  return config.dataset.name + (f'/{config.dataset.config}' if config.dataset.config else '')


class _NotYetBuiltFilter(logging.Filter):
  """Drops TFDS's 'Variant folder ... has no dataset_info.json' warning, which it logs while
  looking for a dataset not built yet: the normal case before a first run, not a fault."""

  def filter(self, record):
    return not str(record.msg).startswith('Variant folder')


@contextlib.contextmanager
def _quiet_lookup():
  absl_logger, quiet = logging.getLogger('absl'), _NotYetBuiltFilter()
  absl_logger.addFilter(quiet)
  try:
    yield
  finally:
    absl_logger.removeFilter(quiet)


def is_built(builder) -> bool:
  with _quiet_lookup():
    return builder.is_prepared()


def dataset_builder(config):
  """The TFDS builder of `config.dataset` (nothing is built yet)."""
  try:
    with _quiet_lookup():
      return tfds.builder(dataset_name(config), data_dir=config.dataset.data_dir or None)
  except tfds.core.registered.DatasetNotFoundError:
    raise ConfigError(f'config.dataset.name={config.dataset.name!r}: no such dataset builder; '
                      f'emojax provides {sorted(tfds_builders.NAMES)}') from None
  except ValueError as e:  # TFDS: an unknown builder config
    if 'config' not in str(e).lower():
      raise
    raise ConfigError(f'config.dataset.config={config.dataset.config!r}: {e}') from None


def _check_prepared(builder, config) -> None:
  """The builder's check that its prepared dataset is the one `config.dataset.manual_dir` would
  build (`tfds_builders.common.ArrayRecordBuilder.check_prepared`)."""
  if not config.dataset.manual_dir:
    return
  try:
    builder.check_prepared(config.dataset.manual_dir)
  except archives.ManualDirError as e:
    raise ConfigError(f'config.dataset.manual_dir={config.dataset.manual_dir!r}: {e}') from None


def _build(builder, config) -> None:
  """`download_and_prepare` from `config.dataset.manual_dir`; a missing or unusable release is a
  ConfigError naming the setting."""
  try:
    builder.download_and_prepare(
        file_format='array_record',
        download_config=tfds.download.DownloadConfig(
            manual_dir=config.dataset.manual_dir or None))
  except archives.ManualDirError as e:
    first = str(e).split('\n\n')[0].split(' Pass it with')[0]
    raise ConfigError(
        f'config.dataset.manual_dir={config.dataset.manual_dir!r}: {first} Unpack the '
        f'licence-gated release into a folder M and pass it as config.dataset.manual_dir; what '
        f'to request and the layout expected: tfds_builders/{config.dataset.name}/README.md'
    ) from None


def prepared_builder(config, builder=None):
  """The TFDS builder of `config.dataset` (or `builder`, made from it), built first
  (download_and_prepare) if needed; a prepared one is checked against `config.dataset.manual_dir`
  first (the builder's `check_prepared`: e.g. `video_folder` built from another folder).

  With several processes, process 0 builds while the others wait, then all read it: the data_dir
  must be storage that every host shares.
  """
  builder = builder or dataset_builder(config)
  several = jax.distributed.is_initialized()  # asks no backend: a build claims no device
  if not several or jax.process_index() == 0:
    if is_built(builder):
      _check_prepared(builder, config)
    else:
      _build(builder, config)
  if several:
    sharding.sync_processes('emojax: dataset prepared by process 0')
    builder = dataset_builder(config)
    if not is_built(builder):
      raise DataError(
          f'config.dataset.data_dir={config.dataset.data_dir}: process 0 built '
          f'{dataset_name(config)} there ({builder.data_dir}), but process '
          f'{jax.process_index()} does not see it; every host needs the same data_dir on shared '
          'storage')
  return builder


def stored_facts(builder) -> dict:
  """What a dataset's builder says of its examples: its name and version, class names, stored
  crop side and face margin (the builders' default for data not cropped by MTCNN), how its faces
  were found and cropped (alignment, key-frame interval, 0 for faces not detected; given face
  crops) and stored optical flow ('' for none)."""
  clip = builder.info.features['clip']
  spec = builder.builder_config
  margin = getattr(spec, 'margin', None)
  return {'dataset': builder.info.full_name,
          'class_names': tuple(builder.info.features['label'].names),
          'crop_size': int(clip.shape[-2]),
          'crop_margin': faces.CROP_MARGIN if margin is None else float(margin),
          'align': bool(getattr(spec, 'align', False)),
          'key_frame_interval': int(getattr(spec, 'key_frame_interval', 0)),
          'given_faces': bool(getattr(spec, 'given_faces', False)),
          'flow_method': getattr(spec, 'flow', '') or ''}


class ConcatSource:
  """Random access over several sources, one after the other (the splits of a dataset)."""

  def __init__(self, sources: Sequence):
    self._sources = list(sources)
    self._starts = np.cumsum([0] + [len(s) for s in self._sources])

  def __len__(self) -> int:
    return int(self._starts[-1])

  def __getitem__(self, i):
    i = int(i)
    if not 0 <= i < len(self):
      raise IndexError(f'index {i} out of range for {len(self)} examples')
    k = int(np.searchsorted(self._starts, i, side='right')) - 1
    return self._sources[k][i - int(self._starts[k])]


def as_text(value) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)


@dataclasses.dataclass(frozen=True)
class ExampleIndex:
  """Per-example metadata read once from a source: what folds split by (subjects, splits), what
  reports name (video ids), and each track's length in stored frames and frame rate (NaN for a
  dataset that records none)."""
  labels: np.ndarray
  subjects: np.ndarray
  video_ids: np.ndarray
  splits: np.ndarray
  num_stored: np.ndarray
  fps: np.ndarray


def read_index(source, example_splits: Sequence[str]) -> ExampleIndex:
  """The `ExampleIndex` of every example of `source` (whose split names are `example_splits`)."""
  labels, subjects, video_ids, lengths, rates = [], [], [], [], []
  for i in range(len(source)):
    example = source[i]
    labels.append(int(example['label']))
    subjects.append(as_text(example['subject']))
    video_ids.append(as_text(example['video_id']))
    lengths.append(len(example['clip']))
    rates.append(float(example['fps']) if 'fps' in example else np.nan)
  return ExampleIndex(np.asarray(labels, np.int32), np.asarray(subjects), np.asarray(video_ids),
                      np.asarray(example_splits), np.asarray(lengths, np.int64),
                      np.asarray(rates, np.float64))


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A run's dataset: every split as one random-access `source`, its `index`, and its builder's
  `stored` facts (`stored_facts`)."""
  source: ConcatSource
  index: ExampleIndex
  stored: dict

  @property
  def class_names(self) -> tuple[str, ...]:
    return self.stored['class_names']


def _split_sources(builder, prefix: str = '') -> tuple[list, list[str]]:
  """Every split of a prepared builder in natural order of their names, and the name of each."""
  names = folds.natural_order(list(builder.info.splits))
  return [builder.as_data_source(name) for name in names], [prefix + name for name in names]


def more_builders(config) -> list:
  """The prepared builders of `config.dataset.more` (built datasets whose examples join the
  first's, for pretraining without labels)."""
  found = []
  for name in config.dataset.more:
    try:
      builder = tfds.builder(name, data_dir=config.dataset.data_dir or None)
    except tfds.core.registered.DatasetNotFoundError:
      raise ConfigError(f'config.dataset.more: no dataset builder {name!r}; emojax provides '
                        f'{sorted(tfds_builders.NAMES)}') from None
    if not is_built(builder):
      raise DataError(f'config.dataset.more: {name} is not built in '
                      f'config.dataset.data_dir={config.dataset.data_dir!r}; build it first: '
                      f'python -m tfds_builders build {name.split("/")[0]} --manual_dir=M '
                      f'--data_dir={config.dataset.data_dir or "~/tensorflow_datasets"}')
    found.append(builder)
  return found


def load(config, builder=None) -> Dataset:
  """Every split of `config.dataset` (`builder`, if made already), built first if needed,
  concatenated in natural order of their names (a single-split dataset reads as its `train`
  split alone), then the splits of each of `config.dataset.more` (split names prefixed with the
  dataset's), and indexed. Class names and stored facts are the first dataset's."""
  builder = prepared_builder(config, builder)
  sources, names = _split_sources(builder)
  for extra in more_builders(config):
    more, more_names = _split_sources(extra, f'{extra.info.full_name}:')
    sources, names = sources + more, names + more_names
  example_splits = np.concatenate([np.full(len(s), name) for s, name in zip(sources, names)])
  source = ConcatSource(sources)
  return Dataset(source, read_index(source, example_splits), stored_facts(builder))
