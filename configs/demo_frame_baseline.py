"""Embedded demo of the per-frame FER2013 baseline with its head fine-tuned; a minute on 2 CPU cores.

    python launch.py --config=configs/demo_frame_baseline.py --workdir=/tmp/emojax_demo_frames

configs/oulu_frame_baseline.py on the generated faces (fold 0 of 4, 144 held-out videos, chance
16.7%), 8 frames of 64x64.
"""
from configs import demo, oulu_frame_baseline


def get_config():
  config = demo.get_config()
  config.model = oulu_frame_baseline.get_config().model
  config.num_frames = 8
  config.image_size = 64
  config.augment.random_crop = False
  config.num_epochs = 4
  return config
