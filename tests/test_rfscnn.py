"""RFSCNN as its paper describes it: sizes, one-stream rows, per-video stream features, two-stage
training (streams first, then fusion)."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from emojax import models
from emojax.models import two_stream
from emojax.train import finetune, state as state_lib, steps, svm

from configs import enterface_rfscnn

CLASSES = 6
TINY = dict(cnn_features=(4, 4), srl_features=4, temporal_features=4, fc_features=8,
            dropout_rate=0.0)


def _key(seed):
  return jax.random.key(seed, impl='unsafe_rbg')


def _paths(tree):
  return {state_lib.param_path(p): v for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def _clips(seed, batch=2):
  return jax.random.uniform(_key(seed), (batch, 4, 24, 24, 6), minval=-1.0, maxval=1.0)


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
  params = _paths(jax.eval_shape(lambda: model.init(_key(0), jnp.zeros(shape), train=False))[
      'params'])
  for stream in ('spatial', 'temporal'):
    assert params[f'{stream}/cnn/conv_0/kernel'].shape == (3, 3, 3, 8)
    assert params[f'{stream}/cnn/conv_1/kernel'].shape == (3, 3, 8, 16)
    assert not any(p.startswith(f'{stream}/cnn/conv_2') for p in params)
    assert params[f'{stream}/fc/kernel'].shape[-1] == 64
  assert params['head/kernel'].shape == (64, CLASSES)


@pytest.mark.parametrize('streams,reads_rgb,reads_flow', [
    ('spatial', True, False), ('temporal', False, True), ('both', True, True)])
def test_a_stream_reads_only_its_channels(streams, reads_rgb, reads_flow):
  model = two_stream.RFSCNN(CLASSES, streams=streams, **TINY)
  x = _clips(0)
  variables = jax.jit(lambda x: model.init(_key(1), x, train=False))(x)
  logits_of = _applier(model, variables)
  logits = logits_of(x)
  other_rgb = x.at[..., :3].set(_clips(2)[..., :3])
  other_flow = x.at[..., 3:].set(_clips(3)[..., 3:])
  assert (not np.allclose(logits_of(other_rgb), logits)) == reads_rgb
  assert (not np.allclose(logits_of(other_flow), logits)) == reads_flow
  assert set(variables['params']) == set(two_stream.stream_names(streams)) | {'fused_norm', 'head'}


def test_a_spatial_only_model_takes_rgb_clips_alone():
  model = two_stream.RFSCNN(CLASSES, streams='spatial', **TINY)
  x = _clips(0)
  variables = jax.jit(lambda x: model.init(_key(1), x, train=False))(x)
  logits_of = _applier(model, variables)
  np.testing.assert_allclose(logits_of(x[..., :3]), logits_of(x), rtol=1e-6)
  with pytest.raises(ValueError, match="streams='temporal' takes 6-channel"):
    two_stream.RFSCNN(CLASSES, streams='temporal', **TINY).init(_key(0), x[..., :3], train=False)
  with pytest.raises(ValueError, match="config.model.streams='audio'"):
    two_stream.RFSCNN(CLASSES, streams='audio', **TINY).init(_key(0), x, train=False)


def test_segments_are_averaged_before_the_fusion():
  """A video's segments: stream features, their mean, then the fusion (SVM) or the head (logits);
  one segment gives the clip's fused feature and logits."""
  model = two_stream.RFSCNN(CLASSES, **TINY)
  segments = _clips(0, batch=3)
  variables = jax.jit(lambda x: model.init(_key(1), x, train=False))(segments)
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


def test_svm_video_feature_fuses_the_mean_of_its_segments_stream_features():
  """The paper's per-video feature: segments' stream features averaged, then fused (a product of
  means, not a mean of products)."""
  model = two_stream.RFSCNN(CLASSES, **TINY)
  clips = np.asarray(jax.random.randint(_key(2), (4, 4, 24, 24, 6), 0, 256), np.uint8)
  variables = jax.jit(lambda x: model.init(_key(1), x, train=False))(
      models.normalize_clip(clips))
  batch = {'clip': clips, 'label': np.array([3, 3, 3, 1]), 'video': np.array([0, 0, 0, 1])}
  feats, labels = svm.extract_features(variables, model, [batch], steps.make_mesh(),
                                       num_videos=2)
  streams = _applier(model, variables, 'stream_features')(models.normalize_clip(clips))
  means = np.stack([streams[:3].mean(0), streams[3]])
  np.testing.assert_allclose(feats, means[:, :8] * means[:, 8:], rtol=1e-5, atol=1e-7)
  assert labels.tolist() == [3, 1]
  fused = _applier(model, variables, 'features')(models.normalize_clip(clips))
  assert not np.allclose(feats[0], fused[:3].mean(0), rtol=1e-3)


def _config(make_config, **model):
  config = make_config(weight_decay=1e-2)  # moves parameters without a gradient unless frozen
  with config.unlocked():
    config.model = ml_collections.ConfigDict({
        'name': 'rfscnn', 'streams': 'both', 'fusion': 'product', 'normalize_fused': True,
        'freeze_streams': True, 'dtype': 'float32', **TINY, **model})
    config.flow = ml_collections.ConfigDict(dict(method='farneback'))
    config.pretrain = ml_collections.ConfigDict(dict(enabled=True, num_epochs=1,
                                                     learning_rate=1e-2))
  return config


def _source(count=8):
  rng = np.random.default_rng(0)
  return [{'clip': rng.integers(0, 256, (6, 28, 28, 3), dtype=np.uint8), 'label': i % CLASSES}
          for i in range(count)]


def _fresh_state(config):
  model = models.create_model(config)
  tx = state_lib.make_optimizer(config, 10, models.frozen_prefixes(model))
  return jax.jit(lambda: state_lib.create_train_state(model, tx, _key(0),
                                                      models.input_shape(config)))()


def test_stage_one_trains_each_stream_with_its_own_head_and_loads_the_streams(make_config):
  config = _config(make_config)
  logs = []
  trained = finetune.pretrain_streams(config, _source(), np.arange(8), log=logs.append)
  assert [line.split(' epoch')[0] for line in logs] == ['spatial stream pre-training',
                                                         'temporal stream pre-training']
  for name, variables in trained.items():
    assert set(variables['params']) == {name, 'fused_norm', 'head'}
    norm = variables['params']['fused_norm']  # starts at scale 1, bias 0: the head trained
    assert not np.allclose(norm['scale'], 1.0) and not np.allclose(norm['bias'], 0.0)
  state = _fresh_state(config)
  loaded = finetune.load_pretrained_streams(state, trained)
  for name in ('spatial', 'temporal'):
    got, want = _paths(loaded.params[name]), _paths(trained[name]['params'][name])
    assert all(np.array_equal(got[p], want[p]) for p in want)
    assert any(not np.array_equal(got[p], v) for p, v in _paths(state.params[name]).items())
  for name in ('fused_norm', 'head'):  # the two-stream model's own, not a stream head
    assert jax.tree.all(jax.tree.map(np.array_equal, loaded.params[name], state.params[name]))


def test_stage_two_leaves_frozen_streams_unchanged(make_config):
  config = _config(make_config)
  state = _fresh_state(config)
  rng = np.random.default_rng(0)
  batch = {'clip': rng.integers(0, 256, models.input_shape(config, 4), dtype=np.uint8),
           'label': np.arange(4, dtype=np.int32)}
  new, _ = jax.jit(steps.train_step)(state, batch, _key(1))
  before, after = _paths(state.params), _paths(new.params)
  for path in before:
    frozen = path.startswith(('spatial/', 'temporal/'))
    assert np.array_equal(before[path], after[path]) == frozen, path
  stats_before, stats_after = _paths(state.batch_stats), _paths(new.batch_stats)
  for path in stats_before:
    assert np.array_equal(stats_before[path], stats_after[path]) == (path != 'fused_norm/mean' and
                                                                     path != 'fused_norm/var'), path


def test_two_stage_settings_that_cannot_work_name_themselves(make_config):
  config = _config(make_config)
  with config.unlocked():
    config.pretrain.enabled = False
  with pytest.raises(ValueError, match='config.model.freeze_streams'):
    finetune.pretrain_into_state(config, None, _source(), np.arange(8))
  config = _config(make_config, freeze_streams=False)
  with config.unlocked():
    config.model.streams = 'spatial'
  with pytest.raises(ValueError, match="streams='both'"):
    finetune.pretrain_into_state(config, None, _source(), np.arange(8))


@pytest.mark.parametrize('stream', ['spatial', 'temporal'])
def test_table_one_rows_train_one_stream_as_stage_one_does(stream):
  paper = enterface_rfscnn.get_config()
  row = enterface_rfscnn.get_config(stream)
  assert row.model.streams == stream and not row.model.freeze_streams
  assert not row.pretrain.enabled
  assert (row.num_epochs, row.learning_rate) == (paper.pretrain.num_epochs,
                                                 paper.pretrain.learning_rate)
  model = models.create_model(row, num_classes=CLASSES)
  assert models.frozen_prefixes(model) == ()
