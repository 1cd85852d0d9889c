"""Per-source preprocessing and the process pool that runs it.

A source (`common.Source`) becomes an example under a spec (`common.ClipConfig`):

  read frames -> sample `clip_len` indices -> `extract_face_track` at `size`
  -> {'clip', 'label', 'subject', 'video_id'} (+ 'flow')

Workers are spawned, not forked (JAX is multithreaded), so a script that builds
must guard its entry point with `if __name__ == '__main__':`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent import futures

import cv2
import numpy as np

from emojax.data import faces, flow, video

_SPEC = None  # The worker process's `common.ClipConfig`, set by `_init_worker`.


def resolve_num_workers(num_workers: int | None) -> int:
  """`num_workers`, else $EMOJAX_BUILD_WORKERS, else every core; at least 1."""
  if num_workers is None:
    num_workers = int(os.environ.get('EMOJAX_BUILD_WORKERS', 0)) or os.cpu_count() or 1
  return max(1, int(num_workers))


def _init_worker(spec) -> None:
  """Pool initializer: the spec, and one OpenCV thread per worker process."""
  global _SPEC
  _SPEC = spec
  cv2.setNumThreads(1)


def read_clip(source, spec) -> tuple[np.ndarray, int]:
  """The sampled frames of a source (`uint8 [clip_len, H, W, 3]`) and its length."""
  if source.frames:
    frames = video.read_image_sequence(source.frames)
    idx = video.sample_indices(len(frames), spec.clip_len, spec.sampling)
    return frames[idx], len(frames)
  return video.read_video_clip(source.path, spec.clip_len, spec.sampling)


def process_source(source, spec=None):
  """Source -> (video_id, example | None, (path, skip reason) | None, frames decoded)."""
  spec = spec or _SPEC
  try:
    frames, n = read_clip(source, spec)
  except video.VideoReadError as e:
    return source.video_id, None, (e.path, f'unreadable: {e.problem}'), 0
  try:
    track = faces.extract_face_track(
      frames,
      size=spec.size,
      margin=spec.margin,
      align=spec.align,
      source=source.path,
    )
  except faces.NoFaceError as e:
    return source.video_id, None, (source.path, f'no face: {e}'), n
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
    example['flow'] = flow.flow_images(clip, spec.flow)
  return source.video_id, example, None, n


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


def map_sources(sources: Sequence, spec, num_workers: int) -> Iterable[tuple]:
  """`process_source` over `sources`, unordered, in `num_workers` processes.

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
