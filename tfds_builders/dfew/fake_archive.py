"""Small fake DFEW trees in the release's layout, for tests.

    <root>/Clip/clip_224x224/00001/00001.jpg ...
    <root>/EmoLabel_DataSplit/test(single-labeled)/set_1.csv ... set_5.csv   video_name,label
    <root>/EmoLabel_DataSplit/train(single-labeled)/set_1.csv ... set_5.csv

The csv files name clips by number without zero padding (`1,5`), labels 1-7; each fold's train
csv lists the other folds' test clips. JPEG frames (224 x 224, as released) are face crops of a
real face photograph (`fakes.fake_face_crops`). Variants: `clip_layout='nested'`
(`Clip/clip_224x224/clip_224x224/00001`), `'parts'` (`Clip/clip_224x224_part_1/00001`), and
`sixteen=True` adds `clip_224x224_16f` folders. A clip folder no csv lists (DFEW's multi-labelled
clips) is always written.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence

import cv2

from tfds_builders import fakes, layouts
from tfds_builders.dfew import dfew

# fold -> [(clip number, label 1-7)]
DEFAULT_FOLDS = {1: [(1, 1), (6, 3)], 2: [(2, 2), (7, 4)], 3: [(3, 5), (8, 6)],
                 4: [(4, 7), (9, 1)], 5: [(5, 3), (10, 2)]}
UNLISTED = 99


def clip_folder(root: str, clip: int, clip_layout: str, sixteen: bool = False) -> str:
  name = f'{clip:05d}'
  if sixteen:
    return os.path.join(root, 'Clip', 'clip_224x224_16f', name)
  if clip_layout == 'nested':
    return os.path.join(root, 'Clip', 'clip_224x224', 'clip_224x224', name)
  if clip_layout == 'parts':
    return os.path.join(root, 'Clip', f'clip_224x224_part_{(clip - 1) // 4 + 1}', name)
  return os.path.join(root, 'Clip', 'clip_224x224', name)


def make_fake_archive(
  root: os.PathLike | str,
  folds: Mapping[int, Sequence[tuple[int, int]]] = DEFAULT_FOLDS,
  *,
  clip_layout: str = 'flat',
  sixteen: bool = False,
  num_frames: int = 3,
  frame_size: tuple[int, int] = (224, 224),
  missing: Sequence[int] = (),
  corrupt: Sequence[int] = (),
  bad_rows: Mapping[int, Sequence[str]] | None = None,
  seed: int = 0,
) -> fakes.FakeArchive:
  """Writes a fake DFEW; returns what the default build should contain.

  Args:
    folds: fold number -> (clip number, label 1-7) of its test set.
    clip_layout: 'flat', 'nested' or 'parts' (see the module docstring).
    sixteen: also write `clip_224x224_16f` folders (with 2 frames each).
    missing: clips listed in the csvs but without a frame folder.
    corrupt: clips whose second frame is broken.
    bad_rows: fold -> raw csv lines appended to its test csv ('12,9', 'x,1').

  `videos` maps clip ids ('00001') to (label, subject); skipped csv rows are reported by csv
  line, so tests check them by reason.
  """
  if clip_layout not in ('flat', 'nested', 'parts'):
    raise ValueError(f"clip_layout must be 'flat', 'nested' or 'parts', got {clip_layout!r}")
  root = os.fspath(root)
  out = fakes.FakeArchive(root=root)
  every = [(clip, label) for k in sorted(folds) for clip, label in folds[k]]
  for k, (clip, label) in enumerate([*every, (UNLISTED, 1)]):
    if clip in missing:
      continue
    folder = clip_folder(root, clip, clip_layout)
    paths = _write_frames(folder, num_frames, frame_size, seed + k)
    if sixteen:
      _write_frames(clip_folder(root, clip, clip_layout, sixteen=True), 2, frame_size, seed + k)
    if clip in corrupt:
      fakes.corrupt_file(paths[1], 'truncated')
      out.corrupt[paths[1]] = 'truncated'
    elif clip != UNLISTED:
      out.videos[f'{clip:05d}'] = (dfew.CLASS_NAMES[label - 1], f'{clip:05d}')
  splits = os.path.join(root, dfew.SPLIT_DIR)
  for k in sorted(folds):
    others = [row for j in sorted(folds) if j != k for row in folds[j]]
    _write_csv(os.path.join(splits, 'test(single-labeled)', f'set_{k}.csv'), folds[k],
               (bad_rows or {}).get(k, ()))
    _write_csv(os.path.join(splits, 'train(single-labeled)', f'set_{k}.csv'), others)
  return out


def folds_of(folds: Mapping[int, Sequence[tuple[int, int]]] = DEFAULT_FOLDS) -> dict[str, str]:
  """Clip id -> the TFDS split ('fold_k') whose test set it is."""
  return {f'{clip:05d}': layouts.fold_name(k) for k, rows in folds.items() for clip, _ in rows}


def _write_frames(folder, num_frames, frame_size, seed) -> list[str]:
  os.makedirs(folder, exist_ok=True)
  frames = fakes.fake_face_crops(num_frames, frame_size, seed=seed)
  paths = [os.path.join(folder, f'{t + 1:05d}.jpg') for t in range(num_frames)]
  for path, frame in zip(paths, frames):
    cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  return paths


def _write_csv(path, rows, extra_lines=()) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['video_name', 'label'])
    writer.writerows(rows)
    for line in extra_lines:
      f.write(line + '\r\n')
