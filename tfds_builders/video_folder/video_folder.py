"""`video_folder`: face tracks of any folder of videos, with or without labels (see README.md).

The folder is the manual directory. What it holds decides how it is read:

  * `manifest.csv` (path,label,subject[,split]): the rows, in their splits;
  * otherwise class sub-folders: `<folder>/<class>/**/<video>` (config `labelled`), or every video
    at any depth (config `unlabelled`).

`video_folder.toml`, optional, sets the class order (`classes`) and where the subject is in a
video's path (`subject_pattern`, a regular expression with a group named `subject`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tomllib
from collections import Counter

import tensorflow_datasets as tfds
from etils import epath

from emojax.data import video as video_lib
from tfds_builders import archives, common, layouts

log = logging.getLogger(__name__)

SETTINGS = 'video_folder.toml'
MANIFEST = 'manifest.csv'
SUFFIXES = video_lib.VIDEO_SUFFIXES
SPLIT_NAME = re.compile(r'[a-z][a-z0-9_]*')
DEFAULT_SPLIT = 'train'

EXAMPLE_SETTINGS = """\
    classes = ['neutral', 'happy', 'sad']               # label order (default: sorted names)
    subject_pattern = '^[^/]+/(?P<subject>[^/]+)/'      # happy/anna/clip3.mp4 -> anna"""


@dataclasses.dataclass(frozen=True)
class Settings:
  """`video_folder.toml`: `classes` (label order; () for the sorted names found) and
  `subject_pattern` (None: every video is its own subject)."""
  classes: tuple[str, ...] = ()
  subject_pattern: re.Pattern | None = None


@dataclasses.dataclass
class Listing:
  """What a folder or manifest holds: sources per split, entries left out, the class names."""
  by_split: dict[str, list[common.Source]]
  skipped: list[common.Skipped]
  class_names: tuple[str, ...]
  how: str  # 'manifest.csv', 'class folders' or 'every video'


def read_settings(manual_dir: os.PathLike | str) -> Settings:
  """The folder's `video_folder.toml` (defaults without one); ManualDirError naming the file and
  the key on anything unusable."""
  path = epath.Path(manual_dir) / SETTINGS
  if not path.exists():
    return Settings()

  def fail(problem: str):
    return archives.ManualDirError(f'{path}: {problem}. Example:\n{EXAMPLE_SETTINGS}')

  try:
    values = tomllib.loads(path.read_text())
  except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
    raise fail(f'not a TOML file ({e})') from None
  unknown = sorted(set(values) - {'classes', 'subject_pattern'})
  if unknown:
    raise fail(f'unknown key {unknown[0]!r}; the keys are classes and subject_pattern')
  classes = values.get('classes', [])
  if (not isinstance(classes, list) or not all(isinstance(c, str) and c.strip() for c in classes)
      or len(set(classes)) != len(classes)):
    raise fail(f'classes = {classes!r} must be a list of distinct, non-empty names')
  pattern = values.get('subject_pattern')
  if pattern is not None:
    try:
      pattern = re.compile(pattern) if isinstance(pattern, str) else None
    except re.error as e:
      raise fail(f'subject_pattern is not a regular expression ({e})') from None
    if pattern is None or 'subject' not in pattern.groupindex:
      raise fail("subject_pattern must be a regular expression with a group named 'subject', "
                 '(?P<subject>...)')
  return Settings(tuple(classes), pattern)


def subject_of(video_id: str, settings: Settings) -> str | None:
  """The subject in a video's path relative to the folder (`subject_pattern`, searched), the
  video id itself without a pattern, or None where the pattern finds none."""
  if settings.subject_pattern is None:
    return video_id
  found = settings.subject_pattern.search(video_id)
  return found['subject'] if found and found['subject'] else None


def _no_subject(path: str, video_id: str, settings: Settings) -> common.Skipped:
  return common.Skipped(path, f'no subject: subject_pattern {settings.subject_pattern.pattern!r} '
                              f'of {SETTINGS} finds none in {video_id!r}')


def _walk(root: str, folder: str) -> tuple[list[str], list[str]]:
  """Video files and other files under `root/folder`, as paths relative to `root`."""
  videos, others = [], []
  for dirpath, dirnames, filenames in os.walk(os.path.join(root, folder)):
    dirnames[:] = [d for d in dirnames if layouts.visible(d)]
    for name in filenames:
      if layouts.visible(name) and name != 'Thumbs.db':
        rel = layouts.posix(os.path.relpath(os.path.join(dirpath, name), root))
        (videos if name.lower().endswith(SUFFIXES) else others).append(rel)
  return (sorted(videos, key=archives.natural_key), sorted(others, key=archives.natural_key))


def _not_a_video(path: str) -> common.Skipped:
  suffix = os.path.splitext(path)[1] or 'no suffix'
  return common.Skipped(path, f'not a video file ({suffix}); videos end in {" ".join(SUFFIXES)}')


def list_tree(root: os.PathLike | str, settings: Settings, labelled: bool) -> Listing:
  """The videos under `root`: in class sub-folders (`labelled`; class names in sorted order of
  the folders that hold videos, or `settings.classes`), or all of them, unlabelled."""
  root = os.fspath(root)
  sources, skipped, found = [], [], []
  entries = [e for e in sorted(os.listdir(root)) if layouts.visible(e)]
  folders = [e for e in entries if os.path.isdir(os.path.join(root, e))]
  loose = sorted((e for e in entries if e.lower().endswith(SUFFIXES)
                  and os.path.isfile(os.path.join(root, e))), key=archives.natural_key)
  if labelled:
    skipped += [common.Skipped(os.path.join(root, f), 'not in a class folder') for f in loose]
  groups = [(folder, *_walk(root, folder)) for folder in folders]
  if not labelled:
    groups = [('', loose, []), *groups]
  for folder, videos, others in groups:
    skipped += [_not_a_video(os.path.join(root, f)) for f in others]
    if labelled and settings.classes and folder not in settings.classes:
      skipped += [common.Skipped(os.path.join(root, f), f'folder {folder!r} is not one of the '
                                 f'classes of {SETTINGS}') for f in videos]
      continue
    if labelled and not videos:
      skipped.append(common.Skipped(os.path.join(root, folder), 'class folder without video '
                                    'files' + ('' if settings.classes else ': not a class')))
      continue
    found.append(folder)
    for video_id in videos:
      path = os.path.join(root, video_id)
      subject = subject_of(video_id, settings)
      if subject is None:
        skipped.append(_no_subject(path, video_id, settings))
        continue
      sources.append(common.Source(video_id=video_id, subject=subject, path=path,
                                   label=folder if labelled else common.NO_LABEL))
  class_names = (settings.classes or tuple(found)) if labelled else ()
  return Listing({DEFAULT_SPLIT: sources} if sources else {}, skipped, class_names,
                 'class folders' if labelled else 'every video')


def list_manifest(path: os.PathLike | str, settings: Settings, labelled: bool) -> Listing:
  """The rows of a manifest CSV (columns path, label, subject, split; label only for `labelled`,
  subject and split optional): sources per split (`train` where a row names none), skipped rows,
  and the class names (`settings.classes`, else the labels in sorted order)."""
  path = epath.Path(path)
  header = layouts.csv_header(path)
  required = ('path', 'label') if labelled else ('path',)
  missing = [c for c in required if c not in header]
  if missing:
    raise archives.ManualDirError(
        f'{path}: the header names no {" or ".join(missing)} column (it has {header}); the '
        'columns are path,label,subject[,split] (label only for the labelled config)')
  rows, skipped = [], []
  for line, value, video in layouts.manifest_rows(path, ('path', 'label', 'subject', 'split'),
                                                  skipped):
    split = value['split'].lower() or DEFAULT_SPLIT
    video_id = layouts.posix(value['path'])
    subject = value['subject'] or subject_of(video_id, settings)
    if not SPLIT_NAME.fullmatch(split):
      skipped.append(common.Skipped(video, f'split {value["split"]!r} (line {line}) is not a '
                                    'name of letters, digits and _'))
    elif labelled and not value['label']:
      skipped.append(common.Skipped(video, f'unlabelled (line {line})'))
    elif labelled and settings.classes and value['label'] not in settings.classes:
      skipped.append(common.Skipped(video, f'label {value["label"]!r} (line {line}) is not '
                                    f'one of the classes of {SETTINGS}'))
    elif subject is None:
      skipped.append(_no_subject(video, video_id, settings))
    else:
      rows.append((split, common.Source(video_id=video_id, subject=subject, path=video,
                                        label=value['label'] if labelled else common.NO_LABEL)))
  by_split: dict[str, list[common.Source]] = {}
  for split, source in rows:
    by_split.setdefault(split, []).append(source)
  class_names = ((settings.classes or tuple(sorted({s.label for _, s in rows})))
                 if labelled else ())
  return Listing(by_split, skipped, class_names, MANIFEST)


def list_folder(manual_dir: os.PathLike | str, labelled: bool) -> tuple[Listing, Settings]:
  """The folder's settings and what it holds (its manifest, else its tree)."""
  settings = read_settings(manual_dir)
  manifest = epath.Path(manual_dir) / MANIFEST
  if manifest.exists():
    return list_manifest(manifest, settings, labelled), settings
  return list_tree(manual_dir, settings, labelled), settings


_INSTRUCTIONS = f"""\
Any folder of videos of your own (see tfds_builders/video_folder/README.md).

    M/<class>/**/<video>     class sub-folders are the labels (config `labelled`, the default);
                             with config `unlabelled`, every video under M at any depth
    M/{MANIFEST}           optional: path,label,subject[,split] rows instead of the tree
    M/{SETTINGS}       optional:
{EXAMPLE_SETTINGS}

Pass M as the manual directory (--manual_dir=M, or --config.dataset.manual_dir=M), and give each
folder a data_dir of its own.
"""


@dataclasses.dataclass(eq=False)
class VideoFolderConfig(common.ClipConfig):
  """`labelled`: class sub-folders (or the manifest's labels) are the labels; False stores every
  video with label -1 (`common.NO_LABEL`) and no class names, for pretraining."""
  labelled: bool = True


BUILDER_CONFIGS = [
    VideoFolderConfig(name='labelled', description='Class sub-folders (or manifest labels) are '
                      'the labels; whole face tracks.'),
    VideoFolderConfig(name='unlabelled', labelled=False, description='Every video, no labels '
                      '(label -1, no classes); whole face tracks.'),
]


class VideoFolder(common.VideoBuilder):
  """Face tracks of a folder of one's own videos: labelled by class sub-folder or manifest, or
  unlabelled.

  Splits: `train`, or those the manifest's `split` column names. `subject` from the manifest's
  `subject` column or `subject_pattern`, else the video's own path. The info's metadata records
  the folder it was built from and how it was read. Non-video files, videos outside the classes,
  videos without a subject, empty class folders, unreadable videos and videos without a face are
  listed in `skipped.tsv`.
  """

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = BUILDER_CONFIGS
  DEFAULT_CONFIG_NAME = 'labelled'
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

  def _label_feature(self) -> tfds.features.ClassLabel:
    # Labelled: the names come from the folder, set in `_split_generators` (a prepared dataset's
    # are read back from its label.labels.txt). Unlabelled: no classes; every label is -1.
    return tfds.features.ClassLabel() if self.builder_config.labelled else (
        tfds.features.ClassLabel(names=[]))

  def _info_metadata(self) -> tfds.core.MetadataDict:
    return tfds.core.MetadataDict()

  def check_prepared(self, manual_dir: os.PathLike | str) -> None:
    """Raises ManualDirError when this data_dir's build was made from another folder than
    `manual_dir`: every folder of one's own needs a data_dir of its own."""
    built_from = self.info.metadata.get('manual_dir') if self.info.metadata else None
    if built_from and os.path.realpath(built_from) != os.path.realpath(manual_dir):
      raise archives.ManualDirError(
          f'{self.data_dir} holds video_folder built from {built_from}, not from {manual_dir}: '
          'give each folder a data_dir of its own (--config.dataset.data_dir=D, or --data_dir=D '
          "of the builders' command), or rebuild this one with --overwrite")

  def _split_generators(self, dl_manager):
    manual_dir = self._manual_dir(dl_manager)
    labelled = self.builder_config.labelled
    listing, settings = list_folder(manual_dir, labelled)
    if not listing.by_split:
      what = ('no class sub-folder with video files (for videos without labels use the config '
              '`unlabelled`: --config.dataset.config=unlabelled)' if labelled and
              listing.how == 'class folders' else f'no usable video ({listing.how})')
      raise self._missing(manual_dir, what)
    if labelled:
      # ClassLabel names are set once; a rebuild (--overwrite) starts from the names its info
      # read back from the old build, which the folder may no longer have: start it afresh.
      self.info.features['label'].__init__(names=list(listing.class_names))
      counts = Counter(s.label for sources in listing.by_split.values() for s in sources)
      for name in listing.class_names:
        if not counts[name]:
          log.warning('video_folder: class %r has no videos', name)
    if settings.subject_pattern is None and listing.how != MANIFEST:
      log.warning('video_folder: no subject_pattern in %s: every video is its own subject, so '
                  'subject-independent folds only keep videos apart', SETTINGS)
    self.info.metadata.update({
        'manual_dir': os.path.realpath(manual_dir), 'read': listing.how,
        'subject_pattern': settings.subject_pattern.pattern if settings.subject_pattern else '',
        'classes_from': (SETTINGS if settings.classes else 'sorted names') if labelled else ''})
    for split, sources in sorted(listing.by_split.items()):
      labels = Counter(s.label for s in sources) if labelled else {}
      log.info('video_folder %s: %d videos, %d subjects, %s', split, len(sources),
               len({s.subject for s in sources}), dict(sorted(labels.items())) or 'unlabelled')
    names = sorted(listing.by_split)
    # Entries left out go with the first split's manifest; the base merges every split's.
    return {split: self._generate_examples(listing.by_split[split],
                                           listing.skipped if split == names[0] else ())
            for split in names}
