"""Masked-autoencoder pretraining as a run and fine-tuning from it: every video of several built
datasets (one's own unlabelled videos included) in one fold, a killed run resuming exactly, the
encoder carried into a video ViT through `init_from`, layer-wise learning-rate decay, and the
checks that stop a config that cannot work."""
import importlib
import json
import math
import os

import cv2
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from conftest import random_variables, set_fields, tiny_config
from emojax import checkpoints, datasets, models
from emojax.data import folds
from emojax.errors import ConfigError
from emojax.train import stages, train_and_evaluate, validate
from emojax.train import state as state_lib
from emojax.train import steps as steps_lib
from tfds_builders.video_folder import fake_archive as fake_folder

ENCODER = dict(patch_size=8, tubelet_size=2, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0)
OWN = 'video_folder/unlabelled'
SYNTHETIC = 'synthetic_expressions/tiny'
OWN_VIDEOS = {'calm': ('anna/take1.avi', 'ben/take1.avi'), 'happy': ('anna/take2.avi',)}


def _pretraining(data_dir, manual_dir, **fields):
  """A tiny masked autoencoder on one's own unlabelled videos joined by the generated ones, with
  the dotted config `fields` set last."""
  config = tiny_config()
  config.dataset.name, config.dataset.config = OWN.split('/')
  config.dataset.data_dir, config.dataset.manual_dir = data_dir, manual_dir
  config.dataset.more = (SYNTHETIC,)
  config.num_classes = 0
  config.model = ml_collections.ConfigDict(dict(
      name='video_mae', decoder_dim=8, decoder_depth=1, decoder_num_heads=2, mask_ratio=0.75,
      **ENCODER))
  config.protocol, config.num_folds = 'all', 0
  config.report_frame_baseline = False
  config.adam_b2, config.weight_decay = 0.95, 0.05
  config.num_epochs, config.checkpoint_every_steps = 2, 4
  set_fields(config, fields)
  return config


def _vit(**fields):
  """A tiny video ViT classifying the generated videos, with the dotted config `fields` set."""
  config = tiny_config()
  config.model = ml_collections.ConfigDict(dict(name='video_vit', **ENCODER))
  set_fields(config, fields)
  return config


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  """A data_dir holding the tiny generated dataset and `video_folder/unlabelled` built from a
  fake folder of three face videos, both built the way a run builds them; and that folder."""
  root = tmp_path_factory.mktemp('pretraining')
  fake = fake_folder.make_fake_archive(root / 'own', OWN_VIDEOS)
  config = _pretraining(str(root / 'data'), fake.root)
  before = os.environ.get('EMOJAX_BUILD_WORKERS')
  os.environ['EMOJAX_BUILD_WORKERS'] = '1'  # MTCNN in this process: no pool to start
  try:
    datasets.prepared_builder(config)
    config.dataset.name, config.dataset.config = SYNTHETIC.split('/')
    datasets.prepared_builder(config)
  finally:
    if before is None:
      del os.environ['EMOJAX_BUILD_WORKERS']
    else:
      os.environ['EMOJAX_BUILD_WORKERS'] = before
  return str(root / 'data'), fake.root


@pytest.fixture(scope='module')
def pretrained(data_dir, tmp_path_factory):
  """An uninterrupted 2-epoch pretraining run: its workdir and results."""
  workdir = str(tmp_path_factory.mktemp('pretrained'))
  return workdir, train_and_evaluate(_pretraining(*data_dir), workdir, log=lambda *a: None)


def _history(workdir):
  with open(os.path.join(workdir, 'fold_0', 'result.json')) as f:
    return json.load(f)['history']


@pytest.mark.slow
def test_protocol_all_is_one_fold_of_every_video_of_every_dataset_and_no_test(data_dir):
  dataset = datasets.load(_pretraining(*data_dir))
  assert len(dataset.index.labels) == 3 + 36
  assert sorted(set(dataset.index.splits)) == ['synthetic_expressions/tiny/1.2.0:train', 'train']
  assert dataset.class_names == ()  # the first dataset's: one's own videos have no classes
  fold, = folds.fold_plan(_pretraining(*data_dir), dataset.index.subjects, dataset.index.splits)
  np.testing.assert_array_equal(fold.train, np.arange(39))
  assert len(fold.test) == 0 and fold.validation is None


@pytest.mark.slow
def test_pretraining_on_own_videos_reports_the_masked_error_and_draws_reconstructions(pretrained):
  workdir, results = pretrained
  assert results['more_datasets'] == [SYNTHETIC] and results['protocol'] == 'all'
  assert math.isfinite(results['reconstruction_loss']['mean'])
  history = _history(workdir)
  assert [h['epoch'] for h in history] == [1, 2] and 'test_accuracy' not in history[0]
  figure = cv2.imread(os.path.join(workdir, 'fold_0', 'reconstructions.png'))
  assert figure.shape == (4 * 3 * 24, 4 * 24, 3)  # 4 videos: 3 rows of 4 frames each


class Killed(Exception):
  """Stands in for the process being killed."""


def _kill_after(monkeypatch, steps: int):
  """The next run's train step raises `Killed` when called for the `steps + 1`-th time."""
  compile_train_step = steps_lib.compile_train_step

  def compile_then_count(*args, **kwargs):
    step, calls = compile_train_step(*args, **kwargs), []

    def counted(*step_args):
      calls.append(1)
      if len(calls) > steps:
        raise Killed
      return step(*step_args)
    return counted

  monkeypatch.setattr(steps_lib, 'compile_train_step', compile_then_count)


@pytest.mark.slow
def test_a_killed_pretraining_run_resumes_to_the_same_epochs(pretrained, data_dir, tmp_path,
                                                               monkeypatch):
  workdir, reference = pretrained
  killed = str(tmp_path / 'killed')
  config = _pretraining(*data_dir)  # 39 videos: 9 steps an epoch, a checkpoint every 4
  _kill_after(monkeypatch, 14)  # in epoch 2, after the checkpoint of step 12
  with pytest.raises(Killed):
    train_and_evaluate(config, killed, log=lambda *a: None)
  monkeypatch.undo()
  said = []
  resumed = train_and_evaluate(config, killed, log=said.append)
  assert any('resumed at step 12' in line for line in said)
  ours, theirs = _history(killed), _history(workdir)
  assert [(h['step'], h['train_loss']) for h in ours] == [
      (h['step'], h['train_loss']) for h in theirs]
  assert resumed['reconstruction_loss'] == reference['reconstruction_loss']


def _fine_tuning(pretraining_workdir, **fields):
  config = _vit(**{f'model.{k}': v for k, v in fields.items()})
  config.init_from.workdir = pretraining_workdir
  config.init_from.subtrees = ('encoder',)
  return config


@pytest.mark.slow
@pytest.mark.parametrize('fold', [0, 2])  # the pretraining run's only fold starts every fold
def test_fine_tuning_starts_from_the_pretrained_encoder_and_a_new_head(pretrained, fold):
  workdir, _ = pretrained
  config = _fine_tuning(workdir)
  model = models.create_model(config)
  fresh = random_variables(model, jnp.zeros(models.input_shape(config)), train=False)
  start = stages.starting_variables(config, model, fresh, tuple('abcdef'), '/unused', fold)
  encoder = checkpoints.restore(workdir).variables['params']['encoder']
  assert jax.tree.structure(start['params']) == jax.tree.structure(fresh['params'])
  for new, old in zip(jax.tree.leaves(start['params']['encoder']), jax.tree.leaves(encoder)):
    np.testing.assert_array_equal(new, old)
  for part in ('fc_norm', 'head'):
    for new, old in zip(jax.tree.leaves(start['params'][part]),
                        jax.tree.leaves(fresh['params'][part])):
      np.testing.assert_array_equal(new, old)


@pytest.mark.slow
@pytest.mark.parametrize('fields, message', [
    (dict(depth=3), r'this model has params/encoder/block_2/\S+, which .* lacks'),
    (dict(embed_dim=32), r'params/encoder/\S+ of .* has shape \(.*\), this model \(.*\); the '
                         'config.model settings')])
def test_an_encoder_of_another_shape_names_the_parameter(pretrained, fields, message):
  config = _fine_tuning(pretrained[0], **fields)
  model = models.create_model(config)
  fresh = random_variables(model, jnp.zeros(models.input_shape(config)), train=False)
  with pytest.raises(ConfigError, match=message):
    stages.starting_variables(config, model, fresh, tuple('abcdef'), '/unused', 0)


def _first_update(config, grads_of):
  model = models.create_model(config)
  params = random_variables(model, jnp.zeros(models.input_shape(config)), train=False)['params']
  tx = state_lib.make_optimizer(config, 10, (), models.layer_ids(model))
  updates, _ = tx.update(jax.tree.map(grads_of, params), tx.init(params), params)
  return params, updates


def test_layer_decay_scales_each_layers_update_by_decay_per_layer_below_the_head():
  config = _vit()
  config.layer_decay, config.learning_rate = 0.5, 1e-3
  _, updates = _first_update(config, jnp.ones_like)  # equal gradients: equal Adam steps
  head = float(updates['head']['kernel'].ravel()[0])
  expected = {'encoder/patch_embed/kernel': 0.5 ** 3, 'encoder/block_0/mlp/fc1/kernel': 0.5 ** 2,
              'encoder/block_1/norm1/scale': 0.5, 'fc_norm/scale': 1.0, 'head/bias': 1.0}
  for path, scale in expected.items():
    leaf = updates
    for name in path.split('/'):
      leaf = leaf[name]
    np.testing.assert_allclose(np.asarray(leaf), head * scale, rtol=1e-6, err_msg=path)


def test_weight_decay_acts_on_kernels_only():
  config = _vit()
  config.weight_decay = 0.1
  params, updates = _first_update(config, jnp.zeros_like)  # no gradient: only the decay moves
  flat = jax.tree_util.tree_leaves_with_path(updates)
  params_flat = dict(jax.tree_util.tree_leaves_with_path(params))
  for path, update in flat:
    if params_flat[path].ndim >= 2:
      np.testing.assert_allclose(update, -1e-3 * 0.1 * params_flat[path], rtol=1e-5)
    else:
      assert not np.any(update), jax.tree_util.keystr(path)


NO_LABELS = {'dataset': 'video_folder/unlabelled/1.0.0', 'class_names': (), 'crop_size': 32,
             'crop_margin': 0.2, 'flow_method': ''}
LABELLED = {**NO_LABELS, 'dataset': 'synthetic_expressions/tiny/1.2.0',
            'class_names': tuple('abcdef')}


def _masked_autoencoder(**fields):
  return _pretraining('', '', **{'dataset.more': (), **fields})


@pytest.mark.parametrize('config, stored, message', [
    (_vit(num_classes=0), NO_LABELS, r"has no labels .*config.model.name='video_mae'"),
    (_vit(protocol='all', num_folds=0), LABELLED, "config.protocol='all' tests on nothing"),
    (_masked_autoencoder(protocol='kfold', num_folds=3, **{'dataset.more': (SYNTHETIC,)}),
     NO_LABELS, r"config.dataset.more=.* only for pretraining without labels"),
    (_masked_autoencoder(**{'svm.enabled': True}), NO_LABELS, 'config.svm.enabled'),
    (_masked_autoencoder(validation_fraction=0.1), NO_LABELS,
     "config.validation_fraction: config.protocol='all' .* leave it 0"),
    (_masked_autoencoder(layer_decay=0.75), NO_LABELS,
     "config.layer_decay=0.75 needs a model with layers"),
    (tiny_config(layer_decay=0.75), LABELLED, "config.layer_decay=0.75 needs a model with layers"),
], ids=['classifier without labels', "'all' with a classifier", 'more datasets with folds',
        'svm of an autoencoder', "validation with 'all'", 'layer decay of the autoencoder',
        'layer decay of a CNN'])
def test_settings_that_cannot_work_stop_at_start(config, stored, message):
  with pytest.raises(ConfigError, match=message):
    validate.validate(config, stored)


@pytest.mark.parametrize('name', ['pretrain_mae', 'dfew_vit:small', 'ferv39k_vit', 'mafw_vit',
                                  'demo_pretrain_mae', 'demo_vit'])
def test_the_pretraining_and_vit_configs_are_valid_for_their_datasets(name):
  module, _, size = name.partition(':')
  get_config = importlib.import_module(f'configs.{module}').get_config
  config = get_config(size) if size else get_config()
  validate.validate(config, datasets.stored_facts(datasets.dataset_builder(config)))
