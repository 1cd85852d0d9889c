"""Embedded demo of the Kinetics-400 I3D fine-tuned for emotions; minutes on 2 CPU cores.

    python launch.py --config=configs/demo_i3d.py --workdir=/tmp/emojax_demo_i3d

configs/oulu_i3d.py on the generated faces (fold 0 of 4, 144 held-out videos, chance 16.7%): the
I3D with its Kinetics-400 weights, layers through `Mixed_4f` frozen, `Mixed_5b`, `Mixed_5c` and a
new head trained on 16 x 64 x 64 clips (the stored size of the synthetic faces).
"""
from configs import demo, oulu_i3d


def get_config():
  config = demo.get_config()
  config.model = oulu_i3d.get_config().model
  config.image_size = 64
  config.augment.random_crop = False
  config.num_epochs = 4
  config.learning_rate = 1e-3
  return config
