"""Small fake folders of one's own videos, for tests.

    <root>/<class>/<subject>/<name>.avi       (the default tree; any depth works)
    <root>/video_folder.toml                  (classes, subject_pattern), when given
    <root>/manifest.csv                       (`write_manifest`)

AVI clips (160 x 120 by default) show a real face photograph. Broken on purpose where asked:
garbage bytes (a corrupt video), empty files (unreadable), class folders without videos, videos
outside any class folder, files that are not videos.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence

from tfds_builders import fakes
from tfds_builders.video_folder import video_folder

DEFAULT_TREE = {
    'calm': ('anna/take1.avi', 'ben/take1.avi'),
    'happy': ('anna/take2.avi', 'ben/take3.avi'),
}
SUBJECT_PATTERN = r'^[^/]+/(?P<subject>[^/]+)/'


def write_video(path: str, num_frames: int = 3, frame_size: tuple[int, int] = (160, 120),
                seed: int = 0) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fakes.write_avi(path, fakes.fake_face_frames(num_frames, frame_size, seed=seed), 25.0, 'MJPG')


def write_settings(root: os.PathLike | str, classes: Sequence[str] | None = None,
                   subject_pattern: str | None = None) -> None:
  lines = []
  if classes is not None:
    lines.append(f'classes = {list(classes)!r}')
  if subject_pattern is not None:
    lines.append(f"subject_pattern = '{subject_pattern}'")
  with open(os.path.join(root, video_folder.SETTINGS), 'w') as f:
    f.write('\n'.join(lines) + '\n')


def write_manifest(root: os.PathLike | str, rows: Sequence[Sequence[str]],
                   columns: Sequence[str] = ('path', 'label', 'subject', 'split')) -> None:
  with open(os.path.join(root, video_folder.MANIFEST), 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(columns)
    writer.writerows(rows)


def make_fake_archive(
    root: os.PathLike | str,
    tree: Mapping[str, Sequence[str]] = DEFAULT_TREE,
    *,
    corrupt: Sequence[str] = (),
    empty: Sequence[str] = (),
    empty_classes: Sequence[str] = (),
    loose: Sequence[str] = (),
    other_files: Sequence[str] = (),
    classes: Sequence[str] | None = None,
    subject_pattern: str | None = SUBJECT_PATTERN,
    num_frames: int = 3,
    frame_size: tuple[int, int] = (160, 120),
    seed: int = 0,
) -> fakes.FakeArchive:
  """Writes `tree` ({class folder: video paths below it}) under `root`, and the broken entries.

  `corrupt` / `empty`: video ids ('calm/anna/take1.avi') of the tree written as garbage / as
  0-byte files. `empty_classes`: class folders made without videos. `loose`: video file names put
  directly in `root`. `other_files`: paths (relative to `root`) of small text files.
  `classes` / `subject_pattern`: written to `video_folder.toml` (neither: no file).

  Returns `videos` (video id -> (class, subject)) as the `labelled` config should build them;
  `corrupt` holds the absolute paths of the corrupt and empty files, `excluded` the loose videos.
  """
  root = os.fspath(root)
  os.makedirs(root, exist_ok=True)
  out = fakes.FakeArchive(root=root)
  pattern = re.compile(subject_pattern) if subject_pattern else None
  k = 0
  for label, paths in tree.items():
    for rel in paths:
      video_id = f'{label}/{rel}'
      path = os.path.join(root, video_id)
      write_video(path, num_frames, frame_size, seed + k)
      k += 1
      if video_id in corrupt:
        fakes.corrupt_file(path, 'garbage')
        out.corrupt[path] = 'garbage'
      elif video_id in empty:
        open(path, 'wb').close()
        out.corrupt[path] = 'empty'
      elif classes is None or label in classes:
        subject = pattern.search(video_id)['subject'] if pattern else video_id
        out.videos[video_id] = (label, subject)
  for folder in empty_classes:
    os.makedirs(os.path.join(root, folder), exist_ok=True)
  for name in loose:
    write_video(os.path.join(root, name), num_frames, frame_size, seed + k)
    k += 1
    out.excluded.append(os.path.join(root, name))
  for rel in other_files:
    os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
    with open(os.path.join(root, rel), 'w') as f:
      f.write('not a video\n')
  if classes is not None or subject_pattern is not None:
    write_settings(root, classes, subject_pattern)
  return out
