"""Embedded demo of P3D 3Res-att: small, on generated faces; trains in minutes on 2 CPU cores.

    python launch.py --config=configs/demo_p3d.py --workdir=/tmp/emojax_demo_p3d

Holds out a quarter of the synthetic subjects (fold 0 of 4) and prints their accuracy. The paper's
number (67.5% on eNTERFACE'05) is for configs/enterface_p3d.py.
"""
import ml_collections

from configs import demo


def get_config():
  config = demo.get_config()
  config.num_frames = 8
  config.num_epochs = 16
  config.model = ml_collections.ConfigDict()
  config.model.name = 'p3d'
  config.model.stage_sizes = (2, 2, 2, 2)
  config.model.width = 8
  config.model.block_style = 'cycle'
  config.model.spatial_attention = 'every_stage'
  config.model.temporal_attention_layers = 1
  config.model.attention_dim = 32
  config.model.num_heads = 4
  config.model.dropout_rate = 0.2
  config.model.dtype = 'float32'
  return config
