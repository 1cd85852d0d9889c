"""ConvNet + attention LSTM on CHEAVD: frame-level pre-training, then fine-tuning with frozen convs.

    python launch.py --config=configs/cheavd_attention_lstm.py --workdir=/tmp/cheavd_att_lstm \
        --config.dataset.manual_dir=/path/to/cheavd

Paper result on CHEAVD (8 classes): ACC 38.49%, macro average recall 23.04% (the "MAP" column,
`uar` in results.json). `--config.model.use_attention=False` gives the plain-LSTM baseline.
Needs a `cheavd` TFDS builder (not yet in tfds_builders/). CHEAVD's official split is by
train/validation/test partition, not by subject folds; here subject-independent 5-fold is used.
"""
import ml_collections

from configs import default


def get_config():
  config = default.get_config()
  config.dataset.name = 'cheavd'
  config.dataset.config = ''
  config.num_frames = 16
  config.image_size = 100

  config.model = ml_collections.ConfigDict()
  config.model.name = 'attention_lstm'
  config.model.cnn_features = (96, 256, 384, 384, 256)
  config.model.fc_features = (1024, 1024)
  config.model.lstm_features = 512
  config.model.use_attention = True
  config.model.freeze_cnn = True  # fine-tune with the conv layers frozen (after pre-training)
  config.model.dropout_rate = 0.5
  config.model.dtype = 'float32'

  config.pretrain = ml_collections.ConfigDict()
  config.pretrain.enabled = True  # frame-level pre-training of the CNN on the training frames
  config.pretrain.num_epochs = 10
  config.pretrain.learning_rate = 1e-4

  config.batch_size = 8
  config.num_epochs = 30
  config.learning_rate = 1e-4
  config.protocol = 'kfold'
  config.num_folds = 5
  return config
