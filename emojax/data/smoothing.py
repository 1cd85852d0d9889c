"""Gaussian smoothing over time, for face-box tracks and prediction timelines."""

from __future__ import annotations

import math

import numpy as np


def gaussian_smooth(values, sigma: float, valid=None) -> np.ndarray:
  """`values` [N, ...] smoothed along axis 0 by a Gaussian of `sigma` frames (float64).

  Each output is the Gaussian-weighted mean of the valid samples within 3 sigma of it:
  the weights are normalised over those samples only, so invalid samples (`valid` [N] False)
  and the samples past either end of the sequence count as missing, never as zeros or copies
  of the edge. Invalid samples come back as NaN; `sigma <= 0` smooths nothing.
  """
  values = np.asarray(values, np.float64)
  n = len(values)
  valid = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
  if valid.shape != (n,):
    raise ValueError(f'valid has shape {valid.shape}, expected ({n},) for values of shape '
                     f'{values.shape}')
  mask = valid.reshape((n,) + (1,) * (values.ndim - 1))
  if sigma <= 0 or n == 0:
    return np.where(mask, values, np.nan)
  radius = int(math.ceil(3 * sigma))
  kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)

  def convolve(x):  # 'full' then cut, since 'same' returns the kernel's length for short inputs.
    return np.convolve(x, kernel, 'full')[radius:radius + n]

  flat = np.where(mask, values, 0.0).reshape(n, -1)
  sums = np.stack([convolve(column) for column in flat.T], 1).reshape(values.shape)
  weights = convolve(valid.astype(np.float64)).reshape(mask.shape)
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(mask, sums / weights, np.nan)
