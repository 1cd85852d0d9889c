"""Per-source preprocessing and the process pool that runs it.

A source (`common.Source`) becomes an example under a spec (`common.ClipConfig`):

  read every `frame_step`-th frame (up to `max_frames`) -> `extract_face_track` at `size` on
  every one -> {'clip' (the whole track), 'fps', 'video_frames', 'label', 'subject',
  'video_id'} (+ 'flow', the flow images of the stored track)

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


def stored_step(num_frames: int, spec) -> int:
  """The frame step a video of `num_frames` is stored with: `spec.frame_step`, or the smallest
  larger one that keeps it within `spec.max_frames` stored frames."""
  return max(spec.frame_step, -(-num_frames // spec.max_frames))


def read_track(source, spec) -> tuple[np.ndarray, float, int]:
  """The stored frames of a source (`uint8 [N, H, W, 3]`, every `stored_step`-th frame), their
  frame rate and the source's length in frames.

  The rate is the source's own (`Source.fps`, else the container's, else `video.DEFAULT_FPS`)
  divided by the step. Unreadable, truncated or unstable videos raise VideoReadError
  (`video.read_video_track`).
  """
  if source.frames:
    step = stored_step(len(source.frames), spec)
    frames = video.read_image_sequence(source.frames[::step])
    return frames, (source.fps or video.DEFAULT_FPS) / step, len(source.frames)
  frames, n, fps = video.read_video_track(source.path, lambda count: stored_step(count, spec))
  return frames, (source.fps or fps or video.DEFAULT_FPS) / stored_step(n, spec), n


def process_source(source, spec=None):
  """Source -> (video_id, example | None, (path, skip reason) | None, frames decoded)."""
  spec = spec or _SPEC
  try:
    frames, fps, n = read_track(source, spec)
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
  want = (len(frames), spec.size, spec.size, 3)
  if clip.shape != want:
    raise RuntimeError(f'{source.path}: face track has shape {clip.shape}, expected {want}')
  example = {
    'clip': clip,
    'fps': np.float32(fps),
    'video_frames': np.int32(n),
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
