import importlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax import models
from emojax.models.convlstm import ConvLSTM, ConvLSTMCell, zero_carry
from emojax.models.emotion_net import EmotionNet
from emojax.models.resnet3d import ResNet3D18, ResNet3D34, conv3d_matmul, resnet3d
from emojax.models.transformer import TransformerEncoder, sinusoidal_encoding
from emojax.models import attention_lstm, p3d, two_stream
from emojax.train.state import param_path

from conftest import TINY_MODELS, first_fast, tiny_input_shape, tiny_model


def _init_apply(module, x, train=False, **kw):
  """The shapes of `module`'s variables and of its output on `x` (nothing is computed)."""
  def run():
    variables = module.init(jax.random.key(0), x, train=False, **kw)
    return variables, module.apply(variables, x, train=train,
                                   mutable=['batch_stats'] if train else False, **kw)

  return jax.eval_shape(run)


@pytest.mark.parametrize('depth,stages', [(18, (2, 2, 2, 2)), (34, (3, 4, 6, 3))])
def test_resnet3d_keeps_time_and_downsamples_space(depth, stages):
  net = resnet3d(depth, num_filters=4)
  assert tuple(net.stage_sizes) == stages
  x = jnp.zeros((2, 8, 32, 32, 3))
  out = jax.eval_shape(lambda: net.init_with_output(jax.random.key(0), x, train=False)[0])
  assert out.shape == (2, 8, 1, 1, 32)


def test_resnet3d_temporal_strides():
  net = ResNet3D18(num_filters=4, temporal_strides=(1, 1, 2, 2, 1))
  out = jax.eval_shape(lambda: net.init_with_output(
      jax.random.key(0), jnp.zeros((1, 16, 32, 32, 3)), train=False)[0])
  assert out.shape[1] == 4


def test_resnet3d_rejects_wrong_number_of_temporal_strides():
  with pytest.raises(ValueError, match='temporal_strides'):
    ResNet3D34(num_filters=4, temporal_strides=(1, 2)).init(
        jax.random.key(0), jnp.zeros((1, 4, 16, 16, 3)), train=False)


def test_unknown_depth_names_the_setting():
  with pytest.raises(ValueError, match='config.model.depth=20'):
    resnet3d(20)


def _convlstm_reference(params, x, peephole):
  """The paper's equations step by step: one convolution of `[x_t, h_{t-1}]` per frame."""
  kernel = jnp.concatenate([params['input_gates']['kernel'],
                            params['cell']['hidden_gates']], axis=2)
  conv = lambda v: jax.lax.conv_general_dilated(v, kernel, (1, 1), 'SAME',
                                                dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  cell = params['cell']
  c = h = jnp.zeros((*x.shape[:1], *x.shape[2:4], kernel.shape[-1] // 4))
  hidden = []
  for t in range(x.shape[1]):
    i, f, g, o = jnp.split(conv(jnp.concatenate([x[:, t], h], -1)) + params['input_gates']['bias'],
                           4, axis=-1)
    if peephole:
      i, f = i + cell['w_ci'] * c, f + cell['w_cf'] * c
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    if peephole:
      o = o + cell['w_co'] * c
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    hidden.append(h)
  return jnp.stack(hidden, 1)


@pytest.mark.parametrize('peephole,size', first_fast([(True, 6), (False, 6), (False, 2)]))
def test_convlstm_scan_equals_the_equations_step_by_step(peephole, size):
  """On 2x2 maps the input gates are a matrix product (`FrameConv`), else a 2D convolution."""
  x = jax.random.normal(jax.random.key(1), (2, 5, size, size, 3))
  layer = ConvLSTM(4, peephole=peephole)
  params = layer.init(jax.random.key(0), x)['params']
  params = jax.tree.map(  # peepholes and biases start at zero: make every parameter matter
      lambda v: v + 0.3 * jax.random.normal(jax.random.key(v.size), v.shape), params)
  scanned = layer.apply({'params': params}, x)
  assert scanned.shape == (2, 5, size, size, 4)
  np.testing.assert_allclose(scanned, _convlstm_reference(params, x, peephole), rtol=1e-5, atol=1e-6)
  cell = ConvLSTMCell(4, peephole=peephole)
  x_gates = nn.Conv(16, (3, 3)).apply({'params': params['input_gates']}, x[:, 0])
  _, h = cell.apply({'params': params['cell']}, zero_carry((2, size, size), 4), x_gates)
  np.testing.assert_allclose(h, scanned[:, 0], rtol=1e-5, atol=1e-6)


def test_convlstm_kernels_start_at_the_scale_of_one_gates_convolution():
  """The input and hidden kernels are drawn as slices of one lecun-normal [x_t, h_{t-1}] kernel."""
  x = jnp.zeros((1, 2, 6, 6, 96))
  params = ConvLSTM(32).init(jax.random.key(0), x)['params']
  want = 1 / np.sqrt(3 * 3 * (96 + 32))
  for kernel in (params['input_gates']['kernel'], params['cell']['hidden_gates']):
    np.testing.assert_allclose(np.std(kernel), want, rtol=0.05)


@pytest.mark.parametrize('kernel_size', [(3, 3), (1, 1), (5, 3), (2, 2)])
def test_matmul_conv_of_one_frame_is_a_same_2d_convolution(kernel_size):
  """How the ConvLSTM cell computes its hidden gates."""
  x = jax.random.normal(jax.random.key(0), (2, 5, 4, 3))
  kernel = jax.random.normal(jax.random.key(1), (*kernel_size, 3, 6))
  expected = jax.lax.conv_general_dilated(x, kernel, (1, 1), 'SAME',
                                          dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  got = conv3d_matmul(x[:, None], kernel[None], (1, 1, 1))[:, 0]
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_convlstm_state_carries_information_forward():
  """The last hidden state depends on the first frame."""
  layer = ConvLSTM(4)
  x = jax.random.normal(jax.random.key(1), (1, 4, 5, 5, 3))
  variables = layer.init(jax.random.key(0), x)
  changed = x.at[:, 0].add(1.0)
  assert not np.allclose(layer.apply(variables, x)[:, -1], layer.apply(variables, changed)[:, -1])


def test_transformer_encoder_outputs_cls_feature():
  enc = TransformerEncoder(dim=16, num_layers=2, num_heads=4)
  x = jax.random.normal(jax.random.key(0), (3, 7, 10))
  variables, (out, _) = _init_apply(enc, x, train=True)
  assert out.shape == (3, 16)
  assert 'cls_norm' in variables['batch_stats']
  # LeakyReLU FFN of two dense layers in every block.
  ffn = variables['params']['block_0']['FeedForward_0']
  assert set(ffn) == {'Dense_0', 'Dense_1'}


def test_transformer_is_permutation_sensitive_through_positional_encoding():
  enc = TransformerEncoder(dim=8, num_layers=1, num_heads=2)
  x = jax.random.normal(jax.random.key(0), (1, 5, 8))
  variables = enc.init(jax.random.key(1), x, train=False)
  out = enc.apply(variables, x, train=False)
  out_rev = enc.apply(variables, x[:, ::-1], train=False)
  assert not np.allclose(out, out_rev, atol=1e-5)


def test_sinusoidal_encoding_values():
  table = sinusoidal_encoding(4, 6)
  np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1])
  np.testing.assert_allclose(table[1, 0], np.sin(1.0), rtol=1e-6)


def test_learned_positions_reject_long_clips():
  enc = TransformerEncoder(dim=8, num_layers=1, num_heads=2, positional='learned', max_len=5)
  with pytest.raises(ValueError, match='config.model.max_len=5'):
    enc.init(jax.random.key(0), jnp.zeros((1, 8, 8)), train=False)


def _attention_reference(p, z):
  """flax's multi-head dot-product self-attention of `z` [B, L, D] in numpy."""
  q, k, v = (np.einsum('bld,dhe->blhe', z, p[n]['kernel']) + p[n]['bias']
             for n in ('query', 'key', 'value'))
  logits = np.einsum('bqhe,bkhe->bhqk', q, k) / np.sqrt(q.shape[-1])
  weights = np.exp(logits - logits.max(-1, keepdims=True))
  weights /= weights.sum(-1, keepdims=True)
  heads = np.einsum('bhqk,bkhe->bqhe', weights, v)
  return np.einsum('bqhe,hed->bqd', heads, p['out']['kernel']) + p['out']['bias']


def _layer_norm(x, p, eps=1e-6):
  return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * p['scale'] + (
      p['bias'])


@pytest.mark.parametrize('attention_norm', ['projection', 'layernorm'])
def test_transformer_layer_matches_its_equations(attention_norm):
  """One encoder layer over t = [cls; W_e f + b_e] + PE. The paper's ('projection'):
  a = t + MHSA(W_p t + b_p), o = a + FFN(a); pre-LayerNorm: a = t + MHSA(LN(t)),
  o = a + FFN(LN(a)); FFN(y) = W_2 LeakyReLU(W_1 y + b_1) + b_2; out = BatchNorm(o_cls)."""
  enc = TransformerEncoder(dim=8, num_layers=1, num_heads=2, attention_norm=attention_norm)
  x = np.random.default_rng(0).normal(size=(2, 5, 6)).astype(np.float32)
  variables = enc.init(jax.random.key(0), x, train=False)
  leaves, treedef = jax.tree.flatten(variables['params'])  # zero biases would hide terms
  params = jax.tree.unflatten(treedef, [v + 0.2 * np.random.default_rng(i).normal(size=v.shape)
                                        for i, v in enumerate(leaves)])
  out = enc.apply({'params': params, 'batch_stats': variables['batch_stats']}, x, train=False)
  p = jax.tree.map(lambda v: np.asarray(v, np.float64), params)
  block = p['block_0']
  norms = {'projection': {'projection'}, 'layernorm': {'LayerNorm_0', 'LayerNorm_1'}}
  assert set(block) == {'MultiHeadDotProductAttention_0', 'FeedForward_0'} | norms[attention_norm]
  tokens = x @ p['embed']['kernel'] + p['embed']['bias']
  cls = np.broadcast_to(p['cls'], (2, 1, 8))
  t = np.concatenate([cls, tokens], axis=1) + sinusoidal_encoding(6, 8)
  if attention_norm == 'projection':
    a = t + _attention_reference(block['MultiHeadDotProductAttention_0'],
                                 t @ block['projection']['kernel'] + block['projection']['bias'])
    y = a
  else:
    a = t + _attention_reference(block['MultiHeadDotProductAttention_0'],
                                 _layer_norm(t, block['LayerNorm_0']))
    y = _layer_norm(a, block['LayerNorm_1'])
  ffn = block['FeedForward_0']
  h = y @ ffn['Dense_0']['kernel'] + ffn['Dense_0']['bias']
  o = a + np.where(h > 0, h, 0.01 * h) @ ffn['Dense_1']['kernel'] + ffn['Dense_1']['bias']
  want = o[:, 0] / np.sqrt(1 + 1e-5) * p['cls_norm']['scale'] + p['cls_norm']['bias']
  np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)


def test_unknown_attention_norm_names_the_setting():
  enc = TransformerEncoder(dim=8, num_layers=1, num_heads=2, attention_norm='rmsnorm')
  with pytest.raises(ValueError, match="config.model.attention_norm='rmsnorm'"):
    enc.init(jax.random.key(0), jnp.zeros((1, 3, 8)), train=False)


@pytest.mark.parametrize('name', ['oulu', 'enterface', 'ckplus', 'dfew', 'demo'])
def test_oulu_config_selects_the_papers_transformer_and_convlstm(name):
  """configs/oulu.py (the main paper's) builds one projection-first encoder layer and a peephole
  ConvLSTM; the other configs keep two pre-LayerNorm layers without peepholes."""
  config = importlib.import_module(f'configs.{name}').get_config()
  config.model.depth, config.model.width = 10, 4
  model = models.create_model(config, num_classes=6)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 4, 32, 32, 3)),
                                             train=False))
  paths = [param_path(p) for p, _ in jax.tree_util.tree_leaves_with_path(shapes['params'])]
  blocks = sorted({p.split('/')[1] for p in paths if p.startswith('transformer/block_')})
  layer_norms = [p for p in paths if p.startswith('transformer/') and 'LayerNorm' in p]
  peepholes = [p for p in paths if p.startswith('convlstm/cell/w_c')]
  if name != 'oulu':
    assert blocks == ['block_0', 'block_1'] and layer_norms and not peepholes
  else:
    assert blocks == ['block_0'] and not layer_norms and len(peepholes) == 3
    assert 'transformer/block_0/projection/kernel' in paths


ABLATION = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize('use_convlstm,use_transformer', ABLATION)
def test_emotion_net_ablation_rows(use_convlstm, use_transformer):
  net = EmotionNet(num_classes=6, depth=10, width=4, num_heads=2, num_layers=1,
                   use_convlstm=use_convlstm, use_transformer=use_transformer)
  variables, (logits, _) = _init_apply(net, jnp.zeros((2, 4, 24, 24, 3)), train=True)
  assert logits.shape == (2, 6) and logits.dtype == jnp.float32
  assert ('convlstm' in variables['params']) == use_convlstm
  assert ('transformer' in variables['params']) == use_transformer


@pytest.mark.parametrize('name', first_fast(['emotion_net', *sorted(set(TINY_MODELS) - {'emotion_net'})],
                                            one_argument=True))
@pytest.mark.parametrize('dtype', ['float32', 'bfloat16'])
def test_logits_are_float32_in_any_dtype(name, dtype):
  """[B, classes] logits (a frame classifier's [B, T, classes]) in float32, in training too."""
  model = tiny_model(name, dtype=dtype)
  x = jnp.zeros(tiny_input_shape(name))

  def run():
    variables = model.init(jax.random.key(0), x, train=False)
    return model.apply(variables, x, train=True, mutable=['batch_stats'],
                       rngs={'dropout': jax.random.key(1)})[0]

  logits = jax.eval_shape(run)
  assert logits.shape == ((2, 4, 6) if name == 'frame_cnn' else (2, 6))
  assert logits.dtype == jnp.float32


PAPER_SIZE = {  # model, input, parameter range (docs/models.md)
    'emotion_net': (EmotionNet(6), (1, 16, 112, 112, 3), (70e6, 80e6)),  # ResNet34 at width 64
    'p3d': (p3d.P3DNet(6), (1, 16, 112, 112, 3), (28e6, 31e6)),
    'c3d': (p3d.C3D(6), (1, 16, 112, 112, 3), (77e6, 79e6)),
    'attention_lstm': (attention_lstm.AttentionLSTMNet(8), (1, 16, 100, 100, 3), (20e6, 22e6)),
    'rfscnn': (two_stream.RFSCNN(6), (1, 16, 227, 227, 6), (0.2e6, 0.25e6)),
}


@pytest.mark.parametrize('name', first_fast(list(PAPER_SIZE), one_argument=True))
def test_paper_size_parameter_counts(name):
  model, shape, (low, high) = PAPER_SIZE[name]
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros(shape), train=False))
  count = sum(np.prod(x.shape) for x in jax.tree.leaves(variables['params']))
  assert low < count < high, count


class _Plain(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(2)(x)


def test_a_model_that_says_nothing_has_nothing_frozen_or_pretrained():
  assert models.frozen_prefixes(_Plain()) == () and models.pretrained_parts(_Plain()) == ()
  assert models.video_feature_methods(_Plain()) == ('features', None)
  assert models.video_feature_methods(tiny_model('rfscnn')) == ('stream_features', 'fuse_streams')
