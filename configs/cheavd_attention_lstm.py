"""ConvNet + attention LSTM on CHEAVD 2.0: frame-level pre-training, then fine-tuning with frozen
convs, on the official MEC 2017 split.

    python launch.py --config=configs/cheavd_attention_lstm.py --workdir=/tmp/cheavd_att_lstm \
        --config.dataset.manual_dir=/path/to/cheavd     # holds manifest.csv (tfds_builders/cheavd)

Paper result on CHEAVD (8 classes, the official split): ACC 38.49%, MAP 23.04%. MAP is the MEC
challenges' macro-averaged precision (`macro_precision` in results.json, asked for below); earlier
emojax docs read the column as macro-averaged recall, which results.json reports as `uar`.
`--config.model.use_attention=False` gives the plain-LSTM baseline.

The paper's recipe: learning rate 0.005, multiplied by 0.99 after every epoch (the paper says
"decayed by 0.99" without the unit; per epoch is our reading), L1 regularisation 1e-4 on the
weights, early stopping on the validation split. Train on `train`, stop early on `validation`,
report on `test`. The patience (10 epochs) and the epoch cap (100) are ours. A copy without test
labels reports on validation and stops early on a tenth of the training speakers:

    --config.splits.test=validation --config.splits.validation= --config.validation_fraction=0.1
"""
import ml_collections

from configs import default, stages


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
  config.model.freeze_cnn = True  # fine-tune with the conv layers frozen (after stage `frames`)
  config.model.dropout_rate = 0.5
  config.model.dtype = 'float32'

  config.batch_size = 8
  config.num_epochs = 100
  config.learning_rate = 0.005
  config.schedule = 'exponential'
  config.lr_decay_per_epoch = 0.99
  config.l1 = 1e-4
  config.early_stopping_patience = 10

  config.protocol = 'official_split'
  config.num_folds = 0
  config.splits.train = 'train'
  config.splits.validation = 'validation'
  config.splits.test = 'test'
  config.extra_metrics = ('macro_precision',)
  # Frame-level pre-training of the CNN on the training frames: stage `frames`.
  return stages.frame_cnn_stage(config, num_epochs=10, learning_rate=1e-4)
