"""emojax.data.smoothing.gaussian_smooth: a Gaussian over time, normalised over valid samples."""

import math

import numpy as np
import pytest

from emojax.data.smoothing import gaussian_smooth


def test_equals_a_hand_computed_gaussian():
  """sigma 1 reaches 3 frames; weights exp(-d²/2) over the samples inside the sequence only."""
  out = gaussian_smooth([0., 0., 1., 0., 0., 0.], sigma=1)
  e = math.exp
  centre = 1 / (1 + 2 * e(-0.5) + 2 * e(-2) + e(-4.5))  # t=2: samples 0..5, all in reach.
  first = e(-2) / (1 + e(-0.5) + e(-2) + e(-4.5))  # t=0: samples 0..3; none before the start.
  last = e(-4.5) / (1 + e(-0.5) + e(-2) + e(-4.5))  # t=5: samples 2..5.
  np.testing.assert_allclose(out[[0, 2, 5]], [first, centre, last], rtol=1e-12)
  assert out.dtype == np.float64 and out.shape == (6,)


def test_normalised_over_valid_samples_only():
  values = np.array([5., 5., 1000., np.nan, 5., 5., 5.])
  valid = np.array([1, 1, 0, 0, 1, 1, 1], bool)
  out = gaussian_smooth(values, sigma=2, valid=valid)
  # A constant stays constant: the invalid samples neither add their values nor dilute the weights.
  np.testing.assert_allclose(out[valid], 5., rtol=1e-12)
  assert np.isnan(out[~valid]).all()


def test_masked_mean_weights_each_valid_sample_by_its_distance():
  out = gaussian_smooth([1., 7., 3.], sigma=1, valid=[True, False, True])
  e = math.exp
  np.testing.assert_allclose(out[0], (1 + 3 * e(-2)) / (1 + e(-2)), rtol=1e-12)
  np.testing.assert_allclose(out[2], (3 + 1 * e(-2)) / (1 + e(-2)), rtol=1e-12)


def test_columns_are_smoothed_independently_and_short_inputs_keep_their_length():
  rng = np.random.default_rng(0)
  values = rng.normal(size=(4, 3))  # Shorter than the kernel (2 * 15 + 1 taps at sigma 5).
  out = gaussian_smooth(values, sigma=5)
  assert out.shape == (4, 3)
  for c in range(3):
    np.testing.assert_allclose(out[:, c], gaussian_smooth(values[:, c], sigma=5), rtol=1e-12)


def test_zero_sigma_smooths_nothing():
  out = gaussian_smooth([1., 2., 4.], sigma=0, valid=[True, False, True])
  np.testing.assert_array_equal(out, [1., np.nan, 4.])


def test_mask_shape_is_checked():
  with pytest.raises(ValueError, match='valid has shape'):
    gaussian_smooth(np.zeros((5, 2)), sigma=1, valid=np.ones(4, bool))
