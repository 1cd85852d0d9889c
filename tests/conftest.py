import atexit
import os
import shutil
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# One JAX compilation cache for the session, its xdist workers and the launch.py / predict processes
# they start (set before anything imports JAX, inherited through the environment): those compile the
# same tiny train steps again and again.
_JAX_CACHE = tempfile.mkdtemp(prefix='emojax-test-jax-cache-')
atexit.register(shutil.rmtree, _JAX_CACHE, True)
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', _JAX_CACHE)
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0.5')  # not eager ops
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '-1')


def set_fields(config, fields):
  """Sets dotted keys of a config: {'model.width': 4} -> config.model.width = 4."""
  for key, value in fields.items():
    target = config
    *path, last = key.split('.')
    for p in path:
      target = target[p]
    target[last] = value


def tiny_config(**overrides):
  """The demo config shrunk so a jit compiles in seconds: depth 10, width 4, 4 frames of 32x32."""
  from configs import demo
  config = demo.get_config()
  config.dataset.config = 'tiny'
  config.num_classes = 6  # the synthetic dataset's; set so tests can build models without it
  config.num_frames = 4
  config.image_size = 24
  config.model.depth = 10
  config.model.width = 4
  config.model.num_heads = 2
  config.model.num_layers = 1
  config.batch_size = 4
  config.eval_batch_size = 8
  config.num_epochs = 1
  config.num_folds = 3
  config.log_every_steps = 2
  config.data_threads = 1
  set_fields(config, overrides)
  return config


@pytest.fixture
def make_config():
  return tiny_config


@pytest.fixture(scope='session')
def tfds_dir(tmp_path_factory):
  """A TFDS data_dir shared by the session, so the generated datasets are built once."""
  return str(tmp_path_factory.mktemp('tfds'))


def build_splits(builder, manual_dir):
  """Prepares `builder` from `manual_dir`; returns ({split: {video_id: example}}, {path: reason})
  of the build and its skip manifest."""
  import tensorflow_datasets as tfds

  from tfds_builders import common
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual_dir)))
  splits = {}
  for split in builder.info.splits:
    source = builder.as_data_source(split)
    splits[split] = {source[i]['video_id'].decode(): source[i] for i in range(len(source))}
  manifest = common.read_manifest(os.path.join(builder.data_dir, common.MANIFEST_NAME))
  return splits, {row.path: row.reason for row in manifest}


def labelled(builder, examples):
  """{video_id: (class name, subject)} of built examples."""
  names = builder.info.features['label']
  return {k: (names.int2str(int(e['label'])), e['subject'].decode()) for k, e in examples.items()}


def random_variables(model, *args, seed: int = 0, scale: float = 0.1, **kwargs):
  """Variables of `model.init(key, *args, **kwargs)`'s shapes, drawn with numpy: no initialiser
  is compiled (tests that need some parameters, not their initialisation, save its compile)."""
  import jax
  import numpy as np
  rng = np.random.default_rng(seed)
  keys = {'params': jax.random.key(0), 'mask': jax.random.key(1)}
  shapes = jax.eval_shape(lambda: model.init(keys, *args, **kwargs))
  return jax.tree.map(lambda s: (scale * rng.standard_normal(s.shape)).astype(s.dtype), shapes)
