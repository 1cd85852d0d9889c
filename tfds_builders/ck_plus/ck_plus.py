"""CK+ (Extended Cohn-Kanade): face tracks of the image sequences that carry an emotion label."""

from __future__ import annotations

import dataclasses
import logging
import re

import tensorflow_datasets as tfds
from etils import epath

from tfds_builders import archives, common, emotions, layouts

log = logging.getLogger(__name__)

# The codes of the `Emotion/.../*_emotion.txt` files.
CODES = {0: 'neutral', 1: 'anger', 2: 'contempt', 3: 'disgust', 4: 'fear', 5: 'happiness',
         6: 'sadness', 7: 'surprise'}
CLASS_NAMES = tuple(CODES[c] for c in range(1, 8))
SUBJECT_RE = re.compile(r'S\d+', re.IGNORECASE)
SEQUENCE_RE = re.compile(r'\d+')
IMAGES_DIR = 'cohn-kanade-images'
EMOTION_DIR = 'Emotion'
EXPECTED_LABELLED = 327

_INSTRUCTIONS = """\
CK+, the Extended Cohn-Kanade dataset (Lucey et al., 2010).

Where: request it from the University of Pittsburgh / Carnegie Mellon
(https://www.jeffcohn.net/Resources/ : "CK+ Database", a signed agreement is
needed). Two archives are needed: the images
(`extended-cohn-kanade-images.zip`, folder `cohn-kanade-images`) and the
labels (`Emotion_labels.zip`, folder `Emotion`).

What: in the manual directory, unpacked or as the archives themselves:
    cohn-kanade-images/S005/001/S005_001_00000001.png ...
    Emotion/S005/001/S005_001_00000011_emotion.txt      (one float code:
        0 neutral 1 anger 2 contempt 3 disgust 4 fear 5 happy 6 sadness 7 surprise)
Both folders may sit up to 4 folders deep (e.g. `CK+/cohn-kanade-images`).
Only the 327 sequences (of 593) with an emotion file are examples.
"""


@dataclasses.dataclass(eq=False)
class CkPlusConfig(common.ClipConfig):
  """Attributes:
    class_names: the stored classes, a subset of the seven coded emotions; sequences of
      other codes are left out (listed in skipped.tsv as excluded).
  """

  class_names: tuple[str, ...] = CLASS_NAMES


BUILDER_CONFIGS = [
  CkPlusConfig(name='seven', description='The 327 labelled sequences, 7 classes with contempt.'),
  CkPlusConfig(name='six', class_names=emotions.BASIC_EMOTIONS,
               description='The 309 labelled sequences of the six basic emotions (the 18 '
               'contempt sequences left out).'),
]


def _has_sequences(d: epath.Path, holds) -> bool:
  """`d` holds subject folders (S005) whose first sequence folder satisfies `holds`."""
  for subject in layouts.sub_dirs(d):
    if SUBJECT_RE.fullmatch(subject.name):
      sequences = [s for s in layouts.sub_dirs(subject) if SEQUENCE_RE.fullmatch(s.name)]
      if sequences and holds(sequences[0]):
        return True
  return False


def _has_images(seq: epath.Path) -> bool:
  return bool(layouts.image_files(seq))


def find_images_dir(root: epath.Path) -> epath.Path | None:
  """`cohn-kanade-images` under `root`; else any folder of S*/NNN/ image sequences."""
  return (layouts.find_named_dir(root, [IMAGES_DIR], lambda d: _has_sequences(d, _has_images))
          or archives.search_tree(root, lambda d: d.name.lower() != EMOTION_DIR.lower()
                                  and _has_sequences(d, _has_images), 4))


def find_emotion_dir(root: epath.Path) -> epath.Path | None:
  """The `Emotion` folder (S*/NNN/ folders of *_emotion.txt files) under `root`."""
  return layouts.find_named_dir(root, [EMOTION_DIR, 'Emotion_labels'],
                                lambda d: _has_sequences(d, lambda seq: True))


def read_emotion_file(path: epath.Path) -> int | str:
  """The code in a `*_emotion.txt` ('   3.0000000e+00'), or the reason it cannot be read."""
  try:
    text = path.read_text().strip()
  except (OSError, UnicodeDecodeError) as e:
    return f'unreadable emotion file: {e}'
  try:
    value = float(text)
  except ValueError:
    return f'unreadable emotion file: expected one number, got {text[:20]!r}'
  if value != int(value) or int(value) not in CODES:
    return f'unreadable emotion file: code {value:g} is not one of 0-7'
  return int(value)


def label_of(emotion_dir: epath.Path | None, class_names) -> tuple[str | None, str]:
  """(class name, '') of a sequence's Emotion folder, or (None, why it is not an example)."""
  files = [] if emotion_dir is None else sorted(emotion_dir.glob('*_emotion.txt'))
  if not files:
    return None, 'unlabelled: no emotion file (CK+ labels 327 of its 593 sequences)'
  if len(files) > 1:
    return None, f'unlabelled: {len(files)} emotion files, expected one'
  code = read_emotion_file(files[0])
  if isinstance(code, str):
    return None, f'{code} ({files[0].name})'
  if CODES[code] not in class_names:
    return None, f'excluded: {CODES[code]} (code {code}) is not a class of this config'
  return CODES[code], ''


def list_sources(images_dir: epath.Path, emotion_dir: epath.Path, class_names):
  """Sources (labelled sequences) and skipped entries (every other sequence, with the reason)."""
  sources, skipped = [], []
  labelled = set()
  for subject in layouts.sub_dirs(images_dir):
    if not SUBJECT_RE.fullmatch(subject.name):
      continue
    for seq in layouts.sub_dirs(subject):
      if not SEQUENCE_RE.fullmatch(seq.name):
        continue
      label, why = label_of(layouts.child(emotion_dir / subject.name, seq.name), class_names)
      if label is None:
        skipped.append(common.Skipped(str(seq), why))
        continue
      labelled.add((subject.name, seq.name))
      frames = layouts.image_files(seq)
      if not frames:
        skipped.append(common.Skipped(str(seq), 'unreadable: no image files'))
        continue
      sources.append(common.Source(video_id=f'{subject.name}/{seq.name}', label=label,
                                   subject=subject.name, path=str(seq),
                                   frames=tuple(str(p) for p in frames)))
  for subject in layouts.sub_dirs(emotion_dir):
    for seq in layouts.sub_dirs(subject):
      if (subject.name, seq.name) not in labelled and list(seq.glob('*_emotion.txt')) and not (
          images_dir / subject.name / seq.name).exists():
        skipped.append(common.Skipped(str(seq), 'unreadable: an emotion file but no image '
                                      f'folder {IMAGES_DIR}/{subject.name}/{seq.name}'))
  return sources, skipped


class CkPlus(common.VideoBuilder):
  """CK+: posed sequences from neutral to apex, 123 subjects; 327 carry one of 7 emotion codes.

  Each example is one labelled sequence (every frame, neutral to the apex frame the emotion
  file names), face tracked and cropped by MTCNN. Single `train` split; the usual protocol is
  subject-independent 10-fold, made downstream. Sequences without an emotion file are not
  examples; they, unreadable ones and codes outside the config's classes are listed in
  `skipped.tsv`.
  """

  VERSION = tfds.core.Version('3.0.0')
  RELEASE_NOTES = {
    '1.0.0': 'Initial release.',
    '2.0.0': 'Whole face tracks: `clip` holds every frame (frame_step, max_frames), ZLIB '
             'compressed, with `fps` and `video_frames`.',
    '3.0.0': 'Aligned faces: crops turned and scaled by the MTCNN eye landmarks (eyes level, at '
             'fixed places; config `align`, default True); faces detected on key frames and '
             'carried between them (`key_frame_interval`, default 5).',
  }
  CLASS_NAMES = CLASS_NAMES
  BUILDER_CONFIGS = BUILDER_CONFIGS
  DEFAULT_CONFIG_NAME = 'seven'
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  HOMEPAGE = 'https://www.jeffcohn.net/Resources/'
  CITATION = """@inproceedings{lucey2010extended,
  title={The Extended Cohn-Kanade Dataset (CK+): A complete dataset for action unit and
         emotion-specified expression},
  author={Lucey, Patrick and Cohn, Jeffrey F and Kanade, Takeo and Saragih, Jason and
          Ambadar, Zara and Matthews, Iain},
  booktitle={CVPR Workshops}, pages={94--101}, year={2010}
}"""

  def _split_generators(self, dl_manager):
    manual_dir = self._manual_dir(dl_manager)
    _, images_dir = archives.find_or_extract(manual_dir, dl_manager, find_images_dir)
    if images_dir is None:
      raise self._missing(manual_dir, f'no {IMAGES_DIR} folder (S005/001/S005_001_00000001.png '
                          '...) found')
    _, emotion_dir = archives.find_or_extract(manual_dir, dl_manager, find_emotion_dir)
    if emotion_dir is None:
      raise self._missing(manual_dir, f'images found in {images_dir}, but no {EMOTION_DIR} '
                          'folder (S005/001/S005_001_00000011_emotion.txt, from '
                          'Emotion_labels.zip)')
    sources, skipped = list_sources(images_dir, emotion_dir, self.builder_config.class_names)
    if not sources:
      raise self._missing(manual_dir, f'no labelled sequence in {images_dir} with labels from '
                          f'{emotion_dir}')
    labelled = len(sources) + sum(not s.reason.startswith('unlabelled') for s in skipped)
    if labelled != EXPECTED_LABELLED:
      log.warning('CK+: %d sequences have an emotion file; the release labels %d', labelled,
                  EXPECTED_LABELLED)
    log.info('%s: %d sequences of %d subjects (%d left out)', self.builder_config.name,
             len(sources), len({s.subject for s in sources}), len(skipped))
    return {'train': self._generate_examples(sources, skipped)}
