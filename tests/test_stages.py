"""Training stages as runs (`config.stages`, `config.init_from`): a fold starts from the sub-trees
of its stages' fold (or of another run), each from one source, shapes checked; a two-stage run
trains its stages first, keeps the frozen streams as they trained, and resumes anywhere."""
import os

import jax
import numpy as np
import pytest
from flax import traverse_util

import emojax
from emojax import checkpoints, models
from emojax.errors import ConfigError, DataError
from emojax.train import protocol, stages

from conftest import (CLASS_NAMES, Killed, clip_variables, die_after_steps, save_run,
                      tiny_config, tiny_two_stage_config)


def _model_and_variables(config, seed):
  model = models.create_model(config)
  return model, clip_variables(model, config, seed)


def _starting_with(tmp_path, subtrees, sources, fold=0, workdir=''):
  """The starting variables of fold `fold` of a tiny run in tmp_path/run whose stages are
  `sources` ({name: (stage config, variables)}) and that copies `subtrees`."""
  config = tiny_config(**{'init_from.subtrees': tuple(subtrees), 'init_from.workdir': workdir,
                          'init_from.stages': tuple(sources)})
  run_dir = str(tmp_path / 'run')
  for name, (stage, variables) in sources.items():
    config.stages[name] = stage
    save_run(stages.stage_dir(run_dir, name), stage, {1: variables}, fold)
  model, fresh = _model_and_variables(config, seed=0)
  return fresh, stages.starting_variables(config, model, fresh, CLASS_NAMES, run_dir, fold)


def _flat(variables):
  return traverse_util.flatten_dict(jax.device_get(variables), sep='/')


def _equal(a, b, prefix):
  """Whether the variables under `prefix` ('params/backbone/...') of `a` and `b` are equal."""
  a, b = _flat(a), _flat(b)
  keys = [k for k in a if k.startswith(prefix)]
  assert keys
  return all(np.array_equal(a[k], b[k]) for k in keys)


def test_a_stage_fills_the_subtrees_it_is_named_for_and_nothing_else(tmp_path):
  stage = tiny_config(seed=1)
  _, trained = _model_and_variables(stage, seed=1)
  fresh, start = _starting_with(tmp_path, ['backbone'], {'first': (stage, trained)})
  for collection in ('params', 'batch_stats'):
    assert _equal(start, trained, f'{collection}/backbone/')
  for part in ('convlstm', 'transformer', 'head'):
    assert _equal(start, fresh, f'params/{part}/') and not _equal(start, trained, f'params/{part}/')


def test_each_subtree_comes_from_the_one_source_that_has_it(tmp_path):
  """The RFSCNN's streams from their own stages (a stage's model has its stream alone)."""
  config = tiny_two_stage_config()
  sources = {name: (config.stages[name], _model_and_variables(config.stages[name], seed=k)[1])
             for k, name in enumerate(('spatial', 'temporal'), start=1)}
  start = stages.starting_variables(config, models.create_model(config), _model_and_variables(
      config, seed=0)[1], CLASS_NAMES, _saved_stages(tmp_path, config, sources), 0)
  for name, (_, trained) in sources.items():
    assert _equal(start, trained, f'params/{name}/') and _equal(start, trained,
                                                                f'batch_stats/{name}/')


def _saved_stages(tmp_path, config, sources):
  run_dir = str(tmp_path / 'run')
  for name, (stage, variables) in sources.items():
    save_run(stages.stage_dir(run_dir, name), stage, {1: variables})
  return run_dir


@pytest.mark.parametrize('subtrees, stage_fields, message', [
    (['backbone', 'nowhere'], [{}], r"config.init_from.subtrees: \['nowhere'\] found in none of"),
    (['backbone'], [{'model.width': 8}],
     r'params/backbone/.* of .*stages/s0/fold_0 has shape \(.*\), this model \(.*\)'),
    (['head'], [{}, {}], r"'head' is in both .*s0/fold_0 and .*s1/fold_0"),
    (['convlstm'], [{'model.convlstm_peephole': True}],
     r'has params/convlstm/cell/w_c., which this model lacks'),
], ids=['missing', 'shape', 'in two sources', 'not in this model'])
def test_a_subtree_that_cannot_be_copied_names_the_setting(tmp_path, subtrees, stage_fields,
                                                           message):
  sources = {}
  for k, fields in enumerate(stage_fields):
    stage = tiny_config(**fields)
    sources[f's{k}'] = (stage, _model_and_variables(stage, seed=k + 1)[1])
  with pytest.raises(ConfigError, match=message):
    _starting_with(tmp_path, subtrees, sources)


def test_another_finished_run_starts_every_fold_from_its_fold_or_its_only_one(tmp_path):
  other = tiny_config(seed=3)
  _, trained = _model_and_variables(other, seed=3)
  workdir = str(tmp_path / 'pretrained')
  save_run(workdir, other, {1: trained}, fold=0)
  for fold in (0, 2):  # fold 2 of this run starts from the other run's only fold
    _, start = _starting_with(tmp_path, ['backbone'], {}, fold=fold, workdir=workdir)
    assert _equal(start, trained, 'params/backbone/')
  save_run(workdir, other, {1: trained}, fold=1)
  with pytest.raises(DataError, match=r"config.init_from.workdir=.*no fold_2 in it, nor a single "
                     r"fold.*\['fold_0', 'fold_1'\]"):
    _starting_with(tmp_path, ['backbone'], {}, fold=2, workdir=workdir)


# The two-stage run end to end, in-process: the RFSCNN's streams, each a stage of 1 epoch (6
# steps, a checkpoint every 2), then the fusion and head on the frozen streams.
TWO_STAGE = {'fold': 0, 'checkpoint_every_steps': 2}


def _run(tfds_dir, workdir, log=None):
  config = tiny_two_stage_config(**{'dataset.data_dir': tfds_dir, **TWO_STAGE})
  return protocol.train_and_evaluate(config, str(workdir), log=log or (lambda message: None))


def _numbers(workdir):
  """Every fold result of the run and of its stages, without timings."""
  import json
  found = {}
  for directory, _, files in os.walk(workdir):
    if 'result.json' in files:
      with open(os.path.join(directory, 'result.json')) as f:
        result = json.load(f)
      found[os.path.relpath(directory, workdir)] = {
          'history': [{k: v for k, v in h.items() if k != 'clips_per_s'}
                      for h in result['history']],
          **{k: result[k] for k in ('accuracy', 'uar', 'confusion_matrix', 'steps')}}
  return found


@pytest.fixture(scope='module')
def two_stage_run(tmp_path_factory, tfds_dir):
  workdir = str(tmp_path_factory.mktemp('two_stage'))
  _run(tfds_dir, workdir)
  return workdir


@pytest.mark.slow
def test_the_stages_train_first_and_their_frozen_streams_stay_as_they_trained(two_stage_run):
  run = emojax.restore(two_stage_run)
  assert sorted(_numbers(two_stage_run)) == ['fold_0', 'stages/spatial/fold_0',
                                             'stages/temporal/fold_0']
  for name in ('spatial', 'temporal'):
    stage = checkpoints.restore(stages.fold_dir(stages.stage_dir(two_stage_run, name), 0))
    assert set(stage.variables['params']) == {name, 'fused_norm', 'head'}
    for collection in ('params', 'batch_stats'):
      assert _equal(run.variables, stage.variables, f'{collection}/{name}/')
    assert os.path.exists(os.path.join(stages.stage_dir(two_stage_run, name), 'results.json'))
  assert run.step == 6 and run.config.model.freeze_streams


@pytest.mark.slow
def test_a_two_stage_run_killed_inside_stage_one_resumes_to_the_same_results(
    two_stage_run, tfds_dir, tmp_path, monkeypatch):
  """Killed in step 5 of the spatial stream's 6 (its last checkpoint: step 4), run again: every
  stage and the run end with the uninterrupted run's numbers."""
  die_after_steps(monkeypatch, 4)
  with pytest.raises(Killed):
    _run(tfds_dir, tmp_path)
  monkeypatch.undo()
  assert _numbers(str(tmp_path)) == {}
  logs = []
  _run(tfds_dir, tmp_path, logs.append)
  assert 'stage spatial, fold 0: resumed at step 4 (epoch 0.67)' in logs
  assert _numbers(str(tmp_path)) == _numbers(two_stage_run)
