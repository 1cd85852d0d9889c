"""Embedded demo of the RFSCNN two-stream network (+ SVM stage): small, on generated faces.

    python launch.py --config=configs/demo_rfscnn.py --workdir=/tmp/emojax_demo_rfscnn

Holds out a quarter of the synthetic subjects (fold 0 of 4) and prints the softmax and SVM
accuracies. Clips carry RGB ++ Farneback flow images (6 channels). The paper's setting is
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
  config.model.fusion = 'product'
  config.model.normalize_fused = True  # BatchNorm before the softmax head (not the SVM's features)
  config.model.dropout_rate = 0.2
  config.model.dtype = 'float32'

  config.flow = ml_collections.ConfigDict()
  config.flow.method = 'farneback'

  config.svm = ml_collections.ConfigDict()
  config.svm.enabled = True
  config.svm.kernel = 'linear'
  config.svm.C = 1.0
  return config
