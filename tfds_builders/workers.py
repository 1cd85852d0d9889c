"""Per-source preprocessing and the process pool that runs it.

A source (`common.Source`) becomes an example under a spec (`common.ClipConfig`):

  read every `frame_step`-th frame (up to `max_frames`) -> `extract_face_track` at `size` (faces
  detected on key frames, or found in given face crops) -> {'clip' (the whole track), 'fps',
  'video_frames', 'label', 'subject', 'video_id'} (+ 'flow', the flow images of the stored track)

Workers are spawned, not forked (JAX is multithreaded), and never re-run the
caller's `__main__`: a build starts from a script file (guarded or not), from
`python -` or a notebook alike. They run JAX on the CPU; where a build has an
accelerator, they ask one shared detector process that owns it instead
(`shared_detector`). A worker that dies (killed, or a crash in a decoder) costs
only the video it held: that video is skipped with the reason and a fresh
worker takes its place.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import traceback
import types
from collections.abc import Callable, Iterable, Sequence
from multiprocessing import connection

import cv2
import numpy as np

from emojax import compilation_cache
from emojax.data import faces, flow, video
from tfds_builders import shared_detector

log = logging.getLogger(__name__)

_SPEC = None  # The worker process's `common.ClipConfig`, set by `_init_worker`.
_DETECTOR = None  # Its face detector: None, MTCNN on its CPU; or the build's shared detector.


def resolve_num_workers(num_workers: int | None) -> int:
  """`num_workers`, else $EMOJAX_BUILD_WORKERS, else every core; at least 1."""
  if num_workers is None:
    num_workers = int(os.environ.get('EMOJAX_BUILD_WORKERS', 0)) or os.cpu_count() or 1
  return max(1, int(num_workers))


def _init_worker(spec, detector=None) -> None:
  """Pool initializer: the spec, the face detector (None: MTCNN in the worker), one OpenCV thread
  per worker process, and JAX's persistent compilation cache (`emojax.compilation_cache`): a
  build's workers, and the next build's, compile MTCNN's shapes once."""
  global _SPEC, _DETECTOR
  _SPEC, _DETECTOR = spec, detector
  cv2.setNumThreads(1)
  compilation_cache.enable()


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
  """Source -> (video_id, example | None, (path, skip reason) | None, frames decoded, frames
  detected: the stored frames the face detector ran on)."""
  spec = spec or _SPEC
  try:
    frames, fps, n = read_track(source, spec)
  except video.VideoReadError as e:
    return source.video_id, None, (e.path, f'unreadable: {e.problem}'), 0, 0
  try:
    track = faces.extract_face_track(
      frames,
      size=spec.size,
      margin=spec.margin,
      align=spec.align,
      source=source.path,
      key_frame_interval=spec.key_frame_interval,
      given_faces=spec.given_faces,
      detector=_DETECTOR,
    )
  except faces.NoFaceError as e:
    return source.video_id, None, (source.path, f'no face: {e}'), n, len(frames)
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
  return source.video_id, example, None, n, track.detected_frames


@contextlib.contextmanager
def _worker_env(num_workers: int):
  """Environment for spawned workers: JAX on the CPU, one compute thread each."""
  saved = dict(os.environ)
  flags = os.environ.get('XLA_FLAGS', '')
  if num_workers > 1 and 'xla_cpu_multi_thread_eigen' not in flags:
    os.environ['XLA_FLAGS'] = f'{flags} --xla_cpu_multi_thread_eigen=false'.strip()
  if num_workers > 1:
    os.environ.setdefault('OMP_NUM_THREADS', '1')
  os.environ['JAX_PLATFORMS'] = 'cpu'
  try:
    yield
  finally:
    os.environ.clear()
    os.environ.update(saved)


@contextlib.contextmanager
def _main_hidden():
  """A spawned child re-runs the parent's `__main__` (its file, by path) before it runs its
  target; that fails under `python -` or a notebook and would rebuild from an unguarded script.
  The workers need nothing from it, so they see an empty one."""
  main = sys.modules['__main__']
  sys.modules['__main__'] = types.ModuleType('__main__')
  try:
    yield
  finally:
    sys.modules['__main__'] = main


def _serve(conn, spec, process, shared: bool) -> None:
  """A worker process: 'ready', then one result per source received, until None. With `shared`,
  its face detection is a request over `conn` to the build's shared detector."""
  _init_worker(spec, shared_detector.RemoteDetector(conn) if shared else None)
  conn.send(('ready', None))
  while True:
    try:
      source = conn.recv()
    except EOFError:  # The build's process is gone.
      return
    if source is None:
      return
    try:
      conn.send(('done', process(source, spec)))
    except Exception:
      conn.send(('error', traceback.format_exc()))


def describe_exit(exitcode: int | None) -> str:
  """'killed by SIGSEGV' or 'exit code 1' for a process's `exitcode`."""
  if exitcode is not None and exitcode < 0:
    try:
      return f'killed by {signal.Signals(-exitcode).name}'
    except ValueError:
      return f'killed by signal {-exitcode}'
  return f'exit code {exitcode}'


class _Worker:
  """One spawned worker process and the source it holds (None when idle)."""

  def __init__(self, ctx, spec, process, num_workers: int, shared: bool = False):
    self.conn, child = ctx.Pipe()
    self.process = ctx.Process(target=_serve, args=(child, spec, process, shared), daemon=True)
    with _worker_env(num_workers), _main_hidden():
      self.process.start()
    child.close()
    self.source = None
    self.started = False

  def give(self, source) -> None:
    self.source = source
    self.conn.send(source)

  def receive(self):
    """('ready' | 'done' | 'error', value), or ('died', reason) when the process is gone."""
    try:
      return self.conn.recv()
    except (EOFError, OSError):
      self.process.join(timeout=10)
      return 'died', describe_exit(self.process.exitcode)

  def stop(self) -> None:
    try:
      self.conn.send(None)
    except OSError:
      pass
    self.process.join(timeout=5)
    if self.process.is_alive():
      self.process.terminate()
      self.process.join(timeout=5)
    self.conn.close()


def map_sources(sources: Sequence, spec, num_workers: int, process: Callable | None = None,
                detect_on: str | None = None,
                describe: Callable[[str], None] = lambda text: None) -> Iterable[tuple]:
  """`process(source, spec)` (default `process_source`) over `sources`, unordered, in
  `num_workers` processes.

  Faces are detected in each worker, on its CPU, or by one detector process shared by the pool
  and batched across its videos, on the accelerator (`detect_on`: 'auto', 'workers', 'shared';
  see `shared_detector`); `describe` is told which. A worker that dies while it holds a source
  yields that source as skipped ('worker process died: killed by SIGSEGV') and is replaced; one
  that dies before it could start, a Python error in `process` or the shared detector's death
  stops the build.
  """
  process = process or process_source
  if num_workers <= 1 or len(sources) <= 1:
    describe('in the build process')
    for s in sources:
      yield process(s, spec)
    return
  ctx = multiprocessing.get_context('spawn')
  relay = shared_detector.start(detect_on, ctx)
  describe(f'by one detector on {relay.platform}, batched across workers' if relay else
           'in each worker, on its CPU')
  todo, tags = collections.deque(sources), itertools.count()

  def new_worker():
    worker = _Worker(ctx, spec, process, num_workers, shared=relay is not None)
    worker.tag = next(tags)
    return worker

  pool = [new_worker() for _ in range(min(num_workers, len(sources)))]
  try:
    for worker in pool:
      worker.give(todo.popleft())
    while any(w.source is not None for w in pool):
      busy = [w for w in pool if w.source is not None]
      waits = [w.conn for w in busy] + [w.process.sentinel for w in busy]
      ready = set(connection.wait(waits + ([relay.conn, relay.process.sentinel] if relay else [])))
      if relay:
        _relay_answers(relay, pool, ready)
      for k, worker in enumerate(pool):
        if worker.source is None or not ready & {worker.conn, worker.process.sentinel}:
          continue
        status, value = worker.receive()
        source = worker.source
        if status == 'ready':
          worker.started = True
          continue
        if status == 'detect':
          relay.forward(worker.tag, value)
          continue
        if status == 'error':
          raise RuntimeError(f'preprocessing {source.path} failed in a worker process:\n{value}')
        if status == 'died':
          if not worker.started:
            raise RuntimeError(f'a preprocessing worker process could not start ({value})')
          reason = f'worker process died: {value}'
          log.warning('Skipping %s: %s', source.path, reason)
          worker.conn.close()
          pool[k] = worker = new_worker()
          value = (source.video_id, None, (source.path, reason), 0, 0)
        worker.source = None
        if todo:
          worker.give(todo.popleft())
        yield value
  finally:
    for worker in pool:
      worker.stop()
    if relay:
      relay.stop()


def _relay_answers(relay, pool, ready) -> None:
  """Hands the shared detector's answers to the workers that asked (a replaced worker's are
  dropped); raises if the detector process is gone."""
  if relay.process.sentinel in ready and not relay.process.is_alive():
    raise RuntimeError(f'the shared face detector process died '
                       f'({describe_exit(relay.process.exitcode)})')
  by_tag = {w.tag: w for w in pool if w.source is not None}
  for tag, status, value in relay.answers():
    if tag in by_tag:
      with contextlib.suppress(OSError):
        by_tag[tag].conn.send((status, value))
