"""Optical-flow images: shape, fixed scaling, direction of motion, methods."""
import cv2
import numpy as np
import pytest

from emojax.data import flow


def _moving_clip(dx: int, dy: int = 0, frames: int = 4, size: int = 32) -> np.ndarray:
  """A smooth random texture translated by (dx, dy) pixels per frame."""
  rng = np.random.default_rng(0)
  texture = cv2.GaussianBlur((rng.random((96, 96, 3)) * 255).astype(np.uint8), (5, 5), 1.5)
  return np.stack([texture[32 - t * dy:32 - t * dy + size, 32 - t * dx:32 - t * dx + size]
                   for t in range(frames)])


@pytest.mark.parametrize('method', ['farneback', 'dis'])
@pytest.mark.parametrize('dx,dy', [(2, 0), (0, -3)])
def test_flow_measures_the_translation(method, dx, dy):
  images = flow.flow_images(_moving_clip(dx, dy), method)
  assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8
  inner = flow.decode_flow(images)[:, 6:-6, 6:-6]
  np.testing.assert_allclose(inner.reshape(-1, 2).mean(0), [dx, dy], atol=0.3)
  magnitude = images[:, 6:-6, 6:-6, 2].astype(float).mean() / 255 * flow.FLOW_CLIP
  assert abs(magnitude - np.hypot(dx, dy)) < 0.4


def test_last_frame_repeats_the_previous_flow():
  images = flow.flow_images(_moving_clip(2))
  np.testing.assert_array_equal(images[-1], images[-2])


def test_still_clip_is_zero_motion():
  clip = np.repeat(_moving_clip(0)[:1], 3, axis=0)
  images = flow.flow_images(clip)
  assert np.all(np.abs(images[..., :2].astype(int) - 128) <= 1) and images[..., 2].max() <= 1
  single = flow.flow_images(clip[:1])
  assert single.shape == (1, 32, 32, 3) and np.all(single[..., 2] == 0)


def test_fixed_scaling_is_the_same_for_every_clip():
  encoded = flow.encode_flow(np.array([[0.0, 0.0], [8.0, -8.0], [20.0, 4.0], [-4.0, 3.0]]))
  np.testing.assert_array_equal(encoded, [[128, 128, 0], [255, 0, 255], [255, 191, 255],
                                          [64, 175, 159]])
  np.testing.assert_allclose(flow.decode_flow(encoded)[3], [-4, 3], atol=0.05)


def test_clip_with_flow_stacks_six_channels():
  clip = _moving_clip(1)
  stacked = flow.clip_with_flow(clip)
  assert stacked.shape == (4, 32, 32, 6)
  np.testing.assert_array_equal(stacked[..., :3], clip)


def test_tvl1_without_contrib_names_the_fix():
  if hasattr(cv2, 'optflow'):
    assert flow.flow_images(_moving_clip(1), 'tvl1').shape == (4, 32, 32, 3)
  else:
    with pytest.raises(ValueError, match='opencv-contrib'):
      flow.flow_images(_moving_clip(1), 'tvl1')


def test_unknown_method_and_bad_input():
  with pytest.raises(ValueError, match="'lk'"):
    flow.flow_images(_moving_clip(1), 'lk')
  with pytest.raises(ValueError, match='uint8'):
    flow.flow_images(_moving_clip(1).astype(np.float32))


def test_resized_flow_images_scale_their_displacements():
  images = flow.encode_flow(np.full((2, 8, 8, 2), [4.0, -2.0], np.float32))
  half = flow.scale_flow_images(images, 0.5)
  np.testing.assert_allclose(flow.decode_flow(half), np.full((2, 8, 8, 2), [2.0, -1.0]), atol=0.05)
  assert flow.scale_flow_images(images, 1.0) is images
