"""The dataset of a run: built on first use (generated data, or the user's `manual_dir`), then read
with `tfds.data_source`.

This sits above both `emojax.data` (which only reads examples) and `tfds_builders` (which registers
the builders), so neither imports the other's side.
"""
from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401  (registers the builders)
from emojax.checkpoints import DataRecord
from emojax.data import folds
from emojax.train import steps


def dataset_name(config) -> str:
  """`config.dataset` as a TFDS name: 'name' or 'name/config'."""
  return config.dataset.name + (f'/{config.dataset.config}' if config.dataset.config else '')


def dataset_builder(config):
  """The TFDS builder of `config.dataset` (nothing is built yet)."""
  try:
    return tfds.builder(dataset_name(config), data_dir=config.dataset.data_dir or None)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f'config.dataset.name={config.dataset.name!r}: no such dataset builder; emojax '
                     f'provides {sorted(tfds_builders.NAMES)}') from e


def prepared_builder(config):
  """The TFDS builder of `config.dataset`, built first (download_and_prepare) if needed.

  With several processes, process 0 builds while the others wait, then all read it: the data_dir
  must be storage that every host shares.
  """
  builder = dataset_builder(config)
  several = jax.distributed.is_initialized()  # asks no backend: a build claims no device
  if (not several or jax.process_index() == 0) and not builder.is_prepared():
    builder.download_and_prepare(
        file_format='array_record',
        download_config=tfds.download.DownloadConfig(manual_dir=config.dataset.manual_dir or None))
  if several:
    steps.sync_processes('emojax: dataset prepared by process 0')
    builder = dataset_builder(config)
    if not builder.is_prepared():
      raise FileNotFoundError(
          f'config.dataset.data_dir={config.dataset.data_dir}: process 0 built '
          f'{dataset_name(config)} there ({builder.data_dir}), but process '
          f'{jax.process_index()} does not see it; every host needs the same data_dir on shared '
          'storage')
  return builder


def data_record(builder) -> DataRecord:
  """The class names of the builder's info and its stored face-crop settings."""
  clip, cfg = builder.info.features['clip'], builder.builder_config
  return DataRecord(dataset=f'{builder.info.full_name}',
                    class_names=tuple(builder.info.features['label'].names),
                    crop_size=int(clip.shape[-2]),
                    crop_margin=getattr(cfg, 'margin', None),
                    align=getattr(cfg, 'align', None),
                    key_frame_interval=getattr(cfg, 'key_frame_interval', None),
                    given_faces=getattr(cfg, 'given_faces', None))


def load_source(config, split: str = 'train'):
  """The `tfds.data_source` of one split of `config.dataset`; returns `(source, record)`."""
  builder = prepared_builder(config)
  source = tfds.data_source(dataset_name(config), split=split,
                            data_dir=config.dataset.data_dir or None)
  return source, data_record(builder)


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


def load_splits(config):
  """Every split of `config.dataset` as one random-access source.

  Returns `(source, record, example_splits)`: the splits concatenated in natural order of their
  names (a single-split dataset reads as its `train` split alone), the `DataRecord`, and the split
  name of each example, which the official protocols assign folds by.
  """
  builder = prepared_builder(config)
  names = folds.natural_order(list(builder.info.splits))
  sources = [builder.as_data_source(name) for name in names]
  example_splits = np.concatenate([np.full(len(s), name) for s, name in zip(sources, names)])
  return ConcatSource(sources), data_record(builder), example_splits
