"""RML (Ryerson Multimedia Lab) emotion database: face tracks of its AVI videos."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections import Counter
from pathlib import PurePosixPath

import tensorflow_datasets as tfds
from etils import epath

from tfds_builders import common, emotions, layouts

log = logging.getLogger(__name__)

CODES = dict(zip(('an', 'di', 'fe', 'ha', 'sa', 'su'), emotions.BASIC_EMOTIONS))
SPEAKER_DIR = re.compile(r's[\s_-]*(\d+)', re.IGNORECASE)
EXPECTED_VIDEOS = 720

_INSTRUCTIONS = """\
RML emotion database (Ryerson Multimedia Lab; Wang & Guan, 2008).

Where: request it from the Ryerson (now Toronto Metropolitan University)
Multimedia Research Lab, formerly http://www.rml.ryerson.ca/rml-emotion-database.html .

What: 720 AVI videos of 8 speakers (six languages), in two parts:
    rml-1/s1/an1.avi ... rml-1/s5/...        rml-2/s6/... rml-2/s8/...
Some speakers have a language folder between the speaker and the files
(rml-1/s2/English/ha3.avi). The label is the file name's first two letters:
an di fe ha sa su.

Where to put it: in the manual directory, unpacked (up to any depth) or as the
zip / tar archives themselves (all archives directly in it are extracted).
"""


@dataclasses.dataclass(frozen=True)
class Parsed:
  speaker: str  # 's1'
  label: str
  language: str = ''  # the folder(s) between speaker and file, if any


def parse_path(rel_path: str) -> Parsed | str:
  """Speaker and emotion of a video from its path relative to the archive root.

  The speaker is the nearest `sN` folder above the file; the label the file name's first two
  letters. Returns the reason as a string when either is missing.
  """
  p = PurePosixPath(layouts.posix(rel_path))
  folders = list(p.parts[:-1])
  at = next((i for i in range(len(folders) - 1, -1, -1)
             if SPEAKER_DIR.fullmatch(folders[i].strip())), None)
  label = CODES.get(p.name[:2].lower())
  if label is None:
    return (f'unrecognised name: the label is the file name\'s first two letters, one of '
            f'{" ".join(CODES)}')
  if at is None:
    return 'unrecognised path: no speaker folder (s1 ... s8) above the file'
  speaker = f's{int(SPEAKER_DIR.fullmatch(folders[at].strip())[1])}'
  return Parsed(speaker, label, '/'.join(folders[at + 1:]))


def probe(root: epath.Path) -> list[str]:
  """The videos under `root` whose path names a speaker and an emotion."""
  return [rel for rel in layouts.video_files(root) if isinstance(parse_path(rel), Parsed)]


def list_sources(roots: list[epath.Path]):
  """Sources and skipped entries of every video file under `roots`."""
  sources, skipped = [], []
  for root in roots:
    for rel in layouts.video_files(root):
      path = os.path.join(os.fspath(root), rel)
      parsed = parse_path(rel)
      if isinstance(parsed, str):
        skipped.append(common.Skipped(path, parsed))
        continue
      sources.append(common.Source(video_id=layouts.posix(rel), label=parsed.label,
                                   subject=parsed.speaker, path=path))
  return sources, skipped


def report_counts(sources, skipped) -> None:
  """Logs videos per speaker, and a warning when the archive does not hold the release's 720."""
  found = len(sources) + len(skipped)
  if found != EXPECTED_VIDEOS:
    log.warning('RML: %d video files found, the release has %d (%d usable)', found,
                EXPECTED_VIDEOS, len(sources))
  for speaker, n in sorted(Counter(s.subject for s in sources).items()):
    log.info('RML speaker %s: %d videos', speaker, n)


BUILDER_CONFIGS = [
  common.ClipConfig(name='default', description='All 720 videos, whole face tracks.'),
  common.ClipConfig(name='flow', flow='farneback',
                    description='As default, with Farneback optical-flow images of the stored '
                    'face crops in a `flow` feature (RFSCNN).'),
]


class Rml(common.VideoBuilder):
  """RML: 720 videos of 8 speakers in six languages, six basic emotions.

  Each example is one video, face tracked and cropped by MTCNN. `subject` is the speaker
  (`s1` ... `s8`), the unit of leave-one-subject-out. Single `train` split. Files whose
  speaker or emotion cannot be told, unreadable videos and videos without a face are listed
  in `skipped.tsv`; a warning says when the archive does not hold 720 videos.
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
  CITATION = """@article{wang2008recognizing,
  title={Recognizing human emotional state from audiovisual signals},
  author={Wang, Yongjin and Guan, Ling},
  journal={IEEE Transactions on Multimedia}, volume={10}, number={5}, pages={936--946},
  year={2008}
}"""

  def _split_generators(self, dl_manager):
    manual_dir = self._manual_dir(dl_manager)
    roots = layouts.roots_with(manual_dir, dl_manager, probe)
    if not roots:
      raise self._missing(manual_dir, 'no RML videos (rml-1/s1/an1.avi: a speaker folder sN '
                          'above video files named by emotion code) found')
    sources, skipped = list_sources(roots)
    report_counts(sources, skipped)
    return {'train': self._generate_examples(sources, skipped)}
