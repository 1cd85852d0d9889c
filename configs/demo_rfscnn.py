"""Embedded demo of the RFSCNN two-stream network (+ SVM stage): small, on generated faces.

    python launch.py --config=configs/demo_rfscnn.py --workdir=/tmp/emojax_demo_rfscnn

Holds out a quarter of the synthetic subjects (fold 0 of 4) and prints the softmax and SVM
accuracies. Clips carry RGB ++ Farneback flow images (6 channels). Trained end to end, with
three-layer stream CNNs and no fully connected layer; the paper-shaped demo (two-stage training,
8-16 filter CNNs, 64-unit stream features) is configs/demo_rfscnn_paper.py, the paper's setting
configs/enterface_rfscnn.py (88.67% on eNTERFACE'05).
"""
import ml_collections

from configs import demo


def get_config():
  config = demo.get_config()
  config.num_frames = 8
  config.sampling.method = 'random_segment'  # the paper's segments: a random 8 of the 16 frames
  config.model = ml_collections.ConfigDict()
  config.model.name = 'rfscnn'
  config.model.cnn_features = (8, 16, 32)
  config.model.srl_features = 16
  config.model.srl_merge = 'concat'
  config.model.temporal_features = 16
  config.model.fc_features = 0  # the averaged BiLSTM output is the stream feature
  config.model.streams = 'both'
  config.model.fusion = 'product'
  config.model.normalize_fused = True  # BatchNorm before the softmax head (not the SVM's features)
  config.model.freeze_streams = False  # end to end, no stream pre-training
  config.model.dropout_rate = 0.2
  config.model.dtype = 'float32'

  config.flow.method = 'farneback'  # computed from each clip (the dataset stores none)
  config.svm.enabled = True
  return config
