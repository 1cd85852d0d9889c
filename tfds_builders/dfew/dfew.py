"""DFEW (Dynamic Facial Expressions in the Wild): face tracks of its frame folders, in 5 folds."""

from __future__ import annotations

import csv
import dataclasses
import logging
import os
import re

import tensorflow_datasets as tfds
from etils import epath

from tfds_builders import archives, common, layouts, official_folds

log = logging.getLogger(__name__)

# Labels 1-7 of the csv files, in order.
CLASS_NAMES = ('happiness', 'sadness', 'neutral', 'anger', 'surprise', 'disgust', 'fear')
NUM_FOLDS = 5
SPLIT_DIR = 'EmoLabel_DataSplit'
TEST_DIR = re.compile(r'test\W*single\W*label(?:l)?ed\W*', re.IGNORECASE)
TRAIN_DIR = re.compile(r'train\W*single\W*label(?:l)?ed\W*', re.IGNORECASE)
CLIP_ID = re.compile(r'\d{5}')
SIXTEEN = re.compile(r'.*16f.*', re.IGNORECASE)

_INSTRUCTIONS = """\
DFEW, Dynamic Facial Expressions in the Wild (Jiang et al., ACM MM 2020).

Where: request it at https://dfew-dataset.github.io/ (a signed agreement, sent by the
authors at Southeast University).

What: the face frames and the official split files:
    Clip/clip_224x224/00001/00001.jpg ...        (one folder of frames per clip)
    EmoLabel_DataSplit/test(single-labeled)/set_1.csv ... set_5.csv
    EmoLabel_DataSplit/train(single-labeled)/set_1.csv ... set_5.csv
The csv files have the header `video_name,label`, labels 1-7 = Happy, Sad, Neutral,
Angry, Surprise, Disgust, Fear. Re-packed copies that nest the clip folders once more
(clip_224x224/clip_224x224/00001) or split them over part folders are read too; the
`clip_224x224_16f` variant (16 frames per clip) is read by the config `clip_16f`.

Where to put it: in the manual directory, unpacked (any depth) or as the archives.
"""


@dataclasses.dataclass(eq=False)
class DfewConfig(common.ClipConfig):
  """Attributes:
    sixteen_frames: read `clip_224x224_16f` (16 frames per clip) instead of the full
      frame folders.
  """

  sixteen_frames: bool = False


BUILDER_CONFIGS = [
  DfewConfig(name='default', given_faces=True,
             description='The full frame folders (clip_224x224), face crops as given.'),
  DfewConfig(name='clip_16f', sixteen_frames=True, given_faces=True,
             description='The 16-frame folders (clip_224x224_16f) that many DFER codebases use.'),
  DfewConfig(name='detected', description='The full frame folders, faces searched by MTCNN.'),
]


def find_split_dir(root: epath.Path) -> epath.Path | None:
  """`EmoLabel_DataSplit` (or any folder holding a `test(single-labeled)` folder)."""
  def holds(d):
    return any(TEST_DIR.fullmatch(p.name) for p in layouts.sub_dirs(d))

  return (layouts.find_named_dir(root, [SPLIT_DIR], holds, 5)
          or archives.search_tree(root, holds, 5))


def find_clip_dirs(root: epath.Path, sixteen_frames: bool = False) -> dict[str, epath.Path]:
  """Clip id ('00001') -> its frame folder: every 5-digit folder under `root`, taking those
  below a '*16f*' folder only for `sixteen_frames` (and only those then)."""
  found: dict[str, epath.Path] = {}
  for dirpath, dirnames, _ in os.walk(os.fspath(root)):
    clips = [d for d in dirnames if CLIP_ID.fullmatch(d)]
    dirnames[:] = [d for d in dirnames if layouts.visible(d) and d not in clips]
    if clips and bool(SIXTEEN.fullmatch(os.path.relpath(dirpath, root).replace(os.sep, ' '))) == (
        sixteen_frames):
      for d in sorted(clips):
        found.setdefault(d, epath.Path(dirpath) / d)
  return found


def read_split_csv(path: epath.Path) -> tuple[list[tuple[str, int, int]], list[common.Skipped]]:
  """Rows (clip id, label 1-7, line) of a `set_k.csv`, and the rows that cannot be used."""
  rows, skipped = [], []
  with path.open(encoding='utf-8-sig') as f:
    reader = csv.reader(f)
    header = [c.strip().lower() for c in next(reader, [])]
    if header[:2] != ['video_name', 'label']:
      raise ValueError(f'{path}: expected the header video_name,label, got {",".join(header)}')
    for row in reader:
      where = f'{path}:{reader.line_num}'
      if not row or not ''.join(row).strip():
        continue
      name, label = (row + ['', ''])[:2]
      if not name.strip().isdigit() or not label.strip().isdigit():
        skipped.append(common.Skipped(where, f'unreadable row {",".join(row)!r}'))
      elif not 1 <= int(label) <= len(CLASS_NAMES):
        skipped.append(common.Skipped(where, f'unlabelled: label {int(label)} is not 1-7'))
      else:
        rows.append((f'{int(name):05d}', int(label), reader.line_num))
  return rows, skipped


def split_files(split_dir: epath.Path, pattern: re.Pattern) -> dict[int, epath.Path]:
  """Fold number -> its `set_k.csv` in the train or test folder of `split_dir`."""
  folder = next((p for p in layouts.sub_dirs(split_dir) if pattern.fullmatch(p.name)), None)
  if folder is None:
    return {}
  out = {}
  for p in folder.glob('*.csv'):
    if m := re.fullmatch(r'set[_\s-]*(\d+)\.csv', p.name, re.IGNORECASE):
      out[int(m[1])] = p
  return dict(sorted(out.items()))


def list_folds(split_dir: epath.Path, clip_dirs: dict[str, epath.Path]):
  """Sources per fold (its test set), skipped entries, and the fold of each listed clip."""
  def source_of(clip, label):
    folder = clip_dirs.get(clip)
    frames = layouts.image_files(folder) if folder is not None else []
    if not frames:
      return 'no frame folder' if folder is None else f'no frames in {folder}'
    return common.Source(video_id=clip, label=CLASS_NAMES[label - 1], subject=clip,
                         path=str(folder), frames=tuple(str(p) for p in frames))
  return official_folds.fold_splits(split_files(split_dir, TEST_DIR), read_split_csv, source_of)


def check_train_files(split_dir: epath.Path, fold_of: dict[str, str]) -> None:
  """Warns when a fold's train csv is not the union of the other folds' test csvs."""
  official_folds.warn_if_train_lists_differ('DFEW', split_files(split_dir, TRAIN_DIR),
                                            read_split_csv, fold_of)


class Dfew(common.VideoBuilder):
  """DFEW: 16,372 movie clips; 12,059 carry one of 7 labels, split into 5 official folds.

  One split per official fold, `fold_1` ... `fold_5`, holding that fold's test set (its
  `test(single-labeled)/set_k.csv`); fold k trains on the other four. Each example is one clip's
  frame folder; the frames are face crops already, so MTCNN's O-Net only finds their landmarks
  and the crops are aligned and framed as every builder's (config `detected`: searched by MTCNN).
  `subject` is the clip id (DFEW names no actors). Rows that cannot be read, clips without
  frames or face, and clips listed twice are in `skipped.tsv`.
  """

  VERSION = tfds.core.Version('3.0.0')
  RELEASE_NOTES = {
    '1.0.0': 'Initial release.',
    '2.0.0': 'Whole face tracks: `clip` holds every frame (frame_step, max_frames), ZLIB '
             'compressed, with `fps` and `video_frames`.',
    '3.0.0': 'Aligned faces: crops turned and scaled by the MTCNN eye landmarks (eyes level, at '
             'fixed places; config `align`, default True); faces detected on key frames and '
             'carried between them (`key_frame_interval`, default 5); the clip_224x224 frames are '
             'taken as the face crops they are (`given_faces`: O-Net finds their landmarks, no '
             'search for faces), config `detected` searches them as before.',
  }
  CLASS_NAMES = CLASS_NAMES
  BUILDER_CONFIGS = BUILDER_CONFIGS
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  HOMEPAGE = 'https://dfew-dataset.github.io/'
  CITATION = """@inproceedings{jiang2020dfew,
  title={DFEW: A Large-Scale Database for Recognizing Dynamic Facial Expressions in the Wild},
  author={Jiang, Xingxun and Zong, Yuan and Zheng, Wenming and Tang, Chuangao and Xia, Wanchuang
          and Lu, Cheng and Liu, Jiateng},
  booktitle={Proceedings of the 28th ACM International Conference on Multimedia},
  pages={2881--2889}, year={2020}
}"""

  def _split_generators(self, dl_manager):
    cfg = self.builder_config
    manual_dir = self._manual_dir(dl_manager)
    _, split_dir = archives.find_or_extract(manual_dir, dl_manager, find_split_dir)
    if split_dir is None:
      raise self._missing(manual_dir, f'no {SPLIT_DIR}/test(single-labeled)/set_1.csv found')
    _, clip_dirs = archives.find_or_extract(
      manual_dir, dl_manager, lambda root: find_clip_dirs(root, cfg.sixteen_frames))
    if not clip_dirs:
      other = find_clip_dirs(manual_dir, not cfg.sixteen_frames)
      hint = (f'; {len(other)} clip folders of the other variant were found: use --config='
              f'{"clip_16f" if not cfg.sixteen_frames else "default"}') if other else ''
      raise self._missing(manual_dir, 'no clip frame folders (Clip/clip_224x224'
                          f'{"_16f" if cfg.sixteen_frames else ""}/00001/*.jpg) found{hint}')
    try:
      folds, skipped, fold_of = list_folds(split_dir, clip_dirs)
    except ValueError as e:
      raise self._missing(manual_dir, str(e)) from None
    if len(folds) != NUM_FOLDS:
      log.warning('DFEW: %d test csv files in %s, the release has %d', len(folds), split_dir,
                  NUM_FOLDS)
    check_train_files(split_dir, fold_of)
    listed = set(fold_of)
    log.info('DFEW: %d clip folders, %d clips in the folds (%s)', len(clip_dirs), len(listed),
             ', '.join(f'{k}: {len(v)}' for k, v in folds.items()))
    names = [k for k, v in folds.items() if v]
    if not names:
      raise self._missing(manual_dir, f'no listed clip has a frame folder ({len(listed)} listed)')
    return {k: self._generate_examples(folds[k], skipped if k == names[0] else ())
            for k in names}
