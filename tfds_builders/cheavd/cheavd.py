"""CHEAVD 2.0 (MEC 2017): face tracks of the clips a user-written manifest CSV lists."""

from __future__ import annotations

import logging
from collections import Counter

import tensorflow_datasets as tfds
from etils import epath

from tfds_builders import common, emotions, layouts

log = logging.getLogger(__name__)

CLASS_NAMES = ('neutral', 'anger', 'happiness', 'sadness', 'worried', 'anxious', 'surprise',
               'disgust')
SPLITS = {'train': 'train', 'training': 'train', 'validation': 'validation', 'val': 'validation',
          'valid': 'validation', 'dev': 'validation', 'test': 'test', 'testing': 'test'}
COLUMNS = ('path', 'label', 'split', 'speaker')
MANIFEST = 'manifest.csv'
RELEASE_COUNTS = {'train': 4917, 'validation': 707, 'test': 1406}

EXAMPLE = """\
    path,label,split,speaker
    train/00001.avi,angry,train,F_001
    train/00002.avi,neutral,train,M_017
    val/00001.avi,worried,validation,F_102
    test/00001.avi,,test,"""

_INSTRUCTIONS = f"""\
CHEAVD 2.0, the Chinese Natural Audio-Visual Emotion Database (Li et al.; the data of
the MEC 2017 challenge).

Where: request it from the Institute of Automation, Chinese Academy of Sciences
(NLPR; the MEC 2017 organisers, Ya Li / Jianhua Tao); a licence agreement is needed.

What: the release's own layout is not publicly documented, so the builder reads a
manifest you write: `{MANIFEST}` in the manual directory (or the only *.csv there with
these columns), one row per clip, header `{",".join(COLUMNS)}`:
{EXAMPLE}
  path: the video file, relative to the CSV's folder (or absolute);
  label: one of neutral angry happy sad worried anxious surprise disgust (English,
    any case; 'anger', 'happiness', 'sadness' too); empty when unknown (skipped);
  split: train, validation (or val / dev) or test, as the release assigns it;
  speaker: the speaker id if the release gives one, else empty.
"""


def find_manifest(manual_dir: epath.Path) -> epath.Path | None:
  """`manifest.csv` in `manual_dir`, else the only CSV there whose header has the columns."""
  named = manual_dir / MANIFEST
  if named.exists():
    return named
  candidates = [p for p in sorted(manual_dir.glob('*.csv'))
                if set(COLUMNS) <= set(layouts.csv_header(p))]
  return candidates[0] if len(candidates) == 1 else None


def read_manifest(path: epath.Path):
  """Sources per split, and skipped rows, of a manifest CSV; ValueError on a wrong header."""
  header = layouts.csv_header(path)
  missing = [c for c in COLUMNS if c not in header]
  if missing:
    raise ValueError(f'{path}: the header must name the columns {",".join(COLUMNS)}; '
                     f'missing {missing} in {header}. Example:\n{EXAMPLE}')
  by_split: dict[str, list[common.Source]] = {}
  skipped = []
  for line, value, video in layouts.manifest_rows(path, COLUMNS, skipped):
    split = SPLITS.get(value['split'].lower())
    label = emotions.canonical(value['label']) if value['label'] else None
    if split is None:
      why = f'unrecognised split {value["split"]!r} (line {line}): train, validation or test'
    elif not value['label']:
      why = f'unlabelled (line {line})'
    elif label not in CLASS_NAMES:
      why = f'unrecognised label {value["label"]!r} (line {line})'
    else:
      why = ''
    if why:
      skipped.append(common.Skipped(video, why))
      continue
    video_id = layouts.posix(value['path'])
    by_split.setdefault(split, []).append(common.Source(
      video_id=video_id, label=label, subject=value['speaker'] or video_id, path=video))
  return by_split, skipped


class Cheavd(common.VideoBuilder):
  """CHEAVD 2.0: clips from Chinese films, TV series and talk shows, 8 emotion classes.

  Splits `train`, `validation` and `test` as the manifest assigns them (the official MEC 2017
  partition: 4917 / 707 / 1406 clips). Each example is one clip, face tracked and cropped by
  MTCNN. `subject` is the manifest's speaker, or the clip's path when it gives none. Unlabelled
  rows, unknown labels or splits, duplicate rows, unreadable clips and clips without a face are
  listed in `skipped.tsv`.
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
  BUILDER_CONFIGS = [common.ClipConfig(name='default', description='Whole face tracks.')]
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  CITATION = """@inproceedings{li2018mec,
  title={MEC 2017: Multimodal emotion recognition challenge},
  author={Li, Ya and Tao, Jianhua and Schuller, Bj{\\"o}rn and Shan, Shiguang and Jiang, Dongmei
          and Jia, Jia},
  booktitle={2018 First Asian Conference on Affective Computing and Intelligent Interaction
             (ACII Asia)}, pages={1--5}, year={2018}
}"""

  def _split_generators(self, dl_manager):
    manual_dir = self._manual_dir(dl_manager)
    manifest = find_manifest(manual_dir)
    if manifest is None:
      raise self._missing(manual_dir, f'no {MANIFEST} (or single CSV with the columns '
                          f'{",".join(COLUMNS)})')
    try:
      by_split, skipped = read_manifest(manifest)
    except ValueError as e:
      raise self._missing(manual_dir, str(e)) from None
    if not by_split:
      raise self._missing(manual_dir, f'no usable row in {manifest}')
    for split, sources in sorted(by_split.items()):
      log.info('CHEAVD %s: %d clips %s', split, len(sources),
               dict(sorted(Counter(s.label for s in sources).items())))
      if len(sources) != RELEASE_COUNTS[split]:
        log.warning('CHEAVD %s: %d labelled clips in the manifest; MEC 2017 has %d', split,
                    len(sources), RELEASE_COUNTS[split])
    names = sorted(by_split)
    # Unusable rows go with the first split's manifest; the base merges every split's entries.
    return {split: self._generate_examples(by_split[split], skipped if split == names[0] else ())
            for split in names}
