"""The dataset of a run: built on first use (generated data, or the user's `manual_dir`), then read
with `tfds.data_source`.

This sits above both `emojax.data` (which only reads examples) and `tfds_builders` (which registers
the builders), so neither imports the other's side.
"""
from __future__ import annotations

import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401  (registers the builders)
from emojax.checkpoints import DataRecord


def dataset_name(config) -> str:
  """`config.dataset` as a TFDS name: 'name' or 'name/config'."""
  return config.dataset.name + (f'/{config.dataset.config}' if config.dataset.config else '')


def load_source(config, split: str = 'train'):
  """The `tfds.data_source` of `config.dataset`, built first if needed; returns `(source, record)`.

  `record` (a `DataRecord`) carries the class names of the dataset's builder info and its stored
  face-crop settings.
  """
  name = dataset_name(config)
  try:
    builder = tfds.builder(name, data_dir=config.dataset.data_dir or None)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f'config.dataset.name={config.dataset.name!r}: no such dataset builder; emojax '
                     f'provides {sorted(tfds_builders.NAMES)}') from e
  if not builder.is_prepared():
    builder.download_and_prepare(
        file_format='array_record',
        download_config=tfds.download.DownloadConfig(manual_dir=config.dataset.manual_dir or None))
  source = tfds.data_source(name, split=split, data_dir=config.dataset.data_dir or None)
  clip = builder.info.features['clip']
  record = DataRecord(dataset=f'{builder.info.full_name}',
                      class_names=tuple(builder.info.features['label'].names),
                      crop_size=int(clip.shape[-2]),
                      crop_margin=getattr(builder.builder_config, 'margin', None))
  return source, record
