"""The main network on CK+ (327 labelled sequences, 118 subjects, 7 classes with contempt).

    python launch.py --config=configs/ckplus.py --workdir=W --config.dataset.manual_dir=M
    python launch.py --config=configs/ckplus.py --workdir=W6 --config.dataset.manual_dir=M \
        --config.dataset.config=six          # the six basic emotions (309 sequences)

The main paper's settings (16-frame clips over the whole sequence, 112x112 faces, Adam lr 1e-3,
batch 4, 100 epochs) with subject-independent 10-fold cross-validation, the usual CK+ protocol;
each fold's number is its final-epoch test accuracy. The paper reports no CK+ number for this
network. Published, 7 classes, subject-independent 10-fold: DTAGN (Jung et al., ICCV 2015) 97.25%,
STM-ExpLet (Liu et al., CVPR 2014) 94.19%; their papers do not say how epochs were chosen; more in
docs/datasets.md.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.dataset.name = 'ck_plus'
  config.dataset.config = 'seven'
  config.protocol = 'kfold'
  config.num_folds = 10
  return config
