"""Small fake CK+ trees in the release's layout and naming, for tests.

    <root>/cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
    <root>/Emotion/S005/001/S005_001_00000011_emotion.txt      '   3.0000000e+00'

As released, `Emotion` holds a folder for every sequence, empty for the unlabelled ones (266 of
593), and the emotion file names the last (apex) frame. PNG frames (640 x 490 grey by default,
as most of CK+; `colour` subjects are RGB) show a real face photograph. `layout='zips'` writes
the two archives of the release instead (`extended-cohn-kanade-images.zip`,
`Emotion_labels.zip`), `layout='nested'` puts both folders under `CK+/`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence

import cv2

from tfds_builders import fakes
from tfds_builders.ck_plus import ck_plus

# (subject, sequence) -> emotion code, or None for an unlabelled sequence (empty Emotion folder).
DEFAULT_SEQUENCES = {
  ('S005', '001'): 3, ('S005', '002'): None, ('S010', '001'): 2, ('S010', '002'): 5,
  ('S011', '001'): 7, ('S011', '003'): None,
}


def make_fake_archive(
  root: os.PathLike | str,
  sequences: Mapping[tuple[str, str], int | None] = DEFAULT_SEQUENCES,
  *,
  layout: str = 'tree',
  num_frames: int = 3,
  frame_size: tuple[int, int] = (640, 490),
  colour: Sequence[str] = (),
  corrupt: Mapping[tuple[str, str], str] | None = None,
  bad_labels: Mapping[tuple[str, str], str] | None = None,
  no_emotion_folder: Sequence[tuple[str, str]] = (),
  seed: int = 0,
) -> fakes.FakeArchive:
  """Writes a fake CK+ under `root`; returns what the default ('seven') build should contain.

  Args:
    root: the manual directory.
    sequences: (subject, sequence) -> emotion code 0-7, None for unlabelled.
    layout: 'tree' (both folders in `root`), 'nested' (under `root/CK+/`) or 'zips'.
    num_frames, frame_size: per sequence; (width, height).
    colour: subjects whose frames are RGB (the rest grey, as most of the release).
    corrupt: (subject, sequence) -> 'truncated' | 'garbage': its second frame is broken.
    bad_labels: (subject, sequence) -> the text of its emotion file instead of the code.
    no_emotion_folder: sequences with no folder at all under Emotion.

  Paths in the result are absolute, except with 'zips', where they are relative to the
  archives' root (the builder extracts them under its download directory).
  """
  if layout not in ('tree', 'nested', 'zips'):
    raise ValueError(f"layout must be 'tree', 'nested' or 'zips', got {layout!r}")
  corrupt, bad_labels = dict(corrupt or {}), dict(bad_labels or {})
  root = os.fspath(root)
  tree = tempfile.mkdtemp(dir=os.path.dirname(root) or '.') if layout == 'zips' else (
    os.path.join(root, 'CK+') if layout == 'nested' else root)
  out = fakes.FakeArchive(root=root)
  for k, ((subject, seq), code) in enumerate(sorted(sequences.items())):
    images = os.path.join(tree, ck_plus.IMAGES_DIR, subject, seq)
    os.makedirs(images, exist_ok=True)
    frames = fakes.fake_face_frames(num_frames, frame_size, grey=subject not in colour,
                                    seed=seed + k)
    paths = [os.path.join(images, f'{subject}_{seq}_{t + 1:08d}.png') for t in range(num_frames)]
    for path, frame in zip(paths, frames):
      cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) if subject in colour
                  else frame[..., 0])
    labels = os.path.join(tree, ck_plus.EMOTION_DIR, subject, seq)
    if (subject, seq) not in no_emotion_folder:
      os.makedirs(labels, exist_ok=True)
    if code is not None or (subject, seq) in bad_labels:
      with open(os.path.join(labels, f'{subject}_{seq}_{num_frames:08d}_emotion.txt'), 'w') as f:
        f.write(bad_labels.get((subject, seq), f'   {code:.7e}\n'))
    if (subject, seq) in corrupt:
      fakes.corrupt_file(paths[1], corrupt[subject, seq])
      out.corrupt[_reported(paths[1], tree, layout)] = corrupt[subject, seq]
    elif code is not None and (subject, seq) not in bad_labels and code != 0:
      out.videos[f'{subject}/{seq}'] = (ck_plus.CODES[code], subject)
    else:
      out.excluded.append(_reported(images, tree, layout))
  if layout == 'zips':
    os.makedirs(root, exist_ok=True)
    for name, folder in (('extended-cohn-kanade-images', ck_plus.IMAGES_DIR),
                         ('Emotion_labels', ck_plus.EMOTION_DIR)):
      shutil.make_archive(os.path.join(root, name), 'zip', tree, folder)
    shutil.rmtree(tree)
  return out


def _reported(path: str, tree: str, layout: str) -> str:
  """A path as the skip manifest reports it; relative to the archives' root for 'zips'."""
  return os.path.relpath(path, tree) if layout == 'zips' else path
