"""Embedded default: the main network, small, on generated faces; trains in minutes on 2 CPU cores.

    python launch.py --config=configs/demo.py --workdir=/tmp/emojax_demo

Holds out a quarter of the synthetic subjects (fold 0 of 4) and prints their accuracy (chance
16.7%); all four folds with `--config.fold=-1`. What it reaches and how long it takes: the README.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.dataset.name = 'synthetic_expressions'
  config.dataset.config = 'default'
  config.num_frames = 16
  config.image_size = 56
  config.model.width = 8
  config.model.frame_difference = True
  config.model.num_heads = 4
  config.batch_size = 8
  config.eval_batch_size = 32
  config.num_epochs = 8
  config.learning_rate = 1e-3
  config.schedule = 'cosine'
  config.num_folds = 4
  config.fold = 0
  config.log_every_steps = 10
  return config
