"""The builder base of the manual-download video builders (oulu_casia, enterface05, ck_plus, ...).

A builder sets its `CLASS_NAMES`, lists its archive as `Source`s (one per video
or image sequence), then `generate_examples` turns them into examples in
parallel (`workers.process_source`, in a process pool). An example holds the
face track of the whole video: every `frame_step`-th frame, at most
`max_frames` of them (`ClipConfig`), with the stored frame rate and the
video's length; training and evaluation draw their clips from it.

A source that cannot be used (unreadable or corrupt file, no face found,
excluded by the config, unrecognised name) does not stop the build: it is
left out and listed, with the reason, in `skipped.tsv` inside the prepared
dataset's directory (`<data_dir>/<name>/<config>/<version>/skipped.tsv`).
"""

from __future__ import annotations

import csv
import dataclasses
import inspect
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import utils as tfds_utils
from tqdm.auto import tqdm

from emojax.data import faces, flow
from tfds_builders import archives, workers

log = logging.getLogger(__name__)

MANIFEST_NAME = 'skipped.tsv'
DEFAULT_FILE_FORMAT = 'array_record'
NO_LABEL = -1  # `Source.label` of an unlabelled video: TFDS ClassLabel's "no label"


@dataclasses.dataclass(eq=False)
class ClipConfig(tfds.core.BuilderConfig):
  """Preprocessing shared by the video builders.

  Attributes:
    size: side of the stored square face crops (the input pipeline resizes them
      to the model input).
    margin: face box margin passed to `extract_face_track`: the face square spans
      [margin, 1 + margin] / (1 + 2 margin) of a stored crop's side.
    align: crops aligned by MTCNN's eye landmarks (eyes level at fixed places;
      `faces.face_squares`), else upright around MTCNN's box.
    flow: '' for none, else an optical-flow method of `emojax.data.flow`
      ('farneback', 'dis', 'tvl1'): adds a `flow` feature, the flow images
      (dx, dy, magnitude) of the stored face crops, computed once here rather
      than in every epoch's pipeline.
    key_frame_interval: frames between face detections: the face is carried
      between them and detected again where it moves or the track is unsure
      (`emojax.data.tracking`; 1: every stored frame).
    given_faces: the release's frames are face crops already (DFEW, FERV39k,
      MAFW's face folders): O-Net alone finds the landmarks in each, no search
      for faces unless it finds none (`faces.face_detector_of`); the crops are
      aligned and framed as detected faces are.
    frame_step: store every `frame_step`-th frame of a video (1: every frame).
    max_frames: the most frames stored per video. A longer one is stored with
      the smallest larger step that fits, so the track still spans the whole
      video; its `fps` feature is the stored rate. The default, 300, keeps
      every frame of videos up to 12 s at 25 fps: all of Oulu-CASIA's
      sequences and eNTERFACE'05's videos.
  """

  size: int = faces.STORED_CROP_SIZE
  margin: float = faces.CROP_MARGIN
  align: bool = faces.ALIGN
  key_frame_interval: int = faces.KEY_FRAME_INTERVAL
  given_faces: bool = False
  flow: str = ''
  frame_step: int = 1
  max_frames: int = 300


@dataclasses.dataclass(frozen=True)
class Source:
  """One video of the archive, before decoding.

  Attributes:
    video_id: unique id, the path relative to the archive root; example key.
    label: class name, one of the builder's `CLASS_NAMES`; `NO_LABEL` for an unlabelled video.
    subject: subject id as the dataset names it.
    path: the video file, or the directory of an image sequence.
    frames: image files of a sequence, in temporal order; empty for a video file.
    fps: frames per second of the recording, where the dataset states it; None:
      the container's rate (`video.DEFAULT_FPS` for image sequences and
      containers that declare none).
  """

  video_id: str
  label: str | int
  subject: str
  path: str
  frames: tuple[str, ...] = ()
  fps: float | None = None


@dataclasses.dataclass(frozen=True)
class Skipped:
  path: str
  reason: str


@dataclasses.dataclass
class BuildStats:
  """What one `generate_examples` run did, for throughput reports."""

  videos: int = 0
  skipped: int = 0  # Read or face detection failed.
  left_out: int = 0  # Not attempted: excluded by the config, unrecognised names.
  frames_decoded: int = 0
  stored_frames: int = 0
  frames_detected: int = 0  # Stored frames the face detector ran on (key frames, rechecks).
  seconds: float = 0.0
  num_workers: int = 1
  detector: str = ''  # Where faces were detected (`workers.map_sources`).
  manifest: str = ''

  @property
  def videos_per_s(self) -> float:
    return (self.videos + self.skipped) / self.seconds if self.seconds else 0.0

  @property
  def frames_per_s(self) -> float:
    return self.frames_decoded / self.seconds if self.seconds else 0.0

  def add(self, other: BuildStats) -> None:
    """Adds another split's counts and time to these (a builder with several splits)."""
    for field in ('videos', 'skipped', 'left_out', 'frames_decoded', 'stored_frames',
                  'frames_detected', 'seconds'):
      setattr(self, field, getattr(self, field) + getattr(other, field))
    self.num_workers = max(self.num_workers, other.num_workers)
    self.manifest = other.manifest or self.manifest
    self.detector = other.detector or self.detector

  def __str__(self) -> str:
    return (
      f'{self.videos} videos built, {self.skipped} skipped, {self.left_out} left out, '
      f'{self.frames_decoded} frames decoded, {self.stored_frames} faces stored '
      f'({self.frames_detected} frames detected) in {self.seconds:.1f}s with '
      f'{self.num_workers} worker(s), faces detected {self.detector or "in the workers"}: '
      f'{self.videos_per_s:.2f} videos/s, {self.frames_per_s:.1f} decoded frames/s'
    )


class ArrayRecordBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A builder that writes array_record files (no TensorFlow needed) unless told otherwise."""

  @tfds_utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    # TFDS's default looks the module up with `importlib_resources`, which
    # it does not depend on (ModuleNotFoundError in download_and_prepare).
    return epath.Path(inspect.getfile(cls))

  def __init__(self, *, file_format=None, **kwargs):
    super().__init__(file_format=file_format or DEFAULT_FILE_FORMAT, **kwargs)

  def check_prepared(self, manual_dir: os.PathLike | str) -> None:
    """Raises `archives.ManualDirError` when the dataset prepared in this data_dir is not what a
    build from `manual_dir` would be (e.g. `video_folder` built from another folder). Runs before
    a prepared dataset is reused: in `download_and_prepare`, and when a run loads it."""
    del manual_dir

  def download_and_prepare(self, *args, **kwargs):
    """TFDS's, after `check_prepared` where this data_dir holds a build that would be reused."""
    config = kwargs.get('download_config')
    if (config is not None and config.manual_dir and not config.download_mode.overwrite_dataset
        and self.is_prepared()):
      self.check_prepared(config.manual_dir)
    super().download_and_prepare(*args, **kwargs)


class VideoBuilder(ArrayRecordBuilder, skip_registration=True):
  """Base of the manual_dir video builders: features, array_record, workers.

  A builder sets `CLASS_NAMES` (its labels, in the order they are stored; a
  builder config with a `class_names` attribute overrides them) and
  `_split_generators`, which lists the archive's `Source`s, one
  `self._generate_examples(sources, skipped)` per split. The skip manifest
  lists the entries skipped in every split of the build.

  Extra keyword arguments (through `tfds.builder(name, **kwargs)`):
    num_workers: preprocessing processes; default `os.cpu_count()`, or the
      environment variable EMOJAX_BUILD_WORKERS. 1 runs in this process.
    detect_on: 'auto' (default, or $EMOJAX_BUILD_DETECT_ON), 'workers' or
      'shared': faces detected in each worker on its CPU, or by one detector
      process batched across the workers, on the accelerator when there is one
      (`tfds_builders.shared_detector`).
    file_format: defaults to 'array_record' (needs no TensorFlow).
  """

  BUILDER_CONFIGS: list[ClipConfig]
  CLASS_NAMES: ClassVar[tuple[str, ...]]
  HOMEPAGE: str | None = None
  CITATION: str | None = None

  def __init__(self, *, num_workers: int | None = None, detect_on: str | None = None,
               **kwargs):
    super().__init__(**kwargs)
    self.num_workers = num_workers
    self.detect_on = detect_on
    self.build_stats: BuildStats | None = None
    self._build_skipped: list[Skipped] = []

  def _label_feature(self) -> tfds.features.ClassLabel:
    """The `label` feature: the config's `class_names`, else `CLASS_NAMES`."""
    names = (getattr(self.builder_config, 'class_names', None)
             or getattr(type(self), 'CLASS_NAMES', None))
    if not names:
      raise TypeError(f'{type(self).__name__} must set CLASS_NAMES, its class names in order')
    return tfds.features.ClassLabel(names=names)

  def _info_metadata(self) -> tfds.core.MetadataDict | None:
    """Metadata stored with the dataset's info (`builder.info.metadata`); none by default."""
    return None

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    frames = tfds.features.Tensor(shape=(None, cfg.size, cfg.size, 3), dtype=np.uint8,
                                  encoding=tfds.features.Encoding.ZLIB)
    features = {
      'clip': frames,
      'fps': tfds.features.Scalar(np.float32, doc='frames per second of the stored track'),
      'video_frames': tfds.features.Scalar(np.int32, doc="the source video's length in frames"),
      'label': self._label_feature(),
      'subject': tfds.features.Text(),
      'video_id': tfds.features.Text(),
    }
    if cfg.flow:
      features['flow'] = frames
    return tfds.core.DatasetInfo(
      builder=self,
      description=self.__doc__,
      homepage=self.HOMEPAGE,
      citation=self.CITATION,
      features=tfds.features.FeaturesDict(features),
      supervised_keys=('clip', 'label'),
      metadata=self._info_metadata(),
    )

  def _manual_dir(self, dl_manager) -> epath.Path:
    """`dl_manager.manual_dir`, or a `ManualDirError` naming what to download."""
    try:
      return epath.Path(dl_manager.manual_dir)
    except AssertionError:
      where = getattr(dl_manager, '_manual_dir', None)
      raise archives.ManualDirError(
        f'{self.name}: the manual download directory {where} does not exist or is '
        'empty. Pass it with download_and_prepare(download_config='
        'tfds.download.DownloadConfig(manual_dir=DIR)) or the CLI flag '
        f'--manual_dir=DIR.\n\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
      ) from None

  def _missing(self, manual_dir, what: str) -> archives.ManualDirError:
    return archives.ManualDirError(
      f'{self.name}: {what} under the manual directory {manual_dir}.\n\n'
      f'{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
    )

  def download_and_prepare(self, *args, **kwargs):
    """TFDS's, then `build_stats.manifest` set to the skip manifest's final path (the build wrote
    it inside TFDS's `incomplete.*` folder, renamed when the build finished)."""
    super().download_and_prepare(*args, **kwargs)
    if self.build_stats is not None:
      self.build_stats.manifest = os.fspath(epath.Path(self.data_dir) / MANIFEST_NAME)
      log.info('%s: skipped and left-out videos in %s', self.name, self.build_stats.manifest)

  def _download_and_prepare(self, dl_manager, download_config=None):
    self.build_stats, self._build_skipped = None, []
    return super()._download_and_prepare(dl_manager, download_config=download_config)

  def _generate_examples(
    self, sources: Sequence[Source], skipped: Sequence[Skipped] = ()
  ) -> Iterator[tuple[str, dict[str, Any]]]:
    """A split's examples: `_split_generators` returns `self._generate_examples(sources, ...)`."""
    cfg = self.builder_config
    stats = BuildStats()
    manifest = epath.Path(self.data_dir) / MANIFEST_NAME
    yield from generate_examples(
      sources,
      cfg,
      class_names=self.info.features['label'].names,
      skipped=skipped,
      num_workers=workers.resolve_num_workers(self.num_workers),
      manifest=manifest,
      desc=f'{self.name}/{cfg.name}',
      stats=stats,
      detect_on=self.detect_on,
    )
    self._merge_split(stats, manifest)

  def _merge_split(self, stats: BuildStats, manifest: epath.Path) -> None:
    """Sums a finished split's stats into `build_stats` and rewrites the manifest with the
    skipped entries of every split so far (each split's run writes only its own)."""
    if self.build_stats is None:
      self.build_stats = stats
    else:
      self.build_stats.add(stats)
    self._build_skipped.extend(read_manifest(manifest))
    write_manifest(manifest, self._build_skipped)


def write_manifest(path: epath.Path, skipped: Sequence[Skipped]) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open('w') as f:
    w = csv.writer(f, delimiter='\t', lineterminator='\n')
    w.writerow(['path', 'reason'])
    for s in sorted(skipped, key=lambda s: archives.natural_key(s.path)):
      w.writerow([s.path, ' '.join(s.reason.split())])


def read_manifest(path: os.PathLike | str) -> list[Skipped]:
  """The rows of a `skipped.tsv`."""
  with epath.Path(path).open() as f:
    rows = list(csv.reader(f, delimiter='\t'))
  return [Skipped(*r) for r in rows[1:]]


def check_sources(sources: Sequence[Source], class_names: Sequence[str]) -> None:
  """Raises ValueError on duplicate video ids or a label outside `class_names` (`NO_LABEL`
  passes)."""
  ids = [s.video_id for s in sources]
  if len(set(ids)) != len(ids):
    dup = sorted({i for i in ids if ids.count(i) > 1})
    raise ValueError(f'duplicate video ids: {dup[:5]}')
  for s in sources:
    if s.label != NO_LABEL and s.label not in class_names:
      raise ValueError(f'{s.path}: label {s.label!r} is not one of the classes '
                       f'{tuple(class_names)}')


def check_spec(spec: ClipConfig) -> None:
  """Raises ValueError, naming the builder config's field, on a setting that cannot work."""
  if spec.frame_step < 1 or spec.max_frames < 1 or spec.key_frame_interval < 1:
    raise ValueError(f'builder config {spec.name}: frame_step={spec.frame_step}, '
                     f'max_frames={spec.max_frames} and key_frame_interval='
                     f'{spec.key_frame_interval} must be at least 1')
  if spec.flow and spec.flow not in flow.METHODS:
    raise ValueError(f'builder config {spec.name}: flow={spec.flow!r} is not one of '
                     f'{flow.METHODS}')


def generate_examples(
  sources: Sequence[Source],
  spec: ClipConfig,
  *,
  class_names: Sequence[str],
  skipped: Sequence[Skipped] = (),
  num_workers: int = 1,
  manifest: epath.Path,
  desc: str = 'preprocessing',
  stats: BuildStats | None = None,
  process: Callable | None = None,
  detect_on: str | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
  """Yields (key, example) for every usable source; writes the skip manifest.

  `process` stands in for `workers.process_source` (tests); `detect_on`: see `VideoBuilder`.
  """
  check_spec(spec)
  check_sources(sources, class_names)
  stats = stats if stats is not None else BuildStats()
  stats.num_workers = min(num_workers, max(1, len(sources)))
  skipped = list(skipped)
  stats.left_out = len(skipped)
  start = time.perf_counter()
  with tqdm(total=len(sources), desc=desc, unit='video', dynamic_ncols=True) as bar:
    results = workers.map_sources(sources, spec, num_workers, process, detect_on,
                                  lambda where: setattr(stats, 'detector', where))
    for key, example, skip, n, detected in results:
      stats.frames_decoded += n
      stats.frames_detected += detected
      bar.update()
      if skip is not None:
        skipped.append(Skipped(*skip))
        stats.skipped += 1
        log.warning('Skipping %s: %s', *skip)
        continue
      stats.videos += 1
      stats.stored_frames += len(example['clip'])
      yield key, example
  stats.seconds = time.perf_counter() - start
  write_manifest(manifest, skipped)
  stats.manifest = os.fspath(manifest)
  log.info('%s: %s', desc, stats)
  if stats.videos == 0:
    reasons = '; '.join(f'{s.path}: {s.reason}' for s in skipped[:5])
    raise RuntimeError(
      f'{desc}: no usable video among {len(sources)} sources ({len(skipped)} skipped: '
      f'{reasons}{" ..." if len(skipped) > 5 else ""})'
    )
