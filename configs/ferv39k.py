"""The main network on FERV39k (38,935 clips of 22 scenes, 7 classes), its official split.

    python launch.py --config=configs/ferv39k.py --workdir=W --config.dataset.manual_dir=M

Trains on `train` (31,088 clips of `4_setups/All_scenes/train_All.csv`) and reports on `test`
(7,847 of `test_All.csv`): UAR and WAR (= accuracy), the in-the-wild benchmarks' numbers. FERV39k
has no validation split, so the reported number is the final epoch's (the test split selects
nothing); early stopping, if wanted, holds out training clips:
`--config.validation_fraction=0.1 --config.early_stopping_patience=5`. The main paper's settings
otherwise (16 frames over the whole clip, 112x112 faces, Adam lr 1e-3, batch 4, 100 epochs). The
paper reports no FERV39k number for this network. Published, UAR / WAR on test: DFER-CLIP 41.27 /
51.65, with the epoch chosen on the test split (its public code); more, and how each was
selected: docs/datasets.md.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.dataset.name = 'ferv39k'
  config.dataset.config = 'default'
  config.protocol = 'official_split'
  config.num_folds = 0
  config.splits.train = 'train'
  config.splits.validation = ''
  config.splits.test = 'test'
  return config
