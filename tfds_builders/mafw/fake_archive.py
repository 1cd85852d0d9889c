"""Small fake MAFW trees in the release's layout, for tests.

    <root>/MAFW/data/clips/00025.mp4 ...
    <root>/MAFW/data/frames/00025/00001.jpg ...                  (frames=True)
    <root>/MAFW/data/faces/00025/00001.jpg ...                   (faces=True)
    <root>/MAFW/Train & Test Set/single/no_caption/set_1/train.txt, test.txt ... set_5

Lists hold one clip a line, `00025.mp4 anger` (file name, a space, the class word); each fold's
train list holds the other folds' test clips. Clips are MPEG-4 videos of a real face photograph;
frame folders, where written, are JPEGs of the same frames (the release does not document their
file names, so these are `00001.jpg ...`); face folders hold face crops of the photograph
(`fakes.fake_face_crops`). `layout='zips'` packs `data` and `Train & Test Set`
into `data.zip` and `Train & Test Set.zip`. A clip no list names (one of MAFW's multi-label
clips) is always written.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence

import cv2

from tfds_builders import fakes, layouts

# fold -> [(clip number, class word)]
DEFAULT_FOLDS = {1: [(25, 'anger'), (99, 'contempt')], 2: [(55, 'disgust'), (120, 'anxiety')],
                 3: [(108, 'helplessness'), (467, 'sadness')], 4: [(1440, 'happiness')],
                 5: [(7317, 'disappointment'), (9246, 'fear')]}
UNLISTED = 8827
SPLITS = 'Train & Test Set'


def clip_path(root: str, clip: int, source: str = 'clips') -> str:
  data = os.path.join(root, 'MAFW', 'data', source)
  return os.path.join(data, f'{clip:05d}.mp4' if source == 'clips' else f'{clip:05d}')


def make_fake_archive(
  root: os.PathLike | str,
  folds: Mapping[int, Sequence[tuple[int, str]]] = DEFAULT_FOLDS,
  *,
  frames: bool = False,
  faces: bool = False,
  layout: str = 'tree',
  num_frames: int = 3,
  frame_size: tuple[int, int] = (320, 240),
  missing: Sequence[int] = (),
  corrupt: Sequence[int] = (),
  bad_lines: Mapping[int, Sequence[str]] | None = None,
  seed: int = 0,
) -> fakes.FakeArchive:
  """Writes a fake MAFW; returns what the default build should contain.

  Args:
    folds: fold number -> (clip number, class word) of its test list.
    frames: also write `data/frames/<id>/` frame folders.
    faces: also write `data/faces/<id>/` folders of face crops (`frame_size`, square).
    layout: 'tree' or 'zips'.
    missing: listed clips without video (and frames).
    corrupt: clips whose video is broken (their frame folders are intact).
    bad_lines: fold -> raw lines appended to its test list.

  `videos` maps clip ids ('00025') to (label, subject).
  """
  if layout not in ('tree', 'zips'):
    raise ValueError(f"layout must be 'tree' or 'zips', got {layout!r}")
  root = os.fspath(root)
  out = fakes.FakeArchive(root=root)
  every = [(clip, word) for k in sorted(folds) for clip, word in folds[k]]
  for k, (clip, word) in enumerate([*every, (UNLISTED, 'anger')]):
    if clip in missing:
      continue
    images = fakes.fake_face_frames(num_frames, frame_size, seed=seed + k)
    path = clip_path(root, clip)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fakes.write_avi(path, images, codec='mp4v')
    if frames:
      _write_jpegs(clip_path(root, clip, 'frames'), images)
    if faces:
      side = min(frame_size)
      _write_jpegs(clip_path(root, clip, 'faces'),
                   fakes.fake_face_crops(num_frames, (side, side), seed=seed + k))
    if clip in corrupt:
      fakes.corrupt_file(path, 'garbage')
      out.corrupt[path] = 'garbage'
    elif clip != UNLISTED:
      out.videos[f'{clip:05d}'] = (word, f'{clip:05d}')
  lists = os.path.join(root, 'MAFW', SPLITS, 'single', 'no_caption')
  for k in sorted(folds):
    others = [row for j in sorted(folds) if j != k for row in folds[j]]
    _write_list(os.path.join(lists, f'set_{k}', 'test.txt'), folds[k],
                (bad_lines or {}).get(k, ()))
    _write_list(os.path.join(lists, f'set_{k}', 'train.txt'), others)
  if layout == 'zips':
    for part in ('data', SPLITS):
      shutil.make_archive(os.path.join(root, part), 'zip', os.path.join(root, 'MAFW'), part)
    shutil.rmtree(os.path.join(root, 'MAFW'))
  return out


def folds_of(folds: Mapping[int, Sequence[tuple[int, str]]] = DEFAULT_FOLDS) -> dict[str, str]:
  """Clip id -> the TFDS split ('fold_k') whose test list holds it."""
  return {f'{clip:05d}': layouts.fold_name(k) for k, rows in folds.items() for clip, _ in rows}


def _write_jpegs(folder, images) -> None:
  os.makedirs(folder, exist_ok=True)
  for t, image in enumerate(images):
    cv2.imwrite(os.path.join(folder, f'{t + 1:05d}.jpg'), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def _write_list(path, rows, extra_lines=()) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', newline='') as f:
    f.writelines(f'{clip:05d}.mp4 {word}\n' for clip, word in rows)
    f.writelines(line + '\n' for line in extra_lines)
