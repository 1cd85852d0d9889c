"""Build time and disk size per video of a dataset: the generated demo data or a fake eNTERFACE'05.

    python benchmarks/build_cost.py synthetic                       # synthetic_expressions/default
    python benchmarks/build_cost.py enterface                       # the tests' fake archive
    python benchmarks/build_cost.py enterface --frames 50 100 --subjects 1 2 --sentences 1 2

The fake eNTERFACE archive (`tfds_builders/enterface05/fake_archive.py`) is written first (not
timed), then the builder's default config is built from it with `--workers` processes into a fresh
data_dir. Prints one JSON line: seconds, videos, bytes on disk per video, the 1-minute load.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _disk_bytes(directory: str) -> int:
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(directory)
             for f in files)


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('dataset', choices=('synthetic', 'enterface'))
  ap.add_argument('--frames', type=int, nargs=2, default=(8, 12),
                  help='fake eNTERFACE videos: fewest and most frames (cycled)')
  ap.add_argument('--subjects', type=int, nargs='+', default=(1, 2, 3))
  ap.add_argument('--sentences', type=int, nargs='+', default=(1, 2, 3, 4, 5))
  ap.add_argument('--workers', type=int, default=1)
  args = ap.parse_args()

  import tensorflow_datasets as tfds

  import tfds_builders  # noqa: F401  (registers the builders)
  from tfds_builders.enterface05 import fake_archive

  with tempfile.TemporaryDirectory() as tmp:
    kwargs, download = {}, None
    if args.dataset == 'enterface':
      fake = fake_archive.make_fake_archive(os.path.join(tmp, 'manual'), args.subjects,
                                            sentences=args.sentences, num_frames=args.frames)
      name, kwargs = 'enterface05', {'num_workers': args.workers}
      download = tfds.download.DownloadConfig(manual_dir=fake.root)
    else:
      name = 'synthetic_expressions/default'
    builder = tfds.builder(name, data_dir=os.path.join(tmp, 'data'), **kwargs)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    builder.download_and_prepare(download_config=download)
    seconds = time.perf_counter() - start
    videos = builder.info.splits['train'].num_examples
    size = _disk_bytes(builder.data_dir)
    print(json.dumps({'dataset': builder.info.full_name, 'videos': videos,
                      'seconds': round(seconds, 1), 'ms_per_video': round(1000 * seconds / videos),
                      'bytes_per_video': size // videos, 'disk_mb': round(size / 2**20, 2),
                      'workers': args.workers, 'load_avg_1m': [round(load, 2),
                                                               round(os.getloadavg()[0], 2)]}))


if __name__ == '__main__':
  main()
