"""The per-frame baseline with its head fine-tuned, on the Oulu-CASIA protocol.

    python launch.py --config=configs/oulu_frame_baseline.py --workdir=W \
        --config.dataset.manual_dir=M

The FER2013 mini-Xception (`config.model.name='frame_baseline'`, emojax/models/fer_frames.py) on
each of the 16 frames (configs/oulu.py's 112x112 clips, made 64x64 greyscale in the model), class probabilities averaged over the clip. Its classifier starts as
FER2013's, mapped to the dataset's classes by name (anger <- angry, happiness <- happy, ...;
neutral dropped; a class FER2013 lacks starts untrained), and is the only part trained
(`freeze_features`), Adam lr 1e-3, 10 epochs. The zero-shot version of this baseline (no
training) is in every run's results (`config.report_frame_baseline`, emojax/evaluate/baseline.py).
"""
import ml_collections

from configs import oulu


def get_config():
  config = oulu.get_config()
  config.model = ml_collections.ConfigDict()
  config.model.name = 'frame_baseline'
  config.model.freeze_features = True
  config.model.dtype = 'float32'
  config.batch_size = 8
  config.num_epochs = 10
  return config
