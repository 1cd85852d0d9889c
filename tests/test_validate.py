"""The one check of a whole config at the start of a run: every setting that cannot work, alone or
with another, stops it with a ConfigError naming the key; stages are checked as runs."""
import pytest

from emojax.errors import ConfigError
from emojax.train import validate

from conftest import stored_facts, tiny_config, tiny_two_stage_config

TINY_DATA = {'dataset': 'synthetic_expressions/tiny/1.2.0', 'class_names': tuple('abcdef'),
             'crop_size': 32, 'crop_margin': 0.2, 'flow_method': '',
             'align': True, 'key_frame_interval': 5, 'given_faces': False}
STORED_FLOW = {**TINY_DATA, 'dataset': 'enterface05/flow/2.0.0', 'flow_method': 'farneback'}
PATIENCE = {'early_stopping_patience': 2}

# (settings, what the dataset stores, the key the error names, words it says).
CONFLICTS = {
    'class count': ({'num_classes': 7}, TINY_DATA, 'num_classes', 'has 6 classes'),
    'no epochs': ({'num_epochs': 0}, TINY_DATA, 'num_epochs', 'at least 1'),
    'unknown metric': ({'extra_metrics': ('map',)}, TINY_DATA, 'extra_metrics',
                       r"unknown \['map'\]"),
    'unknown protocol': ({'protocol': 'holdout'}, TINY_DATA, 'protocol', 'expected one of'),
    'one fold': ({'num_folds': 1}, TINY_DATA, 'num_folds', 'at least 2 folds'),
    'folds loso ignores': ({'protocol': 'loso'}, TINY_DATA, 'num_folds', "is not used by"),
    'folds official ignores': ({'protocol': 'official_folds'}, TINY_DATA, 'num_folds',
                               'leave it 0'),
    'splits kfold ignores': ({'splits.test': 'validation'}, TINY_DATA, 'splits.test',
                             "read only by config.protocol='official_split'"),
    'validation twice': ({'protocol': 'official_split', 'num_folds': 0,
                          'splits.validation': 'validation', 'validation_fraction': 0.1},
                         TINY_DATA, 'splits.validation', 'set one'),
    'validation fraction': ({'validation_fraction': 1.0}, TINY_DATA, 'validation_fraction',
                            r'in \[0, 1\)'),
    'patience without validation': (PATIENCE, TINY_DATA, 'early_stopping_patience',
                                    'needs a validation part'),
    'margin cuts the face': ({'augment.crop_margin': 0.25}, TINY_DATA, 'augment.crop_margin',
                             r'must be in \[0, 0.1667\]'),
    'negative jitter': ({'augment.temporal_jitter': -1}, TINY_DATA, 'augment.temporal_jitter',
                        '>= 0'),
    'sampling method': ({'sampling.method': 'central'}, TINY_DATA, 'sampling.method',
                        'expected one of'),
    'fragments': ({'sampling.num_fragments': 3}, TINY_DATA, 'sampling.num_fragments',
                  'divide config.num_frames=4'),
    'crops': ({'eval.num_crops': 6}, TINY_DATA, 'eval.num_crops', 'num_crops=6'),
    'aggregate': ({'eval.aggregate': 'max'}, TINY_DATA, 'eval.aggregate', 'expected one of'),
    'unknown flow': ({'flow.method': 'magic'}, TINY_DATA, 'flow.method', "expected ''"),
    'flow differs from the stored': ({'flow.method': 'dis'}, STORED_FLOW, 'flow.method',
                                     "stores farneback flow.*set config.flow.method='farneback'"),
    'unknown model': ({'model.name': 'resnet9000'}, TINY_DATA, 'model.name', 'is not a model'),
    'unknown model field': ({'model.widht': 8}, TINY_DATA, 'model.widht',
                            'is not a field of EmotionNet'),
    'clip too long': ({'num_frames': 16, 'model.positional': 'learned', 'model.max_len': 9},
                      TINY_DATA, 'model.max_len', 'max_len=9'),
    'svm kernel': ({'svm.enabled': True, 'svm.kernel': 'poly'}, TINY_DATA, 'svm.kernel',
                   'expected one of'),
    'svm without features': ({'svm.enabled': True}, TINY_DATA, 'svm.enabled',
                             "'emotion_net' offers no features"),
    'all without a test': ({'protocol': 'all', 'num_folds': 0}, TINY_DATA, 'protocol',
                           'tests on nothing'),
    'more data to classify': ({'dataset.more': ('ferv39k',)}, TINY_DATA, 'dataset.more',
                              'only for pretraining'),
    'no labels to classify': ({'num_classes': 0}, {**TINY_DATA, 'class_names': ()}, 'dataset',
                              'has no labels'),
    'unknown stage': ({'init_from.stages': ('frames',), 'init_from.subtrees': ('backbone',)},
                      TINY_DATA, 'init_from.stages', r"\['frames'\] not in config.stages"),
    'sources without sub-trees': ({'init_from.workdir': '/runs/pretrained'}, TINY_DATA,
                                  'init_from.subtrees', 'give both or neither'),
}


def test_the_tiny_config_and_its_two_stage_variant_are_valid():
  validate.validate(tiny_config(), TINY_DATA)
  validate.validate(tiny_two_stage_config(), TINY_DATA)


@pytest.mark.parametrize('case', sorted(CONFLICTS))
def test_a_setting_that_cannot_work_stops_the_run_naming_its_key(case):
  fields, stored, key, words = CONFLICTS[case]
  with pytest.raises(ConfigError, match=words) as e:
    validate.validate(tiny_config(**fields), stored)
  assert e.value.key == key, str(e.value)


def test_patience_is_fine_with_a_validation_part():
  validate.validate(tiny_config(**PATIENCE, validation_fraction=0.25), TINY_DATA)
  validate.validate(tiny_config(**PATIENCE, protocol='official_split', num_folds=0,
                                **{'splits.validation': 'validation'}), TINY_DATA)


def test_frozen_parts_must_start_from_a_stage_or_pretrained_weights():
  config = tiny_two_stage_config()
  config.init_from.stages, config.init_from.subtrees = (), ()
  with pytest.raises(ConfigError, match=r'parameters spatial/\* are frozen but start from random '
                     'initialisation') as e:
    validate.validate(config, TINY_DATA)
  assert e.value.key == 'model'
  config.model.freeze_streams = False  # end to end: nothing frozen, nothing to start from
  validate.validate(config, TINY_DATA)


def test_a_stage_must_train_on_the_folds_of_the_run_it_starts():
  config = tiny_two_stage_config()
  config.stages.temporal.fold_seed = 1
  with pytest.raises(ConfigError, match=r'config.stages.temporal.fold_seed=1 differs from '
                     r'config.fold_seed=0') as e:
    validate.validate(config, TINY_DATA)
  assert e.value.key == 'stages.temporal.fold_seed'


def test_a_stage_is_checked_as_a_run_and_named_in_the_error():
  config = tiny_two_stage_config()
  config.stages.spatial.num_epochs = 0
  with pytest.raises(ConfigError, match='config.stages.spatial.num_epochs=0 must be') as e:
    validate.validate(config, TINY_DATA)
  assert e.value.key == 'stages.spatial.num_epochs'


def test_the_stored_facts_the_validator_reads_come_from_the_builder():
  """The validator needs no built data: the builder's own facts (of the real tiny dataset) pass
  for the tiny config and stop a flow method the dataset does not store."""
  stored = stored_facts(tiny_config())
  validate.validate(tiny_config(), stored)
  with pytest.raises(ConfigError, match='config.augment.crop_margin=0.2 must be'):
    validate.validate(tiny_config(**{'augment.crop_margin': 0.2}), stored)
