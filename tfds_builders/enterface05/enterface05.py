"""eNTERFACE'05 audio-visual emotion database: face clips from its AVI videos."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections import Counter
from pathlib import PurePosixPath

import tensorflow_datasets as tfds
from etils import epath

from tfds_builders import archives, common, emotions

log = logging.getLogger(__name__)

# File-name emotion codes (s1_an_1.avi) -> class names.
CODES = dict(zip(('an', 'di', 'fe', 'ha', 'sa', 'su'), emotions.BASIC_EMOTIONS))
# Emotion folder names (subject 1/anger/...) -> class names; a few spellings.
EMOTION_DIRS = {
  **{name: name for name in emotions.BASIC_EMOTIONS},
  'angry': 'anger', 'disgusted': 'disgust', 'fearful': 'fear', 'happy': 'happiness',
  'sad': 'sadness', 'surprised': 'surprise',
}
SUBJECT_DIR = re.compile(r'subject[\s_-]*(\d+)', re.IGNORECASE)
# s1_an_1, s_3_an_1 (subject 3), s16_su_3avi (one file), s6_an (unsegmented subject 6).
FILE_NAME = re.compile(r's_?(\d+)_(an|di|fe|ha|sa|su)(?:_(\d+))?(?:\.?avi)?', re.IGNORECASE)
VIDEO_SUFFIX = '.avi'

_INSTRUCTIONS = """\
eNTERFACE'05 audio-visual emotion database (Martin et al., 2006).

Where: https://enterface.net/enterface05/emotion.html (free, MIT license).
Download `project2_database.zip` (about 0.8 GB) with a browser: the site's
HTTPS certificate chain is incomplete, so scripted downloads (curl, urllib) are
refused.

Where to put it: in the manual directory (`--manual_dir` /
DownloadConfig(manual_dir=...)), either the zip itself (extracted
automatically) or its unpacked tree, in either layout:
    subject 1/anger/sentence 1/s1_an_1.avi     (as released)
    s1_an_1.avi                                (all videos in one folder)
"""


@dataclasses.dataclass(eq=False)
class Enterface05Config(common.ClipConfig):
  """Attributes:
    exclude_subjects: subject ids ('s6') left out of the dataset (listed in
      skipped.tsv as excluded).
  """

  exclude_subjects: tuple[str, ...] = ('s6',)


BUILDER_CONFIGS = [
  Enterface05Config(
    name='default',
    exclude_subjects=('s6',),
    description='43 subjects, 1287 videos: all but subject 6, whose six files are '
    'unsegmented whole sessions. The whole face track of each video, every frame, 128 x 128.',
  ),
  Enterface05Config(
    name='subjects42',
    exclude_subjects=('s6', 's23'),
    description='The 42 subjects of the corpus page, 1260 videos: also drops '
    'subject 23, which lacks three recordings.',
  ),
  Enterface05Config(
    name='flow',
    exclude_subjects=('s6',),
    flow='farneback',
    description='As default, with Farneback optical-flow images of the stored face crops in a '
    '`flow` feature (the two-stream RFSCNN).',
  ),
]


@dataclasses.dataclass(frozen=True)
class Parsed:
  subject: str  # 's1'
  label: str  # class name
  note: str = ''  # where the path and the file name disagree


def parse_path(rel_path: str) -> Parsed | str:
  """Subject and emotion of a video from its path relative to the archive root.

  Folder names win over the file name (subject 11's files are named s12_*):
  a 'subject N' folder gives the subject and an emotion folder the label;
  without them (flat layout) the file name gives both. Returns the reason
  as a string when neither does.
  """
  p = PurePosixPath(rel_path.replace(os.sep, '/'))
  subject = label = None
  for part in p.parts[:-1]:
    if m := SUBJECT_DIR.fullmatch(part.strip()):
      subject = f's{int(m[1])}'
    elif part.strip().lower() in EMOTION_DIRS:
      label = EMOTION_DIRS[part.strip().lower()]
  stem = p.name[: -len(VIDEO_SUFFIX)] if p.name.lower().endswith(VIDEO_SUFFIX) else p.stem
  m = FILE_NAME.fullmatch(stem.strip())
  notes = []
  if m:
    name_subject, name_label = f's{int(m[1])}', CODES[m[2].lower()]
    if subject and subject != name_subject:
      notes.append(f'file name says {name_subject}')
    if label and label != name_label:
      notes.append(f'file name says {name_label}')
    subject, label = subject or name_subject, label or name_label
  if subject is None or label is None:
    return 'unrecognised name: cannot tell subject and emotion from path or file name'
  return Parsed(subject, label, '; '.join(notes))


def list_videos(root: epath.Path) -> list[str]:
  """Relative paths of the .avi files under `root` (any case), sorted naturally.

  Leaves out macOS resource forks ('._x.avi', '__MACOSX/') that re-zipped copies carry.
  """
  out = []
  for dirpath, dirnames, filenames in os.walk(os.fspath(root)):
    dirnames[:] = [d for d in dirnames if d != '__MACOSX' and not d.startswith('.')]
    for f in filenames:
      if f.lower().endswith(VIDEO_SUFFIX) and not f.startswith('.'):
        out.append(os.path.relpath(os.path.join(dirpath, f), root))
  return sorted(out, key=archives.natural_key)


def list_sources(root: epath.Path, exclude_subjects=()):
  """Sources and skipped entries for every video under `root`."""
  sources, skipped = [], []
  exclude = {s.lower() for s in exclude_subjects}
  notes = Counter()
  for rel in list_videos(root):
    path = os.path.join(os.fspath(root), rel)
    parsed = parse_path(rel)
    if isinstance(parsed, str):
      skipped.append(common.Skipped(path, parsed))
      continue
    if parsed.subject in exclude:
      skipped.append(common.Skipped(path, f'excluded: subject {parsed.subject} (config)'))
      continue
    if parsed.note:
      notes[parsed.note] += 1
    sources.append(common.Source(
      video_id=rel.replace(os.sep, '/'),
      label=parsed.label,
      subject=parsed.subject,
      path=path,
    ))
  for note, n in notes.items():
    log.info('%d videos: folder names used where the %s', n, note)
  per_subject = Counter(s.subject for s in sources)
  for subj, n in sorted(per_subject.items()):
    if n != 30:
      log.info('subject %s has %d videos (30 expected: 6 emotions x 5 sentences)', subj, n)
  return sources, skipped


class Enterface05(common.VideoBuilder):
  """eNTERFACE'05: 6 induced emotions, 5 reactions each, from 42-44 subjects.

  Each example is one AVI video: the face track of the whole video (every
  `frame_step`-th frame, up to `max_frames`), cropped to `size` x `size` by
  MTCNN, with its stored frame rate (`fps`) and length (`video_frames`).
  Labels and subjects come from folder names where the tree has them (file
  names carry typos), from file names in a flat layout. Single `train` split.
  Unreadable videos, videos without a face and excluded subjects are listed
  in `skipped.tsv` next to the data.
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
  CLASS_NAMES = emotions.BASIC_EMOTIONS
  BUILDER_CONFIGS = BUILDER_CONFIGS
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  HOMEPAGE = 'https://enterface.net/enterface05/emotion.html'
  CITATION = """@inproceedings{martin2006enterface,
  title={The eNTERFACE'05 Audio-Visual Emotion Database},
  author={Martin, Olivier and Kotsia, Irene and Macq, Benoit and Pitas, Ioannis},
  booktitle={22nd International Conference on Data Engineering Workshops (ICDEW'06)},
  pages={8--8}, year={2006}, organization={IEEE}
}"""

  def _split_generators(self, dl_manager):
    cfg = self.builder_config
    manual_dir = self._manual_dir(dl_manager)
    root, _ = archives.find_or_extract(manual_dir, dl_manager, list_videos)
    if root is None:
      raise self._missing(manual_dir, 'no .avi videos found')
    sources, skipped = list_sources(root, cfg.exclude_subjects)
    if not sources:
      raise self._missing(manual_dir, f'no usable eNTERFACE videos in {root}')
    log.info('%s: %d videos of %d subjects in %s (%d left out)', cfg.name, len(sources),
        len({s.subject for s in sources}), root, len(skipped))
    return {'train': self._generate_examples(sources, skipped)}
