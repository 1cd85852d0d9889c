"""RFSCNN as its paper describes it: sizes, one-stream rows, per-video stream features (its two-stage
training: test_stages.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax import checkpoints, models, sharding
from emojax.models import two_stream
from emojax.evaluate import svm

from configs import enterface_rfscnn
from conftest import param_paths, tiny_model

CLASSES = 6


def _clips(seed, batch=2):
  return jax.random.uniform(jax.random.key(seed), (batch, 4, 24, 24, 6), minval=-1.0, maxval=1.0)


def _applier(model, variables, method='__call__'):
  """`x -> model.apply(variables, x, method=method)` in evaluation mode, compiled once per shape
  (op-by-op, the recurrent scans are slow)."""
  kwargs = {} if method == 'fuse_streams' else {'train': False}
  fn = jax.jit(lambda x: model.apply(variables, x, method=getattr(model, method), **kwargs))
  return lambda x: np.asarray(fn(x))


def test_paper_config_has_the_papers_sizes():
  """227x227 inputs, stream CNNs with 8 and 16 filters, a 64-unit fully connected layer closing
  each stream (the features the product fusion multiplies)."""
  config = enterface_rfscnn.get_config()
  model = models.create_model(config, num_classes=CLASSES)
  shape = models.input_shape(config)
  assert shape == (1, 16, 227, 227, 6)
  params = param_paths(jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros(shape), train=False))[
      'params'])
  for stream in ('spatial', 'temporal'):
    assert params[f'{stream}/cnn/conv_0/kernel'].shape == (3, 3, 3, 8)
    assert params[f'{stream}/cnn/conv_1/kernel'].shape == (3, 3, 8, 16)
    assert not any(p.startswith(f'{stream}/cnn/conv_2') for p in params)
    assert params[f'{stream}/fc/kernel'].shape[-1] == 64
  assert params['head/kernel'].shape == (64, CLASSES)


@pytest.mark.slow
@pytest.mark.parametrize('streams,reads_rgb,reads_flow', [
    ('spatial', True, False), ('temporal', False, True), ('both', True, True)])
def test_a_stream_reads_only_its_channels(streams, reads_rgb, reads_flow):
  model = tiny_model('rfscnn', streams=streams)
  x = _clips(0)
  variables = jax.jit(lambda x: model.init(jax.random.key(1), x, train=False))(x)
  logits_of = _applier(model, variables)
  logits = logits_of(x)
  other_rgb = x.at[..., :3].set(_clips(2)[..., :3])
  other_flow = x.at[..., 3:].set(_clips(3)[..., 3:])
  assert (not np.allclose(logits_of(other_rgb), logits)) == reads_rgb
  assert (not np.allclose(logits_of(other_flow), logits)) == reads_flow
  assert set(variables['params']) == set(two_stream.stream_names(streams)) | {'fused_norm', 'head'}


@pytest.mark.slow
def test_a_spatial_only_model_takes_rgb_clips_alone():
  model = tiny_model('rfscnn', streams='spatial')
  x = _clips(0)
  variables = jax.jit(lambda x: model.init(jax.random.key(1), x, train=False))(x)
  logits_of = _applier(model, variables)
  np.testing.assert_allclose(logits_of(x[..., :3]), logits_of(x), rtol=1e-6)
  for streams, clips, message in (('temporal', x[..., :3], "streams='temporal' takes 6-channel"),
                                   ('audio', x, "config.model.streams='audio'")):
    with pytest.raises(ValueError, match=message):
      jax.eval_shape(lambda: tiny_model('rfscnn', streams=streams).init(
          jax.random.key(0), clips, train=False))


@pytest.mark.slow
def test_segments_are_averaged_before_the_fusion():
  """A video's segments: stream features, their mean, then the fusion (SVM) or the head (logits);
  one segment gives the clip's fused feature and logits."""
  model = tiny_model('rfscnn')
  segments = _clips(0, batch=3)
  variables = jax.jit(lambda x: model.init(jax.random.key(1), x, train=False))(segments)
  run = {m: _applier(model, variables, m) for m in ('__call__', 'features', 'stream_features',
                                                     'fuse_streams', 'classify_streams')}
  streams = run['stream_features'](segments)
  assert streams.shape == (3, 16)
  np.testing.assert_allclose(run['fuse_streams'](streams), run['features'](segments), rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(run['classify_streams'](streams), run['__call__'](segments),
                             rtol=1e-5, atol=1e-6)
  video = streams.mean(axis=0, keepdims=True)
  np.testing.assert_allclose(run['fuse_streams'](video), video[:, :8] * video[:, 8:], rtol=1e-6)


@pytest.mark.slow
def test_svm_video_feature_fuses_the_mean_of_its_segments_stream_features():
  """The paper's per-video feature: segments' stream features averaged, then fused (a product of
  means, not a mean of products)."""
  model = tiny_model('rfscnn')
  clips = np.asarray(jax.random.randint(jax.random.key(2), (4, 4, 24, 24, 6), 0, 256), np.uint8)
  variables = jax.jit(lambda x: model.init(jax.random.key(1), x, train=False))(
      models.normalize_clip(clips))
  batch = {'clip': clips, 'label': np.array([3, 3, 3, 1]), 'video': np.array([0, 0, 0, 1])}
  feats, labels = svm.extract_features(variables, model, [batch], sharding.make_mesh(),
                                       num_videos=2)
  streams = _applier(model, variables, 'stream_features')(models.normalize_clip(clips))
  means = np.stack([streams[:3].mean(0), streams[3]])
  np.testing.assert_allclose(feats, means[:, :8] * means[:, 8:], rtol=1e-5, atol=1e-7)
  assert labels.tolist() == [3, 1]
  fused = _applier(model, variables, 'features')(models.normalize_clip(clips))
  assert not np.allclose(feats[0], fused[:3].mean(0), rtol=1e-3)


@pytest.mark.parametrize('stream', ['spatial', 'temporal'])
def test_table_one_rows_train_one_stream_as_its_stage_does(stream):
  """configs/enterface_rfscnn.py:STREAM is the two-stream run's stage STREAM, reported as a run
  (with the SVM and the frame baseline, from the run's seed), and freezes nothing."""
  paper = enterface_rfscnn.get_config()
  row = enterface_rfscnn.get_config(stream)
  seed = paper.stages[stream].seed
  assert checkpoints.config_differences(paper.stages[stream], row) == [
      'report_frame_baseline: false -> true', f'seed: {seed} -> 0', 'svm.enabled: false -> true']
  assert row.model.streams == stream
  assert models.frozen_prefixes(models.create_model(row, num_classes=CLASSES)) == ()
