"""emojax.data.video: the fixed-interval sampler (exact arrays), decoding and its errors."""

import os

import cv2
import numpy as np
import pytest

from emojax.data import video


# ---------------------------------------------------------------------------
# Samplers.

@pytest.mark.parametrize('num_frames, clip_len, expected', [
    (16, 16, list(range(16))),
    (32, 16, [0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31]),
    (10, 4, [0, 3, 6, 9]),
    (5, 3, [0, 2, 4]),
    (8, 16, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]),
    (3, 5, [0, 1, 1, 2, 2]),
    (1, 4, [0, 0, 0, 0]),
    (7, 1, [0]),
])
def test_fixed_interval_indices(num_frames, clip_len, expected):
  np.testing.assert_array_equal(video.fixed_interval_indices(num_frames, clip_len), expected)


def test_fixed_interval_keeps_first_and_last_frame():
  for n in range(1, 60):
    idx = video.fixed_interval_indices(n, 16)
    assert idx[0] == 0 and idx[-1] == n - 1
    assert np.all(np.diff(idx) >= 0)


@pytest.mark.parametrize('num_frames, clip_len', [(0, 16), (10, 0), (-1, 4)])
def test_fixed_interval_rejects_empty(num_frames, clip_len):
  with pytest.raises(ValueError):
    video.fixed_interval_indices(num_frames, clip_len)


# ---------------------------------------------------------------------------
# Decoding.

def _frames(n, h=48, w=64):
  """Frame t is uniformly (10 t, 0, 200) in RGB: the index and the channel order are readable."""
  f = np.zeros((n, h, w, 3), np.uint8)
  f[..., 0] = (10 * np.arange(n))[:, None, None]
  f[..., 2] = 200
  return f


def _write_avi(path, frames, codec='MJPG'):
  h, w = frames.shape[1:3]
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 25, (w, h))
  assert writer.isOpened()
  for f in frames:
    writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
  writer.release()


@pytest.fixture(scope='module')
def avi(tmp_path_factory):
  path = tmp_path_factory.mktemp('video') / 'clip.avi'
  _write_avi(path, _frames(20))
  return path


def test_read_video_rgb_frames(avi):
  frames = video.read_video(avi)
  assert frames.shape == (20, 48, 64, 3) and frames.dtype == np.uint8
  means = frames.reshape(20, -1, 3).mean(1)
  np.testing.assert_allclose(means[:, 0], 10 * np.arange(20), atol=4)  # Order kept.
  np.testing.assert_allclose(means[:, 2], 200, atol=4)  # RGB, not BGR.


@pytest.mark.parametrize('step', [1, 3, 7])
def test_read_video_track_equals_every_step_th_frame(avi, step):
  track, n, fps = video.read_video_track(avi, lambda count: step if count == 20 else 0)
  assert n == 20 and fps == 25.0
  np.testing.assert_array_equal(track, video.read_video(avi)[::step])


def test_read_video_errors_name_the_file(tmp_path, avi):
  with pytest.raises(video.VideoReadError, match='nope.avi: file not found'):
    video.read_video(tmp_path / 'nope.avi')
  (tmp_path / 'empty.avi').write_bytes(b'')
  with pytest.raises(video.VideoReadError, match='empty.avi: file is empty'):
    video.read_video(tmp_path / 'empty.avi')
  (tmp_path / 'garbage.avi').write_bytes(np.random.default_rng(0).bytes(4096))
  with pytest.raises(video.VideoReadError, match='garbage.avi: not decodable'):
    video.read_video(tmp_path / 'garbage.avi')
  with pytest.raises(video.VideoReadError, match='garbage.avi'):
    video.read_video_track(tmp_path / 'garbage.avi')
  assert issubclass(video.VideoReadError, ValueError)


def test_read_video_track_rejects_truncated_file(tmp_path):
  path = tmp_path / 'cut.avi'
  noise = np.random.default_rng(0).integers(0, 255, (20, 48, 64, 3), dtype=np.uint8)
  _write_avi(path, noise, codec='XVID')
  data = path.read_bytes()
  path.write_bytes(data[:int(len(data) * 0.4)])
  with pytest.raises(video.VideoReadError, match='cut.avi: truncated'):
    video.read_video_track(path)


def test_read_image_sequence(tmp_path):
  frames = _frames(3)
  paths = [tmp_path / f'{t:03d}.jpeg' for t in range(3)]
  for p, f in zip(paths, frames):
    cv2.imwrite(str(p), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
  out = video.read_image_sequence(paths)
  assert out.shape == (3, 48, 64, 3) and out.dtype == np.uint8
  np.testing.assert_allclose(out.reshape(3, -1, 3).mean(1), frames.reshape(3, -1, 3).mean(1),
                             atol=3)
  grey = tmp_path / 'grey.jpeg'
  cv2.imwrite(str(grey), np.full((48, 64), 77, np.uint8))
  assert video.read_image(grey).shape == (48, 64, 3)


def test_read_image_sequence_errors(tmp_path):
  good = tmp_path / '000.jpeg'
  cv2.imwrite(str(good), np.zeros((48, 64, 3), np.uint8))
  data = good.read_bytes()
  (tmp_path / 'cut.jpeg').write_bytes(data[:len(data) // 2])
  (tmp_path / 'junk.jpeg').write_bytes(b'not a jpeg at all' * 20)
  cv2.imwrite(str(tmp_path / 'big.jpeg'), np.zeros((50, 64, 3), np.uint8))
  cases = {'cut.jpeg': 'truncated JPEG', 'junk.jpeg': 'not decodable', 'big.jpeg': 'differs',
           'none.jpeg': 'file not found'}
  for name, problem in cases.items():
    with pytest.raises(video.VideoReadError, match=f'{name}: .*{problem}') as e:
      video.read_image_sequence([good, tmp_path / name])
    assert e.value.path == os.fspath(tmp_path / name)
  with pytest.raises(video.VideoReadError, match='zero frames'):
    video.read_image_sequence([])


# ---------------------------------------------------------------------------
# The streaming reader.

def test_reader_chunks_equal_read_video(avi):
  reader = video.VideoReader(avi)
  assert reader.fps == pytest.approx(25) and reader.frame_count_hint == 20
  assert reader.num_frames is None
  chunks = list(reader.chunks(7))
  assert [len(c) for c in chunks] == [7, 7, 6] and reader.num_frames == 20
  np.testing.assert_array_equal(np.concatenate(chunks), video.read_video(avi))


def test_reader_decodes_only_the_wanted_frames(avi):
  reader = video.VideoReader(avi)
  frames = reader.decode([3, 17, 17, 40])  # 40 does not exist.
  assert sorted(frames) == [3, 17] and reader.num_frames == 20
  all_frames = video.read_video(avi)
  np.testing.assert_array_equal(frames[3], all_frames[3])
  np.testing.assert_array_equal(frames[17], all_frames[17])


def test_open_frames_reads_arrays_and_files_alike(avi):
  frames = _frames(5)
  source = video.open_frames(frames)
  assert source.fps is None and source.frame_count_hint == 5 and source.name == '<array>'
  np.testing.assert_array_equal(np.concatenate(list(source.chunks(2))), frames)
  assert video.open_frames(avi, fps=10).fps == 10
  with pytest.raises(ValueError, match='uint8'):
    video.open_frames(frames.astype(np.float32))


def _bad_file(tmp_path, case):
  path = tmp_path / {'text': 'notes.txt', 'image': 'still.png', 'image_as_avi': 'still.avi'
                     }.get(case, f'{case}.avi')
  if case == 'empty':
    path.write_bytes(b'')
  elif case == 'garbage':
    path.write_bytes(np.random.default_rng(0).bytes(4096))
  elif case == 'text':  # FFmpeg's tty demuxer would "play" it as ANSI art.
    path.write_text('not a video\n' * 50)
  elif case in ('image', 'image_as_avi'):
    _, png = cv2.imencode('.png', np.zeros((32, 32, 3), np.uint8))
    path.write_bytes(png.tobytes())
  elif case == 'no_frames':
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 25, (64, 48))
    writer.release()
  return path


@pytest.mark.parametrize('case, problem', [
    ('missing', 'file not found'), ('empty', 'file is empty'), ('garbage', 'not decodable'),
    ('text', 'not a video'), ('image', 'is a still image'), ('image_as_avi', 'is a still image'),
    ('no_frames', 'zero frames decoded')])
def test_every_reader_use_raises_naming_the_file(tmp_path, case, problem):
  path = _bad_file(tmp_path, case)
  uses = [video.read_video, video.read_video_track,
          lambda p: list(video.open_frames(p).chunks())]
  for use in uses:
    with pytest.raises(video.VideoReadError, match=f'{path.name}: {problem}') as e:
      use(path)
    assert e.value.path == str(path)


def test_read_video_track_rejects_unstable_frame_count(avi, monkeypatch):
  """Each pass decodes one frame fewer; 19 frames ask for another step than the declared 20, and
  the second decode finds 18."""
  frames, passes = video.VideoReader.frames, []

  def fewer_each_pass(self, wanted=None):
    passes.append(None)
    last = 20 - len(passes)
    yield from frames(self, lambda i: i < last and (wanted is None or wanted(i)))
    self.num_frames = last

  monkeypatch.setattr(video.VideoReader, 'frames', fewer_each_pass)
  with pytest.raises(video.VideoReadError, match=r'clip.avi: frame count unstable .*\(19 vs 18\)'):
    video.read_video_track(avi, lambda n: 1 if n >= 20 else 2)
