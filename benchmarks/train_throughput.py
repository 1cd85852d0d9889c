"""Clips/s of the jitted train step (compile time, median step, peak memory), optionally beside the
PyTorch peer at the same shapes and width.

    python benchmarks/train_throughput.py --config=configs/demo.py --batch 4 --frames 16 \
        --size 112 --steps 5 [--conv_impl=xla] [--dtype bfloat16] [--peer] [--config.model.X=...]

Prints a markdown table row and one JSON line. `--peer` runs the PyTorch peer,
`benchmarks/torch_emotion_net.py` beside this script (or `--peer_path`), in a subprocess with the
same batch, frames, size, width (config.model.width) and thread count, after ours, and prints
emojax / PyTorch. PyTorch is not a dependency of the package: install it by hand for the peer,
`pip install torch==2.13.0` (the CPU build). The peer is the paper's network as a PyTorch user
writes it: compare like with like (the demo config adds frame-difference channels and uses 4
heads; `--config.model.frame_difference=False --config.model.num_heads=8` matches the peer).
`--rounds N` alternates ours and the peer N times (on a shared machine the load moves between
runs): each round's ratio is printed, and the headline figures are the medians over all rounds.

On a GPU, the issue's measurement: `--config=configs/oulu.py --batch 32 --frames 16 --size 112
--dtype bfloat16 --steps 10 --peak_tflops 989` (989: the dense bfloat16 figure of an H100 or H200
SXM datasheet) prints the TFLOP/s achieved and the model FLOPs utilisation, the step's FLOPs as
XLA's cost analysis counts them.

Timing: one train step is compiled ahead of time (`lower().compile()`, the compile time), then run
`--steps` times on the same batch with the state threaded through; the median step is reported.
`cpu_s_per_step` is the process's CPU time (all threads) per step, less sensitive than wall time
to other load on a shared machine. Peak memory: the device's `memory_stats()['peak_bytes_in_use']` where it has one (GPU/TPU), else the
process's max RSS; plus XLA's own estimate of the step's buffers (`memory_analysis()`).
"""
from __future__ import annotations

import collections
import glob
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

from clip_flags import shaped_config  # noqa: E402  (benchmarks/, the script's own folder)
flags.DEFINE_integer('steps', 5, 'timed steps after compilation')
flags.DEFINE_enum('conv_impl', None, ['auto', 'frames', 'frame_taps', 'matmul', 'xla'],
                  "Conv3D implementation (config.model.conv_impl); default: the config's / 'auto'")
flags.DEFINE_string('dtype', None, 'model compute dtype (float32 | bfloat16); default: the config')
flags.DEFINE_bool('peer', False, 'also time the PyTorch peer and print the ratio')
flags.DEFINE_string('peer_path', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                              'torch_emotion_net.py'), 'the PyTorch peer script')
flags.DEFINE_integer('rounds', 1, 'alternate `--steps` of ours and a peer run this many times')
flags.DEFINE_integer('profile', 0, 'trace this many more steps with jax.profiler and print where '
                     'the time goes (per model part, forward / backward, and the top ops)')
flags.DEFINE_integer('threads', None, 'PyTorch threads (default: the CPU cores we may use)')
flags.DEFINE_float('peak_tflops', None, "the device's peak TFLOP/s in the step's dtype (e.g. the dense "
                   'bfloat16 figure of its datasheet): prints the model FLOPs utilisation (MFU)')
FLAGS = flags.FLAGS


def _peak_memory_bytes(device) -> tuple[int, str]:
  stats = device.memory_stats() if hasattr(device, 'memory_stats') else None
  if stats and 'peak_bytes_in_use' in stats:
    return int(stats['peak_bytes_in_use']), 'device peak'
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'process max RSS'


def _part(op_name: str) -> tuple[str, str]:
  """(model part, phase) of an HLO op from its `op_name` metadata (the JAX name stack)."""
  if not op_name:
    return 'unattributed (layout copies)', ''
  phase = 'backward' if 'transpose(jvp(' in op_name else 'forward' if 'jvp(' in op_name else ''
  match = re.search(r'jvp\(\w+\)\)?/(.*)', op_name)
  if not match:
    return ('optimizer' if 'jvp(' not in op_name else 'loss'), phase
  path = match.group(1).split('/')
  if path[0] == 'backbone' and len(path) > 1:
    return ('backbone stem' if path[1] == 'conv_init' else 'backbone blocks'
            if path[1].startswith(('BasicBlock', 'Bottleneck')) else f'backbone {path[1]}'), phase
  return path[0], phase


def profile_steps(compiled, state, batch, key, steps: int, top: int = 8) -> dict:
  """Traces `steps` steps; CPU time per (model part, phase) and the costliest ops, per step.

  Every op event of every XLA thread is summed (so parallel ops add up: CPU seconds, not wall),
  and attributed through the compiled HLO's `op_name` metadata. XLA:CPU (jaxlib 0.10) runs
  convolutions and matrix products asynchronously on its thread pool: their events hold only the
  dispatch, and their work is in no event. The process's CPU time over the traced steps less the
  events' sum is reported as that untraced part.
  """
  import jax
  meta = {}
  for line in compiled.as_text().splitlines():
    match = re.match(r'\s*(?:ROOT )?%?([\w.\-]+) = .*?op_name="([^"]+)"', line)
    if match:
      meta.setdefault(match.group(1), match.group(2))
  directory = tempfile.mkdtemp()
  with jax.profiler.trace(directory):
    cpu_start = time.process_time()
    for _ in range(steps):
      state, metrics = compiled(state, batch, key)
      jax.block_until_ready(metrics)
    cpu_s = (time.process_time() - cpu_start) / steps
  data = jax.profiler.ProfileData.from_file(
      glob.glob(os.path.join(directory, '**', '*.xplane.pb'), recursive=True)[0])
  parts, ops = collections.Counter(), collections.Counter()
  for plane in data.planes:
    for line in plane.lines:
      if not line.name.startswith('tf_XLA'):
        continue
      for event in line.events:
        name = event.name
        if name.startswith(('ThunkExecutor', 'end:', 'H2D')) or name.endswith('::Await'):
          continue
        seconds = event.duration_ns / 1e9 / steps
        parts[_part(meta.get(name, ''))] += seconds
        ops[name] += seconds
  parts[('untraced: async convolutions, dots, runtime', '')] = max(
      cpu_s - sum(parts.values()), 0.0)
  total = sum(parts.values())
  return {
      'cpu_s_per_step': round(total, 3),
      'parts': [{'part': p, 'phase': ph, 'cpu_s': round(v, 3), 'share': round(v / total, 3)}
                for (p, ph), v in parts.most_common()],
      'top_ops': [{'op': k, 'cpu_s': round(v, 3), 'op_name': meta.get(k, '')}
                  for k, v in ops.most_common(top)]}


def compile_emojax(config):
  """The compiled train step and its first state, batch and key; compile time and XLA's buffers."""
  import jax
  import numpy as np

  from emojax import models, sharding
  from emojax.train import state as state_lib
  from emojax.train import steps as steps_lib

  model = models.create_model(config)
  tx = state_lib.make_optimizer(config, 1000, models.frozen_prefixes(model),  # as training
                                models.layer_ids(model))
  mesh = sharding.make_mesh()
  state = sharding.replicate(state_lib.create_train_state(
      model, tx, jax.random.key(0), models.input_shape(config, config.batch_size)), mesh)
  rng = np.random.default_rng(0)
  batch = sharding.shard_batch({
      'clip': rng.integers(0, 256, models.input_shape(config, config.batch_size), dtype=np.uint8),
      'label': (np.arange(config.batch_size) % config.num_classes).astype(np.int32)}, mesh)
  key = sharding.replicate(jax.random.key(1), mesh)
  train_fn = steps_lib.compile_train_step(mesh, config.label_smoothing, models.objective(model))

  start = time.perf_counter()
  compiled = train_fn.lower(state, batch, key).compile()
  compile_s = time.perf_counter() - start
  analysis = compiled.memory_analysis()
  xla_bytes = None
  if analysis is not None:
    xla_bytes = int(analysis.temp_size_in_bytes + analysis.argument_size_in_bytes +
                    analysis.output_size_in_bytes - analysis.alias_size_in_bytes)
  return compiled, state, batch, key, compile_s, xla_bytes


class StepTimer:
  """Runs the compiled step on the same batch, threading the state through; the first run (buffer
  allocation, thread-pool warm-up) is untimed."""

  def __init__(self, compiled, state, batch, key):
    import jax
    self.compiled, self.batch, self.key = compiled, batch, key
    self.state, self.metrics = compiled(state, batch, key)
    jax.block_until_ready(self.metrics)

  def time(self, steps: int) -> tuple[list[float], list[float]]:
    """Wall and process CPU seconds of each of `steps` steps."""
    import jax
    times, cpu_times = [], []
    for _ in range(steps):
      start, cpu_start = time.perf_counter(), time.process_time()
      self.state, self.metrics = self.compiled(self.state, self.batch, self.key)
      jax.block_until_ready(self.metrics)
      times.append(time.perf_counter() - start)
      cpu_times.append(time.process_time() - cpu_start)
    return times, cpu_times


def emojax_result(config, timer: StepTimer, compile_s, xla_bytes, times, cpu_times) -> dict:
  import jax
  step_s = statistics.median(times)
  peak, peak_kind = _peak_memory_bytes(jax.devices()[0])
  return {'framework': 'emojax', 'jax': jax.__version__, 'backend': jax.default_backend(),
          'devices': jax.device_count(), 'model': config.model.name,
          'depth': config.model.get('depth'), 'width': config.model.get('width'),
          'conv_impl': config.model.get('conv_impl', 'auto'), 'dtype': config.model.get('dtype'),
          'model_config': config.model.to_dict(),
          'batch': config.batch_size, 'frames': config.num_frames, 'size': config.image_size,
          'compile_s': round(compile_s, 2), 'step_s': round(step_s, 4),
          'step_s_all': [round(t, 4) for t in times],
          'cpu_s_per_step': round(statistics.median(cpu_times), 3),
          'clips_per_s': round(config.batch_size / step_s, 3),
          'peak_memory_mb': round(peak / 2**20), 'peak_memory_kind': peak_kind,
          'xla_step_buffers_mb': None if xla_bytes is None else round(xla_bytes / 2**20),
          'loss': float(timer.metrics['loss'])}


def model_flops_utilisation(compiled, step_s: float, peak_tflops: float | None) -> dict:
  """The step's FLOPs as XLA's cost analysis of the compiled program counts them, the TFLOP/s
  achieved and, given the device's peak, the model FLOPs utilisation."""
  flops = (compiled.cost_analysis() or {}).get('flops')
  if not flops:
    return {'step_flops': None, 'achieved_tflops': None, 'mfu': None}
  achieved = flops / step_s / 1e12
  return {'step_flops': flops, 'achieved_tflops': round(achieved, 3),
          'mfu': round(achieved / peak_tflops, 4) if peak_tflops else None}


def run_peer(path: str, config, steps: int, threads: int) -> dict:
  if not os.path.exists(path):
    raise FileNotFoundError(f'PyTorch peer not found at {path}; pass --peer_path')
  cmd = [sys.executable, path, '--batch', str(config.batch_size),
         '--frames', str(config.num_frames), '--size', str(config.image_size),
         '--width', str(config.model.width), '--steps', str(steps),
         '--threads', str(threads)]
  start = time.perf_counter()
  cpu_start = resource.getrusage(resource.RUSAGE_CHILDREN)
  proc = subprocess.run(cmd, capture_output=True, text=True)
  cpu_end = resource.getrusage(resource.RUSAGE_CHILDREN)
  if proc.returncode:
    raise RuntimeError(f'peer failed ({" ".join(cmd)}):\n{proc.stderr[-2000:]}')
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  result['wall_s'] = round(time.perf_counter() - start, 1)
  # CPU seconds of the whole peer process: import, model build, its warm-up step and the timed ones.
  result['process_cpu_s'] = round(cpu_end.ru_utime + cpu_end.ru_stime - cpu_start.ru_utime -
                                  cpu_start.ru_stime, 1)
  result['threads'] = threads
  return result


def main(argv):
  del argv
  config = shaped_config()
  with config.unlocked():  # These fields need not exist in every config.
    if FLAGS.dtype:
      config.model.dtype = FLAGS.dtype
    if FLAGS.conv_impl:
      config.model.conv_impl = FLAGS.conv_impl
  threads = FLAGS.threads or len(os.sched_getaffinity(0))
  compiled, state, batch, key, compile_s, xla_bytes = compile_emojax(config)
  timer = StepTimer(compiled, state, batch, key)
  load = [round(os.getloadavg()[0], 2)]
  times, cpu_times, peers, rounds = [], [], [], []
  for _ in range(FLAGS.rounds):
    round_times, round_cpu = timer.time(FLAGS.steps)
    times += round_times
    cpu_times += round_cpu
    rounds.append({'step_s': round(statistics.median(round_times), 4)})
    if FLAGS.peer:
      peers.append(run_peer(FLAGS.peer_path, config, FLAGS.steps, threads))
      rounds[-1]['torch_step_s'] = peers[-1]['step_s']
      rounds[-1]['ratio_vs_torch'] = round(peers[-1]['step_s'] / rounds[-1]['step_s'], 3)
    load.append(round(os.getloadavg()[0], 2))
  result = emojax_result(config, timer, compile_s, xla_bytes, times, cpu_times)
  result['profile'] = (profile_steps(compiled, timer.state, batch, key, FLAGS.profile)
                       if FLAGS.profile else None)
  result['cpu_cores'] = threads
  result.update(model_flops_utilisation(compiled, result['step_s'], FLAGS.peak_tflops))
  result['rounds'] = rounds
  row = (f"| {result['model']} d{result['depth']} w{result['width']} | {result['conv_impl']} | "
         f"{result['dtype']} | {result['batch']}x{result['frames']}x{result['size']}² | "
         f"{result['compile_s']:.1f} | {result['step_s']:.3f} | {result['clips_per_s']:.2f} | "
         f"{result['peak_memory_mb']} ({result['peak_memory_kind']}) |")
  if FLAGS.peer:
    peer_step_s = statistics.median(p['step_s'] for p in peers)
    result['peer'] = peers[-1]
    result['peer_step_s_rounds'] = [p['step_s'] for p in peers]
    result['peer_clips_per_s'] = round(config.batch_size / peer_step_s, 3)
    result['ratio_vs_torch'] = round(result['clips_per_s'] / result['peer_clips_per_s'], 3)
    row += f" {result['peer_clips_per_s']:.2f} | {result['ratio_vs_torch']:.2f} |"
  result['load_avg_1m'] = load  # at the start and after each round
  print('| model | conv | dtype | B x T x S² | compile s | step s (median) | clips/s | peak MB |'
        + (' torch clips/s | emojax/torch |' if FLAGS.peer else ''))
  print(row)
  if result['achieved_tflops'] is not None:
    print(f"{result['step_flops'] / 1e9:.1f} GFLOP a step (XLA's cost analysis): "
          f"{result['achieved_tflops']:.2f} TFLOP/s" +
          (f", MFU {100 * result['mfu']:.1f}% of {FLAGS.peak_tflops:g} TFLOP/s"
           if result['mfu'] is not None else ''))
  if FLAGS.rounds > 1:
    print('rounds (step s, ours / peer / ratio):', ', '.join(
        f"{r['step_s']:.3f}" + (f" / {r['torch_step_s']:.3f} / {r['ratio_vs_torch']:.2f}"
                                if FLAGS.peer else '') for r in rounds))
  if result['profile']:
    prof = result['profile']
    print(f"\nwhere the time goes (CPU s per step, all threads: {prof['cpu_s_per_step']}):")
    small = [p for p in prof['parts'] if p['share'] < 0.01]
    for p in prof['parts']:
      if p['share'] >= 0.01:
        print(f"  {p['part']:<44s} {p['phase']:<9s} {p['cpu_s']:8.3f}  {100 * p['share']:5.1f}%")
    print(f"  {'other (each < 1%)':<54s} {sum(p['cpu_s'] for p in small):8.3f}  "
          f"{100 * sum(p['share'] for p in small):5.1f}%")
    print('top ops:')
    for o in prof['top_ops']:
      print(f"  {o['cpu_s']:8.3f}  {o['op']:<32s} {o['op_name'][-90:]}")
  print(json.dumps(result))


if __name__ == '__main__':
  app.run(main)
