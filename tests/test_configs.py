"""Every experiment config builds its model, and the paper-size models have the papers' sizes."""
import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax import models
from emojax.models import attention_lstm, p3d, two_stream

from conftest import ROOT


def _key(seed):
  """A PRNG key whose random initialisers compile in a fraction of threefry's time on CPU."""
  return jax.random.key(seed, impl='unsafe_rbg')


CONFIGS = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(ROOT, 'configs'))
                 if f.endswith('.py') and f not in ('__init__.py', 'default.py'))


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_its_model(name):
  config = importlib.import_module(f'configs.{name}').get_config()
  assert config.num_classes == 0  # the dataset's count, set when a run loads it
  model = models.create_model(config, num_classes=7)
  assert type(model) is models.MODELS[config.model.name]
  shape = list(models.input_shape(config))
  if config.model.name == 'rfscnn':
    shape[-1] = 6
  outputs = jax.eval_shape(lambda x: model.init_with_output(_key(0), x, train=False)[0],
                           jnp.zeros(shape))
  if models.objective(model) == 'classification':  # a masked autoencoder has no logits
    assert outputs.shape == (1, 7)
  assert config.protocol == PROTOCOLS.get(name, 'kfold')


PROTOCOLS = {'enterface_rfscnn': 'loso', 'rml_rfscnn': 'loso', 'afew_rfscnn': 'official_split',
             'cheavd_attention_lstm': 'official_split', 'dfew': 'official_folds',
             'ferv39k': 'official_split', 'mafw': 'official_folds', 'dfew_vit': 'official_folds',
             'ferv39k_vit': 'official_split', 'mafw_vit': 'official_folds', 'pretrain_mae': 'all',
             'demo_pretrain_mae': 'all'}


PAPER_SIZE = {  # model, input, parameter range (docs/models.md)
    'p3d': (p3d.P3DNet(6), (1, 16, 112, 112, 3), (28e6, 31e6)),
    'c3d': (p3d.C3D(6), (1, 16, 112, 112, 3), (77e6, 79e6)),
    'attention_lstm': (attention_lstm.AttentionLSTMNet(8), (1, 16, 100, 100, 3), (20e6, 22e6)),
    'rfscnn': (two_stream.RFSCNN(6), (1, 16, 227, 227, 6), (0.2e6, 0.25e6)),
}


@pytest.mark.parametrize('name', sorted(PAPER_SIZE))
def test_paper_size_parameter_counts(name):
  model, shape, (low, high) = PAPER_SIZE[name]
  variables = jax.eval_shape(lambda: model.init(_key(0), jnp.zeros(shape), train=False))
  count = sum(np.prod(x.shape) for x in jax.tree.leaves(variables['params']))
  assert low < count < high, count
