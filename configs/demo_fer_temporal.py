"""Embedded demo of the FER2013 temporal head (`fer_temporal`); minutes on 2 CPU cores.

    python launch.py --config=configs/demo_fer_temporal.py --workdir=/tmp/emojax_demo_fer_temporal

configs/oulu_fer_temporal.py on the generated faces (fold 0 of 4, 144 held-out videos, chance
16.7%): the frozen FER2013 mini-Xception on each frame's face box, its maps beside their change
from the onset, attention over 8 frames of 64x64, FER2013's own classifier fused; 8 epochs.
What each part bought on this demo: docs/models.md.
"""
from configs import demo, oulu_fer_temporal


def get_config():
  config = demo.get_config()
  config.model = oulu_fer_temporal.get_config().model
  config.model.embed_features = 128
  config.num_frames = 8
  config.image_size = 64
  config.augment.random_crop = False
  config.eval.flip = True
  config.num_epochs = 8
  return config
