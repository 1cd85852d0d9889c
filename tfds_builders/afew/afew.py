"""AFEW 6.0 / 7.0 (Acted Facial Expressions in the Wild, EmotiW): face tracks of its movie clips."""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from pathlib import PurePosixPath

import tensorflow_datasets as tfds
from etils import epath

from tfds_builders import archives, common, emotions, layouts

log = logging.getLogger(__name__)

CLASS_NAMES = ('anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise')
# TFDS split -> folder names of the release (and of re-packed copies), matched ignoring case.
SPLIT_DIRS = {
  'train': re.compile(r'train(?:[\s_-]*afew.*)?', re.IGNORECASE),
  'validation': re.compile(r'val(?:id|idation)?(?:[\s_-]*afew.*)?', re.IGNORECASE),
}
RELEASE_COUNTS = {'train': 773, 'validation': 383}

_INSTRUCTIONS = """\
AFEW 6.0 / 7.0, Acted Facial Expressions in the Wild (Dhall et al.; EmotiW 2016 / 2017).

Where: request it from the EmotiW organisers (https://sites.google.com/site/emotiwchallenge/ ,
Abhinav Dhall); an academic licence agreement is needed.

What: the Train and Val parts (their labels are public; Test's are not):
    Train_AFEW/Angry/000046280.avi ...     Val_AFEW/Happy/000150440.avi ...
with class folders Angry Disgust Fear Happy Neutral Sad Surprise. The same file
name may occur in both parts. `Train/`, `Val/` (or `Validation/`) folder names
are read too; other folders (e.g. AlignedFaces_LBPTOP_Points) are ignored.

Where to put it: in the manual directory, unpacked (each part up to 4 folders
deep) or as the archives themselves (Train_AFEW.zip, Val_AFEW.zip).
"""


def _has_class_folders(d: epath.Path) -> bool:
  return any(emotions.canonical(p.name) in CLASS_NAMES for p in layouts.sub_dirs(d))


def find_split_dir(root: epath.Path, split: str) -> epath.Path | None:
  """The folder of one part (`Train_AFEW`, `Val_AFEW`, ...) holding class folders."""
  name = SPLIT_DIRS[split]
  return archives.search_tree(root, lambda d: bool(name.fullmatch(d.name.strip()))
                              and _has_class_folders(d), 4)


def list_split(split_dir: epath.Path):
  """Sources and skipped entries of one part: every video file under it."""
  sources, skipped = [], []
  for rel in layouts.video_files(split_dir):
    path = os.path.join(os.fspath(split_dir), rel)
    parts = PurePosixPath(layouts.posix(rel)).parts
    if len(parts) < 2:
      skipped.append(common.Skipped(path, 'unlabelled: not in a class folder'))
      continue
    label = emotions.canonical(parts[-2])
    if label not in CLASS_NAMES:
      skipped.append(common.Skipped(path, f'unrecognised class folder {parts[-2]!r}'))
      continue
    sources.append(common.Source(
      video_id=f'{split_dir.name}/{layouts.posix(rel)}', label=label,
      subject=PurePosixPath(parts[-1]).stem, path=path))
  return sources, skipped


BUILDER_CONFIGS = [
  common.ClipConfig(name='default', description='Train and Val, whole face tracks.'),
  common.ClipConfig(name='flow', flow='farneback',
                    description='As default, with Farneback optical-flow images of the stored '
                    'face crops in a `flow` feature (RFSCNN).'),
]


class Afew(common.VideoBuilder):
  """AFEW 6.0 / 7.0: movie clips, 7 classes (the six basic emotions and neutral).

  Splits `train` (Train_AFEW, 773 clips in the release) and `validation` (Val_AFEW, 383);
  the Test part has no public labels and is not read. Each example is one clip, face tracked
  and cropped by MTCNN (a clip with several faces keeps the largest, steadiest track).
  `subject` is the clip's id (AFEW names no actors). Unreadable clips, clips without a face and
  videos outside a class folder are listed in `skipped.tsv`.
  """

  VERSION = tfds.core.Version('3.0.0')
  RELEASE_NOTES = {
    '1.0.0': 'Initial release.',
    '2.0.0': 'Whole face tracks: `clip` holds every frame (frame_step, max_frames), ZLIB '
             'compressed, with `fps` and `video_frames`; config segments_flow becomes flow '
             '(clips are drawn at load time).',
    '3.0.0': 'Aligned faces: crops turned and scaled by the MTCNN eye landmarks (eyes level, at '
             'fixed places; config `align`, default True); faces detected on key frames and '
             'carried between them (`key_frame_interval`, default 5).',
  }
  CLASS_NAMES = CLASS_NAMES
  BUILDER_CONFIGS = BUILDER_CONFIGS
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  HOMEPAGE = 'https://sites.google.com/site/emotiwchallenge/'
  CITATION = """@article{dhall2012collecting,
  title={Collecting large, richly annotated facial-expression databases from movies},
  author={Dhall, Abhinav and Goecke, Roland and Lucey, Simon and Gedeon, Tom},
  journal={IEEE MultiMedia}, volume={19}, number={3}, pages={34--41}, year={2012}
}"""

  def _split_generators(self, dl_manager):
    manual_dir = self._manual_dir(dl_manager)
    generators = {}
    for split, expected in (('train', 'Train_AFEW/Angry/<id>.avi'),
                            ('validation', 'Val_AFEW/Angry/<id>.avi')):
      _, split_dir = archives.find_or_extract(manual_dir, dl_manager,
                                              lambda root: find_split_dir(root, split))
      if split_dir is None:
        raise self._missing(manual_dir, f'no {expected.split("/")[0]} folder with class folders '
                            f'({expected}, classes Angry ... Surprise) found')
      sources, skipped = list_split(split_dir)
      counts = Counter(s.label for s in sources)
      log.info('AFEW %s (%s): %d clips %s; %d skipped', split, split_dir, len(sources),
               dict(sorted(counts.items())), len(skipped))
      if len(sources) != RELEASE_COUNTS[split]:
        log.warning('AFEW %s: %d clips found, AFEW 6.0 / 7.0 release %d', split, len(sources),
                    RELEASE_COUNTS[split])
      generators[split] = self._generate_examples(sources, skipped)
    return generators
