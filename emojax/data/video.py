"""Video decoding (OpenCV) and the fixed-interval index sampler.

One streaming reader, `VideoReader`, decodes every video: `read_video`, `read_video_track` (every
k-th frame, what the dataset builders store) and prediction (in chunks, so a long video need not
fit in memory). Decoding returns `uint8 [N, H, W, 3]` RGB arrays. `fixed_interval_indices` works
on indices only; the clips drawn from stored tracks are `emojax.data.sampling`'s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

__all__ = [
  'VideoReadError',
  'DEFAULT_FPS',
  'IMAGE_SUFFIXES',
  'VIDEO_SUFFIXES',
  'VideoReader',
  'FrameArray',
  'open_frames',
  'to_rgb',
  'read_video',
  'read_video_track',
  'read_image',
  'read_image_sequence',
  'fixed_interval_indices',
]


class VideoReadError(ValueError):
  """A video or image file is missing, undecodable, truncated or empty."""

  def __init__(self, path: os.PathLike | str, problem: str):
    self.path = os.fspath(path)
    self.problem = problem
    super().__init__(f'{self.path}: {problem}')


# ----------------------------------------------------------------------------
# Sampling on indices.


def _check(num_frames: int, clip_len: int) -> None:
  if clip_len < 1:
    raise ValueError(f'clip_len must be >= 1, got {clip_len}')
  if num_frames < 1:
    raise ValueError(f'cannot sample from {num_frames} frames')


def fixed_interval_indices(num_frames: int, clip_len: int) -> np.ndarray:
  """`clip_len` indices evenly spaced over [0, num_frames - 1], ends included.

  Positions `linspace(0, L - 1, T)` rounded half up; when L < T this repeats
  frames (each about T / L times), when L == T it is `arange(L)`.
  """
  _check(num_frames, clip_len)
  if clip_len == 1:
    return np.zeros(1, np.int64)
  pos = np.arange(clip_len) * (num_frames - 1) / (clip_len - 1)
  return np.floor(pos + 0.5).astype(np.int64)


# ----------------------------------------------------------------------------
# Decoding.


CHUNK_FRAMES = 32  # frames a streaming pass decodes at a time
DEFAULT_FPS = 25.0  # assumed for frames that come without a rate: arrays, image sequences, files
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.webp', '.tif', '.tiff')
VIDEO_SUFFIXES = ('.avi', '.mp4', '.mkv', '.mov', '.flv', '.wmv', '.mpg', '.mpeg', '.webm', '.m4v',
                  '.3gp')


def _check_file(path: str) -> None:
  if not os.path.isfile(path):
    raise VideoReadError(path, 'file not found')
  if os.path.getsize(path) == 0:
    raise VideoReadError(path, 'file is empty (0 bytes)')


def _open_capture(path: str) -> cv2.VideoCapture:
  _check_file(path)
  cap = cv2.VideoCapture(path)
  if not cap.isOpened():
    cap.release()
    raise VideoReadError(path, 'not decodable as video (OpenCV/FFmpeg cannot open it)')
  return cap


def to_rgb(bgr: np.ndarray) -> np.ndarray:
  if bgr.ndim == 2:
    return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
  if bgr.shape[-1] == 4:
    return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
  return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class VideoReader:
  """A video file, checked when opened, then decoded as a stream, as often as needed.

  Opening fails (VideoReadError naming the file) for a missing or empty file, a still image, a
  text file (FFmpeg's tty demuxer "plays" any text as ANSI art) and anything OpenCV cannot open.
  Each pass over `frames` or `chunks` decodes from the start and holds one frame (or chunk) at a
  time.

  Attributes:
    fps: frames per second the container declares; None if it declares no usable rate.
    frame_count_hint: frames the container declares (None if unknown); files can be wrong.
    num_frames: frames the last complete pass decoded (None before one).
  """

  def __init__(self, path: os.PathLike | str):
    self.path = self.name = os.fspath(path)
    _check_file(self.path)
    if self.path.lower().endswith(IMAGE_SUFFIXES) or cv2.haveImageReader(self.path):
      raise VideoReadError(self.path, 'is a still image, not a video')
    cap = _open_capture(self.path)
    try:
      fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
      if fourcc > 0 and fourcc.to_bytes(4, 'little').decode('latin-1') == 'ansi':
        raise VideoReadError(self.path, 'not a video (FFmpeg reads it only as a text file)')
      fps, count = cap.get(cv2.CAP_PROP_FPS), cap.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
      cap.release()
    self.fps = float(fps) if fps and math.isfinite(fps) and 0 < fps < 1000 else None
    self.frame_count_hint = int(count) if 0 < count < 1e9 else None
    self.num_frames = None

  def frames(self, wanted: Callable[[int], bool] | None = None
             ) -> Iterator[tuple[int, np.ndarray]]:
    """(index, uint8 [H, W, 3] RGB) of every frame, or of those `wanted(index)` accepts: the
    others are only grabbed, never converted to pixel arrays. Sets `num_frames` at the end."""
    cap, n = _open_capture(self.path), 0
    try:
      while cap.grab():
        if wanted is None or wanted(n):
          ok, bgr = cap.retrieve()
          if not ok or bgr is None:
            raise VideoReadError(self.path, f'frame {n} could not be decoded')
          yield n, to_rgb(bgr)
        n += 1
    except cv2.error as e:
      raise VideoReadError(self.path, f'decoding failed at frame {n}: {e}') from e
    finally:
      cap.release()
    if n == 0:
      raise VideoReadError(self.path, 'zero frames decoded')
    self.num_frames = n

  def chunks(self, size: int = CHUNK_FRAMES) -> Iterator[np.ndarray]:
    """Every frame in order, as uint8 [size, H, W, 3] RGB arrays (the last one shorter)."""
    chunk = []
    for _, frame in self.frames():
      chunk.append(frame)
      if len(chunk) == size:
        yield np.stack(chunk)
        chunk = []
    if chunk:
      yield np.stack(chunk)

  def decode(self, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """{index: frame} of the frames at `indices` (those that exist) in one pass; sets num_frames."""
    wanted = set(indices)
    return dict(self.frames(wanted.__contains__))


class FrameArray:
  """uint8 [N, H, W, 3] RGB frames in memory, read like a `VideoReader` (`chunks`, `fps`)."""

  def __init__(self, frames, fps: float | None = None, name: str = '<array>'):
    array = np.asarray(frames)
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8 or not len(array):
      raise ValueError(f'{name}: expected uint8 [N, H, W, 3] RGB frames, got {array.dtype} '
                       f'{array.shape}')
    self.array, self.name, self.fps = array, name, fps
    self.frame_count_hint = self.num_frames = len(array)

  def chunks(self, size: int = CHUNK_FRAMES) -> Iterator[np.ndarray]:
    for start in range(0, len(self.array), size):
      yield self.array[start:start + size]


def open_frames(path_or_frames, fps: float | None = None) -> VideoReader | FrameArray:
  """A `VideoReader` of a file path, or a `FrameArray` of frames; `fps` overrides a file's own."""
  if isinstance(path_or_frames, (str, os.PathLike)):
    reader = VideoReader(path_or_frames)
    reader.fps = fps or reader.fps
    return reader
  return FrameArray(path_or_frames, fps)


def read_video(path: os.PathLike | str) -> np.ndarray:
  """All frames of a video file as `uint8 [N, H, W, 3]` RGB."""
  return np.stack([frame for _, frame in VideoReader(path).frames()])


def _every(reader: VideoReader, step: int) -> list[np.ndarray]:
  return [frame for _, frame in reader.frames(lambda i: i % step == 0)]


def read_video_track(path: os.PathLike | str, step: Callable[[int], int] = lambda n: 1
                     ) -> tuple[np.ndarray, int, float | None]:
  """Every `step(N)`-th frame of a video of N frames, the first included:
  (`uint8 [ceil(N / step), H, W, 3]`, N, the container's frame rate or None).

  N is first the container's frame count (a counting pass when it declares none); when the frames
  decoded disagree with it and the true count asks for another step, the video is decoded again,
  so the result always equals `read_video(path)[::step(N)]`.

  Raises VideoReadError also for a truncated file (fewer than 90% of the frames its container
  declares decode) and for a frame count that changes between passes.
  """
  reader = VideoReader(path)
  declared = reader.frame_count_hint
  if not declared:
    reader.decode([])  # Count only.
    declared = reader.num_frames
  k = step(declared)
  frames = _every(reader, k)
  n = reader.num_frames
  if n < 0.9 * declared - 1:
    raise VideoReadError(
        path, f'truncated: the container declares {declared} frames, only {n} decode')
  if step(n) != k:
    k = step(n)
    frames = _every(reader, k)
    if reader.num_frames != n:
      raise VideoReadError(
          path, f'frame count unstable across decodes ({n} vs {reader.num_frames})')
  return np.stack(frames), n, reader.fps


_JPEG_SOI, _JPEG_EOI = b'\xff\xd8', b'\xff\xd9'


def read_image(path: os.PathLike | str) -> np.ndarray:
  """One image file as `uint8 [H, W, 3]` RGB; grey images are expanded to RGB.

  A JPEG without its end-of-image marker (a truncated download) is rejected
  even though libjpeg would decode its first part with a warning.
  """
  path = os.fspath(path)
  _check_file(path)
  data = np.fromfile(path, dtype=np.uint8)
  raw = data.tobytes()
  if raw.startswith(_JPEG_SOI) and _JPEG_EOI not in raw[-64:]:
    raise VideoReadError(path, 'truncated JPEG (no end-of-image marker)')
  try:
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
  except cv2.error as e:
    raise VideoReadError(path, f'not decodable as image: {e}') from e
  if img is None:
    raise VideoReadError(path, 'not decodable as image')
  if img.dtype != np.uint8:
    raise VideoReadError(path, f'unsupported pixel type {img.dtype} (expected 8-bit)')
  return to_rgb(img)


def read_image_sequence(paths: Sequence[os.PathLike | str]) -> np.ndarray:
  """Image files, in the given order, as `uint8 [N, H, W, 3]` RGB."""
  if len(paths) == 0:
    raise VideoReadError('<image sequence>', 'zero frames (no image paths given)')
  frames = [read_image(p) for p in paths]
  shape = frames[0].shape
  for p, f in zip(paths, frames):
    if f.shape != shape:
      raise VideoReadError(
        p, f'frame size {f.shape[:2]} differs from the first frame {shape[:2]}'
      )
  return np.stack(frames)
