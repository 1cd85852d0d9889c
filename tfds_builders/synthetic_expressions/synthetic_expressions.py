"""`synthetic_expressions`: rendered face videos of six expressions, no download.

    import tfds_builders  # registers the builder
    tfds.builder('synthetic_expressions/tiny', data_dir=D).download_and_prepare()
    tfds.data_source('synthetic_expressions/tiny', data_dir=D)['train'][0]

Every video comes from `render.render_video` with seeds derived from the
config's `seed`, so a build is the same bytes on every machine that renders the
same pixels. Stored as array_record (no TensorFlow needed). See README.md.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import common, emotions
from tfds_builders.synthetic_expressions import face_model, render


@dataclasses.dataclass(eq=False)
class SyntheticExpressionsConfig(tfds.core.BuilderConfig):
  """How many videos to render, and how.

  Attributes:
    num_subjects: synthetic people, ids 'S001', 'S002', ...
    videos_per_class: videos of each class per subject.
    num_frames: T, frames per video (neutral -> apex); each is stored whole.
    image_size: stored frame height and width (resized to the model input).
    fps: the stored frame rate; 20 makes a 16-frame expression last 0.8 s, about as long
      as an Oulu-CASIA sequence (some 20 frames at 25 fps).
    seed: all subjects and videos derive from it; 0 <= seed < 2**32.
  """
  num_subjects: int = 48
  videos_per_class: int = 2
  num_frames: int = 16
  image_size: int = 64
  fps: float = 20.0
  seed: int = 0


def subject_rng(seed: int, subject: int) -> np.random.Generator:
  """The generator of subject number `subject` (0-based) of a config."""
  # Same-length entropy for every stream: numpy's SeedSequence treats trailing
  # zeros as absent, so [s, 1] and [s, 1, 0] would be the same stream.
  return np.random.default_rng([seed, 0, subject, 0, 0])


def video_rng(seed: int, subject: int, label: int, index: int):
  """The generator of one video's nuisances."""
  return np.random.default_rng([seed, 1, subject, label, index])


def subject_id(subject: int) -> str:
  return f'S{subject + 1:03d}'


def video_id(subject: int, class_name: str, index: int) -> str:
  return f'{subject_id(subject)}_{class_name}_{index + 1:02d}'


class SyntheticExpressions(common.ArrayRecordBuilder):
  """Generated face videos of six facial expressions (neutral -> apex)."""

  VERSION = tfds.core.Version('1.2.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
      '1.1.0': 'Faces fill more of the frame (as MTCNN crops do), milder resting expressions, '
               'stronger apexes.',
      '1.2.0': 'The video builders\' features: `clip` of any length (each video whole, the same '
               'pixels as 1.1.0), `fps` (20) and `video_frames`.',
  }
  BUILDER_CONFIGS = [
      SyntheticExpressionsConfig(
          name='default',
          description='48 subjects x 6 classes x 2 videos, 16 frames of 64x64.'),
      SyntheticExpressionsConfig(
          name='other_subjects', seed=1,
          description='48 other subjects (seed 1) x 6 classes x 2 videos, 16 frames of 64x64: '
          "none of `default`'s people, e.g. to pretrain on before fine-tuning on `default`."),
      SyntheticExpressionsConfig(
          name='tiny', num_subjects=6, videos_per_class=1, num_frames=8,
          image_size=32,
          description='6 subjects x 6 classes x 1 video, 8 frames of 32x32; '
          'for tests.'),
  ]
  DEFAULT_CONFIG_NAME = 'default'
  CLASS_NAMES = emotions.BASIC_EMOTIONS  # The renderer's labels: rows of `face_model.APEX`.

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    shape = (None, cfg.image_size, cfg.image_size, 3)
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'clip': tfds.features.Tensor(
                shape=shape, dtype=np.uint8,
                encoding=tfds.features.Encoding.ZLIB,
                doc='RGB frames, neutral -> apex'),
            'fps': tfds.features.Scalar(np.float32, doc='frames per second of `clip`'),
            'video_frames': tfds.features.Scalar(np.int32, doc='frames of the video'),
            'label': tfds.features.ClassLabel(names=self.CLASS_NAMES),
            'subject': tfds.features.Text(),
            'video_id': tfds.features.Text(),
        }),
        supervised_keys=('clip', 'label'),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {'train': self._generate_examples()}

  def _generate_examples(self):
    cfg = self.builder_config
    for s in range(cfg.num_subjects):
      params = face_model.sample_subject(subject_rng(cfg.seed, s))
      for label, class_name in enumerate(self.CLASS_NAMES):
        for k in range(cfg.videos_per_class):
          clip = render.render_video(video_rng(cfg.seed, s, label, k), params,
                                     label, cfg.num_frames, cfg.image_size)
          key = video_id(s, class_name, k)
          yield key, {
              'clip': clip,
              'fps': np.float32(cfg.fps),
              'video_frames': np.int32(cfg.num_frames),
              'label': label,
              'subject': subject_id(s),
              'video_id': key,
          }
