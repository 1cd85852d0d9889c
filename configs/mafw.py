"""The main network on MAFW's single-label set (11 classes), its 5 official folds.

    python launch.py --config=configs/mafw.py --workdir=W --config.dataset.manual_dir=M
    python launch.py --config=configs/mafw.py --workdir=W --config.fold=0       # fold 1 only

Each official fold tests on its `single/no_caption/set_k/test.txt` clips and trains on the other
four folds; results report UAR and WAR (= accuracy) per fold and their mean. Each fold's number
is its final-epoch test result (the test fold selects no epoch); early stopping, if wanted, holds
out training clips: `--config.validation_fraction=0.1 --config.early_stopping_patience=5`. The
builder's default config reads the video clips (`data/clips`); `--config.dataset.config=frames`
reads the frame folders. The main paper's settings otherwise (16 frames over the whole clip,
112x112 faces, Adam lr 1e-3, batch 4, 100 epochs). The paper reports no MAFW number for this
network. Published, 11 classes, 5 official folds, UAR / WAR: DFER-CLIP 39.89 / 52.55, with the
epoch chosen on the test fold (its public code); more, and how each was selected:
docs/datasets.md.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.dataset.name = 'mafw'
  config.dataset.config = 'default'
  config.protocol = 'official_folds'
  config.num_folds = 0
  return config
