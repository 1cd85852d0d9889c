"""Embedded demo of RFSCNN shaped and trained as the paper: small, on generated faces.

    python launch.py --config=configs/demo_rfscnn_paper.py --workdir=/tmp/emojax_demo_rfscnn_paper

The paper's stream CNNs (8 and 16 filters) and 64-unit stream features on 8 frames of 56x56
(instead of 16 of 227x227), trained in two stages: each stream with its own softmax head, then the
multiplication fusion and head on the frozen streams; softmax and SVM accuracies of fold 0 of 4.
The paper's setting is configs/enterface_rfscnn.py; end to end with wider CNNs:
configs/demo_rfscnn.py.
"""
from configs import demo_rfscnn, stages


def get_config():
  config = demo_rfscnn.get_config()
  config.model.cnn_features = (8, 16)
  config.model.fc_features = 64
  config.num_epochs = 4  # stage 2: fusion and head
  return stages.rfscnn_two_stage(config, num_epochs=8, learning_rate=1e-3)
