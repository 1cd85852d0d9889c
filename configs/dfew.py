"""The main network on DFEW (12,059 single-labelled clips, 7 classes), its 5 official folds.

    python launch.py --config=configs/dfew.py --workdir=W --config.dataset.manual_dir=M
    python launch.py --config=configs/dfew.py --workdir=W --config.fold=0       # fold 1 only

Each official fold tests on its `test(single-labeled)/set_k.csv` clips and trains on the other
four folds; results report UAR and WAR (= accuracy) per fold and their mean, the in-the-wild
benchmarks' numbers. Each fold's number is its final-epoch test result (the test fold selects no
epoch); early stopping, if wanted, holds out training clips:
`--config.validation_fraction=0.1 --config.early_stopping_patience=5`. The main paper's settings
otherwise (16 frames over the whole clip, 112x112 faces, Adam lr 1e-3, batch 4, 100 epochs). The
paper reports no DFEW number for this network. Published, 5 official folds, UAR / WAR: Former-DFER
53.69 / 65.70 and DFER-CLIP 59.61 / 71.25, both with the epoch chosen on the test fold (their
public code); more, and how each was selected: docs/datasets.md.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.dataset.name = 'dfew'
  config.dataset.config = 'default'
  config.protocol = 'official_folds'
  config.num_folds = 0
  return config
