"""Every experiment config is a run that can start: valid for its dataset (as its builder
describes it, without data), and its training stages give the sub-trees it starts from in the
shapes its model has."""
import importlib
import os

import jax
import jax.numpy as jnp
import pytest
from flax import traverse_util

from emojax import models
from emojax.train import validate

from conftest import ROOT, first_fast, stored_facts

CONFIGS = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(ROOT, 'configs'))
                 if f.endswith('.py') and f not in ('__init__.py', 'default.py', 'stages.py'))
STAGED = [name for name in CONFIGS
          if importlib.import_module(f'configs.{name}').get_config().init_from.stages]


def _get_config(name):
  return importlib.import_module(f'configs.{name}').get_config()


# The demo's and the main paper's configs in the fast tier; every config with the whole suite.
@pytest.mark.parametrize('name', first_fast(
    ['demo', 'oulu', *(c for c in CONFIGS if c not in ('demo', 'oulu'))], 2, one_argument=True))
def test_config_is_valid_for_its_dataset(name):
  config = _get_config(name)
  validate.validate(config, stored_facts(config))


def _shapes(config, num_classes=7):
  """{'params/a/b', 'batch_stats/...': shape} of `config`'s model."""
  model = models.create_model(config, num_classes)
  if getattr(model, 'conv_impl', None) == 'auto':
    model = model.clone(conv_impl='xla')  # the same shapes, without asking the backend
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros(
      models.input_shape(config)), train=False))
  return {k: v.shape for k, v in traverse_util.flatten_dict(variables, sep='/').items()}


@pytest.mark.parametrize('name', first_fast(STAGED, one_argument=True))
def test_a_configs_stages_hold_the_subtrees_it_starts_from_in_its_shapes(name):
  config = _get_config(name)
  run = _shapes(config)
  stages = {stage: _shapes(config.stages[stage]) for stage in config.init_from.stages}
  for subtree in config.init_from.subtrees:
    want = {k: s for k, s in run.items() if k.split('/', 1)[1].startswith(subtree + '/')}
    holders = [stage for stage, shapes in stages.items()
               if any(k.startswith(f'params/{subtree}/') for k in shapes)]
    assert len(holders) == 1, (subtree, holders)
    got = {k: s for k, s in stages[holders[0]].items()
           if k.split('/', 1)[1].startswith(subtree + '/')}
    assert want and got == want, subtree
