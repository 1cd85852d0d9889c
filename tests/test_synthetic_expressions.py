"""The generated default dataset: TFDS round trip, determinism, and that it needs the dynamics."""

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfds_builders import synthetic_expressions as synth
from tfds_builders.synthetic_expressions import synthetic_expressions as se

CLASS_NAMES = se.SyntheticExpressions.CLASS_NAMES
NUM_CLASSES = len(CLASS_NAMES)


def _render_set(num_subjects, num_frames=8, size=32, seed=7):
  """Subjects x classes videos, one each, as (videos [N, T, H, W, 3], labels, subjects)."""
  videos, labels, subjects = [], [], []
  for s in range(num_subjects):
    params = synth.sample_subject(se.subject_rng(seed, s))
    for label in range(NUM_CLASSES):
      videos.append(synth.render_video(se.video_rng(seed, s, label, 0), params, label,
                                        num_frames, size))
      labels.append(label)
      subjects.append(s)
  return np.stack(videos), np.array(labels), np.array(subjects)


def _nearest_centroid_accuracy(features, labels, subjects, folds=4):
  """Accuracy of nearest class centroid, cross-validated over disjoint subject folds."""
  pred = np.empty_like(labels)
  for fold in range(folds):
    test = subjects % folds == fold
    centroids = np.stack([features[~test & (labels == c)].mean(0) for c in range(NUM_CLASSES)])
    dist = ((features[test][:, None] - centroids[None]) ** 2).sum(-1)
    pred[test] = dist.argmin(1)
  return float((pred == labels).mean())


def _features(frames):
  """16x16 thumbnails, mean-removed and L2-normalised (robust to global brightness)."""
  x = np.stack([cv2.resize(f, (16, 16), interpolation=cv2.INTER_AREA) for f in frames])
  x = x.reshape(len(frames), -1)
  x = x - x.mean(1, keepdims=True)
  return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-6)


def test_tiny_builds_as_array_record_and_reads_back(tmp_path):
  builder = tfds.builder('synthetic_expressions', config='tiny', data_dir=tmp_path)
  assert builder.info.file_format == tfds.core.FileFormat.ARRAY_RECORD
  builder.download_and_prepare()
  assert list(tmp_path.glob('synthetic_expressions/tiny/*/*.array_record*'))
  assert builder.info.features['label'].names == list(CLASS_NAMES)

  source = tfds.data_source('synthetic_expressions/tiny', data_dir=tmp_path)['train']
  cfg = builder.builder_config
  assert len(source) == cfg.num_subjects * NUM_CLASSES * cfg.videos_per_class == 36
  examples = [source[i] for i in range(len(source))]
  assert builder.info.features['clip'].shape == (None, 32, 32, 3)
  for ex in examples:  # each video stored whole, at the config's frame rate
    assert isinstance(ex['clip'], np.ndarray)
    assert ex['clip'].dtype == np.uint8 and ex['clip'].shape == (8, 32, 32, 3)
    assert ex['fps'] == 20.0 and ex['video_frames'] == 8
  labels = [int(ex['label']) for ex in examples]
  subjects = [ex['subject'].decode() for ex in examples]
  video_ids = [ex['video_id'].decode() for ex in examples]
  assert np.bincount(labels, minlength=NUM_CLASSES).tolist() == [6] * NUM_CLASSES
  assert sorted(set(subjects)) == [f'S{i:03d}' for i in range(1, 7)]
  assert len(set(video_ids)) == len(video_ids)
  for ex, label, subject, vid in zip(examples, labels, subjects, video_ids):
    assert vid == f'{subject}_{CLASS_NAMES[label]}_01'

  # The stored clip is exactly what the renderer draws from the config's seed.
  ex = next(e for e, v in zip(examples, video_ids) if v == 'S003_fear_01')
  params = synth.sample_subject(se.subject_rng(cfg.seed, 2))
  expected = synth.render_video(se.video_rng(cfg.seed, 2, 2, 0), params, 2, 8, 32)
  np.testing.assert_array_equal(ex['clip'], expected)


def test_config_parameters_make_other_datasets(tmp_path):
  cfg = se.SyntheticExpressionsConfig(name='small', num_subjects=2, videos_per_class=2,
                                      num_frames=5, image_size=24, seed=3)
  builder = se.SyntheticExpressions(config=cfg, data_dir=tmp_path)
  builder.download_and_prepare()
  source = builder.as_data_source('train')
  assert len(source) == 2 * NUM_CLASSES * 2
  assert source[0]['clip'].shape == (5, 24, 24, 3)
  assert {source[i]['video_id'] for i in range(len(source))} >= {b'S002_surprise_02'}


def test_render_video_is_deterministic():
  subject = synth.sample_subject(11)
  assert synth.sample_subject(11) == subject
  a = synth.render_video(5, subject, 3, num_frames=6, size=32)
  b = synth.render_video(np.random.default_rng(5), subject, 3, num_frames=6, size=32)
  c = synth.render_video(6, subject, 3, num_frames=6, size=32)
  assert a.dtype == np.uint8 and a.shape == (6, 32, 32, 3)
  assert a.tobytes() == b.tobytes()
  assert a.tobytes() != c.tobytes()


@pytest.mark.parametrize('subject_seed', [0, 1, 2])
def test_every_class_starts_from_the_same_neutral_face(subject_seed):
  subject = synth.sample_subject(subject_seed)
  videos = np.stack([synth.render_video(100 + c, subject, c, num_frames=8, size=32)
                     for c in range(NUM_CLASSES)]).astype(np.float32)
  # 8x8 thumbnails average the pixel noise away; what is left is the face.
  thumbs = np.stack([[cv2.resize(f, (8, 8), interpolation=cv2.INTER_AREA) for f in v]
                     for v in videos])
  pairs = np.triu_indices(NUM_CLASSES, 1)
  first = np.abs(thumbs[:, None, 0] - thumbs[None, :, 0]).mean((-1, -2, -3))[pairs]
  last = np.abs(thumbs[:, None, -1] - thumbs[None, :, -1]).mean((-1, -2, -3))[pairs]
  assert first.max() < 1.0, first  # the same resting face, up to noise
  assert last.mean() > 4 * first.max(), (last, first)  # the apexes differ


@pytest.mark.slow
def test_one_frame_does_not_solve_it_but_the_change_does():
  """Nearest class centroid across held-out subjects (fixed seeds: deterministic)."""
  videos, labels, subjects = _render_set(num_subjects=24)
  first = _nearest_centroid_accuracy(_features(videos[:, 0]), labels, subjects)
  last = _nearest_centroid_accuracy(_features(videos[:, -1]), labels, subjects)
  change = _nearest_centroid_accuracy(
      _features(videos[:, -1].astype(np.float32) - videos[:, 0]), labels, subjects)
  chance = 1 / NUM_CLASSES
  assert first < chance + 0.05, first  # the first frame is neutral for every class
  assert change > 2 * chance, change
  assert change > last + 0.1, (change, last)  # the change says more than the apex frame
