"""Oulu-CASIA NIR&VIS facial expression database: face clips from image sequences."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence

import tensorflow_datasets as tfds
from etils import epath

from tfds_builders import archives, common, emotions

log = logging.getLogger(__name__)

MODALITIES = ('VL', 'NI')
ILLUMINATIONS = ('Strong', 'Weak', 'Dark')
IMAGE_SUFFIXES = ('.jpeg', '.jpg', '.png', '.bmp')
SUBJECT_RE = re.compile(r'P\d+', re.IGNORECASE)
FPS = 25.0  # The database's capture rate (Zhao et al., 2011).

_INSTRUCTIONS = """\
Oulu-CASIA NIR&VIS facial expression database (Zhao et al., 2011).

Where: request it from the University of Oulu, Center for Machine Vision and
Signal Analysis (CMVS), "Oulu-CASIA NIR&VIS facial expression database"
(formerly http://www.cse.oulu.fi/CMV/Downloads/Oulu-CASIA); access needs a
signed license agreement.

What: the original image sequences, the `OriginalImg` tree:
    OriginalImg/{VL,NI}/{Strong,Weak,Dark}/P001/Anger/000.jpeg ...
(expressions Anger Disgust Fear Happiness Sadness Surprise; 320x240 frames,
neutral to apex).

Where to put it: in the manual directory (`--manual_dir` / DownloadConfig(manual_dir=...)),
either unpacked (`<manual_dir>/OriginalImg/...`, at most 4 folders deep) or as
the zip / tar archive that holds it, which is then extracted automatically.
"""


@dataclasses.dataclass(eq=False)
class OuluCasiaConfig(common.ClipConfig):
  """One imaging system x illumination of the release.

  Attributes:
    modality: 'VL' (visible light) or 'NI' (near infrared).
    illumination: 'Strong', 'Weak' or 'Dark'.
  """

  modality: str = 'VL'
  illumination: str = 'Strong'


def _configs() -> list[OuluCasiaConfig]:
  return [
    OuluCasiaConfig(
      name=f'{m.lower()}_{i.lower()}',
      modality=m,
      illumination=i,
      description=f'{m} camera, {i.lower()} illumination; the face track of every '
      'sequence, every frame, 128 x 128.',
    )
    for m in MODALITIES
    for i in ILLUMINATIONS
  ]


def _child(d: epath.Path, name: str) -> epath.Path | None:
  """The sub-folder of `d` called `name`, ignoring case."""
  try:
    for p in d.iterdir():
      if p.name.lower() == name.lower() and p.is_dir():
        return p
  except OSError:
    pass
  return None


def find_condition_dir(root: epath.Path, modality: str, illumination: str) -> epath.Path | None:
  """`.../OriginalImg/<modality>/<illumination>` under `root`, searched 4 levels deep.

  A folder named OriginalImg wins; any folder holding `<modality>/<illumination>`
  is the fallback (e.g. a tree unpacked without its top folder).
  """

  def cond(d):
    m = _child(d, modality)
    return m is not None and _child(m, illumination) is not None

  top = archives.search_tree(root, lambda d: d.name.lower() == 'originalimg' and cond(d), 4)
  top = top or archives.search_tree(root, cond, 4)
  return None if top is None else _child(_child(top, modality), illumination)


def list_sequences(cond_dir: epath.Path, prefix: str, class_names: Sequence[str]):
  """Sources (one per subject x expression folder) and skipped entries of a condition.

  An expression folder's name, lowercased, is its class name; other folders are skipped.
  """
  sources, skipped = [], []
  subjects = sorted(
    (p for p in cond_dir.iterdir() if p.is_dir() and SUBJECT_RE.fullmatch(p.name)),
    key=lambda p: archives.natural_key(p.name),
  )
  for subj in subjects:
    for expr in sorted(subj.iterdir(), key=lambda p: p.name):
      if not expr.is_dir():
        continue
      video_id = f'{prefix}/{subj.name}/{expr.name}'
      label = expr.name.lower()
      if label not in class_names:
        skipped.append(common.Skipped(str(expr), 'unrecognised expression folder'))
        continue
      frames = sorted(
        (p for p in expr.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith('.')),
        key=lambda p: archives.natural_key(p.name),
      )
      if not frames:
        skipped.append(common.Skipped(str(expr), 'unreadable: no image files'))
        continue
      sources.append(common.Source(
        video_id=video_id,
        label=label,
        subject=subj.name,
        path=str(expr),
        frames=tuple(str(p) for p in frames),
        fps=FPS,
      ))
  return sources, skipped


class OuluCasia(common.VideoBuilder):
  """Oulu-CASIA NIR&VIS: 6 posed expressions, 80 subjects, neutral-to-apex sequences.

  Each example is one image sequence (subject x expression): the face track
  of the sorted images (every `frame_step`-th, up to `max_frames`), cropped
  to `size` x `size` by MTCNN, at 25 fps (`fps`), with its length
  (`video_frames`). Single `train`
  split; folds are made by subject downstream. Sequences that cannot be read,
  or where no face is found, are listed in `skipped.tsv` next to the data.
  """

  VERSION = tfds.core.Version('3.0.0')
  RELEASE_NOTES = {
    '1.0.0': 'Initial release.',
    '2.0.0': 'Whole face tracks: `clip` holds every image of a sequence (frame_step, '
             'max_frames), ZLIB compressed, with `fps` (25) and `video_frames`.',
    '3.0.0': 'Aligned faces: crops turned and scaled by the MTCNN eye landmarks (eyes level, at '
             'fixed places; config `align`, default True); faces detected on key frames and '
             'carried between them (`key_frame_interval`, default 5).',
  }
  CLASS_NAMES = emotions.BASIC_EMOTIONS
  BUILDER_CONFIGS = _configs()
  DEFAULT_CONFIG_NAME = 'vl_strong'
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  CITATION = """@article{zhao2011facial,
  title={Facial expression recognition from near-infrared videos},
  author={Zhao, Guoying and Huang, Xiaohua and Taini, Matti and Li, Stan Z and Pietik{\\"a}inen, Matti},
  journal={Image and Vision Computing}, volume={29}, number={9}, pages={607--619}, year={2011}
}"""

  def _split_generators(self, dl_manager):
    cfg = self.builder_config
    if cfg.modality not in MODALITIES or cfg.illumination not in ILLUMINATIONS:
      raise ValueError(
        f'config {cfg.name}: modality must be one of {MODALITIES} and '
        f'illumination one of {ILLUMINATIONS}, got {cfg.modality!r}, {cfg.illumination!r}'
      )
    manual_dir = self._manual_dir(dl_manager)
    _, cond_dir = archives.find_or_extract(
      manual_dir, dl_manager,
      lambda root: find_condition_dir(root, cfg.modality, cfg.illumination),
    )
    if cond_dir is None:
      raise self._missing(
        manual_dir, f'no OriginalImg/{cfg.modality}/{cfg.illumination} folder found'
      )
    sources, skipped = list_sequences(
      cond_dir, f'{cond_dir.parent.name}/{cond_dir.name}', self.CLASS_NAMES
    )
    if not sources:
      raise self._missing(manual_dir, f'no image sequences (P*/<Expression>/*.jpeg) in {cond_dir}')
    log.info('%s: %d sequences of %d subjects in %s', cfg.name, len(sources),
        len({s.subject for s in sources}), cond_dir)
    return {'train': self._generate_examples(sources, skipped)}
