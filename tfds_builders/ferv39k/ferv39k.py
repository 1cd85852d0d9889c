"""FERV39k (multi-scene facial expressions in videos): face tracks of its face-crop frames."""

from __future__ import annotations

import logging
import re
from collections import Counter

import tensorflow_datasets as tfds
from etils import epath

from tfds_builders import archives, common, emotions, layouts

log = logging.getLogger(__name__)

# The release's class folders Angry Disgust Fear Happy Neutral Sad Surprise, in that order.
CLASS_NAMES = ('anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise')
CLIP_DIR = '2_ClipsforFaceCrop'
SETUP_DIR = '4_setups/All_scenes'
# TFDS split -> its list file in `4_setups/All_scenes`.
SPLIT_FILES = {'train': 'train_All.csv', 'test': 'test_All.csv'}
RELEASE_COUNTS = {'train': 31088, 'test': 7847}

_INSTRUCTIONS = """\
FERV39k, multi-scene facial expressions in videos (Wang et al., CVPR 2022).

Where: https://github.com/wangyanckxx/FERV39k (e-mail the authors from a university
account for the password; Baidu or Google Drive download).

What: the face-crop frame folders and the All_scenes split lists:
    2_ClipsforFaceCrop/Action/Angry/0000/*.jpg ...   (<Scene>/<Emotion>/<4-digit clip>)
    4_setups/All_scenes/train_All.csv                (31,088 lines `Action/Sad/0010 Sad`)
    4_setups/All_scenes/test_All.csv                 (7,847 lines)
Emotions Angry Disgust Fear Happy Neutral Sad Surprise. Copies that nest the clip
folder once more (2_ClipsforFaceCrop-002/2_ClipsforFaceCrop/...) or keep the lists
elsewhere (any folder holding both train_All.csv and test_All.csv) are read too; the
scene images (3_ClipsforScenImages) and the per-scene setups are not read.

Where to put it: in the manual directory, unpacked (any depth) or as the archives.
"""


def _holds_emotion_folders(scene: epath.Path) -> bool:
  return any(emotions.canonical(p.name) in CLASS_NAMES for p in layouts.sub_dirs(scene))


def find_clip_root(root: epath.Path) -> epath.Path | None:
  """The `2_ClipsforFaceCrop` folder (any case) whose scene folders hold emotion folders."""
  return layouts.find_named_dir(
    root, [CLIP_DIR], lambda d: any(_holds_emotion_folders(s) for s in layouts.sub_dirs(d)), 6)


def _split_file(d: epath.Path, name: str) -> epath.Path | None:
  with_name = [p for p in d.glob('*') if p.name.lower() == name.lower() and p.is_file()]
  return with_name[0] if with_name else None


def find_split_dir(root: epath.Path) -> epath.Path | None:
  """The folder holding `train_All.csv` and `test_All.csv` (`4_setups/All_scenes`)."""
  return archives.search_tree(
    root, lambda d: all(_split_file(d, n) for n in SPLIT_FILES.values()), 6)


def read_split_file(path: epath.Path) -> tuple[list[tuple[str, str, int]], list[common.Skipped]]:
  """Rows (clip path `Scene/Emotion/0000`, class name, line) of a split list, and the lines that
  cannot be used. Fields are separated by spaces (as released), tabs or a comma; a first line
  without a clip path is a header."""
  rows, skipped = [], []
  for n, line in enumerate(path.read_text(encoding='utf-8-sig').splitlines(), 1):
    fields = [f for f in re.split(r'[\s,]+', line.strip()) if f]
    if not fields:
      continue
    where = f'{path}:{n}'
    clip = fields[0].replace('\\', '/').strip('/')
    label = emotions.canonical(fields[1]) if len(fields) > 1 else None
    if n == 1 and '/' not in clip and label is None:
      continue
    if len(fields) < 2 or clip.count('/') != 2:
      skipped.append(common.Skipped(where, f'unreadable line {line.strip()!r}'))
    elif label not in CLASS_NAMES:
      skipped.append(common.Skipped(where, f'unlabelled: {fields[1]!r} is not one of Angry '
                                    'Disgust Fear Happy Neutral Sad Surprise'))
    else:
      rows.append((clip, label, n))
  return rows, skipped


def list_split(path: epath.Path, clip_root: epath.Path, split_of: dict[str, str], split: str):
  """Sources and skipped entries of one split list; `split_of` records where each clip went."""
  rows, skipped = read_split_file(path)
  sources = []
  for clip, label, line in rows:
    where = f'{path}:{line}'
    if clip in split_of:
      skipped.append(common.Skipped(where, f'duplicate: clip {clip} is in {split_of[clip]}'))
      continue
    split_of[clip] = split
    folder = clip_root / clip
    frames = layouts.image_files(folder)
    if not frames:
      why = f'no frames in {folder}' if folder.is_dir() else 'no frame folder'
      skipped.append(common.Skipped(where, f'missing: clip {clip}: {why}'))
      continue
    sources.append(common.Source(video_id=clip, label=label, subject=clip, path=str(folder),
                                 frames=tuple(str(p) for p in frames)))
  return sources, skipped


class Ferv39k(common.VideoBuilder):
  """FERV39k: 38,935 clips of 22 scenes, 7 classes, in the official train / test split.

  Splits `train` (31,088 clips of `train_All.csv`) and `test` (7,847 of `test_All.csv`); the
  release has no validation split. Each example is one clip's face-crop frame folder: MTCNN's O-Net
  finds the landmarks of the given crops and they are aligned and framed as every builder's
  (config `detected`: searched by MTCNN). `video_id` and `subject` are the
  clip's path `Scene/Emotion/0000` (FERV39k names no actors). Unreadable lines, unknown labels,
  clips without frames or face and clips listed twice are in `skipped.tsv`.
  """

  VERSION = tfds.core.Version('2.0.0')
  RELEASE_NOTES = {
    '1.0.0': 'Initial release: whole face tracks of the All_scenes split.',
    '2.0.0': 'Aligned faces: crops turned and scaled by the MTCNN eye landmarks (eyes level, at '
             'fixed places; config `align`, default True); faces detected on key frames and '
             'carried between them (`key_frame_interval`, default 5); the frames are taken as '
             'the face crops they are (`given_faces`: O-Net finds their landmarks, no search for '
             'faces), config `detected` searches them as before.',
  }
  CLASS_NAMES = CLASS_NAMES
  BUILDER_CONFIGS = [
    common.ClipConfig(name='default', given_faces=True,
                      description='All_scenes, whole tracks, face crops as given.'),
    common.ClipConfig(name='detected', description='All_scenes, faces searched by MTCNN.'),
  ]
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  HOMEPAGE = 'https://wangyanckxx.github.io/Proj_CVPR2022_FERV39k.html'
  CITATION = """@inproceedings{wang2022ferv39k,
  title={FERV39k: A Large-Scale Multi-Scene Dataset for Facial Expression Recognition in Videos},
  author={Wang, Yan and Sun, Yixuan and Huang, Yiwen and Liu, Zhongying and Gao, Shuyong and
          Zhang, Wei and Ge, Weifeng and Zhang, Wenqiang},
  booktitle={Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition},
  pages={20922--20931}, year={2022}
}"""

  def _split_generators(self, dl_manager):
    manual_dir = self._manual_dir(dl_manager)
    _, split_dir = archives.find_or_extract(manual_dir, dl_manager, find_split_dir)
    if split_dir is None:
      raise self._missing(manual_dir, f'no {SETUP_DIR}/{SPLIT_FILES["train"]} and '
                          f'{SPLIT_FILES["test"]} found')
    _, clip_root = archives.find_or_extract(manual_dir, dl_manager, find_clip_root)
    if clip_root is None:
      raise self._missing(manual_dir, f'no {CLIP_DIR} folder of face-crop frame folders '
                          f'({CLIP_DIR}/Action/Angry/0000/*.jpg) found')
    split_of: dict[str, str] = {}
    found, skipped = {}, []
    for split, name in SPLIT_FILES.items():
      sources, bad = list_split(_split_file(split_dir, name), clip_root, split_of, split)
      skipped.extend(bad)
      found[split] = sources
      counts = Counter(s.label for s in sources)
      log.info('FERV39k %s: %d clips %s', split, len(sources), dict(sorted(counts.items())))
      if len(sources) != RELEASE_COUNTS[split]:
        log.warning('FERV39k %s: %d clips found, the release lists %d', split, len(sources),
                    RELEASE_COUNTS[split])
    names = [k for k, v in found.items() if v]
    if not names:
      raise self._missing(manual_dir, f'no listed clip has a frame folder in {clip_root} '
                          f'({len(split_of)} listed)')
    return {k: self._generate_examples(found[k], skipped if k == names[0] else ())
            for k in names}
