"""MAFW (multi-modal compound affective database in the wild): its single-label set in 5 folds."""

from __future__ import annotations

import dataclasses
import logging
import os
import re

import tensorflow_datasets as tfds
from etils import epath

from emojax.data import video
from tfds_builders import archives, common, emotions, layouts, official_folds

log = logging.getLogger(__name__)

# The 11 single-label classes in the order of the paper (and of MAE-DFER's label indices).
CLASS_NAMES = ('anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise',
               'contempt', 'anxiety', 'helplessness', 'disappointment')
NUM_FOLDS = 5
SINGLE_LABELLED = 9172  # clips in the five test lists together, as the papers give it
SPLIT_PATH = 'Train & Test Set/single/no_caption'
SOURCES = ('clips', 'frames', 'faces')
CLIP_ID = re.compile(r'\d{5}')
SET_DIR = re.compile(r'set[_\s-]*(\d+)', re.IGNORECASE)

_INSTRUCTIONS = """\
MAFW, a multi-modal compound affective database in the wild (Liu et al., ACM MM 2022).

Where: https://mafw-database.github.io/MAFW/ (fill in the academic agreement and e-mail it
from a university account; the authors send the download).

What: the clips and the single-label 5-fold split lists:
    data/clips/00001.mp4 ...                          (10,045 clips)
    Train & Test Set/single/no_caption/set_1/train.txt, test.txt ... set_5
The lists hold one clip a line, `00025.mp4 anger`; labels anger disgust fear happiness
neutral sadness surprise contempt anxiety helplessness disappointment. The frame folders
some copies carry (data/frames/00001/*.jpg, data/faces/00001/*.jpg) are read by the
configs `frames` and `faces`. Any folder above `single/no_caption` is accepted
(`Train_Test_Set`, `split`, `anno`); the multi-label and caption lists are not read.

Where to put it: in the manual directory, unpacked (any depth) or as the archives.
"""


@dataclasses.dataclass(eq=False)
class MafwConfig(common.ClipConfig):
  """Attributes:
    source: 'clips' reads the videos (`data/clips/00001.mp4`); 'frames' / 'faces' read the
      frame folders below a folder whose name starts with that word (`data/frames/00001`).
  """

  source: str = 'clips'


BUILDER_CONFIGS = [
  MafwConfig(name='default', description='The video clips (data/clips/*.mp4).'),
  MafwConfig(name='frames', source='frames', description='The frame folders (data/frames).'),
  MafwConfig(name='faces', source='faces', given_faces=True,
             description='The face-crop folders (data/faces), face crops as given.'),
]


def find_split_dir(root: epath.Path) -> epath.Path | None:
  """The `single/no_caption` folder (any case) holding `set_k/test.txt` folders."""
  def holds(d):
    return (d.parent.name.lower() == 'single'
            and any(SET_DIR.fullmatch(p.name) for p in layouts.sub_dirs(d)))

  return layouts.find_named_dir(root, ['no_caption'], holds, 6)


def find_clips(root: epath.Path, source: str = 'clips') -> dict[str, epath.Path]:
  """Clip id ('00001') -> its video file (`source='clips'`: any video named by a 5-digit id) or
  its frame folder (a 5-digit folder below a folder whose name starts with `source`)."""
  if source not in SOURCES:
    raise ValueError(f'builder config source={source!r} must be one of {SOURCES}')
  found: dict[str, epath.Path] = {}
  for dirpath, dirnames, filenames in os.walk(os.fspath(root)):
    clips = sorted(d for d in dirnames if CLIP_ID.fullmatch(d))
    dirnames[:] = sorted(d for d in dirnames if layouts.visible(d) and d not in clips)
    if source == 'clips':
      for f in sorted(filenames):
        stem, suffix = os.path.splitext(f)
        if CLIP_ID.fullmatch(stem) and suffix.lower() in video.VIDEO_SUFFIXES:
          found.setdefault(stem, epath.Path(dirpath) / f)
      continue
    parts = os.path.relpath(dirpath, root).lower().split(os.sep)
    if clips and any(p.startswith(source) for p in parts):
      for d in clips:
        found.setdefault(d, epath.Path(dirpath) / d)
  return found


def read_split_file(path: epath.Path) -> tuple[list[tuple[str, str, int]], list[common.Skipped]]:
  """Rows (clip id, class name, line) of a `train.txt` / `test.txt`, and the unusable lines."""
  rows, skipped = [], []
  for n, line in enumerate(path.read_text(encoding='utf-8-sig').splitlines(), 1):
    fields = line.split()
    if not fields:
      continue
    where = f'{path}:{n}'
    stem = os.path.splitext(fields[0])[0]
    word = fields[1].lower() if len(fields) > 1 else ''
    label = word if word in CLASS_NAMES else emotions.canonical(word)
    if not stem.isdigit() or not word:
      skipped.append(common.Skipped(where, f'unreadable line {line.strip()!r}'))
    elif label not in CLASS_NAMES:
      skipped.append(common.Skipped(where, f'unlabelled: {fields[1]!r} is not one of the 11 '
                                    'single-label classes'))
    else:
      rows.append((f'{int(stem):05d}', label, n))
  return rows, skipped


def split_files(split_dir: epath.Path, name: str) -> dict[int, epath.Path]:
  """Fold number -> its `set_k/<name>` (`train.txt` or `test.txt`, any case)."""
  out = {}
  for d in layouts.sub_dirs(split_dir):
    m = SET_DIR.fullmatch(d.name)
    files = [p for p in d.glob('*') if p.name.lower() == name] if m else []
    if files:
      out[int(m[1])] = files[0]
  return dict(sorted(out.items()))


def list_folds(split_dir: epath.Path, clips: dict[str, epath.Path], source: str = 'clips'):
  """Sources per fold (its test list), skipped entries, and the fold of each listed clip."""
  def source_of(clip, label):
    found = clips.get(clip)
    frames = layouts.image_files(found) if found is not None and source != 'clips' else []
    if found is None or (source != 'clips' and not frames):
      return (f'no frames in {found}' if found is not None else
              'no video file' if source == 'clips' else f'no folder in {source}')
    return common.Source(video_id=clip, label=label, subject=clip, path=str(found),
                         frames=tuple(str(p) for p in frames))
  return official_folds.fold_splits(split_files(split_dir, 'test.txt'), read_split_file,
                                    source_of)


def check_train_files(split_dir: epath.Path, fold_of: dict[str, str]) -> None:
  """Warns when a fold's `train.txt` is not the union of the other folds' `test.txt`."""
  official_folds.warn_if_train_lists_differ('MAFW', split_files(split_dir, 'train.txt'),
                                            read_split_file, fold_of)


class Mafw(common.VideoBuilder):
  """MAFW: 10,045 clips; the single-label set (11 classes) in 5 official folds.

  One split per official fold, `fold_1` ... `fold_5`, holding that fold's test list
  (`single/no_caption/set_k/test.txt`); fold k trains on the other four. Each example is one
  clip (its video, or its frame folder for the configs `frames` / `faces`), face tracked and
  cropped by MTCNN (`faces`: O-Net finds the landmarks of the given face crops, no search).
  `video_id` and `subject` are the clip id (MAFW names no actors). Unreadable lines, unknown
  labels, clips without video, frames or face, and clips listed twice are in `skipped.tsv`.
  """

  VERSION = tfds.core.Version('2.0.0')
  RELEASE_NOTES = {
    '1.0.0': 'Initial release: whole face tracks of the single-label folds.',
    '2.0.0': 'Aligned faces: crops turned and scaled by the MTCNN eye landmarks (eyes level, at '
             'fixed places; config `align`, default True); faces detected on key frames and '
             'carried between them (`key_frame_interval`, default 5); config faces takes its '
             'face crops as given (`given_faces`: O-Net finds their landmarks, no search).',
  }
  CLASS_NAMES = CLASS_NAMES
  BUILDER_CONFIGS = BUILDER_CONFIGS
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  HOMEPAGE = 'https://mafw-database.github.io/MAFW/'
  CITATION = """@inproceedings{liu2022mafw,
  title={MAFW: A Large-scale, Multi-modal, Compound Affective Database for Dynamic Facial
         Expression Recognition in the Wild},
  author={Liu, Yuanyuan and Dai, Wei and Feng, Chuanxu and Wang, Wenbin and Yin, Guanghao and
          Zeng, Jiabei and Shan, Shiguang},
  booktitle={Proceedings of the 30th ACM International Conference on Multimedia},
  pages={24--32}, year={2022}
}"""

  def _split_generators(self, dl_manager):
    source = self.builder_config.source
    manual_dir = self._manual_dir(dl_manager)
    _, split_dir = archives.find_or_extract(manual_dir, dl_manager, find_split_dir)
    if split_dir is None:
      raise self._missing(manual_dir, f'no {SPLIT_PATH}/set_1/test.txt found')
    _, clips = archives.find_or_extract(manual_dir, dl_manager,
                                        lambda root: find_clips(root, source))
    if not clips:
      other = [s for s in SOURCES if s != source and find_clips(manual_dir, s)]
      hint = f'; found {", ".join(other)}: use --config=' + (
        'default' if other[0] == 'clips' else other[0]) if other else ''
      expected = 'data/clips/00001.mp4' if source == 'clips' else f'data/{source}/00001/*.jpg'
      raise self._missing(manual_dir, f'no MAFW {source} ({expected}) found{hint}')
    folds, skipped, fold_of = list_folds(split_dir, clips, source)
    if len(folds) != NUM_FOLDS:
      log.warning('MAFW: %d test lists in %s, the release has %d', len(folds), split_dir,
                  NUM_FOLDS)
    check_train_files(split_dir, fold_of)
    log.info('MAFW: %d %s, %d clips in the folds (%s; the papers give %d single-labelled)',
             len(clips), source, len(fold_of), ', '.join(f'{k}: {len(v)}' for k, v in
                                                        folds.items()), SINGLE_LABELLED)
    names = [k for k, v in folds.items() if v]
    if not names:
      raise self._missing(manual_dir, f'no listed clip has its {source} ({len(fold_of)} listed)')
    return {k: self._generate_examples(folds[k], skipped if k == names[0] else ())
            for k in names}
