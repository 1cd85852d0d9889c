"""Embedded demo of the main network on the Kinetics-400 I3D backbone; minutes on 2 CPU cores.

    python launch.py --config=configs/demo_i3d_emotion_net.py --workdir=/tmp/emojax_demo_i3d_net

configs/oulu_i3d_emotion_net.py on the generated faces (fold 0 of 4, 144 held-out videos, chance
16.7%), small temporal modules, 16 x 64 x 64 clips (the stored size of the synthetic faces).
"""
from configs import demo, oulu_i3d_emotion_net


def get_config():
  config = demo.get_config()
  config.model = oulu_i3d_emotion_net.get_config().model
  config.model.convlstm_features = 64
  config.model.transformer_dim = 64
  config.model.num_heads = 4
  config.model.num_layers = 1
  config.model.attention_norm = 'layernorm'  # and no peepholes: not oulu.py's paper layer
  config.model.convlstm_peephole = False
  config.image_size = 64
  config.augment.random_crop = False
  config.num_epochs = 4
  config.learning_rate = 1e-3
  return config
