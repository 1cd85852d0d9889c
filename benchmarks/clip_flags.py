"""The flags every training benchmark shares: the config and the clip batch shape it is run at."""
import os

from absl import flags
from ml_collections import config_flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

config_flags.DEFINE_config_file('config', os.path.join(ROOT, 'configs', 'demo.py'),
                                'experiment config; override fields with --config.X=...')
flags.DEFINE_integer('batch', 4, 'global batch size (clips)')
flags.DEFINE_integer('frames', 16, 'frames per clip')
flags.DEFINE_integer('size', 112, 'clip height and width')
flags.DEFINE_integer('classes', 6, 'output classes (a run takes them from its dataset)')


def shaped_config():
  """`--config` with its batch size, frames, image size and class count set from `--batch`,
  `--frames`, `--size` and `--classes`."""
  config = flags.FLAGS.config
  config.num_classes = flags.FLAGS.classes
  config.batch_size = flags.FLAGS.batch
  config.num_frames, config.image_size = flags.FLAGS.frames, flags.FLAGS.size
  return config
