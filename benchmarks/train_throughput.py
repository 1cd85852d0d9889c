"""Clips/s of the jitted train step (compile time, median step, peak memory), optionally beside the
PyTorch peer at the same shapes and width.

    python benchmarks/train_throughput.py --config=configs/demo.py --batch 4 --frames 16 \
        --size 112 --steps 5 [--conv_impl=xla] [--dtype bfloat16] [--peer] [--config.model.X=...]

Prints a markdown table row and one JSON line. `--peer` runs `shared/peers/torch_emotion_net.py`
(found as ../shared/peers/ beside the repo, or `--peer_path`; needs `pip install torch==2.13.0`,
which the package does not depend on) in a subprocess with the same batch, frames, size, width
(config.model.width) and thread count, after ours, and prints emojax / PyTorch. The peer is the
paper's network as a PyTorch user writes it: compare like with like (the demo config adds
frame-difference channels and drops the stem max-pool; `--config.model.frame_difference=False
--config.model.max_pool=True --config.model.num_heads=8` matches the peer).

Timing: one train step is compiled ahead of time (`lower().compile()`, the compile time), then run
`--steps` times on the same batch with the state threaded through; the median step is reported.
Peak memory: the device's `memory_stats()['peak_bytes_in_use']` where it has one (GPU/TPU), else the
process's max RSS; plus XLA's own estimate of the step's buffers (`memory_analysis()`).
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

config_flags.DEFINE_config_file('config', os.path.join(ROOT, 'configs', 'demo.py'),
                                'experiment config; override fields with --config.X=...')
flags.DEFINE_integer('batch', 4, 'global batch size (clips)')
flags.DEFINE_integer('frames', 16, 'frames per clip')
flags.DEFINE_integer('size', 112, 'clip height and width')
flags.DEFINE_integer('steps', 5, 'timed steps after compilation')
flags.DEFINE_enum('conv_impl', None, ['auto', 'frames', 'xla'],
                  "Conv3D implementation (config.model.conv_impl); default: the config's / 'auto'")
flags.DEFINE_string('dtype', None, 'model compute dtype (float32 | bfloat16); default: the config')
flags.DEFINE_bool('peer', False, 'also time the PyTorch peer and print the ratio')
flags.DEFINE_string('peer_path', None, 'torch_emotion_net.py (default: ../shared/peers/)')
flags.DEFINE_integer('threads', None, 'PyTorch threads (default: the CPU cores we may use)')
FLAGS = flags.FLAGS


def _peak_memory_bytes(device) -> tuple[int, str]:
  stats = device.memory_stats() if hasattr(device, 'memory_stats') else None
  if stats and 'peak_bytes_in_use' in stats:
    return int(stats['peak_bytes_in_use']), 'device peak'
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'process max RSS'


def run_emojax(config, steps: int) -> dict:
  import jax
  import numpy as np

  from emojax import models
  from emojax.train import state as state_lib
  from emojax.train import steps as steps_lib

  model = models.create_model(config)
  tx = state_lib.make_optimizer(config, steps_per_epoch=1000)
  mesh = steps_lib.make_mesh()
  state = steps_lib.replicate(state_lib.create_train_state(
      model, tx, jax.random.key(0), models.input_shape(config, config.batch_size)), mesh)
  rng = np.random.default_rng(0)
  batch = steps_lib.shard_batch({
      'clip': rng.integers(0, 256, models.input_shape(config, config.batch_size), dtype=np.uint8),
      'label': (np.arange(config.batch_size) % config.num_classes).astype(np.int32)}, mesh)
  key = steps_lib.replicate(jax.random.key(1), mesh)
  train_fn, _ = steps_lib.compile_steps(mesh, config.label_smoothing)

  start = time.perf_counter()
  compiled = train_fn.lower(state, batch, key).compile()
  compile_s = time.perf_counter() - start
  analysis = compiled.memory_analysis()
  xla_bytes = None
  if analysis is not None:
    xla_bytes = int(analysis.temp_size_in_bytes + analysis.argument_size_in_bytes +
                    analysis.output_size_in_bytes - analysis.alias_size_in_bytes)
  state, metrics = compiled(state, batch, key)  # First run: allocation, thread-pool warm-up.
  jax.block_until_ready(metrics)
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    state, metrics = compiled(state, batch, key)
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - start)
  step_s = statistics.median(times)
  peak, peak_kind = _peak_memory_bytes(jax.devices()[0])
  return {'framework': 'emojax', 'jax': jax.__version__, 'backend': jax.default_backend(),
          'devices': jax.device_count(), 'model': config.model.name,
          'depth': config.model.get('depth'), 'width': config.model.get('width'),
          'conv_impl': config.model.get('conv_impl', 'auto'), 'dtype': config.model.get('dtype'),
          'batch': config.batch_size, 'frames': config.num_frames, 'size': config.image_size,
          'compile_s': round(compile_s, 2), 'step_s': round(step_s, 4),
          'step_s_all': [round(t, 4) for t in times],
          'clips_per_s': round(config.batch_size / step_s, 3),
          'peak_memory_mb': round(peak / 2**20), 'peak_memory_kind': peak_kind,
          'xla_step_buffers_mb': None if xla_bytes is None else round(xla_bytes / 2**20),
          'loss': float(metrics['loss'])}


def run_peer(path: str, config, steps: int, threads: int) -> dict:
  if not os.path.exists(path):
    raise FileNotFoundError(f'PyTorch peer not found at {path}; pass --peer_path')
  cmd = [sys.executable, path, '--batch', str(config.batch_size),
         '--frames', str(config.num_frames), '--size', str(config.image_size),
         '--width', str(config.model.width), '--steps', str(steps),
         '--threads', str(threads)]
  start = time.perf_counter()
  proc = subprocess.run(cmd, capture_output=True, text=True)
  if proc.returncode:
    raise RuntimeError(f'peer failed ({" ".join(cmd)}):\n{proc.stderr[-2000:]}')
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  result['wall_s'] = round(time.perf_counter() - start, 1)
  result['threads'] = threads
  return result


def main(argv):
  del argv
  config = FLAGS.config
  config.batch_size, config.num_frames, config.image_size = FLAGS.batch, FLAGS.frames, FLAGS.size
  with config.unlocked():  # These fields need not exist in every config.
    if FLAGS.dtype:
      config.model.dtype = FLAGS.dtype
    if FLAGS.conv_impl:
      config.model.conv_impl = FLAGS.conv_impl
  threads = FLAGS.threads or len(os.sched_getaffinity(0))
  result = run_emojax(config, FLAGS.steps)
  result['load_avg_1m'] = round(os.getloadavg()[0], 2)
  result['cpu_cores'] = threads
  row = (f"| {result['model']} d{result['depth']} w{result['width']} | {result['conv_impl']} | "
         f"{result['dtype']} | {result['batch']}x{result['frames']}x{result['size']}² | "
         f"{result['compile_s']:.1f} | {result['step_s']:.3f} | {result['clips_per_s']:.2f} | "
         f"{result['peak_memory_mb']} ({result['peak_memory_kind']}) |")
  if FLAGS.peer:
    path = FLAGS.peer_path or os.path.join(os.path.dirname(ROOT), 'shared', 'peers',
                                           'torch_emotion_net.py')
    peer = run_peer(path, config, FLAGS.steps, threads)
    result['peer'] = peer
    result['ratio_vs_torch'] = round(result['clips_per_s'] / peer['clips_per_s'], 3)
    row += f" {peer['clips_per_s']:.2f} | {result['ratio_vs_torch']:.2f} |"
  result['load_avg_1m_end'] = round(os.getloadavg()[0], 2)
  print('| model | conv | dtype | B x T x S² | compile s | step s (median) | clips/s | peak MB |'
        + (' torch clips/s | emojax/torch |' if FLAGS.peer else ''))
  print(row)
  print(json.dumps(result))


if __name__ == '__main__':
  app.run(main)
