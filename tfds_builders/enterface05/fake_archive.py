"""Small fake eNTERFACE'05 archives in the release's layout and naming, for tests.

Nested (as released):   <root>/subject 1/anger/sentence 1/s1_an_1.avi
Flat (one folder):      <root>/s1_an_1.avi

Videos are AVI (XVID by default; 'MJPG' also works with OpenCV's FFmpeg) at
720 x 576, 25 fps by default, showing a real face photograph
(`skimage.data.astronaut()`) drifting slightly. With `irregular=True` the known
quirks of the release are reproduced for the subjects asked for:

  * subject 3: files named `s_3_<code>_<n>.avi`;
  * subject 6: one unsegmented file per emotion, directly in the emotion
    folder (`subject 6/anger/s6_an.avi`, the exact name is a guess) and
    longer than the others;
  * subject 11: files named `s12_*` (nested layout only);
  * subject 16: `s16_su_3avi.avi`;
  * subject 23: three recordings missing;
  * a `Thumbs.db` next to the videos (with `extras=True`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from tfds_builders import fakes

EMOTIONS = ('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')
CODES = ('an', 'di', 'fe', 'ha', 'sa', 'su')


write_avi = fakes.write_avi


def file_name(subject: int, code: str, sentence: int | None, layout: str, irregular: bool) -> str:
  """The file name the release uses for a video (quirks included when `irregular`)."""
  if irregular and subject == 6:
    return f's6_{code}.avi'
  if irregular and subject == 3:
    return f's_3_{code}_{sentence}.avi'
  if irregular and subject == 11 and layout == 'nested':
    return f's12_{code}_{sentence}.avi'
  if irregular and subject == 16 and code == 'su' and sentence == 3:
    return 's16_su_3avi.avi'
  return f's{subject}_{code}_{sentence}.avi'


def make_fake_archive(
  root: os.PathLike | str,
  subjects: Sequence[int] = (1, 2, 3),
  *,
  layout: str = 'nested',
  emotions: Sequence[str] = EMOTIONS,
  sentences: Sequence[int] = (1, 2, 3, 4, 5),
  num_frames: int | Sequence[int] = (8, 12),
  frame_size: tuple[int, int] = (720, 576),
  fps: float = 25.0,
  codec: str = 'XVID',
  irregular: bool = True,
  extras: bool = True,
  corrupt: Mapping[str, str] | None = None,
  faceless: Sequence[str] = (),
  seed: int = 0,
) -> fakes.FakeArchive:
  """Writes a fake archive under `root`; returns what a default build should contain.

  Args:
    root: the manual directory.
    subjects: subject numbers.
    layout: 'nested' (subject N/emotion/sentence K/...) or 'flat'.
    emotions, sentences: which recordings each subject has.
    num_frames: frames per video; a (low, high) pair cycles over that range.
    frame_size: (width, height).
    fps, codec: of the AVI files.
    irregular: reproduce the release's naming quirks (module docstring).
    extras: add a non-video file (Thumbs.db) beside the videos.
    corrupt: canonical name 's1_an_1' -> 'garbage' | 'truncated'.
    faceless: canonical names of videos whose frames hold no face.
    seed: for the drift and noise.
  """
  if layout not in ('nested', 'flat'):
    raise ValueError(f"layout must be 'nested' or 'flat', got {layout!r}")
  corrupt = dict(corrupt or {})
  lengths = (
    list(range(num_frames[0], num_frames[1] + 1))
    if not isinstance(num_frames, int) else [num_frames]
  )
  out = fakes.FakeArchive(root=os.fspath(root))
  os.makedirs(root, exist_ok=True)
  k = 0
  for s in subjects:
    recordings = [(e, c, n) for e, c in zip(EMOTIONS, CODES) if e in emotions
           for n in sentences]
    if irregular and s == 6:
      recordings = [(e, c, None) for e, c in zip(EMOTIONS, CODES) if e in emotions]
    if irregular and s == 23:
      recordings = recordings[3:]
    for emotion, code, sentence in recordings:
      name = file_name(s, code, sentence, layout, irregular)
      if layout == 'flat':
        rel = name
      elif sentence is None:
        rel = os.path.join(f'subject {s}', emotion, name)
      else:
        rel = os.path.join(f'subject {s}', emotion, f'sentence {sentence}', name)
      path = os.path.join(root, rel)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      canonical = f's{s}_{code}_{sentence}' if sentence is not None else f's{s}_{code}'
      n = lengths[k % len(lengths)] * (3 if sentence is None else 1)
      write_avi(path, fakes.fake_face_frames(
        n, frame_size, face=canonical not in faceless, seed=seed + k), fps, codec)
      k += 1
      if canonical in corrupt:
        fakes.corrupt_file(path, corrupt[canonical])
        out.corrupt[path] = corrupt[canonical]
      elif irregular and s == 6:
        out.excluded.append(path)
      elif canonical in faceless:
        out.faceless.append(path)
      else:
        out.videos[rel.replace(os.sep, '/')] = (emotion, f's{s}')
    if extras:
      folder = root if layout == 'flat' else os.path.join(root, f'subject {s}')
      with open(os.path.join(folder, 'Thumbs.db'), 'wb') as f:
        f.write(b'\xd0\xcf\x11\xe0' + bytes(60))  # An OLE2 header, as Windows writes.
  return out
