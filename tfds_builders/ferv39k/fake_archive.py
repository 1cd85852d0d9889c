"""Small fake FERV39k trees in the release's layout, for tests.

    <root>/2_ClipsforFaceCrop/Action/Angry/0000/00001.jpg ...   <Scene>/<Emotion>/<4-digit clip>
    <root>/4_setups/All_scenes/train_All.csv                     `Action/Angry/0000 Angry`
    <root>/4_setups/All_scenes/test_All.csv

The lists have no header, one clip per line, path and emotion separated by a space (as released).
JPEG frames (224 x 224 by default) are face crops of a real face photograph
(`fakes.fake_face_crops`); the release does not document its frame file names, so these are
`00001.jpg ...` (the builder reads any). Variants: `layout='nested'`
(`2_ClipsforFaceCrop-002/2_ClipsforFaceCrop/...`, as a Google Drive download unpacks) and
`layout='zips'` (`2_ClipsforFaceCrop.zip` and `4_setups.zip`). Every copy also has an unlisted
clip folder and a `3_ClipsforScenImages` folder, which the builder ignores.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence

import cv2

from tfds_builders import fakes
from tfds_builders.ferv39k import ferv39k

EMOTIONS = ('Angry', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad', 'Surprise')
LABELS = dict(zip(EMOTIONS, ferv39k.CLASS_NAMES))
# split -> clip paths; the emotion folder is the label.
DEFAULT_CLIPS = {
  'train': ('Action/Angry/0000', 'Action/Happy/0003', 'Interview/Sad/0010', 'War/Fear/0002'),
  'test': ('Action/Angry/0001', 'Talkshow/Surprise/0034', 'Crime/Neutral/0094'),
}
UNLISTED = 'Speech/Disgust/0007'


def make_fake_archive(
  root: os.PathLike | str,
  clips: Mapping[str, Sequence[str]] = DEFAULT_CLIPS,
  *,
  layout: str = 'tree',
  num_frames: int = 3,
  frame_size: tuple[int, int] = (224, 224),
  missing: Sequence[str] = (),
  corrupt: Sequence[str] = (),
  bad_lines: Mapping[str, Sequence[str]] | None = None,
  seed: int = 0,
) -> fakes.FakeArchive:
  """Writes a fake FERV39k; returns what a build should contain.

  Args:
    clips: 'train' | 'test' -> clip paths `Scene/Emotion/0000`.
    layout: 'tree', 'nested' or 'zips' (see the module docstring).
    missing: listed clips without a frame folder.
    corrupt: clips whose second frame is broken.
    bad_lines: split -> raw lines appended to its list.

  `videos` maps clip paths to (label, subject).
  """
  if layout not in ('tree', 'nested', 'zips'):
    raise ValueError(f"layout must be 'tree', 'nested' or 'zips', got {layout!r}")
  root = os.fspath(root)
  out = fakes.FakeArchive(root=root)
  clip_root = os.path.join(root, *(['2_ClipsforFaceCrop-002'] if layout == 'nested' else []),
                           ferv39k.CLIP_DIR)
  every = [clip for split in sorted(clips) for clip in clips[split]]
  for k, clip in enumerate([*every, UNLISTED]):
    if clip in missing:
      continue
    paths = write_frames(os.path.join(clip_root, *clip.split('/')), num_frames, frame_size,
                         seed + k)
    if clip in corrupt:
      fakes.corrupt_file(paths[1], 'truncated')
      out.corrupt[paths[1]] = 'truncated'
    elif clip != UNLISTED:
      out.videos[clip] = (LABELS[clip.split('/')[1]], clip)
  write_frames(os.path.join(root, '3_ClipsforScenImages', *UNLISTED.split('/')), 1, (64, 48), 0)
  setups = os.path.join(root, *ferv39k.SETUP_DIR.split('/'))
  os.makedirs(setups, exist_ok=True)
  for split, name in ferv39k.SPLIT_FILES.items():
    lines = [f'{clip} {clip.split("/")[1]}' for clip in clips.get(split, ())]
    with open(os.path.join(setups, name), 'w', newline='') as f:
      f.writelines(line + '\n' for line in [*lines, *(bad_lines or {}).get(split, ())])
  if layout == 'zips':
    for part in (ferv39k.CLIP_DIR, '4_setups'):
      shutil.make_archive(os.path.join(root, part), 'zip', root, part)
      shutil.rmtree(os.path.join(root, part))
  return out


def write_frames(folder, num_frames, frame_size, seed) -> list[str]:
  """`num_frames` JPEG face frames `00001.jpg ...` in `folder`; returns their paths."""
  os.makedirs(folder, exist_ok=True)
  frames = fakes.fake_face_crops(num_frames, frame_size, seed=seed)
  paths = [os.path.join(folder, f'{t + 1:05d}.jpg') for t in range(num_frames)]
  for path, frame in zip(paths, frames):
    cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  return paths
