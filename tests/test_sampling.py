"""emojax.data.sampling: clips drawn from whole stored tracks, views, resizing and its limits."""
import numpy as np
import pytest

from emojax.data import sampling
from emojax.data.video import fixed_interval_indices


def _draws(s, num_stored, epochs, jitter=0, seed=0):
  rng = np.random.default_rng(seed)
  return [s.train_indices(num_stored, rng, jitter) for _ in range(epochs)]


def test_fixed_interval_training_clips_differ_and_cover_the_whole_track():
  s = sampling.Sampling('fixed_interval', num_frames=8)
  draws = _draws(s, 75, epochs=40)
  assert len({d.tobytes() for d in draws}) > 20
  assert set(np.concatenate(draws).tolist()) == set(range(75))
  for d in draws:
    assert len(d) == 8 and (np.diff(d) > 0).all()
    assert d[0] <= 5 and d[-1] >= 69  # each clip spans the video, first to last interval


def test_one_view_is_the_fixed_interval_grid_and_training_on_a_short_track_only_jitters():
  s = sampling.Sampling('fixed_interval', num_frames=16)
  np.testing.assert_array_equal(s.view_indices(75, 1)[0], fixed_interval_indices(75, 16))
  np.testing.assert_array_equal(s.view_indices(16, 1)[0], np.arange(16))
  rng, old = np.random.default_rng(3), np.random.default_rng(3)
  # A track no longer than the clip: the grid stays put, jitter moves frames by at most 1.
  want = np.sort(np.clip(np.arange(16) + old.integers(-1, 2, 16), 0, 15))
  np.testing.assert_array_equal(s.train_indices(16, rng, jitter=1), want)


@pytest.mark.parametrize('num_stored', [40, 15, 9])
def test_random_segment_stays_inside_the_track(num_stored):
  s = sampling.Sampling('random_segment', num_frames=8, stride=2)
  assert s.segment_span == 15
  for d in _draws(s, num_stored, epochs=50, jitter=1):
    assert d.min() >= 0 and d.max() < num_stored and (np.diff(d) >= 0).all()
  starts = {int(d[0]) for d in _draws(s, 40, epochs=200)}
  assert starts == set(range(40 - 15 + 1))  # every start, no jitter
  for d in _draws(s, 40, epochs=5):
    np.testing.assert_array_equal(np.diff(d), 2)


def test_views_are_evenly_spaced_and_one_view_is_centred():
  s = sampling.Sampling('random_segment', num_frames=4)
  assert s.view_indices(20, 1)[0].tolist() == [8, 9, 10, 11]
  views = s.view_indices(20, 4)
  assert views.shape == (4, 4) and views[:, 0].tolist() == [2, 6, 10, 14]
  grid = sampling.Sampling('fixed_interval', num_frames=4).view_indices(31, 2)
  assert grid.tolist() == [[0, 8, 18, 28], [3, 13, 23, 30]]


def test_fragments_take_one_part_of_the_track_each():
  s = sampling.Sampling('random_segment', num_frames=8, num_fragments=2)
  for d in _draws(s, 40, epochs=30):
    assert d[:4].max() < 20 <= d[4:].min()
    np.testing.assert_array_equal(np.diff(d[:4]), 1)
  assert s.view_indices(40, 1)[0].tolist() == [8, 9, 10, 11, 28, 29, 30, 31]
  assert s.whole_video and s.span(40) == 40
  assert not sampling.Sampling('random_segment', 8, stride=3).whole_video
  assert sampling.Sampling('random_segment', 8, stride=3).span(40) == 22


def test_bad_sampling_settings_name_themselves():
  with pytest.raises(ValueError, match="config.sampling.method='central'"):
    sampling.Sampling('central')
  with pytest.raises(ValueError, match='config.sampling.num_fragments=3'):
    sampling.Sampling(num_frames=16, num_fragments=3)
  with pytest.raises(ValueError, match='config.sampling.stride=0'):
    sampling.Sampling('random_segment', stride=0)


def test_the_largest_crop_margin_keeps_the_face_in_every_window():
  # The bound (test_validate.py stops a margin above it) is where a corner window of the resized
  # crop just holds the face box.
  face, limit = 0.2, sampling.max_crop_margin(0.2)
  box_end = (1 + face) / (1 + 2 * face)  # of the crop's side
  assert 1 / (1 + limit) == pytest.approx(box_end)


def test_resize_keeps_the_whole_face_and_crops_sit_where_named():
  frames = np.zeros((2, 128, 128, 3), np.uint8)
  frames[:, :, :64] = 200  # left half bright
  side = sampling.resized_side(56, 0.143)
  assert side == 64
  out = sampling.resize_frames(frames, side)
  assert out.shape == (2, 64, 64, 3)
  assert (out[:, :, :31] == 200).all() and (out[:, :, 33:] == 0).all()
  assert sampling.resize_frames(frames, 128) is frames
  assert sampling.crop_offsets(64, 56, 3) == [(4, 4), (0, 0), (8, 8)]
