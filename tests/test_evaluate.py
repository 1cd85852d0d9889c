"""The evaluator: metrics, a video's views and their aggregation, the sharded function over padded
view batches, predictions.csv, the SVM on a model's features, the zero-shot per-frame baseline, and
`python -m emojax.evaluate` on a finished run."""
import csv
import os

import flax.linen as nn
import jax
import numpy as np
import optax
import pytest

from emojax import models, sharding
from emojax.evaluate import apply, baseline, metrics, svm, views
from emojax.train import state as state_lib

from conftest import (PIXEL_VIEWS, ROOT, pixel_logits, pixel_source, random_source, tiny_config,
                      tiny_model)

# Rows true classes, columns predictions.
MATRIX = np.array([[3, 1, 0, 0],   # class 0: 4 examples, 3 right
                   [0, 2, 0, 0],   # class 1: 2 examples, both right
                   [2, 0, 0, 0],   # class 2: 2 examples, never predicted
                   [0, 0, 0, 0]])  # class 3: absent from labels and predictions


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
  matrix = metrics.confusion_matrix([0, 0, 0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 1, 0, 0], 4)
  np.testing.assert_array_equal(matrix, MATRIX)


def test_war_uar_per_class_recall_and_macro_precision_by_hand():
  assert metrics.accuracy(MATRIX) == pytest.approx(5 / 8)  # WAR
  recall = metrics.per_class_recall(MATRIX)
  np.testing.assert_allclose(recall[:3], [3 / 4, 1, 0])
  assert np.isnan(recall[3])
  assert metrics.unweighted_average_recall(MATRIX) == pytest.approx((3 / 4 + 1 + 0) / 3)
  # Precision: class 0 3/5, class 1 2/3, class 2 0 (has examples, never predicted); class 3 absent.
  assert metrics.macro_precision(MATRIX) == pytest.approx((3 / 5 + 2 / 3 + 0) / 3)
  summary = metrics.summarize(MATRIX, ['a', 'b', 'c', 'd'], ('macro_precision',))
  assert summary['war'] == summary['accuracy'] == pytest.approx(5 / 8)
  assert summary['macro_precision'] == pytest.approx(0.42222, abs=1e-5)
  assert summary['per_class_recall']['d'] is None and summary['num_examples'] == 8
  assert 'macro_precision' not in metrics.summarize(MATRIX, ['a', 'b', 'c', 'd'])


def test_views_average_logits_or_probabilities_per_video():
  logits = np.array([[4.0, 0.0], [0.0, 1.0], [0.0, 2.0], [1.0, 1.0]])
  videos = np.array([0, 0, 1, 0])
  by_logits = metrics.video_probabilities(logits, videos, 2, 'logits')
  np.testing.assert_allclose(by_logits[0], metrics.softmax([5 / 3, 2 / 3]))
  by_probs = metrics.video_probabilities(logits, videos, 2, 'probabilities')
  np.testing.assert_allclose(by_probs[0], metrics.softmax(logits[[0, 1, 3]]).mean(0))
  np.testing.assert_allclose(by_probs[1], by_logits[1])
  assert metrics.per_video_labels([3, 3, 1, 3], videos, 2).tolist() == [3, 1]
  with pytest.raises(ValueError, match='views of 3 videos expected'):
    metrics.mean_per_video(logits, videos, 3)


def _config(**kw):
  """4 frames of 16 pixels from 20-pixel crops: a crop margin of 0.25 resizes nothing."""
  return tiny_config(**{'num_frames': 4, 'image_size': 16, 'eval_batch_size': 4,
                        'augment.crop_margin': 0.25, **kw})


def test_video_views_are_clips_by_crops_in_order():
  config = _config(**{'eval.num_clips': 3, 'eval.num_crops': 2})
  example = random_source(1, frames=12)[0]
  clips = views.video_views(example, config)['clip']
  assert clips.shape == (6, 4, 16, 16, 3) == (views.num_views(config), *models.input_shape(
      config)[1:])
  # Clip 0 of 3: the grid 0, 3.67, 7.33, 11 moved by (0.5 / 3 - 0.5) of its 3.67-frame interval.
  first = example['clip'][[0, 2, 6, 10]]
  np.testing.assert_array_equal(clips[0], first[:, 2:18, 2:18])  # centre crop
  np.testing.assert_array_equal(clips[1], first[:, :16, :16])  # top-left crop
  assert not np.array_equal(clips[2], clips[0])  # the next clip


def test_view_batches_pad_with_a_mask_and_name_each_views_video():
  config = _config(**{'eval.num_clips': 2, 'eval.num_crops': 3})
  batches = list(views.view_batches(random_source(5), [4, 0, 2], config))
  assert len(batches) == 5 and [int(b['mask'].sum()) for b in batches] == [4, 4, 4, 4, 2]
  videos = np.concatenate([b['video'][b['mask']] for b in batches])
  labels = np.concatenate([b['label'][b['mask']] for b in batches])
  assert videos.tolist() == [0] * 6 + [1] * 6 + [2] * 6  # positions in the given indices
  assert labels.tolist() == [1] * 6 + [0] * 6 + [2] * 6
  assert (batches[-1]['video'][~batches[-1]['mask']] == -1).all()
  again = list(views.view_batches(random_source(5), [4, 0, 2], config))
  np.testing.assert_array_equal(batches[0]['clip'], again[0]['clip'])


def test_every_video_is_scored_once_from_all_its_views():
  mesh = sharding.make_mesh()
  indices = np.array([4, 1, 3])  # 3 videos x 6 views: 18 views in batches of 4, 2 padded
  probabilities, labels = apply.video_probabilities(
      apply.sharded_apply(pixel_logits, mesh), {}, pixel_source(5), indices,
      tiny_config(**PIXEL_VIEWS), mesh)
  assert labels.tolist() == [1, 1, 0]
  want = metrics.softmax(np.stack([indices, 10.0 - indices, indices % 3], -1))
  np.testing.assert_allclose(probabilities, want, rtol=1e-6)


def test_predictions_csv_has_a_row_per_video_with_every_class_probability(tmp_path):
  from emojax import evaluate
  path = str(tmp_path / evaluate.PREDICTIONS_FILE)
  probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
  evaluate.write_predictions(path, ['S1/a.avi', 'S2/b.avi'], [0, 1], probabilities,
                             ('anger', 'fear', 'joy'))
  with open(path) as f:
    rows = list(csv.reader(f))
  assert rows[0] == ['video_id', 'label', 'predicted', 'p_anger', 'p_fear', 'p_joy']
  assert rows[1] == ['S1/a.avi', 'anger', 'anger', '0.700000', '0.200000', '0.100000']
  assert rows[2][:3] == ['S2/b.avi', 'fear', 'joy'] and len(rows) == 3


class _MeanFeatures(nn.Module):
  """Features = the clip's mean pixel per channel; enough to see views averaged."""
  num_classes: int = 2

  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(self.num_classes)(self.features(x))

  def features(self, x, train=False):
    return x.mean(axis=(1, 2, 3))


def test_svm_features_are_averaged_over_a_videos_views():
  model = _MeanFeatures()
  state = state_lib.create_train_state(model, optax.sgd(0.1), jax.random.key(0), (1, 2, 4, 4, 3))
  clips = np.zeros((4, 2, 4, 4, 3), np.uint8)
  clips[:, :, :, :, 0] = np.array([0, 255, 51, 0])[:, None, None, None]
  batch = {'clip': clips, 'label': np.array([1, 1, 0, 0]), 'video': np.array([0, 0, 1, 0]),
           'mask': np.array([True, True, True, False])}
  feats, labels = svm.extract_features(apply.model_variables(state), model, [batch],
                                       sharding.make_mesh(), num_videos=2)
  assert feats.shape == (2, 3) and labels.tolist() == [1, 0]
  np.testing.assert_allclose(feats[:, 0], [0.0, 51 * 2 / 255 - 1], atol=1e-6)  # (-1 + 1) / 2


@pytest.mark.slow
def test_svm_features_of_single_views_drop_padding():
  model = tiny_model('rfscnn')
  x = np.zeros((2, 4, 24, 24, 6), np.float32)
  variables = jax.jit(lambda x: model.init(jax.random.key(0), x, train=False))(x)
  rng = np.random.default_rng(0)
  batches = [{'clip': rng.integers(0, 256, x.shape, dtype=np.uint8), 'label': np.array([1, 2]),
              'mask': np.array([True, k == 0])} for k in range(2)]
  feats, labels = svm.extract_features(variables, model, batches, mesh=sharding.make_mesh())
  assert feats.shape == (3, 8) and feats.dtype == np.float32
  np.testing.assert_array_equal(labels, [1, 2, 1])
  streams = model.apply(variables, models.normalize_clip(batches[0]['clip']), train=False,
                        method='stream_features')
  direct = model.apply(variables, streams, method='fuse_streams')
  np.testing.assert_allclose(feats[:2], direct, rtol=1e-4, atol=1e-6)


def test_svm_separates_separable_features():
  rng = np.random.default_rng(0)
  centres = rng.normal(size=(3, 10)) * 5
  labels = np.repeat(np.arange(3), 20)
  feats = centres[labels] + rng.normal(size=(60, 10)) * 0.3
  test_labels = np.repeat(np.arange(3), 5)
  test = centres[test_labels] + rng.normal(size=(15, 10)) * 0.3
  for kernel in svm.KERNELS:
    predictions = svm.fit_svm_on_features(feats, labels, test, kernel=kernel, C=1.0)
    np.testing.assert_array_equal(predictions, test_labels)


def test_zero_shot_baseline_scores_mapped_classes_with_fer_probabilities():
  faces = np.load(os.path.join(ROOT, 'tests', 'fixtures', 'pretrained', 'fer2013_faces.npz'))
  clips = np.repeat(faces['faces'][:, None, :, :, None], 3, axis=-1)  # one grey frame as RGB
  mesh = sharding.make_mesh()
  # The fixture's faces are FER2013's own tight crops: the face box is the whole view.
  fn, variables = baseline.zero_shot_fn(('surprise', 'contempt', 'happiness'), 1.0, mesh)
  scores = np.asarray(fn(variables, sharding.shard_batch({'clip': clips}, mesh)))
  expected = np.log(faces['probabilities'][:, [5, 3]])  # FER2013's own probabilities
  np.testing.assert_allclose(scores[:, [0, 2]], expected, atol=1e-4)
  assert np.isneginf(scores[:, 1]).all()
  assert baseline.zero_shot_fn(('calm', 'worried', 'anxious'), 1.0, mesh) is None


def test_the_cli_scores_a_finished_run_again_with_other_views(demo_run, capsys):
  """`python -m emojax.evaluate` on the run's fold: with the run's own views (1x1) it gives the
  fold's reported result; with 2 clips x 3 crops every test video is still scored once."""
  import json

  from emojax.evaluate import cli
  assert cli.main([f'--workdir={demo_run.workdir}', '--views', '1x1', '2x3']) == 0
  lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  fold = demo_run.json('fold_0/result.json')
  assert [(line['fold'], line['views']) for line in lines] == [(0, '1x1'), (0, '2x3')]
  assert lines[0]['accuracy'] == round(fold['accuracy'], 4)
  assert lines[0]['correct'] == sum(fold['confusion_matrix'][i][i] for i in range(6))
  assert lines[0]['videos'] == lines[1]['videos'] == fold['num_examples']
