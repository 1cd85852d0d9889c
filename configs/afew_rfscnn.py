"""RFSCNN (two-stream spatio-temporal recursive network + SVM) on AFEW: train on Train, test on Val.

    python launch.py --config=configs/afew_rfscnn.py --workdir=/tmp/afew_rfscnn \
        --config.dataset.manual_dir=/path/to/afew      # Train_AFEW/ and Val_AFEW/ (or their zips)

Paper (Zhou, JIPS 2021): 63.84% on AFEW 6.0 (7 classes with neutral), reported on Val, as AFEW's
test labels are not public. The protocol here is the official split: `train` (Train_AFEW, 773
clips) trains, `validation` (Val_AFEW, 383) is the test set and never selects an epoch; the fold's
number is its final-epoch Val accuracy. Early stopping would hold out training clips:
`--config.validation_fraction=0.1 --config.early_stopping_patience=5`.
Training (streams first, then fusion), sizes and Table 1's one-stream rows
(`--config=configs/afew_rfscnn.py:spatial` or `:temporal`) as configs/enterface_rfscnn.py.
"""
from configs import enterface_rfscnn


def get_config(streams: str = 'both'):
  config = enterface_rfscnn.base_config()
  config.dataset.name = 'afew'
  config.dataset.config = 'flow'  # whole face tracks + their Farneback flow, computed once
  config.protocol = 'official_split'
  config.splits.train = 'train'
  config.splits.validation = ''
  config.splits.test = 'validation'
  return enterface_rfscnn.finish(config, streams)
