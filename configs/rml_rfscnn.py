"""RFSCNN (two-stream spatio-temporal recursive network + SVM) on RML, leave one speaker out.

    python launch.py --config=configs/rml_rfscnn.py --workdir=/tmp/rml_rfscnn \
        --config.dataset.manual_dir=/path/to/rml

Paper (Zhou, JIPS 2021): 70.32% on RML (720 videos, 8 speakers, six emotions), with the
eNTERFACE'05 row's settings (configs/enterface_rfscnn.py); the paper's RML protocol is speaker
independent, which is leave-one-speaker-out here (8 folds, `subject` = speaker). Each fold reports
the softmax accuracy (WAR), UAR and, under `svm`, the SVM's accuracy.
Training (streams first, then fusion), sizes and Table 1's one-stream rows
(`--config=configs/rml_rfscnn.py:spatial` or `:temporal`) as configs/enterface_rfscnn.py.
"""
from configs import enterface_rfscnn


def get_config(streams: str = 'both'):
  config = enterface_rfscnn.base_config()
  config.dataset.name = 'rml'
  config.dataset.config = 'flow'  # whole face tracks + their Farneback flow, computed once
  config.protocol = 'loso'
  return enterface_rfscnn.finish(config, streams)
