"""How a model input is drawn from a stored face track: frame indices in time, resize and crop.

A stored example holds the whole face track of a video (`clip` uint8 `[N, S, S, 3]`). The model
takes `config.num_frames` (T) frames of `config.image_size` (H) pixels. Everything here is numpy
(plus OpenCV for resizing), shared by the training pipeline, evaluation and prediction.

Time (`Sampling`, from `config.sampling`):
  * 'fixed_interval' (main paper): T indices evenly spaced over the whole track, first and last
    included (`video.fixed_interval_indices`). Training moves the whole grid by a random fraction of
    its interval (when the track is longer than T), so over the epochs every frame is used.
  * 'random_segment' (two-stream paper): T frames `stride` stored frames apart, one continuous
    segment; training draws its start uniformly over the track.
  * `num_fragments` N > 1: the track is cut into N equal parts and each part gives T / N frames by
    the method above; the model sees the N fragments one after the other along T, so every model
    still takes `[B, T, H, W, C]` (a model that treats fragments apart folds T into N x T / N).
  Training adds per-frame temporal jitter (`config.augment.temporal_jitter`, in stored frames).
  Evaluation takes `num_clips` views: view k of K sits at fraction (k + 0.5) / K of the freedom
  (the grid's shift, or the segment's start), so one view is the centred clip.

Space: the stored crop is resized to `image_size * (1 + crop_margin)` pixels (`resized_side`), then
training takes a random `image_size` window of it and evaluation the centre, or `num_crops` of
`CROP_POSITIONS`. The margin may never let a window cut into the face box (`max_crop_margin`); the
face box's share of a model input is `face_box_fraction`.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from emojax.data.video import fixed_interval_indices
from emojax.errors import ConfigError

METHODS = ('fixed_interval', 'random_segment')
# The crops of evaluation's `num_crops` views, in order: 3 crops are the centre and one diagonal.
CROP_POSITIONS = ('centre', 'top_left', 'bottom_right', 'top_right', 'bottom_left')


@dataclasses.dataclass(frozen=True)
class Sampling:
  """Which stored frames make a clip of `num_frames` (see the module docstring)."""
  method: str = 'fixed_interval'
  num_frames: int = 16
  num_fragments: int = 1
  stride: int = 1

  def __post_init__(self):
    if self.method not in METHODS:
      raise ConfigError(f'config.sampling.method={self.method!r}: expected one of {METHODS}')
    if self.num_frames < 1:
      raise ConfigError(f'config.num_frames={self.num_frames} must be at least 1')
    if self.num_fragments < 1 or self.num_frames % self.num_fragments:
      raise ConfigError(f'config.sampling.num_fragments={self.num_fragments} must be at least 1 '
                       f'and divide config.num_frames={self.num_frames}')
    if self.stride < 1:
      raise ConfigError(f'config.sampling.stride={self.stride} must be at least 1')

  @classmethod
  def from_config(cls, config) -> Sampling:
    return cls(method=config.sampling.method, num_frames=config.num_frames,
               num_fragments=config.sampling.num_fragments, stride=config.sampling.stride)

  @property
  def fragment_frames(self) -> int:
    return self.num_frames // self.num_fragments

  @property
  def segment_span(self) -> int:
    """Stored frames one 'random_segment' fragment covers."""
    return (self.fragment_frames - 1) * self.stride + 1

  @property
  def whole_video(self) -> bool:
    """Whether a clip spans the whole track (rather than one segment of it)."""
    return self.method == 'fixed_interval' or self.num_fragments > 1

  def span(self, num_stored: int) -> int:
    """Stored frames one clip of a `num_stored`-frame track covers, first to last."""
    return num_stored if self.whole_video else min(self.segment_span, num_stored)

  def _parts(self, num_stored: int) -> list[tuple[int, int]]:
    """(first frame, length) of the N equal parts of the track (one part when N = 1)."""
    if num_stored < 1:
      raise ValueError(f'cannot sample from {num_stored} frames')
    edges = [f * num_stored // self.num_fragments for f in range(self.num_fragments + 1)]
    return [(a, max(b - a, 1)) for a, b in zip(edges[:-1], edges[1:])]

  def _fragment(self, length: int, position: float | None, rng=None) -> np.ndarray:
    """Indices of one fragment in a part of `length` frames.

    `position` in [0, 1] places it (0.5: centred); None draws it from `rng`.
    """
    frames = self.fragment_frames
    if self.method == 'fixed_interval':
      base = fixed_interval_indices(length, frames)
      if length <= frames or frames == 1:
        return base
      shift = rng.uniform(-0.5, 0.5) if position is None else position - 0.5
      step = (length - 1) / (frames - 1)
      pos = np.arange(frames) * (length - 1) / (frames - 1) + shift * step
      return np.clip(np.floor(pos + 0.5), 0, length - 1).astype(np.int64)
    span = self.segment_span
    if length >= span:
      free = length - span
      start = int(rng.integers(0, free + 1)) if position is None else int(position * free)
    else:
      start = (length - span) // 2  # Centred; the first and last frames repeat.
    return np.clip(start + np.arange(frames) * self.stride, 0, length - 1).astype(np.int64)

  def train_indices(self, num_stored: int, rng: np.random.Generator,
                    jitter: int = 0) -> np.ndarray:
    """A fresh clip's `num_frames` indices, in order; `jitter` moves each by up to that many."""
    idx = np.concatenate([start + self._fragment(length, None, rng)
                          for start, length in self._parts(num_stored)])
    if jitter:
      idx = np.sort(np.clip(idx + rng.integers(-jitter, jitter + 1, idx.shape), 0,
                            num_stored - 1))
    return idx

  def view_indices(self, num_stored: int, num_clips: int = 1) -> np.ndarray:
    """`[num_clips, num_frames]` indices of evaluation's evenly spaced clips."""
    if num_clips < 1:
      raise ConfigError(f'config.eval.num_clips={num_clips} must be at least 1')
    return np.stack([
        np.concatenate([start + self._fragment(length, (k + 0.5) / num_clips)
                        for start, length in self._parts(num_stored)])
        for k in range(num_clips)])

  def window(self, span: int, frame_ratio: float = 1.0) -> np.ndarray:
    """Offsets of the `num_frames` frames of a prediction window `span` frames long, sampled
    as evaluation's centred clip; `frame_ratio` (window rate / stored rate) scales `stride`."""
    scaled = dataclasses.replace(self, stride=max(1, round(self.stride * frame_ratio)))
    return scaled.view_indices(span, 1)[0]


# ----------------------------------------------------------------------------
# Space.


def resized_side(image_size: int, crop_margin: float) -> int:
  """Side the stored crop is resized to before an `image_size` window is cut from it."""
  return int(round(image_size * (1.0 + crop_margin)))


def max_crop_margin(face_margin: float) -> float:
  """The largest `crop_margin` whose corner windows still hold the whole face box.

  A stored crop is the face box plus `face_margin` of its side on each side, so the box spans
  [m, 1 + m] / (1 + 2m) of the crop; a corner window keeps 1 / (1 + crop_margin) of it.
  """
  return face_margin / (1.0 + face_margin)


def face_box_fraction(image_size: int, face_margin: float, resize_margin: float) -> float:
  """The side of the face box as a fraction of the side of a model input's centre view.

  A stored crop is the face box squared plus `face_margin` of its side on each side, so the box is
  1 / (1 + 2 face_margin) of the crop; the crop is resized to `resized_side` and an `image_size`
  window cut from it. A model whose encoder was trained on tight faces (FER2013) crops this
  fraction of its input's centre (`emojax.models.crops_face_box`).
  """
  return resized_side(image_size, resize_margin) / (image_size * (1.0 + 2.0 * face_margin))


def resize_frames(frames: np.ndarray, side: int) -> np.ndarray:
  """`[T, S, S, C]` frames at `side` x `side` (area interpolation down, bilinear up)."""
  if frames.shape[1] == side and frames.shape[2] == side:
    return frames
  shrink = side < frames.shape[1]
  method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
  out = np.stack([cv2.resize(np.ascontiguousarray(f), (side, side), interpolation=method)
                  for f in frames])
  return out.reshape(len(frames), side, side, frames.shape[-1])


def crop_offsets(side: int, size: int, num_crops: int = 1) -> list[tuple[int, int]]:
  """(top, left) of the first `num_crops` of `CROP_POSITIONS` in a `side`-pixel square."""
  if not 1 <= num_crops <= len(CROP_POSITIONS):
    raise ConfigError(f'config.eval.num_crops={num_crops} must be in [1, {len(CROP_POSITIONS)}]')
  centre, far = (side - size) // 2, side - size
  where = {'centre': (centre, centre), 'top_left': (0, 0), 'bottom_right': (far, far),
           'top_right': (0, far), 'bottom_left': (far, 0)}
  return [where[name] for name in CROP_POSITIONS[:num_crops]]
