"""The FER2013 temporal head on CK+ (327 labelled sequences, 118 subjects, 7 classes with contempt).

    python launch.py --config=configs/ckplus_fer_temporal.py --workdir=W \
        --config.dataset.manual_dir=M
    python launch.py --config=configs/ckplus_fer_temporal.py --workdir=W6 \
        --config.dataset.manual_dir=M --config.dataset.config=six    # the six basic emotions

configs/oulu_fer_temporal.py's model and training (the frozen FER2013 network on each frame's
tight face box, its maps beside their change from the neutral onset, attention over 16 frames,
FER2013's own classifier fused; flipped test views) on configs/ckplus.py's protocol:
subject-independent 10-fold cross-validation, 16 frames at a fixed interval over each sequence
(CK+ sequences run from neutral to apex in 10-60 frames). Contempt has no FER2013 counterpart: its
classifier column starts untrained. Why each part: docs/models.md.
"""
from configs import ckplus, oulu_fer_temporal


def get_config():
  config = ckplus.get_config()
  recipe = oulu_fer_temporal.get_config()
  config.model = recipe.model
  config.eval.flip = recipe.eval.flip
  for key in ('batch_size', 'learning_rate', 'schedule', 'num_epochs'):
    config[key] = recipe[key]
  return config
