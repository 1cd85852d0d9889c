"""P3D 3Res-att on eNTERFACE'05, subject-independent 10-fold cross-validation.

    python launch.py --config=configs/enterface_p3d.py --workdir=/tmp/enterface_p3d \
        --config.dataset.manual_dir=/path/to/enterface05

Paper ("Research on Video Emotion Recognition Method Based on Deep Learning", IJCSIT 5(2)): 67.5%
accuracy, 18.2 points above C3D (configs/enterface_c3d.py). The paper gives neither its depth nor
its training schedule; this config uses a P3D ResNet-50 layout cycling blocks A, B, C, spatial
attention after every stage and one temporal multi-head attention layer (see emojax/models/p3d.py).
"""
import ml_collections

from configs import enterface


def get_config():
  config = enterface.get_config()

  config.model = ml_collections.ConfigDict()
  config.model.name = 'p3d'
  config.model.stage_sizes = (3, 4, 6, 3)
  config.model.width = 64
  config.model.block_style = 'cycle'  # 'A' | 'B' | 'C' | 'cycle'
  config.model.spatial_attention = 'every_stage'  # | 'every_block' | 'last_stage' | 'none'
  config.model.temporal_attention_layers = 1
  config.model.attention_dim = 512
  config.model.num_heads = 8
  config.model.dropout_rate = 0.5
  config.model.dtype = 'float32'

  config.batch_size = 8
  config.num_epochs = 50
  config.learning_rate = 1e-4
  config.protocol = 'kfold'
  config.num_folds = 10
  return config
