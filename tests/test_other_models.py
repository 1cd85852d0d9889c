"""The other published systems, beside the main network: P3D 3Res-att, C3D, ConvNet + attention
LSTM, RFSCNN's layers."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.models import attention_lstm, p3d, two_stream
from emojax.models.resnet3d import Conv3D

from conftest import tiny_input_shape, tiny_model

CLASSES = 6


def _perturbed(params, scale=0.1, seed=2):
  """Zero-initialised parameters (residual scales, biases) would hide the layers behind them."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda p: p + scale * rng.standard_normal(p.shape).astype(p.dtype), params)


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
  x = jax.random.normal(jax.random.key(0), (1, 3, 5, 5, 4))
  variables = jax.jit(block.init)(jax.random.key(1), x)
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
  model = tiny_model('p3d', stage_sizes=(2, 1), spatial_attention='every_block',
                      temporal_attention_layers=2)
  x = jnp.zeros(tiny_input_shape('p3d'))
  params = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))['params']
  names = set(params)
  assert {'spatial_attention_0_0', 'spatial_attention_0_1', 'spatial_attention_1_0',
          'temporal_attention_0', 'temporal_attention_1'} <= names
  assert params['spatial_attention_0_0']['conv']['kernel'].shape == (3, 3, 3, 2, 1)
  assert model._style(0) == 'A' and model._style(1) == 'B' and model._style(2) == 'C'
  plain = tiny_model('p3d', spatial_attention='none', temporal_attention_layers=0)
  params = jax.eval_shape(lambda: plain.init(jax.random.key(0), x, train=False))['params']
  assert not any('attention' in k for k in params)


def test_spatial_attention_weights_each_position_of_each_frame():
  layer = p3d.SpatialAttention3D((1, 3, 3), 'xla')
  x = jax.random.normal(jax.random.key(0), (1, 2, 4, 4, 5))
  variables = layer.init(jax.random.key(1), x)
  out = layer.apply(variables, x)
  ratio = np.asarray(out / x)
  # One weight in (0, 1) per (frame, position), shared by all channels.
  np.testing.assert_allclose(ratio, np.broadcast_to(ratio[..., :1], ratio.shape), rtol=1e-5)
  assert np.all((ratio > 0) & (ratio < 1))


def test_c3d_paper_layout():
  params = jax.eval_shape(lambda: p3d.C3D(num_classes=CLASSES).init(
      jax.random.key(0), jnp.zeros((1, 16, 112, 112, 3)), train=False))['params']
  widths = [params[n]['kernel'].shape[-1] for n in
            ('conv1a', 'conv2a', 'conv3a', 'conv3b', 'conv4a', 'conv4b', 'conv5a', 'conv5b')]
  assert widths == [64, 128, 256, 256, 512, 512, 512, 512]
  assert params['fc6']['kernel'].shape == (8192, 4096)
  assert params['fc7']['kernel'].shape == (4096, 4096)


# Attention LSTM ------------------------------------------------------------------------------------

def test_lstm_attention_matches_numpy():
  hidden = jax.random.normal(jax.random.key(0), (2, 5, 6))
  layer = attention_lstm.LSTMAttention()
  variables = layer.init(jax.random.key(1), hidden)
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


@pytest.mark.slow
def test_attention_lstm_classifies_h_star_and_plain_baseline_has_no_attention():
  model = tiny_model('attention_lstm')
  x = jax.random.normal(jax.random.key(0), tiny_input_shape('attention_lstm'))
  variables = jax.jit(lambda x: model.init(jax.random.key(1), x, train=False))(x)
  logits = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x)
  p = variables['params']
  cnn = attention_lstm.FrameCNN(model.cnn_features, model.pool_after, model.fc_features,
                                model.first_stride, model.batch_norm, model.dropout_rate)
  feats = cnn.apply(
      {'params': p['cnn'], 'batch_stats': variables['batch_stats']['cnn']},
      x.reshape(8, 24, 24, 3), train=False).reshape(2, 4, -1)
  hidden = nn.RNN(nn.OptimizedLSTMCell(8)).apply({'params': {'cell': p['lstm']}}, feats)
  h_star, _ = attention_lstm.LSTMAttention().apply({'params': p['attention']}, hidden)
  np.testing.assert_allclose(logits, h_star @ p['head']['kernel'] + p['head']['bias'], rtol=1e-4,
                             atol=1e-5)
  plain = tiny_model('attention_lstm', use_attention=False)
  params = jax.eval_shape(lambda: plain.init(jax.random.key(0), x, train=False))['params']
  assert 'attention' not in params and 'lstm' in params


def test_frame_classifier_classifies_each_frame_with_the_attention_lstms_frame_cnn():
  """Stage one's model ('frame_cnn') gives per-frame logits, frame k's from frame k alone, and
  holds the attention LSTM's `cnn` sub-tree (the same fields, the same shapes): what the second
  stage starts from (`configs/stages.py`)."""
  x = jax.random.normal(jax.random.key(0), tiny_input_shape('frame_cnn'))
  model = tiny_model('frame_cnn')
  variables = jax.jit(lambda x: model.init(jax.random.key(1), x, train=False))(x)
  apply = jax.jit(lambda x: model.apply(variables, x, train=False))
  logits, changed = apply(x), apply(x.at[:, 1].add(1.0))
  assert logits.shape == (2, 4, CLASSES)
  same = np.isclose(logits, changed).all(axis=(0, 2))
  assert same.tolist() == [True, False, True, True]
  clip_model = jax.eval_shape(lambda: tiny_model('attention_lstm').init(
      jax.random.key(0), x, train=False))
  for collection in ('params', 'batch_stats'):
    assert jax.tree.map(np.shape, variables[collection]['cnn']) == jax.tree.map(
        lambda s: s.shape, clip_model[collection]['cnn'])


# RFSCNN --------------------------------------------------------------------------------------------

def test_four_direction_scan_matches_python_loop():
  x = np.asarray(jax.random.normal(jax.random.key(0), (2, 3, 4, 5)), np.float64)
  layer = two_stream.FourDirectionScan(6)
  variables = layer.init(jax.random.key(1), x)
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
  params = jax.eval_shape(lambda: layer.init(jax.random.key(0), x))['params']
  assert params['proj']['kernel'].shape == ((20 if merge == 'concat' else 5), 5)
  assert jax.eval_shape(lambda: layer.apply(layer.init(jax.random.key(0), x), x)).shape == (
      2, 3, 4, 5)


@pytest.mark.slow
def test_fusion_modes():
  a, b = jnp.array([[1.0, 2.0]]), jnp.array([[3.0, -1.0]])
  np.testing.assert_array_equal(two_stream.fuse(a, b, 'concat'), [[1, 2, 3, -1]])
  np.testing.assert_array_equal(two_stream.fuse(a, b, 'sum'), [[4, 1]])
  np.testing.assert_array_equal(two_stream.fuse(a, b, 'product'), [[3, -2]])
  x = jnp.zeros(tiny_input_shape('rfscnn'))
  for fusion, dim in [('concat', 16), ('sum', 8), ('product', 8)]:
    model = tiny_model('rfscnn', fusion=fusion)
    feats = jax.eval_shape(lambda: model.apply(model.init(jax.random.key(0), x, train=False), x,
                                               method='features'))
    assert feats.shape == (2, dim)
  with pytest.raises(ValueError, match="config.model.fusion='max'"):
    jax.eval_shape(lambda: tiny_model('rfscnn', fusion='max').init(jax.random.key(0), x,
                                                                   train=False))


def test_rfscnn_needs_flow_channels():
  with pytest.raises(ValueError, match="config.model.name='rfscnn' with config.model.streams='both' "
                                       'takes 6-channel'):
    jax.eval_shape(lambda: tiny_model('rfscnn').init(
        jax.random.key(0), jnp.zeros(tiny_input_shape('p3d')), train=False))
