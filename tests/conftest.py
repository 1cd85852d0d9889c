"""What the tests share: the one tiny config (in-process and as launch.py flags), the generated
dataset and the tiny demo run (each made once per test run, whichever xdist worker asks first),
random tracks and batches, and small helpers."""
import atexit
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# One JAX compilation cache for the session, its xdist workers and the launch.py / predict processes
# they start (set before anything imports JAX, inherited through the environment): those compile the
# same tiny programs again and again.
_JAX_CACHE = tempfile.mkdtemp(prefix='emojax-test-jax-cache-')
atexit.register(shutil.rmtree, _JAX_CACHE, True)
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', _JAX_CACHE)
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0.5')  # not eager ops
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '-1')
# Random keys of the RBG generator: at XLA:CPU's full optimisation a model's initialiser compiled
# several times faster than with threefry (the tiny model's: 25 s instead of 150 s on a loaded
# machine); with the compile flags below the two are alike (the tiny RFSCNN's: 9.9 s RBG, 8.3 s
# threefry). The code under test is the same; only the random numbers differ.
os.environ.setdefault('JAX_DEFAULT_PRNG_IMPL', 'unsafe_rbg')

# XLA:CPU compiles the tests' tiny programs about five times faster without its MLIR fusion emitters
# and LLVM optimisation (the tiny train step: 20 s -> 4 s); they run slower, which tiny shapes do
# not notice. The programs compute the same values up to float rounding.
from emojax import xla_cpu  # noqa: E402 (starts no backend; emojax adds its own flags first)
xla_cpu.add_flags(['--xla_cpu_use_fusion_emitters=false', '--xla_backend_optimization_level=0'])

# The demo config shrunk so its programs compile in seconds: depth 10, width 4, 4 frames of 24x24
# on synthetic_expressions/tiny (6 subjects x 6 classes, 8 frames of 32x32); 3 subject folds, so a
# fold trains on 24 videos (6 steps an epoch) and tests on 12. Every test that trains the demo model
# uses it, in-process or through launch.py (`tiny_flags`), so the compiled programs are shared: a
# constant learning rate keeps the train step the same program for any number of steps (the demo's
# cosine schedule puts the run's length into it).
TINY = {
    'dataset.config': 'tiny', 'num_classes': 6, 'num_frames': 4, 'image_size': 24,
    'model.depth': 10, 'model.width': 4, 'model.num_heads': 2, 'model.num_layers': 1,
    'batch_size': 4, 'eval_batch_size': 8, 'num_epochs': 1, 'num_folds': 3, 'log_every_steps': 2,
    'schedule': 'constant', 'data_threads': 1,
}
# The tiny demo run that tests of finished runs share (`demo_run`): 3 epochs, a validation quarter of
# the training subjects (18 training videos, 4 steps an epoch) with early stopping, a checkpoint
# every 2 steps. test_multihost runs the same config on two processes and compares.
DEMO_RUN = {'num_epochs': 3, 'checkpoint_every_steps': 2, 'validation_fraction': 0.25,
            'early_stopping_patience': 1}
CLASS_NAMES = ('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')
# The registered classifiers that train from scratch (the video ViT's tests: test_video_vit.py),
# shrunk as `TINY` shrinks the demo's (the `config.model` fields beside its name; the demo's model
# is `TINY`'s own), without dropout; they take `tiny_input_shape` clips. 'frame_cnn' compiles
# fastest: tests of devices and checkpoints that need some model train it.
TINY_MODELS = {
    'emotion_net': {},
    'p3d': {'stage_sizes': (1, 1, 1), 'width': 4, 'expansion': 2, 'attention_dim': 8,
            'num_heads': 2, 'attention_kernel': (3, 3, 3), 'dropout_rate': 0.0},
    'c3d': {'width': 8, 'fc_dim': 16, 'batch_norm': True, 'dropout_rate': 0.0},
    'attention_lstm': {'cnn_features': (4, 4, 4, 4, 4), 'fc_features': (8,), 'lstm_features': 8,
                       'dropout_rate': 0.0},
    'frame_cnn': {'cnn_features': (4, 4, 4, 4, 4), 'fc_features': (8,), 'dropout_rate': 0.0},
    'rfscnn': {'cnn_features': (4, 4), 'srl_features': 4, 'temporal_features': 4,
               'fc_features': 8, 'dropout_rate': 0.0},
}


def first_fast(cases, fast=1, one_argument=False):
  """Parametrize cases (tuples of arguments, or values of `one_argument`): the first `fast` run in
  the fast tier (`-m 'not slow'`), the others with the whole suite only: equivalence checks over
  many shapes or models, each compiling programs of its own."""
  import pytest
  return list(cases[:fast]) + [
      pytest.param(*((case,) if one_argument else case), marks=pytest.mark.slow)
      for case in cases[fast:]]


def set_fields(config, fields):
  """Sets dotted keys of a config: {'model.width': 4} -> config.model.width = 4."""
  for key, value in fields.items():
    target = config
    *path, last = key.split('.')
    for p in path:
      target = target[p]
    target[last] = value


def tiny_config(model: str = 'emotion_net', **overrides):
  """configs/demo.py with `TINY`, `model` (another of `TINY_MODELS` in place of the demo's; the
  two-stream one with flow) and then `overrides` (dotted keys) set."""
  import ml_collections

  from configs import demo
  config = demo.get_config()
  set_fields(config, TINY)
  if model != 'emotion_net':
    config.model = ml_collections.ConfigDict({'name': model, **TINY_MODELS[model]})
    config.flow.method = 'farneback' if model == 'rfscnn' else ''
  set_fields(config, overrides)
  return config


def tiny_two_stage_config(stage_epochs: int = 1, **overrides):
  """The two-stream RFSCNN of `TINY_MODELS` on `TINY`'s clips with flow, trained as
  configs/stages.py trains it: each stream a stage of its own (`stage_epochs`), then the fusion and
  head on the frozen streams. `overrides` go to the run before its stages copy it."""
  from configs import stages
  config = tiny_config('rfscnn', report_frame_baseline=False, **overrides)
  return stages.rfscnn_two_stage(config, num_epochs=stage_epochs, learning_rate=1e-2)


def tiny_model(name: str, num_classes: int = 6, **fields):
  """`TINY_MODELS[name]` (with `config.model` `fields` changed) as a run builds it."""
  from emojax import models
  return models.create_model(tiny_config(name, **{f'model.{k}': v for k, v in fields.items()}),
                             num_classes)


def tiny_input_shape(name: str, batch: int = 2) -> tuple[int, ...]:
  """Clips of 4 frames of 24x24: RGB, with flow images (6 channels) for the two-stream model."""
  return (batch, 4, 24, 24, 6 if name == 'rfscnn' else 3)


def tiny_flags(**overrides) -> list[str]:
  """`TINY` and `overrides` as launch.py's --config.KEY=VALUE flags (for configs/demo.py)."""
  return [f'--config.{key}={value}' for key, value in {**TINY, **overrides}.items()]


def launch_command(workdir, *flags, config='demo.py') -> list[str]:
  """launch.py's arguments (for `run_python`) for configs/`config` in `workdir`."""
  return [os.path.join(ROOT, 'launch.py'), f'--config={os.path.join(ROOT, "configs", config)}',
          f'--workdir={workdir}', *flags]


def run_python(args, devices: int | None = None, timeout: int = 900, **kwargs):
  """`python ARGS` in the repository root on the CPU (with `devices` fake CPU devices)."""
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  if devices:
    env['XLA_FLAGS'] = f'{env.get("XLA_FLAGS", "")} --xla_force_host_platform_device_count={devices}'
  return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                        timeout=timeout, **kwargs)


def script_result(script: str, *args, devices: int | None = None) -> dict:
  """Runs a Python `script` (which may import conftest) with `args`; returns the JSON it printed
  after 'RESULT '."""
  import json
  proc = run_python(['-c', f'import sys; sys.path.insert(0, {os.path.join(ROOT, "tests")!r})\n'
                     + script, *map(str, args)], devices=devices)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
  line = [x for x in proc.stdout.splitlines() if x.startswith('RESULT ')][-1]
  return json.loads(line[len('RESULT '):])


def shared_path(tmp_path_factory, name: str, make) -> str:
  """A folder made once per test run by `make(path)`, by whichever xdist worker asks first while
  the others wait for it (a session fixture alone is made once per worker)."""
  base = tmp_path_factory.getbasetemp()
  root = base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base
  path = root / name
  with open(root / f'{name}.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not (root / f'{name}.done').exists():
      shutil.rmtree(path, ignore_errors=True)
      path.mkdir()
      make(str(path))
      (root / f'{name}.done').touch()
  return str(path)


@pytest.fixture(scope='session')
def tfds_dir(tmp_path_factory):
  """A TFDS data_dir with synthetic_expressions/tiny built in it, shared by the whole run."""
  def build(path):
    from emojax import datasets
    datasets.prepared_builder(tiny_config(**{'dataset.data_dir': path}))

  return shared_path(tmp_path_factory, 'tfds', build)


@pytest.fixture(scope='session')
def tiny_dataset(tfds_dir):
  """synthetic_expressions/tiny as a run reads it (`emojax.datasets.Dataset`)."""
  from emojax import datasets
  return datasets.load(tiny_config(**{'dataset.data_dir': tfds_dir}))


@pytest.fixture(scope='session')
def saved_run(tmp_path_factory) -> str:
  """A workdir as a finished tiny run leaves it, without training (untrained weights): config,
  data record, fold 0's checkpoint and result."""
  import json

  from emojax import models
  workdir = str(tmp_path_factory.mktemp('saved_run'))
  config = tiny_config()
  model = models.create_model(config)
  save_run(workdir, config, {1: clip_variables(model, config)})
  with open(os.path.join(workdir, 'fold_0', 'result.json'), 'w') as f:
    json.dump({'accuracy': 0.5}, f)
  return workdir


class DemoRun:
  """A finished run: its workdir and what it logged."""

  def __init__(self, path):
    self.workdir = os.path.join(path, 'run')
    with open(os.path.join(path, 'output.txt')) as f:
      self.output = f.read()

  def json(self, name):
    import json
    with open(os.path.join(self.workdir, name)) as f:
      return json.load(f)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
  """A test file is one xdist work unit (`--dist loadgroup`), as with `loadfile`, except that the
  files with tests of the finished demo run are one unit together: the process that trained the
  run holds its compiled programs, which their folds and evaluations reuse."""
  uses_demo_run = {item.path for item in items if 'demo_run' in item.fixturenames}
  for item in items:
    group = 'demo_run' if item.path in uses_demo_run else item.nodeid.split('::')[0]
    item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope='session')
def demo_run(tmp_path_factory, tfds_dir) -> DemoRun:
  """configs/demo.py with `TINY` and `DEMO_RUN`, fold 0, as launch.py runs it (in-process):
  trained once per test run and shared by every test of a finished run."""
  def train(path):
    from emojax.train import train_and_evaluate
    lines = []
    train_and_evaluate(tiny_config(**DEMO_RUN, **{'dataset.data_dir': tfds_dir}),
                       os.path.join(path, 'run'), log=lines.append)
    with open(os.path.join(path, 'output.txt'), 'w') as f:
      f.write('\n'.join(lines))

  return DemoRun(shared_path(tmp_path_factory, 'demo_run', train))


def random_source(n=10, frames=4, size=20, vary=False, num_classes=3):
  """Random tracks of `frames` frames (`frames + i % 3` for example i with `vary`) of `size`
  pixels; example i has label i % num_classes and subject S{i // 2}."""
  import numpy as np
  rng = np.random.default_rng(0)
  return [{'clip': rng.integers(0, 256, (frames + vary * (i % 3), size, size, 3), dtype=np.uint8),
           'label': i % num_classes, 'fps': np.float32(10.0), 'subject': f'S{i // 2}'.encode(),
           'video_id': f'v{i}'.encode()} for i in range(n)]


# Views of `pixel_source` videos: 2 clips x 3 crops of 2 frames of 4x4 pixels.
PIXEL_VIEWS = {'num_frames': 2, 'image_size': 4, 'eval_batch_size': 4, 'augment.crop_margin': 0.0,
               'eval.num_clips': 2, 'eval.num_crops': 3}


def pixel_source(n):
  """Video k shows pixel value k in every frame of its 3 + k frames; its label is k % 3."""
  import numpy as np
  return [{'clip': np.full((3 + k, 4, 4, 3), k, np.uint8), 'label': k % 3} for k in range(n)]


def pixel_logits(variables, batch):
  """A stand-in model for `emojax.evaluate.apply.sharded_apply`: class logits (k, 10 - k, k % 3)
  of a view of video k (`pixel_source`)."""
  import jax.numpy as jnp
  del variables
  value = batch['clip'][:, 0, 0, 0, 0].astype(jnp.float32)
  return jnp.stack([value, 10.0 - value, value % 3], axis=-1)


def random_batch(shape, num_classes=6, seed=0):
  """A training batch of uint8 clips of `shape` [B, T, H, W, C], labels counting up."""
  import numpy as np
  rng = np.random.default_rng(seed)
  return {'clip': rng.integers(0, 256, shape, dtype=np.uint8),
          'label': (np.arange(shape[0]) % num_classes).astype(np.int32)}


def save_run(run_dir, config, steps: dict, fold: int = 0) -> None:
  """A run's files as training leaves them, without training: config.json and data.json (the tiny
  dataset's facts) in `run_dir`, and a checkpoint of fold `fold` for each {step: variables}."""
  import orbax.checkpoint as ocp

  from emojax import checkpoints
  from emojax.data import record
  os.makedirs(run_dir, exist_ok=True)
  checkpoints.save_config(config, run_dir)
  record.save(record.DataRecord.for_run(stored_facts(config), config, 20.0, 8), run_dir)
  manager = checkpoints.checkpoint_manager(
      os.path.join(run_dir, f'fold_{fold}', 'checkpoints'), len(steps))
  for step, variables in steps.items():
    state = {**variables, 'step': step}
    manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state)))
  manager.close()


class Killed(Exception):
  """What `die_after_steps` raises."""


def die_after_steps(monkeypatch, steps: int) -> None:
  """Training (each compiled train step of `emojax.train.steps`) dies in its step number
  `steps + 1`, as a killed process would: the run's files stay as they were then."""
  from emojax.train import steps as steps_lib
  compile_train_step = steps_lib.compile_train_step
  done = []

  def compile_dying(*args, **kwargs):
    train_fn = compile_train_step(*args, **kwargs)

    def step(*step_args):
      if len(done) == steps:
        raise Killed
      done.append(1)
      return train_fn(*step_args)

    return step

  monkeypatch.setattr(steps_lib, 'compile_train_step', compile_dying)


def param_paths(tree) -> dict:
  """{'a/b/kernel': leaf} of a pytree of parameters."""
  import jax

  from emojax.train.state import param_path
  return {param_path(p): v for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def stored_facts(config) -> dict:
  """What the builder of `config.dataset` says of its examples (no data is built)."""
  from emojax import datasets
  return datasets.stored_facts(datasets.dataset_builder(config))


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
  is compiled (tests that need some parameters, not their initialisation, save its compile).
  Parameters N(0, scale); BatchNorm statistics as fresh ones (means 0, variances 1)."""
  import jax
  import numpy as np
  rng = np.random.default_rng(seed)
  keys = {'params': jax.random.key(0), 'mask': jax.random.key(1)}
  shapes = jax.eval_shape(lambda: model.init(keys, *args, **kwargs))

  def draw(path, s):
    names = [getattr(k, 'key', k) for k in path]
    if names[0] == 'batch_stats':
      return np.full(s.shape, float(names[-1] == 'var'), s.dtype)
    return (scale * rng.standard_normal(s.shape)).astype(s.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


def clip_variables(model, config, seed: int = 0) -> dict:
  """`random_variables` of `model` on `config`'s clips."""
  import numpy as np

  from emojax import models
  return random_variables(model, np.zeros(models.input_shape(config), np.float32), train=False,
                          seed=seed)
