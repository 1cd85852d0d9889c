"""Embedded demo of ConvNet + attention LSTM with frame pre-training and frozen convs; minutes on CPU.

    python launch.py --config=configs/demo_attention_lstm.py --workdir=/tmp/emojax_demo_att_lstm

Holds out a quarter of the synthetic subjects (fold 0 of 4) and prints their accuracy. The paper's
setting is configs/cheavd_attention_lstm.py (ACC 38.49%, macro recall 23.04% on CHEAVD).
"""
import ml_collections

from configs import demo, stages


def get_config():
  config = demo.get_config()
  config.num_frames = 8
  config.num_epochs = 16
  config.model = ml_collections.ConfigDict()
  config.model.name = 'attention_lstm'
  config.model.cnn_features = (16, 32, 64, 64, 64)
  config.model.fc_features = (128,)
  config.model.lstm_features = 64
  config.model.use_attention = True
  config.model.freeze_cnn = True
  config.model.dropout_rate = 0.2
  config.model.dtype = 'float32'

  return stages.frame_cnn_stage(config, num_epochs=6, learning_rate=1e-3)
