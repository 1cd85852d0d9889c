"""Small fake AFEW 6.0 / 7.0 trees in the release's layout, for tests.

    <root>/Train_AFEW/Angry/000046280.avi ...   <root>/Val_AFEW/Happy/000150440.avi ...

Class folders Angry Disgust Fear Happy Neutral Sad Surprise; 9-digit clip ids, the same id may
occur in both parts (as in the release). AVI clips (720 x 576 by default) show a real face
photograph. Variants: `split_names=('Train', 'Val')` (re-packed copies), `layout='zips'`
(`Train_AFEW.zip`, `Val_AFEW.zip`). Each part also gets an `AlignedFaces_LBPTOP_Points/` folder
of images, as the release has, which the builder ignores.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence

import cv2

from tfds_builders import fakes

FOLDERS = ('Angry', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad', 'Surprise')
LABELS = dict(zip(FOLDERS, ('anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness',
                            'surprise')))
DEFAULT_CLIPS = {
  'train': {'Angry': ('000046280',), 'Happy': ('000150440', '000203520'),
            'Neutral': ('001233400',)},
  'validation': {'Angry': ('000150440',), 'Sad': ('000543360',), 'Surprise': ('002104680',)},
}


def make_fake_archive(
  root: os.PathLike | str,
  clips: Mapping[str, Mapping[str, Sequence[str]]] = DEFAULT_CLIPS,
  *,
  split_names: tuple[str, str] = ('Train_AFEW', 'Val_AFEW'),
  layout: str = 'tree',
  num_frames: int = 3,
  frame_size: tuple[int, int] = (720, 576),
  codec: str = 'MJPG',
  corrupt: Sequence[str] = (),
  loose: Sequence[str] = (),
  seed: int = 0,
) -> fakes.FakeArchive:
  """Writes a fake AFEW; returns what a build should contain.

  Args:
    clips: 'train' | 'validation' -> class folder -> clip ids.
    split_names: the two part folders.
    layout: 'tree' or 'zips'.
    corrupt: video ids ('Train_AFEW/Angry/000046280.avi') written as garbage.
    loose: clip ids put directly in the train folder, outside any class folder.

  `videos` maps video ids to (label, subject); paths in `corrupt` / `excluded` are relative to
  `root` (the builder may read them from extracted archives).
  """
  if layout not in ('tree', 'zips'):
    raise ValueError(f"layout must be 'tree' or 'zips', got {layout!r}")
  root = os.fspath(root)
  out = fakes.FakeArchive(root=root)
  k = 0
  for split, part in zip(('train', 'validation'), split_names):
    for folder, ids in clips.get(split, {}).items():
      for clip_id in ids:
        rel = f'{part}/{folder}/{clip_id}.avi'
        _write(os.path.join(root, rel), num_frames, frame_size, codec, seed + k)
        k += 1
        if rel in corrupt:
          fakes.corrupt_file(os.path.join(root, rel), 'garbage')
          out.corrupt[rel] = 'garbage'
        else:
          out.videos[rel] = (LABELS[folder], clip_id)
    faces = os.path.join(root, part, 'AlignedFaces_LBPTOP_Points', 'Faces', '000046280')
    os.makedirs(faces, exist_ok=True)
    cv2.imwrite(os.path.join(faces, '0.png'), fakes.fake_face_frames(1, (64, 64))[0])
  for clip_id in loose:
    rel = f'{split_names[0]}/{clip_id}.avi'
    _write(os.path.join(root, rel), num_frames, frame_size, codec, seed)
    out.excluded.append(rel)
  if layout == 'zips':
    for part in split_names:
      shutil.make_archive(os.path.join(root, part), 'zip', root, part)
      shutil.rmtree(os.path.join(root, part))
  return out


def _write(path, num_frames, frame_size, codec, seed):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fakes.write_avi(path, fakes.fake_face_frames(num_frames, frame_size, seed=seed), 25.0, codec)
