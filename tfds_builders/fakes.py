"""Test fakes shared by the builders' fake archives, benchmarks and tests.

Frames showing a real face photograph, and files broken on purpose. Never used by a build.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from etils import epath


@dataclasses.dataclass
class FakeArchive:
  """What a `make_fake_archive` wrote.

  Attributes:
    root: the manual directory to build from.
    videos: video_id -> (label, subject) of every video that should build.
    corrupt: path -> how it was broken, for files that should be skipped.
    faceless: paths of videos without a face, which should be skipped.
    excluded: paths the builder's default config leaves out on purpose.
  """

  root: str
  videos: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
  corrupt: dict[str, str] = dataclasses.field(default_factory=dict)
  faceless: list[str] = dataclasses.field(default_factory=list)
  excluded: list[str] = dataclasses.field(default_factory=list)


def fake_face_frames(
  num_frames: int,
  frame_size: tuple[int, int] = (320, 240),
  *,
  face: bool = True,
  grey: bool = False,
  seed: int = 0,
) -> np.ndarray:
  """`uint8 [num_frames, H, W, 3]` RGB: `skimage.data.astronaut()`'s head on a grey backdrop.

  The head (about half the frame height) drifts a few pixels per frame, as
  a subject does; `face=False` gives the backdrop alone (no face to find).
  """
  import cv2
  import skimage.data

  width, height = frame_size
  rng = np.random.default_rng(seed)
  photo = skimage.data.astronaut()[10:250, 130:330]  # Head and shoulders, 240 x 200.
  ph = max(24, int(height * 0.6))
  pw = ph * photo.shape[1] // photo.shape[0]
  photo = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
  frames = np.empty((num_frames, height, width, 3), np.uint8)
  y0, x0 = (height - ph) // 2, (width - pw) // 2
  for t in range(num_frames):
    canvas = np.full((height, width, 3), 96, np.uint8)
    canvas += rng.integers(0, 8, canvas.shape, dtype=np.uint8)
    if face:
      dy, dx = (int(v) for v in rng.integers(-3, 4, 2))
      y, x = min(max(y0 + dy, 0), height - ph), min(max(x0 + dx, 0), width - pw)
      canvas[y:y + ph, x:x + pw] = photo
    frames[t] = canvas
  if grey:
    frames[:] = cv2.cvtColor(frames.reshape(-1, width, 3), cv2.COLOR_RGB2GRAY)[
      ..., None
    ].reshape(num_frames, height, width, 1)
  return frames


def fake_face_crops(
  num_frames: int,
  frame_size: tuple[int, int] = (224, 224),
  *,
  margin: float = 0.25,
  seed: int = 0,
) -> np.ndarray:
  """`uint8 [num_frames, H, W, 3]` RGB face crops, as face-crop releases ship them (DFEW's
  `clip_224x224`, FERV39k's `2_ClipsforFaceCrop`): `skimage.data.astronaut()`'s face box plus
  `margin` of its side around it, the head drifting and rolling a little from frame to frame."""
  import cv2
  import skimage.data

  width, height = frame_size
  rng = np.random.default_rng(seed)
  photo = skimage.data.astronaut()
  face = np.array([181., 61., 268., 173.])  # The face box in the 512 x 512 photo (by eye).
  centre, side = (face[:2] + face[2:]) / 2, (face[2:] - face[:2]).max() * (1 + 2 * margin)
  frames = np.empty((num_frames, height, width, 3), np.uint8)
  for t in range(num_frames):
    shift, roll = rng.uniform(-0.02, 0.02, 2) * side, rng.uniform(-4, 4)
    m = cv2.getRotationMatrix2D(tuple(centre + shift), roll, min(width, height) / side)
    m[:, 2] += np.array([width / 2, height / 2]) - (centre + shift)
    frames[t] = cv2.warpAffine(photo, m, (width, height), borderMode=cv2.BORDER_REFLECT)
  return frames


def write_avi(path: os.PathLike | str, frames, fps: float = 25.0, codec: str = 'XVID') -> None:
  """RGB `uint8 [N, H, W, 3]` frames -> a video file via cv2.VideoWriter (XVID or MJPG AVI)."""
  import cv2

  h, w = frames.shape[1:3]
  writer = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
  if not writer.isOpened():
    raise RuntimeError(f'OpenCV cannot write {codec} AVI files ({path})')
  for f in frames:
    writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
  writer.release()


def corrupt_file(path: os.PathLike | str, mode: str) -> None:
  """Breaks a file in place: 'truncated' keeps its first 40%, 'garbage' is random bytes."""
  path = epath.Path(path)
  data = path.read_bytes()
  if mode == 'truncated':
    path.write_bytes(data[: max(1, int(len(data) * 0.4))])
  elif mode == 'garbage':
    path.write_bytes(np.random.default_rng(0).bytes(max(256, len(data) // 4)))
  else:
    raise ValueError(f"corrupt mode must be 'truncated' or 'garbage', got {mode!r}")


def crash_on(source, spec, crash_ids=()):
  """A stand-in for `workers.process_source`: a segmentation fault on the videos `crash_ids`, as
  a broken decoder would give, else a small example without decoding anything."""
  if source.video_id in crash_ids:
    import ctypes
    ctypes.string_at(0)  # Reads address 0: SIGSEGV.
  clip = np.zeros((2, spec.size, spec.size, 3), np.uint8)
  example = {'clip': clip, 'fps': np.float32(25), 'video_frames': np.int32(2),
             'label': source.label, 'subject': source.subject, 'video_id': source.video_id}
  return source.video_id, example, None, 2, 2
