"""The one check of a whole config, at the start of a run, before anything is built or trained.

`validate(config, stored)` stops with a `ConfigError` naming the key and what to change for every
setting that cannot work, alone or with another: a model that cannot take the clips, sampling and
views out of range, a crop margin that would cut into the stored faces, a flow method other than
the dataset's stored flow, early stopping without a validation part, fold settings the protocol
ignores, frozen parameters that would start from nothing, stages that would see other folds.
`stored` is what the dataset's builder says of its examples (`emojax.datasets.stored_facts`), so
no data needs to be built to check. Stages (`config.stages`) are checked the same way.
"""
from __future__ import annotations

from emojax import models
from emojax.data import flow, folds, pipeline
from emojax.data import sampling as sampling_lib
from emojax.errors import ConfigError
from emojax.evaluate import metrics, svm
from emojax.train import state as state_lib

# Settings that make the fold plan: a stage must share them with the run it starts.
PLAN_KEYS = ('dataset.name', 'dataset.config', 'protocol', 'num_folds', 'fold_seed',
             'validation_fraction', 'splits.train', 'splits.validation', 'splits.test')
DEFAULT_SPLITS = {'train': 'train', 'validation': '', 'test': 'test'}


def _get(config, dotted: str):
  for part in dotted.split('.'):
    config = config[part]
  return config


def _check(condition: bool, message: str) -> None:
  if not condition:
    raise ConfigError(message)


def _check_training(config, model) -> None:
  _check(config.num_epochs >= 1, f'config.num_epochs={config.num_epochs} must be at least 1')
  pipeline.process_batch_size(config.batch_size)
  pipeline.process_batch_size(config.eval_batch_size, 'config.eval_batch_size')
  state_lib.learning_rate_schedule(config, 1)
  state_lib.make_optimizer(config, 1, layer_ids=models.layer_ids(model))
  unknown = [m for m in config.extra_metrics if m not in metrics.EXTRA_METRICS]
  _check(not unknown, f'config.extra_metrics: unknown {unknown}; available '
         f'{sorted(metrics.EXTRA_METRICS)}')


def _check_protocol(config) -> None:
  protocol = config.protocol
  _check(protocol in folds.PROTOCOLS,
         f'config.protocol={protocol!r}: expected one of {", ".join(folds.PROTOCOLS)}')
  if protocol == 'kfold':
    _check(config.num_folds >= 2, f'config.num_folds={config.num_folds}: the subject k-fold '
           "protocol needs at least 2 folds")
  else:
    _check(config.num_folds == 0, f'config.num_folds={config.num_folds} is not used by '
           f'config.protocol={protocol!r} (its folds are fixed): leave it 0')
  if protocol != 'official_split':
    changed = [k for k, v in DEFAULT_SPLITS.items() if config.splits[k] != v]
    _check(not changed, f'config.splits.{changed[0] if changed else ""} is read only by '
           "config.protocol='official_split': leave config.splits as it is")
  _check(not (protocol == 'all' and config.validation_fraction > 0),
         "config.validation_fraction: config.protocol='all' trains on every video and holds "
         'none out; leave it 0')
  _check(0.0 <= config.validation_fraction < 1.0, f'config.validation_fraction='
         f'{config.validation_fraction} must be in [0, 1)')
  _check(not (config.splits.validation and config.validation_fraction > 0),
         f'config.splits.validation={config.splits.validation!r} and config.validation_fraction='
         f'{config.validation_fraction}: set one')
  has_validation = config.validation_fraction > 0 or (
      protocol == 'official_split' and config.splits.validation)
  _check(config.early_stopping_patience >= 0, 'config.early_stopping_patience must be >= 0')
  _check(not config.early_stopping_patience or has_validation,
         f'config.early_stopping_patience={config.early_stopping_patience} needs a validation '
         'part to stop on: set config.validation_fraction (a share of the training subjects) or, '
         "with config.protocol='official_split', config.splits.validation")


def _check_sampling(config, stored: dict) -> None:
  sampling = sampling_lib.Sampling.from_config(config)
  limit = sampling_lib.max_crop_margin(stored['crop_margin'])
  margin = config.augment.crop_margin
  _check(0.0 <= margin <= limit + 1e-9,
         f'config.augment.crop_margin={margin} must be in [0, {limit:.4f}]: the stored crops have '
         f"a face margin of {stored['crop_margin']}, so a window of 1/(1 + crop_margin) of the "
         'resized crop would cut into the face')
  _check(config.augment.temporal_jitter >= 0,
         f'config.augment.temporal_jitter={config.augment.temporal_jitter} must be >= 0')
  sampling.view_indices(sampling.num_frames, config.eval.num_clips)
  sampling_lib.crop_offsets(config.image_size, config.image_size, config.eval.num_crops)
  _check(config.eval.aggregate in metrics.AGGREGATES,
         f'config.eval.aggregate={config.eval.aggregate!r}: expected one of {metrics.AGGREGATES}')


def _check_flow(config, stored: dict) -> None:
  method, stored_method = config.flow.method, stored['flow_method']
  _check(method in ('',) + flow.METHODS,
         f"config.flow.method={method!r}: expected '' (RGB only) or one of {flow.METHODS}")
  _check(not (method and stored_method and method != stored_method),
         f'config.flow.method={method!r}, but config.dataset.config='
         f'{stored["dataset"].split(":")[0].split("/", 1)[-1]!r} stores {stored_method} flow, '
         f'which training would use: set config.flow.method={stored_method!r}, or a dataset '
         'config without stored flow to compute it')


def _check_objective(config, stored: dict) -> None:
  """What the model learns from and what the protocol tests."""
  model = models.create_model(config, num_classes=max(len(stored['class_names']), 1))
  pretraining = models.objective(model) == 'masked_reconstruction'
  _check(pretraining or len(stored['class_names']) >= 2,
         f"config.dataset: {stored['dataset']} has no labels (classes "
         f"{list(stored['class_names'])}): it serves pretraining only, a model without classes "
         "(config.model.name='video_mae')")
  _check(pretraining or config.protocol != 'all',
         "config.protocol='all' tests on nothing: it is for pretraining a masked autoencoder "
         "(config.model.name='video_mae'); a classifier needs a protocol with a test part")
  _check(not config.dataset.more or config.protocol == 'all',
         f"config.dataset.more={tuple(config.dataset.more)} joins other datasets' videos, whose "
         "labels differ: only for pretraining without labels (config.protocol='all')")
  _check(not (pretraining and config.svm.enabled),
         'config.svm.enabled: a masked autoencoder has no classes for an SVM')


def _check_model(config, stored: dict):
  _check('face_box' not in config.model,
         'config.model.face_box is set by the run from the stored crops\' face margin and '
         'config.augment.crop_margin (emojax/data/sampling.py face_box_fraction): leave it out')
  model = models.create_model(config, num_classes=max(len(stored['class_names']), 1))
  models.check_input(model, config)
  if config.svm.enabled:
    _check(config.svm.kernel in svm.KERNELS,
           f'config.svm.kernel={config.svm.kernel!r}: expected one of {svm.KERNELS}')
    missing = [m for m in models.video_feature_methods(model) if m and not hasattr(type(model), m)]
    _check(not missing, f'config.svm.enabled: config.model.name={config.model.name!r} offers no '
           f'{missing[0] if missing else ""} features for an SVM')
  return model


def _check_starts(config, model) -> None:
  """Stages named, sub-trees given, frozen parameters that start from something."""
  init_from = config.init_from
  unknown = [s for s in init_from.stages if s not in config.stages]
  _check(not unknown, f'config.init_from.stages: {unknown} not in config.stages '
         f'({sorted(config.stages) or "none"})')
  sources = bool(init_from.stages) or bool(init_from.workdir)
  _check(sources == bool(init_from.subtrees),
         'config.init_from.subtrees names the parameter sub-trees copied from config.init_from.'
         'stages / config.init_from.workdir: give both or neither')
  starts = tuple(s.strip('/') + '/' for s in init_from.subtrees) + tuple(
      '/'.join(part.path) + '/' for part in models.pretrained_parts(model))
  for prefix in models.frozen_prefixes(model):
    _check(any(prefix.startswith(s) or s == '/' for s in starts),
           f'config.model: parameters {prefix}* are frozen but start from random initialisation; '
           'start them from a stage (config.init_from) or do not freeze them')
  for name, stage in config.stages.items():
    for key in PLAN_KEYS:
      _check(_get(stage, key) == _get(config, key),
             f'config.stages.{name}.{key}={_get(stage, key)!r} differs from config.{key}='
             f'{_get(config, key)!r}: a stage trains on the folds of the run it starts')


def validate(config, stored: dict) -> None:
  """Raises `ConfigError` for the first setting of `config` (and its stages) that cannot work
  with a dataset whose builder reports `stored`."""
  _check(config.num_classes in (0, len(stored['class_names'])),
         f"config.num_classes={config.num_classes} but {stored['dataset']} has "
         f"{len(stored['class_names'])} classes {list(stored['class_names'])}; leave it 0 to "
         'follow the dataset')
  _check_objective(config, stored)
  model = _check_model(config, stored)
  _check_training(config, model)
  _check_protocol(config)
  _check_sampling(config, stored)
  _check_flow(config, stored)
  _check_starts(config, model)
  for name, stage in config.stages.items():
    try:
      validate(stage, stored)
    except ConfigError as e:
      raise ConfigError(str(e).replace('config.', f'config.stages.{name}.', 1)) from None
