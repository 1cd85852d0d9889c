"""Clips/s of the Grain training pipeline alone (decode, augment, batch), to set beside the train step.

    python benchmarks/pipeline_throughput.py --config=configs/demo.py --batches=60 [--config.data_workers=2]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Experiment config file.')
_BATCHES = flags.DEFINE_integer('batches', 60, 'Batches to time after the first.')


def main(argv):
  del argv
  import numpy as np
  from emojax import datasets
  from emojax.data import pipeline

  config = _CONFIG.value
  dataset = datasets.load(config)
  source = dataset.source
  it = iter(pipeline.train_dataset(source, np.arange(len(source)), config, seed=0))
  next(it)
  start = time.perf_counter()
  for _ in range(_BATCHES.value):
    next(it)
  elapsed = time.perf_counter() - start
  clips = _BATCHES.value * config.batch_size
  print(f'{config.dataset.name}/{config.dataset.config}: {clips / elapsed:.1f} clips/s '
        f'({config.num_frames}x{config.image_size}x{config.image_size}, batch {config.batch_size}, '
        f'workers {config.data_workers}, threads {config.data_threads}; {len(dataset.class_names)} classes)')


if __name__ == '__main__':
  flags.mark_flags_as_required(['config'])
  app.run(main)
