"""Shared code of the manual-download video builders (oulu_casia, enterface05).

A builder lists its archive as `Source`s (one per video or image sequence),
then `generate_examples` turns them into examples in parallel:

  read frames -> sample `clip_len` indices -> `extract_face_track` at `size`
  -> {'clip', 'label', 'subject', 'video_id'}

A source that cannot be used (unreadable or corrupt file, no face found,
excluded by the config, unrecognised name) does not stop the build: it is
left out and listed, with the reason, in `skipped.tsv` inside the prepared
dataset's directory (`<data_dir>/<name>/<config>/<version>/skipped.tsv`).
"""

from __future__ import annotations

from concurrent import futures
import contextlib
import csv
import dataclasses
import inspect
import logging
import multiprocessing
import os
import re
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import utils as tfds_utils
from tqdm.auto import tqdm

from emojax.data import faces, video

log = logging.getLogger(__name__)
T = TypeVar('T')

CLASS_NAMES = ('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')
MANIFEST_NAME = 'skipped.tsv'
ARCHIVE_SUFFIXES = ('.zip', '.tar', '.tar.gz', '.tgz', '.tar.bz2', '.tbz2')
DEFAULT_FILE_FORMAT = 'array_record'


class ManualDirError(FileNotFoundError):
  """The manual download directory is missing, empty or lacks the dataset."""


@dataclasses.dataclass(eq=False)
class ClipConfig(tfds.core.BuilderConfig):
  """Preprocessing shared by the video builders.

  Attributes:
    clip_len: frames per stored clip.
    size: side of the stored square face crops (larger than the model input,
      so training can crop).
    sampling: temporal sampler name, see `emojax.data.video.SAMPLERS`.
    margin: face box margin passed to `extract_face_track`.
    align: eye-line alignment in `extract_face_track`.
    flow: '' for none, else an optical-flow method of `emojax.data.flow`
      ('farneback', 'dis', 'tvl1'): adds a `flow` feature, the flow images
      (dx, dy, magnitude) of the face crops, computed once here rather than in
      every epoch's pipeline.
  """

  clip_len: int = 16
  size: int = faces.STORED_CROP_SIZE
  sampling: str = 'fixed_interval'
  margin: float = faces.CROP_MARGIN
  align: bool = False
  flow: str = ''


@dataclasses.dataclass(frozen=True)
class Source:
  """One video of the archive, before decoding.

  Attributes:
    video_id: unique id, the path relative to the archive root; example key.
    label: class name, one of `CLASS_NAMES`.
    subject: subject id as the dataset names it.
    path: the video file, or the directory of an image sequence.
    frames: image files of a sequence, in temporal order; empty for a video file.
  """

  video_id: str
  label: str
  subject: str
  path: str
  frames: tuple[str, ...] = ()


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
  clip_frames: int = 0
  seconds: float = 0.0
  num_workers: int = 1
  manifest: str = ''

  @property
  def videos_per_s(self) -> float:
    return (self.videos + self.skipped) / self.seconds if self.seconds else 0.0

  @property
  def frames_per_s(self) -> float:
    return self.frames_decoded / self.seconds if self.seconds else 0.0

  def __str__(self) -> str:
    return (
      f'{self.videos} videos built, {self.skipped} skipped, {self.left_out} left out, '
      f'{self.frames_decoded} frames decoded, {self.clip_frames} faces cropped in '
      f'{self.seconds:.1f}s with {self.num_workers} worker(s): '
      f'{self.videos_per_s:.2f} videos/s, {self.frames_per_s:.1f} decoded frames/s'
    )


# ----------------------------------------------------------------------------
# Builder plumbing.


class VideoBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base of the manual_dir video builders: features, array_record, workers.

  Extra keyword arguments (through `tfds.builder(name, **kwargs)`):
    num_workers: preprocessing processes; default `os.cpu_count()`, or the
      environment variable EMOJAX_BUILD_WORKERS. 1 runs in this process.
    file_format: defaults to 'array_record' (needs no TensorFlow).
  """

  BUILDER_CONFIGS: list[ClipConfig]
  HOMEPAGE: str | None = None
  CITATION: str | None = None

  @tfds_utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    # TFDS's default looks the module up with `importlib_resources`, which
    # it does not depend on (ModuleNotFoundError in download_and_prepare).
    return epath.Path(inspect.getfile(cls))

  def __init__(self, *, num_workers: int | None = None, file_format=None, **kwargs):
    super().__init__(file_format=file_format or DEFAULT_FILE_FORMAT, **kwargs)
    self.num_workers = num_workers
    self.build_stats: BuildStats | None = None

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    frames = tfds.features.Tensor(shape=(cfg.clip_len, cfg.size, cfg.size, 3), dtype=np.uint8)
    features = {
      'clip': frames,
      'label': tfds.features.ClassLabel(names=CLASS_NAMES),
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
    )

  def _manual_dir(self, dl_manager) -> epath.Path:
    """`dl_manager.manual_dir`, or a `ManualDirError` naming what to download."""
    try:
      return epath.Path(dl_manager.manual_dir)
    except AssertionError:
      where = getattr(dl_manager, '_manual_dir', None)
      raise ManualDirError(
        f'{self.name}: the manual download directory {where} does not exist or is '
        'empty. Pass it with download_and_prepare(download_config='
        'tfds.download.DownloadConfig(manual_dir=DIR)) or the CLI flag '
        f'--manual_dir=DIR.\n\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
      ) from None

  def _missing(self, manual_dir, what: str) -> ManualDirError:
    return ManualDirError(
      f'{self.name}: {what} under the manual directory {manual_dir}.\n\n'
      f'{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
    )

  def _generate_from_sources(
    self, sources: Sequence[Source], skipped: Sequence[Skipped] = ()
  ) -> Iterator[tuple[str, dict[str, Any]]]:
    cfg = self.builder_config
    stats = BuildStats()
    self.build_stats = stats
    yield from generate_examples(
      sources,
      cfg,
      skipped=skipped,
      num_workers=resolve_num_workers(self.num_workers),
      manifest=epath.Path(self.data_dir) / MANIFEST_NAME,
      desc=f'{self.name}/{cfg.name}',
      stats=stats,
    )


def resolve_num_workers(num_workers: int | None) -> int:
  if num_workers is None:
    num_workers = int(os.environ.get('EMOJAX_BUILD_WORKERS', 0)) or os.cpu_count() or 1
  return max(1, int(num_workers))


def find_or_extract(manual_dir: epath.Path, dl_manager, probe: Callable[[epath.Path], T | None]):
  """`probe(manual_dir)`, else `probe` of each archive in it, extracted.

  Archives (zip / tar) directly inside `manual_dir` are extracted (under the
  download directory, once) only when the tree itself does not hold the
  dataset. Returns (root, probe result) or (None, None).
  """
  manual_dir = epath.Path(manual_dir)
  hit = probe(manual_dir)
  if hit:
    return manual_dir, hit
  archives = sorted(
    p for p in manual_dir.iterdir()
    if p.is_file() and p.name.lower().endswith(ARCHIVE_SUFFIXES)
  )
  for archive in archives:
    root = extract(archive, epath.Path(dl_manager.download_dir) / 'extracted')
    hit = probe(root)
    if hit:
      return root, hit
  return None, None


def extract(archive: epath.Path, into: epath.Path) -> epath.Path:
  """Unpacks a zip / tar archive to `into/<archive name>` (reused if complete).

  Python's zipfile / tarfile, not `dl_manager.extract`, which needs TensorFlow.
  """
  dest = epath.Path(into) / archive.name
  done = dest / '.extracted'
  if done.exists():
    return dest
  tmp = epath.Path(into) / f'{archive.name}.incomplete'
  if tmp.exists():
    shutil.rmtree(tmp)
  tmp.mkdir(parents=True)
  log.info('Extracting %s to %s', archive, dest)
  try:
    if zipfile.is_zipfile(archive):
      with zipfile.ZipFile(archive) as z:
        z.extractall(tmp)
    else:
      with tarfile.open(archive) as t:
        t.extractall(tmp, filter='data')
  except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
    shutil.rmtree(tmp, ignore_errors=True)
    raise ManualDirError(f'cannot extract {archive}: {e}') from e
  (tmp / '.extracted').touch()
  if dest.exists():
    shutil.rmtree(dest)
  tmp.rename(dest)
  return dest


def search_tree(root: epath.Path, found, max_depth: int) -> epath.Path | None:
  """Breadth-first search for a directory satisfying `found`, sorted by name."""
  level = [epath.Path(root)]
  for _ in range(max_depth + 1):
    nxt = []
    for d in level:
      if found(d):
        return d
      with contextlib.suppress(OSError):
        nxt.extend(sorted(p for p in d.iterdir() if p.is_dir()))
    level = nxt
  return None


def natural_key(name: str) -> list:
  """Sort key that orders '2.jpeg' before '10.jpeg'."""
  return [int(t) if t.isdigit() else t.lower() for t in re.split(r'(\d+)', name)]


# ----------------------------------------------------------------------------
# Per-source preprocessing (runs in worker processes).

_SPEC: ClipConfig | None = None


def _init_worker(spec: ClipConfig) -> None:
  """Pool initializer: the spec, and one OpenCV thread per worker process."""
  global _SPEC
  _SPEC = spec
  import cv2

  cv2.setNumThreads(1)


def read_clip(source: Source, spec: ClipConfig) -> tuple[np.ndarray, int]:
  """The sampled frames of a source (`uint8 [clip_len, H, W, 3]`) and its length."""
  if source.frames:
    frames = video.read_image_sequence(source.frames)
    idx = video.sample_indices(len(frames), spec.clip_len, spec.sampling)
    return frames[idx], len(frames)
  return video.read_video_clip(source.path, spec.clip_len, spec.sampling)


def process_source(source: Source, spec: ClipConfig | None = None):
  """Source -> (video_id, example | None, Skipped | None, frames decoded)."""
  spec = spec or _SPEC
  try:
    frames, n = read_clip(source, spec)
  except video.VideoReadError as e:
    return source.video_id, None, Skipped(e.path, f'unreadable: {e.problem}'), 0
  try:
    track = faces.extract_face_track(
      frames,
      size=spec.size,
      margin=spec.margin,
      align=spec.align,
      detector=faces.default_detector(),
      source=source.path,
    )
  except faces.NoFaceError as e:
    return source.video_id, None, Skipped(source.path, f'no face: {e}'), n
  except Exception as e:
    raise RuntimeError(f'face extraction failed on {source.path}: {e!r}') from e
  clip = np.asarray(track.crops, dtype=np.uint8)
  want = (spec.clip_len, spec.size, spec.size, 3)
  if clip.shape != want:
    raise RuntimeError(f'{source.path}: face track has shape {clip.shape}, expected {want}')
  example = {
    'clip': clip,
    'label': source.label,
    'subject': source.subject,
    'video_id': source.video_id,
  }
  if spec.flow:
    from emojax.data import flow

    example['flow'] = flow.flow_images(clip, spec.flow)
  return source.video_id, example, None, n


# ----------------------------------------------------------------------------
# The parallel map.


@contextlib.contextmanager
def _worker_env(num_workers: int):
  """Environment for spawned workers: one compute thread each, no GPU preallocation."""
  saved = dict(os.environ)
  flags = os.environ.get('XLA_FLAGS', '')
  if num_workers > 1 and 'xla_cpu_multi_thread_eigen' not in flags:
    os.environ['XLA_FLAGS'] = f'{flags} --xla_cpu_multi_thread_eigen=false'.strip()
  if num_workers > 1:
    os.environ.setdefault('OMP_NUM_THREADS', '1')
  os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')
  try:
    yield
  finally:
    os.environ.clear()
    os.environ.update(saved)


def map_sources(
  sources: Sequence[Source], spec: ClipConfig, num_workers: int
) -> Iterable[tuple]:
  """`process_source` over `sources`, unordered, in `num_workers` processes.

  Workers are spawned, not forked (JAX is multithreaded), so a script that
  builds must guard its entry point with `if __name__ == '__main__':`.
  Each worker builds its face detector once.
  """
  if num_workers <= 1 or len(sources) <= 1:
    for s in sources:
      yield process_source(s, spec)
    return
  ctx = multiprocessing.get_context('spawn')
  with _worker_env(num_workers):
    pool = futures.ProcessPoolExecutor(
      min(num_workers, len(sources)), mp_context=ctx,
      initializer=_init_worker, initargs=(spec,),
    )
    # Start the workers now, while the environment is set.
    pending = {pool.submit(process_source, s) for s in sources}
  try:
    for done in futures.as_completed(pending):
      yield done.result()
  except futures.process.BrokenProcessPool as e:
    raise RuntimeError(
      'a preprocessing worker process died. Workers are spawned: a script that '
      "builds a dataset must guard its entry point with `if __name__ == '__main__':`; "
      'num_workers=1 runs without workers.'
    ) from e
  finally:
    pool.shutdown(wait=True, cancel_futures=True)


def write_manifest(path: epath.Path, skipped: Sequence[Skipped]) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open('w') as f:
    w = csv.writer(f, delimiter='\t', lineterminator='\n')
    w.writerow(['path', 'reason'])
    for s in sorted(skipped, key=lambda s: natural_key(s.path)):
      w.writerow([s.path, ' '.join(s.reason.split())])


def read_manifest(path: os.PathLike | str) -> list[Skipped]:
  """The rows of a `skipped.tsv`."""
  with epath.Path(path).open() as f:
    rows = list(csv.reader(f, delimiter='\t'))
  return [Skipped(*r) for r in rows[1:]]


def generate_examples(
  sources: Sequence[Source],
  spec: ClipConfig,
  *,
  skipped: Sequence[Skipped] = (),
  num_workers: int = 1,
  manifest: epath.Path,
  desc: str = 'preprocessing',
  stats: BuildStats | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
  """Yields (key, example) for every usable source; writes the skip manifest."""
  video.sample_indices(spec.clip_len, spec.clip_len, spec.sampling)  # Fail fast on a bad name.
  ids = [s.video_id for s in sources]
  if len(set(ids)) != len(ids):
    dup = sorted({i for i in ids if ids.count(i) > 1})
    raise ValueError(f'duplicate video ids: {dup[:5]}')
  stats = stats if stats is not None else BuildStats()
  stats.num_workers = min(num_workers, max(1, len(sources)))
  skipped = list(skipped)
  stats.left_out = len(skipped)
  start = time.perf_counter()
  with tqdm(total=len(sources), desc=desc, unit='video', dynamic_ncols=True) as bar:
    for key, example, skip, n in map_sources(sources, spec, num_workers):
      stats.frames_decoded += n
      bar.update()
      if skip is not None:
        skipped.append(skip)
        stats.skipped += 1
        log.warning('Skipping %s: %s', skip.path, skip.reason)
        continue
      stats.videos += 1
      stats.clip_frames += spec.clip_len
      yield key, example
  stats.seconds = time.perf_counter() - start
  write_manifest(manifest, skipped)
  stats.manifest = os.fspath(manifest)
  log.info('%s: %s; skip manifest: %s', desc, stats, manifest)
  if stats.videos == 0:
    reasons = '; '.join(f'{s.path}: {s.reason}' for s in skipped[:5])
    raise RuntimeError(
      f'{desc}: no usable video among {len(sources)} sources ({len(skipped)} skipped: '
      f'{reasons}{" ..." if len(skipped) > 5 else ""})'
    )
