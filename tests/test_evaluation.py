"""Evaluation with views: per-video aggregation, sharded views, predictions.csv, SVM features."""
import csv
import os
import subprocess
import sys

import flax.linen as nn
import jax
import numpy as np
import optax
import pytest

from conftest import ROOT, tiny_config
from emojax.train import loop, metrics, report, state as state_lib, steps, svm


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


def _views_config(**overrides):
  return tiny_config(**{'num_frames': 2, 'image_size': 4, 'eval_batch_size': 4,
                        'augment.crop_margin': 0.0, 'eval.num_clips': 2, 'eval.num_crops': 3,
                        **overrides})


def _source(n):
  """Video k shows pixel value k in every frame; its label is k % 3."""
  return [{'clip': np.full((3 + k, 4, 4, 3), k, np.uint8), 'label': k % 3} for k in range(n)]


def _view_logits(mesh):
  """A stand-in eval step: class logits from the view's pixel value (its video) and crop."""
  from jax.sharding import NamedSharding, PartitionSpec as P

  def fn(state, batch):
    del state
    value = batch['clip'][:, 0, 0, 0, 0].astype(np.float32)
    return jax.numpy.stack([value, 10.0 - value, value % 3], axis=-1)

  return jax.jit(fn, out_shardings=NamedSharding(mesh, P('data')))


def test_evaluate_scores_each_video_once_from_all_its_views():
  mesh = steps.make_mesh()
  config = _views_config()
  indices = np.array([4, 1, 3])  # 3 videos x 6 views: 18 views in batches of 4, 2 padded
  probabilities, labels = loop.evaluate(_view_logits(mesh), None, _source(5), indices, config,
                                        mesh)
  assert probabilities.shape == (3, 3) and labels.tolist() == [1, 1, 0]
  want = metrics.softmax(np.stack([indices, 10.0 - indices, indices % 3], -1))
  np.testing.assert_allclose(probabilities, want, rtol=1e-6)


SHARDED_SCRIPT = r'''
import sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
import jax, numpy as np
from test_evaluation import _source, _view_logits, _views_config
from emojax.train import loop, steps
assert jax.device_count() == 4
config = _views_config(eval_batch_size=8)
out = {{}}
for n in (1, 4):
  mesh = steps.make_mesh(jax.devices()[:n])
  out[n] = loop.evaluate(_view_logits(mesh), None, _source(7), np.arange(7), config, mesh)
np.testing.assert_allclose(out[1][0], out[4][0], rtol=1e-6)
assert out[4][1].tolist() == [k % 3 for k in range(7)]
print('OK')
'''


def test_views_shard_over_devices_with_padded_batches():
  """7 videos x 6 views over 4 (fake CPU) devices, batches of 8: the same scores as on one."""
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4',
             JAX_PLATFORMS='cpu')
  script = SHARDED_SCRIPT.format(root=ROOT, tests=os.path.join(ROOT, 'tests'))
  proc = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 0 and 'OK' in proc.stdout, proc.stdout + proc.stderr[-3000:]


def test_predictions_csv_has_a_row_per_video_with_every_class_probability(tmp_path):
  path = str(tmp_path / report.PREDICTIONS_FILE)
  probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
  report.write_predictions(path, ['S1/a.avi', 'S2/b.avi'], [0, 1], probabilities,
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
  feats, labels = svm.extract_features(state, model, [batch], steps.make_mesh(), num_videos=2)
  assert feats.shape == (2, 3) and labels.tolist() == [1, 0]
  np.testing.assert_allclose(feats[:, 0], [0.0, 51 * 2 / 255 - 1], atol=1e-6)  # (-1 + 1) / 2
