"""Forward + backward time of every `Conv3D` implementation, for each distinct 3D convolution of a
config's model at the given batch / frames / size; marks what `impl='auto'` picks.

    python benchmarks/conv3d_impls.py --config=configs/default.py --batch 4 --frames 16 --size 112 \
        [--per_pass]

The layers are found by running the model's `init` abstractly and recording every `Conv3D` call.
Each layer is timed as a jitted value-and-gradient of `sum(conv(x, kernel)**2)` with respect to
the kernel and, except for a layer that reads the clip itself, its input (what the train step
computes). `auto` may compute a layer's forward, input gradient and kernel gradient by different
implementations (`resnet3d.conv3d_by_pass`); its column is that combination. `--per_pass` times
the three apart instead (forward; the input gradient and the kernel gradient each as the
transpose of the convolution for a given output gradient), which is what `auto` chooses from.
Minimum over `--repeats` runs after one untimed run, in milliseconds of wall time (or, with
`--clock=cpu`, of the process's CPU time, all threads). Prints a markdown table and one JSON
line. `xla` (XLA's 3D convolution) is left out on CPU unless `--with_xla`: it takes minutes for a
7x7x7 stem there.
"""
from __future__ import annotations

import collections
import functools
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

from clip_flags import shaped_config  # noqa: E402  (benchmarks/, the script's own folder)
flags.DEFINE_integer('repeats', 3, 'timed runs per layer and implementation')
flags.DEFINE_bool('with_xla', False, "also time 'xla' on CPU (very slow there)")
flags.DEFINE_bool('per_pass', False, 'time the forward, input gradient and kernel gradient apart')
flags.DEFINE_enum('clock', 'wall', ['wall', 'cpu'], "'cpu': the process's CPU time (all threads), "
                  'less sensitive than wall time to other load on a shared machine')
FLAGS = flags.FLAGS

# A layer's three convolutions in a training step, in the order of `auto_conv3d_impl`'s picks.
PASSES = ('forward', 'input_grad', 'kernel_grad')


def conv3d_layers(config):
  """`(input shape, kernel shape, strides) -> count` of the model's Conv3D calls, in call order."""
  import flax.linen as nn
  import jax

  from emojax import models
  from emojax.models.resnet3d import Conv3D

  layers = collections.Counter()

  def record(next_fun, args, kwargs, context):
    if isinstance(context.module, Conv3D) and context.method_name == '__call__':
      module, x = context.module, args[0]
      kernel = (*module.kernel_size, x.shape[-1], module.features)
      layers[(tuple(x.shape), kernel, tuple(module.strides))] += 1
    return next_fun(*args, **kwargs)

  model = models.create_model(config)
  shape = models.input_shape(config, config.batch_size)
  with nn.intercept_methods(record):
    jax.eval_shape(lambda: model.init(jax.random.key(0), jax.numpy.zeros(shape), train=False))
  return layers


def _timed_ms(fn, *args) -> float:
  import jax
  fn = jax.jit(fn)
  jax.block_until_ready(fn(*args))
  clock = time.process_time if FLAGS.clock == 'cpu' else time.perf_counter
  times = []
  for _ in range(FLAGS.repeats):
    start = clock()
    jax.block_until_ready(fn(*args))
    times.append(clock() - start)
  return 1e3 * min(times)


def time_layer(impl_fn, input_shape, kernel_shape, strides, input_grad: bool) -> dict:
  """`{'train': ms}` (value and gradients), or with `--per_pass` ms per pass (`PASSES`);
  'input_grad' only where the layer's input needs one."""
  import jax
  import jax.numpy as jnp

  x = jax.random.normal(jax.random.key(0), input_shape)
  kernel = 0.05 * jax.random.normal(jax.random.key(1), kernel_shape)
  conv = lambda x, kernel: impl_fn(x, kernel, strides)
  if not FLAGS.per_pass:
    loss = lambda kernel, x: jnp.sum(conv(x, kernel) ** 2)
    return {'train': _timed_ms(jax.value_and_grad(loss, argnums=(0, 1) if input_grad else 0),
                               kernel, x)}
  dy = jax.random.normal(jax.random.key(2), jax.eval_shape(conv, x, kernel).shape)
  ms = {'forward': _timed_ms(conv, x, kernel),
        'kernel_grad': _timed_ms(lambda x, k, dy: jax.vjp(lambda k: conv(x, k), k)[1](dy)[0],
                                 x, kernel, dy)}
  if input_grad:
    ms['input_grad'] = _timed_ms(lambda x, k, dy: jax.vjp(lambda x: conv(x, k), x)[1](dy)[0],
                                 x, kernel, dy)
  return ms


def main(argv):
  del argv
  import jax

  from emojax.models.resnet3d import CONV3D_IMPLS, auto_conv3d_impl, conv3d

  config = shaped_config()
  backend = jax.default_backend()
  impls = [name for name in CONV3D_IMPLS
           if name != 'xla' or backend != 'cpu' or FLAGS.with_xla]
  rows, totals = [], collections.Counter()
  for i, ((shape, kernel, strides), count) in enumerate(conv3d_layers(config).items()):
    ms = {name: time_layer(CONV3D_IMPLS[name], shape, kernel, strides, input_grad=i > 0)
          for name in impls}
    auto = auto_conv3d_impl(shape, kernel, strides, backend)
    if FLAGS.per_pass:  # auto's pick of each pass, from the implementations' own times
      ms['auto'] = {p: ms[name][p] for p, name in zip(PASSES, auto) if p in ms[name]}
    elif len(set(auto)) == 1:
      ms['auto'] = ms.get(auto[0])
    else:
      ms['auto'] = time_layer(functools.partial(conv3d, impl='auto'), shape, kernel, strides,
                              input_grad=i > 0)
    for name, value in ms.items():
      if value is not None:
        totals[name] += count * sum(value.values())
    rows.append({'input': shape, 'kernel': kernel, 'strides': strides, 'count': count,
                 'auto': auto, 'ms': {k: {p: round(t, 1) for p, t in v.items()}
                                      for k, v in ms.items() if v is not None}})
  passes = PASSES if FLAGS.per_pass else ('train',)
  columns = [(name, p) for name in impls for p in passes]
  print('| input B,T,H,W,C | kernel | strides | count | ' +
        ' | '.join(name if p == 'train' else f'{name} {p}' for name, p in columns) +
        ' | auto picks (forward, input grad, kernel grad) |')
  print('|---|---|---|---|' + '---|' * len(columns) + '---|')
  for row in rows:
    cells = []
    for name, p in columns:
      value = row['ms'][name].get(p)
      best = min(row['ms'][n].get(p, float('inf')) for n in impls)
      cells.append('–' if value is None else
                   f'**{value:.1f}**' if value == best else f'{value:.1f}')
    print(f"| {row['input']} | {row['kernel'][:3]} {row['kernel'][3]}->{row['kernel'][4]} | "
          f"{row['strides']} | {row['count']} | " + ' | '.join(cells) +
          f" | {', '.join(row['auto'])} |")
  print('| all layers (x count), all passes | | | | ' + ' | '.join(
      f'{totals[name]:.0f}' if p == passes[0] else '' for name, p in columns)
        + f" | {totals['auto']:.0f} |")
  print(json.dumps({'backend': backend, 'clock': FLAGS.clock, 'batch': FLAGS.batch,
                    'frames': FLAGS.frames, 'size': FLAGS.size, 'per_pass': FLAGS.per_pass,
                    'layers': rows, 'total_ms': {k: round(v, 1) for k, v in totals.items()},
                    'load_avg_1m': round(os.getloadavg()[0], 2)}))


if __name__ == '__main__':
  app.run(main)
