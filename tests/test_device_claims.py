"""Checks that run before training (or without it) claim no device."""
import pytest

from conftest import script_result

SCRIPT = '''
import json, sys
from jax._src import xla_bridge
from conftest import tiny_config
from emojax import datasets, models
config = tiny_config(**{'dataset.data_dir': sys.argv[1]})
models.check_input(models.create_model(config), config)
checked = xla_bridge.backends_are_initialized()
dataset = datasets.load(config)
print('RESULT', json.dumps({'checked': checked, 'examples': len(dataset.source),
                            'loaded': xla_bridge.backends_are_initialized()}))
'''


@pytest.mark.slow
def test_checking_a_model_and_building_a_dataset_start_no_backend(tmp_path):
  """`models.check_input` evaluates shapes only, and building a dataset (its workers run on the
  CPU) and loading it leave the accelerator alone: on a GPU host either would otherwise open the
  GPU (and claim its memory) before training or `jax.distributed.initialize`."""
  assert script_result(SCRIPT, tmp_path) == {'checked': False, 'examples': 36, 'loaded': False}
