"""RFSCNN (two-stream spatio-temporal recursive network + SVM) on eNTERFACE'05, leave one subject out.

    python launch.py --config=configs/enterface_rfscnn.py --workdir=/tmp/enterface_rfscnn \
        --config.dataset.manual_dir=/path/to/enterface05

Paper (Zhou, "Video Expression Recognition Method Based on Spatiotemporal Recurrent Neural Network
and Feature Fusion", JIPS 2021): 88.67% on eNTERFACE'05 (70.32% RML, 63.84% AFEW 6.0) with
multiplication fusion and an SVM on the fused features. Each fold reports the softmax accuracy and,
under `svm`, the SVM's. The model takes RGB ++ optical-flow images (6 channels; emojax/data/flow.py).
"""
import ml_collections

from configs import enterface


def get_config():
  config = enterface.get_config()
  config.dataset.config = 'flow'  # whole face tracks + their Farneback flow, computed once
  config.sampling.method = 'random_segment'  # a random 16-frame segment per video per epoch

  config.model = ml_collections.ConfigDict()
  config.model.name = 'rfscnn'
  config.model.cnn_features = (64, 128, 256, 512)
  config.model.srl_features = 256
  config.model.srl_merge = 'concat'  # | 'sum'
  config.model.temporal_features = 256
  config.model.fusion = 'product'  # | 'concat' | 'sum'
  config.model.normalize_fused = True  # BatchNorm before the softmax head (not the SVM's features)
  config.model.dropout_rate = 0.5
  config.model.dtype = 'float32'

  config.flow = ml_collections.ConfigDict()
  config.flow.method = 'farneback'  # | 'dis' | 'tvl1' (needs opencv-contrib)

  config.svm = ml_collections.ConfigDict()
  config.svm.enabled = True
  config.svm.kernel = 'linear'  # | 'rbf'
  config.svm.C = 1.0

  config.batch_size = 8
  config.num_epochs = 50
  config.learning_rate = 1e-4
  config.protocol = 'loso'
  return config
