"""The main network on eNTERFACE'05 (43 subjects, 1287 videos, six emotions).

    python launch.py --config=configs/enterface.py --workdir=W --config.dataset.manual_dir=M

The main paper's settings (16-frame clips of 112x112 faces, Adam lr 1e-3, batch 4, 100 epochs) with
10-fold subject-independent cross-validation; the paper reports no eNTERFACE number for this network.
Ablation rows: the same overrides as configs/oulu.py. Leave-one-subject-out instead:
`--config.protocol=loso`.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.dataset.name = 'enterface05'
  config.dataset.config = 'default'
  return config
