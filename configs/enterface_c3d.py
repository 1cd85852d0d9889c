"""C3D (Tran et al. 2015) on eNTERFACE'05: the baseline of the P3D 3Res-att paper.

    python launch.py --config=configs/enterface_c3d.py --workdir=/tmp/enterface_c3d \
        --config.dataset.manual_dir=/path/to/enterface05

The P3D 3Res-att paper reports C3D 18.2 points below its 67.5%, i.e. about 49.3% accuracy, under the
same protocol as configs/enterface_p3d.py (subject-independent 10-fold here).
"""
import ml_collections

from configs import enterface_p3d


def get_config():
  config = enterface_p3d.get_config()  # the same data and training protocol as P3D

  config.model = ml_collections.ConfigDict()
  config.model.name = 'c3d'
  config.model.width = 64
  config.model.fc_dim = 4096
  config.model.dropout_rate = 0.5
  config.model.batch_norm = False  # as in the paper
  config.model.dtype = 'float32'
  return config
