"""Small fake Oulu-CASIA trees in the release's layout, for tests.

    <root>/OriginalImg/VL/Strong/P001/Anger/000.jpeg, 001.jpeg, ...

JPEG frames (320 x 240 by default, as released) show a real face photograph
(`skimage.data.astronaut()`), drifting slightly from frame to frame. NI
sequences are saved as grey JPEGs. Corrupt frames and face-less sequences can
be injected to exercise the skip manifest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import cv2

from tfds_builders import fakes

EXPRESSIONS = ('Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Surprise')


def make_fake_archive(
  root: os.PathLike | str,
  subjects: Sequence[str] = ('P001', 'P002', 'P003'),
  *,
  modalities: Sequence[str] = ('VL',),
  illuminations: Sequence[str] = ('Strong',),
  expressions: Sequence[str] = EXPRESSIONS,
  num_frames: int | Sequence[int] = (6, 9),
  frame_size: tuple[int, int] = (320, 240),
  corrupt: Mapping[str, str] | None = None,
  faceless: Sequence[str] = (),
  seed: int = 0,
) -> fakes.FakeArchive:
  """Writes `<root>/OriginalImg/...`; returns what a build should contain.

  Args:
    root: the manual directory.
    subjects: subject folders, 'P001'-style.
    modalities, illuminations: which condition folders to write.
    expressions: expression folders, named as released.
    num_frames: frames per sequence; a (low, high) pair cycles lengths over
      that range, so sequences are shorter and longer than a clip.
    frame_size: (width, height) of the frames.
    corrupt: 'P002/Fear' -> 'truncated' | 'garbage': that sequence's second
      frame is broken (in every condition written).
    faceless: 'P003/Sadness'-style sequences whose frames hold no face.
    seed: for the per-frame drift and noise.
  """
  corrupt = dict(corrupt or {})
  lengths = (
    list(range(num_frames[0], num_frames[1] + 1))
    if not isinstance(num_frames, int) else [num_frames]
  )
  out = fakes.FakeArchive(root=os.fspath(root))
  k = 0
  for m in modalities:
    for ill in illuminations:
      for subj in subjects:
        for expr in expressions:
          key = f'{subj}/{expr}'
          video_id = f'{m}/{ill}/{key}'
          folder = os.path.join(root, 'OriginalImg', m, ill, subj, expr)
          os.makedirs(folder, exist_ok=True)
          n = lengths[k % len(lengths)]
          frames = fakes.fake_face_frames(
            n, frame_size, face=key not in faceless, grey=m == 'NI', seed=seed + k
          )
          k += 1
          paths = [os.path.join(folder, f'{t:03d}.jpeg') for t in range(n)]
          for p, f in zip(paths, frames):
            cv2.imwrite(p, cv2.cvtColor(f, cv2.COLOR_RGB2GRAY if m == 'NI'
                          else cv2.COLOR_RGB2BGR))
          if key in corrupt:
            fakes.corrupt_file(paths[1], corrupt[key])
            out.corrupt[paths[1]] = corrupt[key]
          elif key in faceless:
            out.faceless.append(folder)
          else:
            out.videos[video_id] = (expr.lower(), subj)
  return out
