"""Checks that run before training (or without it) claim no device."""
import subprocess
import sys

from conftest import ROOT

SCRIPT = f'''
import os, sys
sys.path.insert(0, {ROOT!r}); sys.path.insert(0, os.path.join({ROOT!r}, 'tests'))
from jax._src import xla_bridge
from conftest import tiny_config
from emojax import models
config = tiny_config()
models.check_input(models.create_model(config), config)
print('BACKENDS STARTED', xla_bridge.backends_are_initialized())
'''


def test_checking_a_model_input_starts_no_backend():
  """`models.check_input` evaluates shapes only: on a GPU host it would otherwise open the GPU
  (and claim its memory) before training or `jax.distributed.initialize`."""
  proc = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                        timeout=300)
  assert 'BACKENDS STARTED False' in proc.stdout, proc.stdout + proc.stderr[-3000:]


DATASET_SCRIPT = f'''
import os, sys
sys.path.insert(0, {ROOT!r}); sys.path.insert(0, os.path.join({ROOT!r}, 'tests'))
from jax._src import xla_bridge
from conftest import tiny_config
from emojax.data import pipeline
from emojax.train import datasets
config = tiny_config(**{{'dataset.data_dir': sys.argv[1]}})
source, record, _ = datasets.load_splits(config)
pipeline.check_sampling(config, record)
print('EXAMPLES', len(source), 'BACKENDS STARTED', xla_bridge.backends_are_initialized())
'''


def test_building_and_checking_a_dataset_starts_no_backend(tmp_path):
  """Building a dataset (its workers run on the CPU), loading it and checking the run's sampling
  against it leave the accelerator alone (only the batch-size checks ask for the device count)."""
  proc = subprocess.run([sys.executable, '-c', DATASET_SCRIPT, str(tmp_path)],
                        capture_output=True, text=True, timeout=600)
  assert 'EXAMPLES 36 BACKENDS STARTED False' in proc.stdout, proc.stdout + proc.stderr[-3000:]
