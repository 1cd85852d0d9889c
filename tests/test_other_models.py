"""The other published systems: P3D 3Res-att, C3D, ConvNet + attention LSTM, RFSCNN (+ SVM stage)."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from emojax import models
from emojax.models import attention_lstm, p3d, two_stream
from emojax.models.resnet3d import Conv3D
from emojax.train import finetune, state as state_lib, steps, svm

CLASSES = 6
TINY = {
    'p3d': functools.partial(p3d.P3DNet, stage_sizes=(1, 1, 1), width=4, expansion=2,
                             attention_dim=8, num_heads=2, attention_kernel=(3, 3, 3)),
    'c3d': functools.partial(p3d.C3D, width=8, fc_dim=16, batch_norm=True),
    'attention_lstm': functools.partial(attention_lstm.AttentionLSTMNet,
                                        cnn_features=(4, 4, 4, 4, 4), fc_features=(8,),
                                        lstm_features=8),
    'rfscnn': functools.partial(two_stream.RFSCNN, cnn_features=(4, 4), srl_features=4,
                                temporal_features=4, fc_features=8),
}


def _shape(name, batch=2):
  return (batch, 4, 24, 24, 6 if name == 'rfscnn' else 3)


def _state(model, tx, shape):
  """A train state, initialised under jit (eager initialisation compiles op by op: slow)."""
  return jax.jit(lambda: state_lib.create_train_state(model, tx, _key(0), shape))()


def _key(seed):
  """A PRNG key whose random initialisers compile in a fraction of threefry's time on CPU."""
  return jax.random.key(seed, impl='unsafe_rbg')


def _perturbed(params, scale=0.1, seed=2):
  """Zero-initialised parameters (residual scales, biases) would hide the layers behind them."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda p: p + scale * rng.standard_normal(p.shape).astype(p.dtype), params)


def _paths(tree):
  return {state_lib.param_path(p): v for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def test_registry_names():
  assert {'p3d', 'c3d', 'attention_lstm', 'rfscnn'} <= set(models.MODELS)


@pytest.mark.parametrize('name', sorted(TINY))
@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
def test_logits_shape_and_dtype(name, dtype):
  model = TINY[name](num_classes=CLASSES, dtype=dtype)
  x = jnp.zeros(_shape(name))

  def run():
    variables = model.init(_key(0), x, train=False)
    return model.apply(variables, x, train=True, mutable=['batch_stats'],
                       rngs={'dropout': _key(1)})[0]

  logits = jax.eval_shape(run)
  assert logits.shape == (2, CLASSES) and logits.dtype == jnp.float32


@pytest.mark.parametrize('name', sorted(TINY))
def test_gradients_reach_every_parameter(name):
  model = TINY[name](num_classes=CLASSES)
  x = jax.random.normal(_key(0), _shape(name))
  variables = jax.jit(lambda x: model.init(_key(1), x, train=False))(x)
  params = _perturbed(variables['params'])

  @jax.jit
  def grad(params):
    def loss(params):
      logits, _ = model.apply({'params': params, 'batch_stats': variables.get('batch_stats', {})},
                              x, train=True, mutable=['batch_stats'],
                              rngs={'dropout': _key(3)})
      return jax.nn.log_softmax(logits)[:, 0].sum()
    return jax.grad(loss)(params)

  zero = [p for p, g in _paths(grad(params)).items() if not np.any(np.asarray(g) != 0)]
  assert not zero, f'parameters without gradient: {zero}'


@pytest.mark.parametrize('name', sorted(TINY))
def test_train_step_reduces_loss(name):
  model = TINY[name](num_classes=CLASSES, dropout_rate=0.0)
  lr = 3e-2 if name == 'rfscnn' else 3e-3  # product fusion of tiny features starts slowly
  state = _state(model, optax.adam(lr), _shape(name, 4))
  rng = np.random.default_rng(0)
  batch = {'clip': rng.integers(0, 256, _shape(name, 4), dtype=np.uint8),
           'label': np.arange(4, dtype=np.int32) % CLASSES}
  step = jax.jit(steps.train_step)
  losses = []
  for _ in range(12):
    state, metrics = step(state, batch, _key(1))
    losses.append(float(metrics['loss']))
  assert np.isfinite(losses).all() and losses[-1] < 0.8 * losses[0], losses


# P3D -----------------------------------------------------------------------------------------------

def _bn_eval(x, p, eps=1e-5):
  """BatchNorm with fresh running statistics (mean 0, variance 1)."""
  return x / np.sqrt(1 + eps) * p['scale'] + p['bias']


@pytest.mark.parametrize('style', ['A', 'B', 'C'])
def test_p3d_block_arrangements(style):
  """P3D-A: T(S(x)), P3D-B: S(x) + T(x), P3D-C: S(x) + T(S(x)), between the 1x1x1 convolutions."""
  conv = functools.partial(Conv3D, impl='xla')
  norm = functools.partial(nn.BatchNorm, use_running_average=True)
  block = p3d.P3DBlock(3, style, conv, norm, expansion=2)
  x = jax.random.normal(_key(0), (1, 3, 5, 5, 4))
  variables = jax.jit(block.init)(_key(1), x)
  params = _perturbed(variables['params'])
  out = jax.jit(block.apply)({'params': params, 'batch_stats': variables['batch_stats']}, x)

  def layer(name, bn, kernel, z):
    z = Conv3D(params[name]['kernel'].shape[-1], kernel, impl='xla').apply(
        {'params': params[name]}, z)
    return _bn_eval(z, params[bn])

  relu = jax.nn.relu
  y = relu(layer('conv1', 'bn1', (1, 1, 1), x))
  s = lambda z: relu(layer('conv_s', 'bn_s', (1, 3, 3), z))  # noqa: E731
  t = lambda z: relu(layer('conv_t', 'bn_t', (3, 1, 1), z))  # noqa: E731
  y = {'A': lambda: t(s(y)), 'B': lambda: s(y) + t(y), 'C': lambda: s(y) + t(s(y))}[style]()
  y = layer('conv3', 'bn3', (1, 1, 1), y)
  expected = relu(y + layer('conv_proj', 'norm_proj', (1, 1, 1), x))
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
  assert params['conv_s']['kernel'].shape[:3] == (1, 3, 3)
  assert params['conv_t']['kernel'].shape[:3] == (3, 1, 1)


def test_p3d_cycle_and_attention_placement():
  model = TINY['p3d'](num_classes=CLASSES, stage_sizes=(2, 1), spatial_attention='every_block',
                      temporal_attention_layers=2)
  x = jnp.zeros(_shape('p3d'))
  params = jax.eval_shape(lambda: model.init(_key(0), x, train=False))['params']
  names = set(params)
  assert {'spatial_attention_0_0', 'spatial_attention_0_1', 'spatial_attention_1_0',
          'temporal_attention_0', 'temporal_attention_1'} <= names
  assert params['spatial_attention_0_0']['conv']['kernel'].shape == (3, 3, 3, 2, 1)
  assert model._style(0) == 'A' and model._style(1) == 'B' and model._style(2) == 'C'
  plain = TINY['p3d'](num_classes=CLASSES, spatial_attention='none', temporal_attention_layers=0)
  params = jax.eval_shape(lambda: plain.init(_key(0), x, train=False))['params']
  assert not any('attention' in k for k in params)


def test_spatial_attention_weights_each_position_of_each_frame():
  layer = p3d.SpatialAttention3D((1, 3, 3), 'xla')
  x = jax.random.normal(_key(0), (1, 2, 4, 4, 5))
  variables = layer.init(_key(1), x)
  out = layer.apply(variables, x)
  ratio = np.asarray(out / x)
  # One weight in (0, 1) per (frame, position), shared by all channels.
  np.testing.assert_allclose(ratio, np.broadcast_to(ratio[..., :1], ratio.shape), rtol=1e-5)
  assert np.all((ratio > 0) & (ratio < 1))


def test_c3d_paper_layout():
  params = jax.eval_shape(lambda: p3d.C3D(num_classes=CLASSES).init(
      _key(0), jnp.zeros((1, 16, 112, 112, 3)), train=False))['params']
  widths = [params[n]['kernel'].shape[-1] for n in
            ('conv1a', 'conv2a', 'conv3a', 'conv3b', 'conv4a', 'conv4b', 'conv5a', 'conv5b')]
  assert widths == [64, 128, 256, 256, 512, 512, 512, 512]
  assert params['fc6']['kernel'].shape == (8192, 4096)
  assert params['fc7']['kernel'].shape == (4096, 4096)


# Attention LSTM ------------------------------------------------------------------------------------

def test_lstm_attention_matches_numpy():
  hidden = jax.random.normal(_key(0), (2, 5, 6))
  layer = attention_lstm.LSTMAttention()
  variables = layer.init(_key(1), hidden)
  out, alpha = layer.apply(variables, hidden)
  p = jax.tree.map(np.asarray, variables['params'])
  h = np.asarray(hidden, np.float64)
  m = np.tanh(h @ p['w_h']['kernel'])                       # M = tanh(W_h H)
  scores = (m @ p['w']['kernel'])[..., 0]                    # w^T M
  a = np.exp(scores - scores.max(-1, keepdims=True))
  a /= a.sum(-1, keepdims=True)                              # alpha = softmax(w^T M)
  r = np.einsum('bn,bnd->bd', a, h)                          # r = H alpha^T
  expected = np.tanh(r @ p['w_p']['kernel'] + h[:, -1] @ p['w_x']['kernel'])
  np.testing.assert_allclose(alpha, a, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_attention_lstm_classifies_h_star_and_plain_baseline_has_no_attention():
  model = TINY['attention_lstm'](num_classes=CLASSES)
  x = jax.random.normal(_key(0), _shape('attention_lstm'))
  variables = jax.jit(lambda x: model.init(_key(1), x, train=False))(x)
  logits = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x)
  p = variables['params']
  feats = attention_lstm.FrameCNN(**attention_lstm.cnn_kwargs(model)).apply(
      {'params': p['cnn'], 'batch_stats': variables['batch_stats']['cnn']},
      x.reshape(8, 24, 24, 3), train=False).reshape(2, 4, -1)
  hidden = nn.RNN(nn.OptimizedLSTMCell(8)).apply({'params': {'cell': p['lstm']}}, feats)
  h_star, _ = attention_lstm.LSTMAttention().apply({'params': p['attention']}, hidden)
  np.testing.assert_allclose(logits, h_star @ p['head']['kernel'] + p['head']['bias'], rtol=1e-4,
                             atol=1e-5)
  plain = TINY['attention_lstm'](num_classes=CLASSES, use_attention=False)
  params = jax.eval_shape(lambda: plain.init(_key(0), x, train=False))['params']
  assert 'attention' not in params and 'lstm' in params


def test_frozen_mask_by_path_prefix():
  params = {'cnn': {'conv_0': {'kernel': 1}, 'conv_0_bn': {'scale': 2}, 'fc_0': {'kernel': 3}},
            'head': {'kernel': 4}}
  mask = _paths(state_lib.frozen_mask(params, ('cnn/conv_',)))
  assert mask == {'cnn/conv_0/kernel': True, 'cnn/conv_0_bn/scale': True,
                  'cnn/fc_0/kernel': False, 'head/kernel': False}


def _attention_lstm_config(make_config, **model):
  config = make_config(weight_decay=1e-2, learning_rate=1e-2)
  with config.unlocked():
    config.model = ml_collections.ConfigDict(dict(
        name='attention_lstm', cnn_features=(4, 4, 4, 4, 4), fc_features=(8,), lstm_features=8,
        freeze_cnn=True, dropout_rate=0.0, dtype='float32', **model))
  return config


def test_freeze_cnn_leaves_conv_layers_unchanged(make_config):
  """The optimizer a run builds for the model leaves the conv layers as they were (weight decay
  would move them even with zero gradients); every other parameter trains."""
  config = _attention_lstm_config(make_config)
  model = models.create_model(config)
  tx = state_lib.make_optimizer(config, 10, models.frozen_prefixes(model))
  state = _state(model, tx, models.input_shape(config, 4))
  rng = np.random.default_rng(0)
  batch = {'clip': rng.integers(0, 256, models.input_shape(config, 4), dtype=np.uint8),
           'label': np.arange(4, dtype=np.int32)}
  new, _ = jax.jit(steps.train_step)(state, batch, _key(1))
  before, after = _paths(state.params), _paths(new.params)
  for path in before:
    same = np.array_equal(before[path], after[path])
    assert same == path.startswith('cnn/conv_'), path
  stats_before, stats_after = _paths(state.batch_stats), _paths(new.batch_stats)
  assert all(np.array_equal(stats_before[p], stats_after[p]) for p in stats_before)
  # Without the switch nothing is frozen.
  config.model.freeze_cnn = False
  assert models.frozen_prefixes(models.create_model(config)) == ()


def test_frame_pretraining_loads_into_the_clip_model(make_config):
  config = _attention_lstm_config(make_config)
  with config.unlocked():
    config.pretrain = ml_collections.ConfigDict(dict(enabled=True, num_epochs=1,
                                                     learning_rate=1e-2))
  rng = np.random.default_rng(0)
  source = [{'clip': rng.integers(0, 256, (6, 28, 28, 3), dtype=np.uint8), 'label': i % CLASSES}
            for i in range(8)]
  model = models.create_model(config)
  tx = state_lib.make_optimizer(config, 10, models.frozen_prefixes(model))
  state = _state(model, tx, models.input_shape(config))
  logs = []
  new = finetune.pretrain_into_state(config, state, source, np.arange(8), log=logs.append)
  assert len(logs) == 1 and 'frame pre-training epoch 1/1' in logs[0]
  pretrained, fresh = _paths(new.params['cnn']), _paths(state.params['cnn'])
  assert set(pretrained) == set(fresh)
  assert any(not np.array_equal(pretrained[p], fresh[p]) for p in fresh)
  assert jax.tree.all(jax.tree.map(np.array_equal, new.params['lstm'], state.params['lstm']))
  with config.unlocked():
    config.pretrain.enabled = False
  assert finetune.pretrain_into_state(config, state, source, np.arange(8)) is state


# RFSCNN --------------------------------------------------------------------------------------------

def test_four_direction_scan_matches_python_loop():
  x = np.asarray(jax.random.normal(_key(0), (2, 3, 4, 5)), np.float64)
  layer = two_stream.FourDirectionScan(6)
  variables = layer.init(_key(1), x)
  maps = np.asarray(layer.apply(variables, x))
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), variables['params'])
  n, h, w, _ = x.shape
  expected = np.zeros((4, n, h, w, 6))
  for k, name in enumerate(two_stream.DIRECTIONS):
    cell = p[name]
    step = lambda s, v: np.tanh(v @ cell['w_x']['kernel'] + cell['w_x']['bias'] +  # noqa: E731
                                s @ cell['w_h']['kernel'])
    for b in range(n):
      if k < 2:  # rows
        for i in range(h):
          s = np.zeros(6)
          for j in (range(w) if k == 0 else reversed(range(w))):
            s = expected[k, b, i, j] = step(s, x[b, i, j])
      else:  # columns
        for j in range(w):
          s = np.zeros(6)
          for i in (range(h) if k == 2 else reversed(range(h))):
            s = expected[k, b, i, j] = step(s, x[b, i, j])
  np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('merge', ['concat', 'sum'])
def test_spatial_recursive_layer_merges_and_projects(merge):
  layer = two_stream.SpatialRecursiveLayer(5, merge)
  x = jnp.zeros((2, 3, 4, 7))
  params = jax.eval_shape(lambda: layer.init(_key(0), x))['params']
  assert params['proj']['kernel'].shape == ((20 if merge == 'concat' else 5), 5)
  assert jax.eval_shape(lambda: layer.apply(layer.init(_key(0), x), x)).shape == (
      2, 3, 4, 5)


def test_fusion_modes():
  a, b = jnp.array([[1.0, 2.0]]), jnp.array([[3.0, -1.0]])
  np.testing.assert_array_equal(two_stream.fuse(a, b, 'concat'), [[1, 2, 3, -1]])
  np.testing.assert_array_equal(two_stream.fuse(a, b, 'sum'), [[4, 1]])
  np.testing.assert_array_equal(two_stream.fuse(a, b, 'product'), [[3, -2]])
  x = jnp.zeros(_shape('rfscnn'))
  for fusion, dim in [('concat', 16), ('sum', 8), ('product', 8)]:
    model = TINY['rfscnn'](num_classes=CLASSES, fusion=fusion)
    feats = jax.eval_shape(lambda: model.apply(model.init(_key(0), x, train=False), x,
                                               method='features'))
    assert feats.shape == (2, dim)
  with pytest.raises(ValueError, match="config.model.fusion='max'"):
    TINY['rfscnn'](num_classes=CLASSES, fusion='max').init(_key(0), x, train=False)


def test_rfscnn_needs_flow_channels():
  with pytest.raises(ValueError, match="config.model.name='rfscnn' with config.model.streams='both' "
                                       'takes 6-channel'):
    TINY['rfscnn'](num_classes=CLASSES).init(_key(0), jnp.zeros(_shape('p3d')),
                                            train=False)


def test_svm_separates_separable_features():
  rng = np.random.default_rng(0)
  centres = rng.normal(size=(3, 10)) * 5
  labels = np.repeat(np.arange(3), 20)
  feats = centres[labels] + rng.normal(size=(60, 10)) * 0.3
  test_labels = np.repeat(np.arange(3), 5)
  test = centres[test_labels] + rng.normal(size=(15, 10)) * 0.3
  for kernel in ('linear', 'rbf'):
    predictions = svm.fit_svm_on_features(feats, labels, test, kernel=kernel, C=1.0)
    np.testing.assert_array_equal(predictions, test_labels)
  with pytest.raises(ValueError, match="config.svm.kernel='poly'"):
    svm.fit_svm_on_features(feats, labels, test, kernel='poly')


def test_extract_features_drops_padding():
  model = TINY['rfscnn'](num_classes=CLASSES)
  state = _state(model, optax.adam(1e-3), _shape('rfscnn'))
  rng = np.random.default_rng(0)
  batches = [{'clip': rng.integers(0, 256, _shape('rfscnn'), dtype=np.uint8),
              'label': np.array([1, 2]), 'mask': np.array([True, k == 0])} for k in range(2)]
  feats, labels = svm.extract_features(state, model, batches, mesh=steps.make_mesh())
  assert feats.shape == (3, 8) and feats.dtype == np.float32
  np.testing.assert_array_equal(labels, [1, 2, 1])
  direct = model.apply({'params': state.params, 'batch_stats': state.batch_stats},
                       models.normalize_clip(batches[0]['clip']), train=False, method='features')
  np.testing.assert_allclose(feats[:2], direct, rtol=1e-4, atol=1e-6)
