"""One face detector for a whole build, batched across its workers' videos, on the accelerator.

With `detect_on='shared'` the workers still decode, track and crop on their CPUs, but the frames
they want searched (and the given crops' O-Net looks) go to one detector process, which owns the
accelerator: each worker's `RemoteDetector` sends its request through the build's process, which
relays it (`Relay`); the detector process takes every request waiting, runs those of one kind and
frame size as one batch and answers each worker with its own detections. `detect_on='workers'`:
each worker runs MTCNN on its CPU (no accelerator, no detector process). `'auto'` (the default):
shared when JAX has an accelerator plugin installed and the detector process finds a device other
than the CPU, else workers.

The build's own process never starts a JAX backend (a build may run before
`jax.distributed.initialize`); the detector process lives as long as the worker pool.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import traceback
from collections.abc import Sequence

import numpy as np

DETECT_ON = ('auto', 'workers', 'shared')
ENV = 'EMOJAX_BUILD_DETECT_ON'
# Import names of JAX's accelerator plugins: with none installed, JAX has only the CPU.
ACCELERATOR_PLUGINS = ('jax_cuda12_plugin', 'jax_cuda13_plugin', 'jax_rocm60_plugin',
                       'jax_rocm7_plugin', 'libtpu')
ACCELERATOR_BATCH = 64  # frames per network call on an accelerator
WAIT_S = 0.005  # how long the detector waits for more workers' requests before it runs a batch


def resolve(detect_on: str | None) -> str:
  """`detect_on`, else $EMOJAX_BUILD_DETECT_ON, else 'auto'; 'auto' becomes 'workers' when no
  accelerator plugin is installed (the detector process settles the rest: see `ready`)."""
  value = detect_on or os.environ.get(ENV) or 'auto'
  if value not in DETECT_ON:
    raise ValueError(f'detect_on={value!r} (or ${ENV}) must be one of {DETECT_ON}')
  if value == 'auto' and not any(importlib.util.find_spec(p) for p in ACCELERATOR_PLUGINS):
    return 'workers'
  return value


class RemoteDetector:
  """A `FaceDetector` stand-in in a worker: each call is a request over `conn` to the build's
  process, answered with the shared detector's detections."""

  min_face_size = 20  # As `mtcnn.FaceDetector`'s default; only `smallest_face` reads it.

  def __init__(self, conn):
    self.conn = conn

  def _ask(self, request):
    self.conn.send(('detect', request))
    status, value = self.conn.recv()
    if status != 'detections':
      raise RuntimeError(f'the shared face detector failed:\n{value}')
    return value

  def __call__(self, frames, min_face_size=None):
    return self._ask(('search', np.ascontiguousarray(frames), float(min_face_size or 20)))

  def on_boxes(self, frames, boxes, passes: int = 2):
    return self._ask(('on_boxes', np.ascontiguousarray(frames), np.asarray(boxes), passes))


def _key(request) -> tuple:
  """Requests of one key run as one batch: same call, frame size and parameters."""
  kind, frames, *params = request
  shape = (kind, frames.shape[1:])
  return shape + ((params[0],) if kind == 'search' else (params[0].shape[1:], params[1]))


def run_batched(detector, requests: Sequence) -> list[list]:
  """The detections of each request, those of one `_key` run as one batch."""
  out: list = [None] * len(requests)
  groups: dict[tuple, list[int]] = {}
  for i, request in enumerate(requests):
    groups.setdefault(_key(request), []).append(i)
  for key, members in groups.items():
    frames = np.concatenate([requests[i][1] for i in members])
    if key[0] == 'search':
      found = detector(frames, key[2])
    else:
      boxes = np.concatenate([np.asarray(requests[i][2]).reshape(len(requests[i][1]), -1, 4)
                              for i in members])
      found = detector.on_boxes(frames, boxes, key[3])
    start = 0
    for i in members:
      out[i] = found[start:start + len(requests[i][1])]
      start += len(requests[i][1])
  return out


def serve(conn) -> None:
  """The detector process: ('ready', platform), then batches of (tag, request) -> (tag, status,
  detections | traceback) until None or the build's process is gone."""
  import jax

  from emojax import compilation_cache
  from emojax.data import mtcnn
  compilation_cache.enable()
  platform = jax.default_backend()
  detector = mtcnn.FaceDetector(batch_size=ACCELERATOR_BATCH if platform != 'cpu' else 16)
  conn.send(('ready', platform))
  while True:
    try:
      item = conn.recv()
    except EOFError:
      return
    if item is None:
      return
    waiting = [item]
    while conn.poll(WAIT_S):  # Other workers' requests that arrive meanwhile join the batch.
      item = conn.recv()
      if item is None:
        return
      waiting.append(item)
    try:
      results = run_batched(detector, [request for _, request in waiting])
      replies = [(tag, 'detections', r) for (tag, _), r in zip(waiting, results)]
    except Exception:
      replies = [(tag, 'error', traceback.format_exc()) for tag, _ in waiting]
    for reply in replies:
      conn.send(reply)


class Relay:
  """The build's end of the detector process: starts it, forwards workers' requests tagged with
  the worker's id, and hands back each answer to the worker that asked (if it is still there)."""

  def __init__(self, ctx):
    self.conn, child = ctx.Pipe()
    with _detector_env():
      self.process = ctx.Process(target=serve, args=(child,), daemon=True)
      self.process.start()
    child.close()
    try:
      _, self.platform = self.conn.recv()  # Waits for JAX to start there.
    except EOFError:
      self.process.join(timeout=10)
      raise RuntimeError('the shared face detector process could not start '
                         f'(exit code {self.process.exitcode})') from None

  def forward(self, tag, request) -> None:
    self.conn.send((tag, request))

  def answers(self):
    """(tag, status, value) of the answers ready now."""
    while self.conn.poll():
      yield self.conn.recv()

  def stop(self) -> None:
    with contextlib.suppress(OSError):
      self.conn.send(None)
    self.process.join(timeout=10)
    if self.process.is_alive():
      self.process.terminate()
    self.conn.close()


def start(detect_on: str | None, ctx) -> Relay | None:
  """The build's `Relay` to a detector process, or None where the workers detect themselves (see
  the module docstring): 'auto' keeps a detector process only if it found an accelerator."""
  mode = resolve(detect_on)
  if mode == 'workers':
    return None
  relay = Relay(ctx)
  if mode == 'auto' and relay.platform == 'cpu':
    relay.stop()
    return None
  return relay


@contextlib.contextmanager
def _detector_env():
  """The detector process claims accelerator memory as it needs it, not most of it at start."""
  saved = dict(os.environ)
  os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')
  try:
    yield
  finally:
    os.environ.clear()
    os.environ.update(saved)
