"""Small fake CHEAVD 2.0 copies with the manifest the builder reads, for tests.

    <root>/manifest.csv                path,label,split,speaker
    <root>/train/00001.avi ...   <root>/val/00001.avi ...   <root>/test/00001.avi ...

The release's own folder layout is not public; the manifest names every clip, so any layout
works. AVI clips (640 x 480 by default) show a real face photograph. Rows can be added that the
builder must skip: unlabelled (test rows without labels), unknown labels or splits, duplicates,
corrupt clips.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

from tfds_builders import emotions, fakes
from tfds_builders.cheavd import cheavd

# (path, label as the manifest spells it, split, speaker)
DEFAULT_ROWS = (
  ('train/00001.avi', 'angry', 'train', 'F_001'),
  ('train/00002.avi', 'Happy', 'train', 'F_001'),
  ('train/00003.avi', 'neutral', 'train', 'M_017'),
  ('train/00004.avi', 'worried', 'train', 'M_017'),
  ('val/00001.avi', 'anxious', 'val', 'F_102'),
  ('val/00002.avi', 'sad', 'validation', ''),
  ('test/00001.avi', 'surprise', 'test', 'M_201'),
  ('test/00002.avi', 'disgust', 'test', 'M_201'),
)


def make_fake_archive(
  root: os.PathLike | str,
  rows: Sequence[tuple[str, str, str, str]] = DEFAULT_ROWS,
  *,
  bad_rows: Sequence[tuple[str, str, str, str]] = (),
  corrupt: Sequence[str] = (),
  manifest_name: str = cheavd.MANIFEST,
  num_frames: int = 3,
  frame_size: tuple[int, int] = (640, 480),
  seed: int = 0,
) -> fakes.FakeArchive:
  """Writes the clips of `rows` and `bad_rows` and the manifest listing them (rows first).

  `bad_rows` are rows the builder must skip (their clips exist). `corrupt`: paths of `rows`
  written as garbage. Returns `videos` (video id -> (label, subject)) per the builder's rules;
  `corrupt` and `excluded` hold absolute clip paths.
  """
  root = os.fspath(root)
  out = fakes.FakeArchive(root=root)
  for k, (path, label, split, speaker) in enumerate([*rows, *bad_rows]):
    full = os.path.join(root, path)
    if not os.path.exists(full):
      os.makedirs(os.path.dirname(full), exist_ok=True)
      fakes.write_avi(full, fakes.fake_face_frames(num_frames, frame_size, seed=seed + k), 25.0,
                      'MJPG')
    if k >= len(rows):
      out.excluded.append(full)
    elif path in corrupt:
      fakes.corrupt_file(full, 'garbage')
      out.corrupt[full] = 'garbage'
    else:
      out.videos[path] = (emotions.canonical(label), speaker or path)
  with open(os.path.join(root, manifest_name), 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(cheavd.COLUMNS)
    writer.writerows([*rows, *bad_rows])
  return out


def splits_of(rows: Sequence[tuple[str, str, str, str]] = DEFAULT_ROWS) -> dict[str, str]:
  """video id -> TFDS split of the manifest rows."""
  return {path: cheavd.SPLITS[split.lower()] for path, _, split, _ in rows}
