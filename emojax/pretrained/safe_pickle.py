"""Reading a pickle of numpy arrays without running whatever else a pickle may name.

`pickle.load` calls any function a file names. This unpickler admits only what numpy's own array
pickles name (the array constructor `_reconstruct`, `ndarray`, `dtype`; under the module name of
numpy 1 or 2), refuses object arrays, and checks that the result is plain containers of arrays.
"""
from __future__ import annotations

import pickle

import numpy as np

_NUMPY_CORE = ('numpy.core.multiarray', 'numpy._core.multiarray')


def _dtype(spec, align=False, copy=False):
  dtype = np.dtype(spec, align, copy)
  if dtype.hasobject:
    raise pickle.UnpicklingError(f'refused an array of Python objects (dtype {dtype})')
  return dtype


def _reconstruct(subtype, shape, dtype):
  if subtype is not np.ndarray:
    raise pickle.UnpicklingError(f'refused an array of type {subtype!r}')
  return np.ndarray.__new__(np.ndarray, shape, _dtype(dtype))


class ArrayUnpickler(pickle.Unpickler):
  """Unpickles numpy arrays in dicts, lists and tuples; `source` names the file in errors."""

  def __init__(self, file, source: str):
    super().__init__(file)
    self.source = source

  def find_class(self, module: str, name: str):
    if module in _NUMPY_CORE and name == '_reconstruct':
      return _reconstruct
    if module == 'numpy' and name == 'dtype':
      return _dtype
    if module == 'numpy' and name == 'ndarray':
      return np.ndarray
    raise pickle.UnpicklingError(
        f'{self.source}: refused to load {module}.{name}: this file should hold only numpy '
        'arrays in plain containers')


def _check_plain(tree, source: str, path: str = '') -> None:
  if isinstance(tree, dict):
    for key, value in tree.items():
      if not isinstance(key, str):
        raise pickle.UnpicklingError(f'{source}: key {key!r} under {path or "the top"!r} is not '
                                     'a string')
      _check_plain(value, source, f'{path}/{key}' if path else key)
  elif isinstance(tree, (list, tuple)):
    for i, value in enumerate(tree):
      _check_plain(value, source, f'{path}/{i}')
  elif not isinstance(tree, np.ndarray) or tree.dtype.hasobject:
    raise pickle.UnpicklingError(f'{source}: {path or "the top"} holds a {type(tree).__name__}, '
                                 'not a numpy array')


def load_arrays(path: str):
  """The dicts / lists / tuples of numpy arrays pickled in `path`; raises pickle.UnpicklingError
  naming the file for anything else."""
  with open(path, 'rb') as f:
    try:
      tree = ArrayUnpickler(f, path).load()
    except pickle.UnpicklingError as e:
      if str(e).startswith(path):
        raise
      raise pickle.UnpicklingError(f'{path}: {e}') from e
  _check_plain(tree, path)
  return tree
