"""Embedded demo of the attention LSTM on the FER2013 frame CNN; minutes on 2 CPU cores.

    python launch.py --config=configs/demo_attention_lstm_fer.py --workdir=/tmp/emojax_demo_fer_lstm

configs/oulu_attention_lstm_fer.py, small, on the generated faces (fold 0 of 4, 144 held-out
videos, chance 16.7%): the frozen FER2013 mini-Xception per frame, one new dense layer of 128,
an LSTM of 64 and the attention, on 8 frames of 64x64.
"""
from configs import demo, oulu_attention_lstm_fer


def get_config():
  config = demo.get_config()
  config.model = oulu_attention_lstm_fer.get_config().model
  config.model.fc_features = (128,)
  config.model.lstm_features = 64
  config.model.dropout_rate = 0.2
  config.num_frames = 8
  config.image_size = 64
  config.augment.random_crop = False
  config.num_epochs = 8
  return config
