"""Command line for the dataset builders.

    python -m tfds_builders build oulu_casia --manual_dir=M --data_dir=D [--config=vl_strong]
    python -m tfds_builders build enterface05 --manual_dir=M --data_dir=D --num_workers=8

Writes array_record files (no TensorFlow needed) to
`<data_dir>/<name>/<config>/<version>/`, with `skipped.tsv` beside them for the
video builders. Read them back with `tfds.data_source(name, data_dir=D)`.
"""

from __future__ import annotations

import argparse
import logging
import sys

import tensorflow_datasets as tfds

import tfds_builders  # Registers the builders.
from tfds_builders import archives, common


class UsageError(Exception):
  """A flag the user can fix."""


def build(args) -> int:
  kwargs = {'data_dir': args.data_dir, 'file_format': args.file_format}
  if args.config:
    kwargs['config'] = args.config
  if args.name not in tfds_builders.NAMES:
    raise UsageError(f'{args.name!r} is not a dataset of emojax: one of '
                     f'{" | ".join(tfds_builders.NAMES)}')
  cls = tfds.builder_cls(args.name)
  configs = [c.name for c in cls.BUILDER_CONFIGS]
  if args.config and args.config not in configs:
    raise UsageError(f'--config={args.config}: {args.name} has the configs {" | ".join(configs)}')
  if issubclass(cls, common.VideoBuilder):
    kwargs['num_workers'] = args.num_workers
    kwargs['detect_on'] = args.detect_on
  builder = tfds.builder(args.name, **kwargs)
  mode = (tfds.download.GenerateMode.FORCE_REDOWNLOAD if args.overwrite
      else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS)
  builder.download_and_prepare(
    download_config=tfds.download.DownloadConfig(
      manual_dir=args.manual_dir, download_mode=mode
    )
  )
  print(f'{builder.info.full_name}: {builder.data_dir}')
  for split, info in builder.info.splits.items():
    print(f'  {split}: {info.num_examples} examples')
  stats = getattr(builder, 'build_stats', None)
  if stats is not None:
    print(f'  {stats}')
    print(f'  skipped / left out: {stats.manifest}')
  return 0


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog='python -m tfds_builders', description=__doc__,
                  formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = parser.add_subparsers(dest='command', required=True)
  b = sub.add_parser('build', help='download_and_prepare one dataset')
  b.add_argument('name', help=' | '.join(tfds_builders.NAMES))
  b.add_argument('--config', default=None,
                 help='builder config, e.g. vl_strong (default: the first)')
  b.add_argument('--data_dir', required=True, help='where prepared datasets go')
  b.add_argument('--manual_dir', default=None, help='where the downloaded archive is')
  b.add_argument('--num_workers', type=int, default=None,
         help='preprocessing processes (default: all cores, or $EMOJAX_BUILD_WORKERS)')
  b.add_argument('--detect_on', default=None, choices=('auto', 'workers', 'shared'),
         help='faces detected in each worker (CPU) or by one detector batched across them, on '
         'the accelerator if there is one (default auto: shared when there is an accelerator, '
         'or $EMOJAX_BUILD_DETECT_ON)')
  b.add_argument('--file_format', default=common.DEFAULT_FILE_FORMAT,
         help='array_record (default; no TensorFlow needed) or tfrecord')
  b.add_argument('--overwrite', action='store_true', help='rebuild even if prepared')
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
  try:
    return build(args)
  except (archives.ManualDirError, UsageError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
