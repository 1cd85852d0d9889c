"""Small fake RML archives in the release's layout, for tests.

    <root>/rml-1/s1/an1.avi              (speaker folders s1-s5 in rml-1, s6-s8 in rml-2)
    <root>/rml-1/s2/English/ha3.avi      (some speakers: a language folder in between)

AVI videos (720 x 480 at 30 fps by default) show a real face photograph. `layout='zips'` writes
`rml-1.zip` and `rml-2.zip` instead of the folders. File names are the emotion code and a
number (the builder reads only the first two letters).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence

from tfds_builders import fakes, layouts
from tfds_builders.rml import rml

CODES = tuple(rml.CODES)


def subset_of(speaker: int) -> str:
  return 'rml-1' if speaker <= 5 else 'rml-2'


def make_fake_archive(
  root: os.PathLike | str,
  speakers: Sequence[int] = (1, 2, 6),
  *,
  languages: Mapping[int, Sequence[str]] | None = None,
  codes: Sequence[str] = CODES,
  per_code: int = 1,
  layout: str = 'tree',
  num_frames: int = 3,
  frame_size: tuple[int, int] = (720, 480),
  fps: float = 30.0,
  codec: str = 'MJPG',
  corrupt: Sequence[str] = (),
  unlabelled: Sequence[str] = (),
  seed: int = 0,
) -> fakes.FakeArchive:
  """Writes a fake RML; returns what a build should contain (paths relative to `root`'s
  subset folders for 'zips').

  Args:
    speakers: speaker numbers 1-8.
    languages: speaker -> language folders (videos split over them); default: none.
    codes, per_code: videos per speaker: `per_code` of each emotion code.
    layout: 'tree' or 'zips' (one archive per subset).
    corrupt: video ids ('rml-1/s1/an1.avi') written as garbage.
    unlabelled: extra file names (e.g. 'xx1.avi') put in the first speaker's folder.
  """
  if layout not in ('tree', 'zips'):
    raise ValueError(f"layout must be 'tree' or 'zips', got {layout!r}")
  languages = dict(languages or {})
  root = os.fspath(root)
  out = fakes.FakeArchive(root=root)
  k = 0
  for speaker in speakers:
    folders = [os.path.join(subset_of(speaker), f's{speaker}', lang)
               for lang in languages.get(speaker, ())] or [
                 os.path.join(subset_of(speaker), f's{speaker}')]
    names = [(code, n + 1) for code in codes for n in range(per_code)]
    for i, (code, n) in enumerate(names):
      rel = os.path.join(folders[i % len(folders)], f'{code}{n}.avi')
      path = os.path.join(root, rel)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      fakes.write_avi(path, fakes.fake_face_frames(num_frames, frame_size, seed=seed + k), fps,
                      codec)
      k += 1
      video_id = layouts.posix(rel)
      if video_id in corrupt:
        fakes.corrupt_file(path, 'garbage')
        out.corrupt[video_id if layout == 'zips' else path] = 'garbage'
      else:
        out.videos[video_id] = (rml.CODES[code], f's{speaker}')
  for name in unlabelled:
    first = speakers[0]
    rel = os.path.join(subset_of(first), f's{first}', name)
    fakes.write_avi(os.path.join(root, rel), fakes.fake_face_frames(num_frames, frame_size),
                    fps, codec)
    out.excluded.append(layouts.posix(rel) if layout == 'zips' else os.path.join(root, rel))
  if layout == 'zips':
    for subset in sorted({subset_of(s) for s in speakers}):
      shutil.make_archive(os.path.join(root, subset), 'zip', root, subset)
      shutil.rmtree(os.path.join(root, subset))
  return out
