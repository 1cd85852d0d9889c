"""Embedded demo of C3D: small, on generated faces; trains in minutes on 2 CPU cores.

    python launch.py --config=configs/demo_c3d.py --workdir=/tmp/emojax_demo_c3d

Holds out a quarter of the synthetic subjects (fold 0 of 4) and prints their accuracy. The paper's
setting is configs/enterface_c3d.py (about 49.3% on eNTERFACE'05). BatchNorm is on here (not in the
paper) so the small network trains in a few epochs.
"""
import ml_collections

from configs import demo


def get_config():
  config = demo.get_config()
  config.num_frames = 8
  config.model = ml_collections.ConfigDict()
  config.model.name = 'c3d'
  config.model.width = 8
  config.model.fc_dim = 64
  config.model.dropout_rate = 0.2
  config.model.batch_norm = True
  config.model.dtype = 'float32'
  return config
