"""Any video -> per-window emotion probabilities and a smoothed per-frame timeline (+ CLI).

    import emojax
    pred = emojax.predict_video('clip.mp4', checkpoint='/tmp/emojax_demo', out_dir='/tmp/pred')
    pred.labels          # per frame: a class name, or None where no face was found
    pred.probabilities   # float32 [N, num_classes], NaN where a frame has no label

    python -m emojax.predict VIDEO --checkpoint=WORKDIR --out=DIR [--stride=4] [--annotate]
    python -m emojax.predict --camera=0 --checkpoint=WORKDIR      # live labels on stdout

The frames go through the builders' face pipeline (`tfds_builders/common.py::process_source`):
MTCNN on every frame, the subject's track over the whole video, boxes smoothed over time, square
crops with margin 0.2 and no alignment, at the size the training dataset stored
(round(config.image_size * 128 / 112), e.g. 128 for a 112 model), then `eval_transform`'s centre
crop to `config.image_size`. Detection is streamed in chunks (a long video need not fit in memory;
the video is decoded a second time for cropping when its frames exceed `max_cached_bytes`); on any
input the crops equal `extract_face_track(frames, size, margin=0.2)`'s.

Windows: `config.num_frames` frames per window, starting every `stride` frames (plus one window
flush with the end, so every frame is covered). By default the window's frames are consecutive
(span = num_frames). With `span` > num_frames the window covers `span` frames and takes
`num_frames` of them at a fixed interval (`emojax.data.video.fixed_interval_indices`, the sampling
the datasets use), which suits models trained on whole, longer expressions. Windows in which
fewer than `min_face_fraction` of the sampled frames had a detected face are not run.

Timeline: each frame averages the probabilities of the run windows whose span covers it, then a
Gaussian over time (`smoothing` seconds, its sigma; normalised over labelled frames only). Frames
without a detected face have `face_found: false` and no probabilities or label: nothing is guessed.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import sys
from typing import Iterator

import cv2
import jax
import jax.numpy as jnp
import numpy as np

from emojax.data import faces
from emojax.data import video as video_lib
from emojax.data.video import VideoReadError
from emojax.models import normalize_clip

__all__ = ['predict_video', 'Prediction', 'VideoTooShortError', 'face_track', 'window_indices']

# The builders' face settings: `tfds_builders.common.ClipConfig` (size 128 for a 112 model input,
# margin 0.2, no alignment) and `extract_face_track`'s smallest face (10% of the shorter side).
STORED_OVER_INPUT = 128 / 112
FACE_MARGIN = 0.2
MIN_FACE = 0.1
CHUNK = 32  # frames decoded and detected at a time
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.webp', '.tif', '.tiff')


class VideoTooShortError(ValueError):
  """The video has fewer frames than one prediction window."""


# ----------------------------------------------------------------------------
# Frame sources: a video file or an array, read in chunks, possibly twice.


class _Frames:
  """Chunks of uint8 RGB frames from an array or a video file, with fps and a frame-count hint."""

  def __init__(self, path_or_frames, fps: float | None):
    self.path = None
    self.array = None
    if isinstance(path_or_frames, (str, os.PathLike)):
      self.path = os.fspath(path_or_frames)
      self.name = self.path
      self._probe()
      self.fps = fps or self.fps
    else:
      array = np.asarray(path_or_frames)
      if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise ValueError(f'expected uint8 [N, H, W, 3] RGB frames, got {array.dtype} {array.shape}')
      self.array, self.name = array, '<array>'
      self.fps, self.count_hint = float(fps or 25.0), len(array)

  def _probe(self) -> None:
    if (os.path.isfile(self.path) and os.path.getsize(self.path) and
        (self.path.lower().endswith(IMAGE_SUFFIXES) or cv2.haveImageReader(self.path))):
      raise VideoReadError(self.path, 'is a still image, not a video')
    cap = video_lib.open_video(self.path)
    try:
      fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
      codec = fourcc.to_bytes(4, 'little').decode('latin-1') if fourcc > 0 else ''
      if codec == 'ansi':  # FFmpeg's tty demuxer "plays" any text file as ANSI art.
        raise VideoReadError(self.path, 'not a video (FFmpeg reads it only as a text file)')
      fps = cap.get(cv2.CAP_PROP_FPS)
      count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
      cap.release()
    self.fps = float(fps) if fps and math.isfinite(fps) and 0 < fps < 1000 else 25.0
    self.count_hint = int(count) if 0 < count < 1e9 else None

  def chunks(self, size: int = CHUNK) -> Iterator[np.ndarray]:
    if self.array is not None:
      for start in range(0, len(self.array), size):
        yield self.array[start:start + size]
      return
    cap = video_lib.open_video(self.path)
    n, chunk = 0, []
    try:
      while True:
        ok, bgr = cap.read()
        if not ok or bgr is None:
          break
        chunk.append(video_lib.to_rgb(bgr))
        n += 1
        if len(chunk) == size:
          yield np.stack(chunk)
          chunk = []
    except cv2.error as e:
      raise VideoReadError(self.path, f'decoding failed at frame {n}: {e}') from e
    finally:
      cap.release()
    if chunk:
      yield np.stack(chunk)
    if n == 0:
      raise VideoReadError(self.path, 'zero frames decoded (not a video, or an empty one)')


def _progress(total, desc: str, unit: str, enabled: bool | None):
  from tqdm.auto import tqdm
  # enabled=None: a bar only when stderr is a terminal (scripts and pipes stay clean).
  return tqdm(total=total, desc=desc, unit=unit, disable=None if enabled is None else not enabled,
              dynamic_ncols=True, leave=False)


# ----------------------------------------------------------------------------
# Faces.


def face_size(config) -> int:
  """Side of the face crops the model's dataset stored: `image_size * 128 / 112`, rounded."""
  return int(round(config.image_size * STORED_OVER_INPUT))


def face_track(path_or_frames, size: int, *, detector: faces.FaceDetector | None = None,
               fps: float | None = None, max_cached_bytes: int = 1 << 30,
               progress: bool | None = None) -> faces.FaceTrack:
  """`extract_face_track(frames, size, margin=0.2)` streamed over a video file or an array.

  Detection runs chunk by chunk; decoded frames are kept for cropping up to `max_cached_bytes`,
  beyond that the video is decoded again. Raises NoFaceError when no frame has a face.
  """
  return _face_track(_Frames(path_or_frames, fps), size, detector, max_cached_bytes, progress)


def _face_track(frames: _Frames, size, detector, max_cached_bytes, progress) -> faces.FaceTrack:
  detector = detector or faces.default_detector()
  detections, cache, cached, shape = [], [], 0, None
  with _progress(frames.count_hint, 'faces', 'frame', progress) as bar:
    for chunk in frames.chunks():
      if shape is None:
        shape = chunk.shape[1:3]
      detections += detector(chunk, max(detector.min_face_size, MIN_FACE * min(shape)))
      cached += chunk.nbytes
      if cache is not None and cached <= max_cached_bytes:
        cache.append(chunk)
      else:
        cache = None  # Over budget: decode again for cropping.
      bar.update(len(chunk))
  frames.frame_hw = tuple(int(v) for v in shape)
  try:
    boxes, found = faces.track_faces(detections, shape)
  except faces.NoFaceError:
    raise faces.NoFaceError(f'{frames.name}: no face detected in any of its {len(detections)} '
                            'frames') from None
  crops = np.empty((len(detections), size, size, 3), np.uint8)
  n = 0
  for chunk in (cache if cache is not None else frames.chunks()):
    k = min(len(chunk), len(detections) - n)
    crops[n:n + k] = faces.crop_faces(chunk[:k], boxes[n:n + k], size, FACE_MARGIN)
    n += k
  if n != len(detections):
    raise VideoReadError(frames.name, f'decoded {len(detections)} frames, then {n} on re-reading')
  return faces.FaceTrack(crops, boxes, found)


# ----------------------------------------------------------------------------
# Windows and timeline.


def window_indices(num_frames: int, clip_len: int, span: int, stride: int) -> np.ndarray:
  """Frame indices `[W, clip_len]` of the windows: one every `stride` frames, plus one flush with
  the end; each takes `clip_len` frames at a fixed interval over its `span` frames."""
  if num_frames < span:
    raise VideoTooShortError(f'{num_frames} frames, fewer than one window ({span})')
  starts = list(range(0, num_frames - span + 1, stride))
  if starts[-1] != num_frames - span:
    starts.append(num_frames - span)
  return np.asarray(starts)[:, None] + video_lib.fixed_interval_indices(span, clip_len)[None]


def _frame_average(starts, span, window_probs, run, num_frames) -> np.ndarray:
  """Per frame, the mean of the run windows whose span covers it; NaN where none does."""
  sums = np.zeros((num_frames, window_probs.shape[1]), np.float64)
  counts = np.zeros(num_frames)
  for start, p, r in zip(starts, window_probs, run):
    if r:
      sums[start:start + span] += p
      counts[start:start + span] += 1
  with np.errstate(invalid='ignore', divide='ignore'):
    return (sums / counts[:, None]).astype(np.float32)


def _smooth(probs: np.ndarray, sigma: float) -> np.ndarray:
  """Gaussian over time (sigma in frames), normalised over the frames that have probabilities."""
  valid = np.isfinite(probs).all(1)
  if sigma <= 0 or not valid.any():
    return probs
  radius = int(math.ceil(3 * sigma))
  kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
  filled = np.where(valid[:, None], probs, 0.0)
  weight = np.convolve(valid.astype(np.float64), kernel, 'same')
  out = np.stack([np.convolve(c, kernel, 'same') for c in filled.T], 1)
  with np.errstate(invalid='ignore', divide='ignore'):
    out = out / weight[:, None]
  return np.where(valid[:, None], out, np.nan).astype(np.float32)


# ----------------------------------------------------------------------------
# Model.


@functools.partial(jax.jit, static_argnums=0)
def _probabilities(model, variables, clips):
  logits = model.apply(variables, normalize_clip(clips), train=False)
  return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)


def _model_inputs(crops: np.ndarray, config) -> np.ndarray:
  """Centre crop to `config.image_size` (as `eval_transform`), plus flow channels if the model
  takes them."""
  size = config.image_size
  top, left = (crops.shape[-3] - size) // 2, (crops.shape[-2] - size) // 2
  clips = crops[..., top:top + size, left:left + size, :]
  if 'flow' in config:
    from emojax.data import flow
    clips = np.stack([flow.clip_with_flow(c, config.flow.method) for c in clips])
  return np.ascontiguousarray(clips)


def _resolve(model, restored, checkpoint, variables, config):
  from emojax.checkpoints import Restored, restore
  if isinstance(model, Restored):
    restored = model
  elif isinstance(model, (str, os.PathLike)):
    checkpoint = model
  elif model is not None:
    if variables is None or config is None:
      raise ValueError('predict_video(model=<flax module>) needs variables= and config=')
    restored = Restored(config, model, variables, -1, '<in memory>')
  if restored is None:
    if checkpoint is None:
      raise ValueError('predict_video needs a model: restored=, checkpoint=PATH, or model= '
                       'with variables= and config=')
    restored = restore(os.fspath(checkpoint))
  return restored


# ----------------------------------------------------------------------------
# Result.


@dataclasses.dataclass
class Prediction:
  """What `predict_video` found; N frames, W windows, C classes."""
  source: str
  fps: float
  frame_size: tuple[int, int]  # (width, height)
  class_names: tuple[str, ...]
  boxes: np.ndarray  # float32 [N, 4] x1, y1, x2, y2 (the tracked box; see face_found)
  face_found: np.ndarray  # bool [N]
  probabilities: np.ndarray  # float32 [N, C] smoothed timeline; NaN rows have no label
  window_indices: np.ndarray  # int [W, T] frames each window took
  window_span: int
  window_probabilities: np.ndarray  # float32 [W, C]; NaN rows: window not run (too few faces)
  window_face_fraction: np.ndarray  # float32 [W]
  settings: dict

  @property
  def num_frames(self) -> int:
    return len(self.face_found)

  @property
  def times(self) -> np.ndarray:
    return np.arange(self.num_frames) / self.fps

  @property
  def labels(self) -> list[str | None]:
    return [self.class_names[int(np.argmax(p))] if np.isfinite(p).all() else None
            for p in self.probabilities]

  def to_json(self) -> dict:
    names = self.class_names

    def probs(p):
      return {n: round(float(v), 6) for n, v in zip(names, p)} if np.isfinite(p).all() else None

    frames = [{'frame': i, 'time': round(float(t), 4), 'face_found': bool(f),
               'box': [round(float(v), 1) for v in b] if f else None,
               'probabilities': probs(p), 'label': label}
              for i, (t, f, b, p, label) in enumerate(zip(
                  self.times, self.face_found, self.boxes, self.probabilities, self.labels))]
    windows = [{'start': int(idx[0]), 'end': int(idx[0]) + self.window_span - 1,
                'frames': [int(i) for i in idx], 'face_fraction': round(float(ff), 4),
                'probabilities': probs(p),
                'label': names[int(np.argmax(p))] if np.isfinite(p).all() else None}
               for idx, p, ff in zip(self.window_indices, self.window_probabilities,
                                     self.window_face_fraction)]
    return {'source': self.source, 'fps': self.fps, 'num_frames': self.num_frames,
            'frame_size': list(self.frame_size), 'class_names': list(names),
            'settings': self.settings, 'frames': frames, 'windows': windows}

  def write(self, out_dir: str, frames=None, annotate: bool = False) -> dict[str, str]:
    """timeline.json, timeline.csv, timeline.png in `out_dir`; with `annotate`, annotated.mp4
    drawn on `frames` (the video path or array predicted on). Returns {kind: path}."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f) for k, f in (
        ('json', 'timeline.json'), ('csv', 'timeline.csv'), ('plot', 'timeline.png'))}
    with open(paths['json'], 'w') as f:
      json.dump(self.to_json(), f, indent=1)
    self._write_csv(paths['csv'])
    self._plot(paths['plot'])
    if annotate:
      paths['video'] = os.path.join(out_dir, 'annotated.mp4')
      self._annotate(frames if frames is not None else self.source, paths['video'])
    return paths

  def _write_csv(self, path: str) -> None:
    import csv
    with open(path, 'w', newline='') as f:
      w = csv.writer(f)
      w.writerow(['time', 'frame', 'face_found', 'x1', 'y1', 'x2', 'y2',
                  *[f'p_{n}' for n in self.class_names], 'label'])
      for i, (t, found, box, p, label) in enumerate(zip(
          self.times, self.face_found, self.boxes, self.probabilities, self.labels)):
        box = [f'{v:.1f}' for v in box] if found else [''] * 4
        probs = [f'{v:.6f}' for v in p] if label else [''] * len(p)
        w.writerow([f'{t:.4f}', i, int(found), *box, *probs, label or ''])

  def _plot(self, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 3.5), constrained_layout=True)
    t = self.times
    for k, name in enumerate(self.class_names):
      ax.plot(t, self.probabilities[:, k], label=name, lw=1.5)
    missing = ~self.face_found
    if missing.any():
      ax.fill_between(t, 0, 1, where=missing, color='0.85', step='mid', label='no face')
    ax.set(xlabel='time (s)', ylabel='probability', ylim=(0, 1), xlim=(t[0], max(t[-1], 1e-3)),
           title=os.path.basename(self.source))
    ax.legend(loc='upper left', bbox_to_anchor=(1.0, 1.0), fontsize='small')
    fig.savefig(path, dpi=100)
    plt.close(fig)

  def _annotate(self, frames, path: str) -> None:
    source = _Frames(frames, self.fps)
    width, height = self.frame_size
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), self.fps, (width, height))
    if not writer.isOpened():
      raise RuntimeError(f'OpenCV cannot write MP4 (mp4v) files: {path}')
    labels, i = self.labels, 0
    try:
      for chunk in source.chunks():
        for rgb in chunk:
          if i < self.num_frames:
            writer.write(self._draw(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), i, labels[i]))
          i += 1
    finally:
      writer.release()

  def _draw(self, bgr: np.ndarray, i: int, label: str | None) -> np.ndarray:
    scale = max(bgr.shape[0] / 480, 0.5)
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, int(round(scale)))
    if self.face_found[i]:
      x1, y1, x2, y2 = (int(round(v)) for v in self.boxes[i])
      cv2.rectangle(bgr, (x1, y1), (x2, y2), (0, 220, 0), 2)
      if label:
        p = float(np.max(self.probabilities[i]))
        cv2.putText(bgr, f'{label} {p:.2f}', (x1, max(y1 - 6, 12)), font, 0.6 * scale,
                    (0, 220, 0), thick, cv2.LINE_AA)
    else:
      cv2.putText(bgr, 'no face', (8, bgr.shape[0] - 10), font, 0.6 * scale, (0, 0, 255), thick,
                  cv2.LINE_AA)
    row, bar = int(16 * scale), int(80 * scale)
    for k, name in enumerate(self.class_names):
      y = 6 + k * row
      p = self.probabilities[i, k] if label else 0.0
      cv2.rectangle(bgr, (6, y), (6 + bar, y + row - 4), (60, 60, 60), -1)
      cv2.rectangle(bgr, (6, y), (6 + int(bar * p), y + row - 4), (0, 200, 255), -1)
      cv2.putText(bgr, name, (10 + bar, y + row - 5), font, 0.4 * scale, (255, 255, 255), thick,
                  cv2.LINE_AA)
    return bgr


# ----------------------------------------------------------------------------
# Entry points.


def predict_video(path_or_frames, model=None, *, restored=None, checkpoint=None, variables=None,
                  config=None, fps: float | None = None, stride: int = 4, span: int | None = None,
                  smoothing: float = 0.2, batch_size: int = 8, min_face_fraction: float = 0.5,
                  detector: faces.FaceDetector | None = None, max_cached_bytes: int = 1 << 30,
                  progress: bool | None = None, out_dir: str | None = None,
                  annotate: bool = False) -> Prediction:
  """Emotion probabilities per window and a smoothed per-frame timeline of one video.

  Args:
    path_or_frames: a video file OpenCV reads (mp4, avi, mov, webm, ...) or uint8 [N, H, W, 3] RGB.
    model: a `Restored`, a checkpoint path, or a flax module (then `variables=` and `config=`).
    restored / checkpoint: the model as `emojax.restore` returns it / a path to restore from.
    fps: frames per second of an array (default 25); overrides a file's own.
    stride: frames between window starts. span: frames one window covers (default
      config.num_frames: consecutive frames; larger: fixed-interval sampling over the span).
    smoothing: sigma, in seconds, of the Gaussian over the per-frame timeline (0: none).
    batch_size: windows per model call. min_face_fraction: windows with fewer sampled frames with
      a face are not run.
    detector: the MTCNN detector (default: the process-wide one).
    max_cached_bytes: decoded frames kept for cropping; a longer video is decoded twice.
    progress: tqdm bars; None shows them only when stderr is a terminal.
    out_dir: if given, writes timeline.json / .csv / .png there (and annotated.mp4 if `annotate`).

  Memory: the face crops of every frame (face_size² x 3 bytes each, 48 KiB at 128 px).

  Raises:
    VideoReadError: the file is missing, empty, not a video or undecodable.
    VideoTooShortError: fewer frames than one window.
    NoFaceError: no face in any frame.
  """
  frames = _Frames(path_or_frames, fps)  # Checks the input before the model loads.
  restored = _resolve(model, restored, checkpoint, variables, config)
  config = restored.config
  clip_len = config.num_frames
  span = span or clip_len
  if span < clip_len or stride < 1:
    raise ValueError(f'span={span} must be >= config.num_frames={clip_len}, stride={stride} >= 1')
  if frames.count_hint is not None and frames.count_hint < span:
    raise VideoTooShortError(f'{frames.name}: {frames.count_hint} frames, fewer than one window '
                             f'({span} frames)')
  size = face_size(config)
  track = _face_track(frames, size, detector, max_cached_bytes, progress)
  n = len(track.found)
  try:
    idx = window_indices(n, clip_len, span, stride)
  except VideoTooShortError as e:
    raise VideoTooShortError(f'{frames.name}: {e}') from None
  face_fraction = track.found[idx].mean(1).astype(np.float32)
  run = face_fraction >= min_face_fraction
  window_probs = np.full((len(idx), config.num_classes), np.nan, np.float32)
  todo = np.flatnonzero(run)
  with _progress(len(todo), 'model', 'window', progress) as bar:
    pending = []
    for b in range(0, len(todo), batch_size):
      chosen = todo[b:b + batch_size]
      clips = _model_inputs(track.crops[idx[chosen]], config)
      if len(chosen) < batch_size:  # One batch shape: a single compilation.
        clips = np.concatenate([clips, np.repeat(clips[-1:], batch_size - len(chosen), 0)])
      pending.append((chosen, _probabilities(restored.model, restored.variables, clips)))
      bar.update(len(chosen))
    for chosen, probs in pending:
      window_probs[chosen] = np.asarray(probs)[:len(chosen)]
  per_frame = _frame_average(idx[:, 0], span, window_probs, run, n)
  per_frame[~track.found] = np.nan
  height, width = frames.frame_hw
  prediction = Prediction(
      source=frames.name, fps=frames.fps, frame_size=(width, height),
      class_names=restored.class_names, boxes=track.boxes,
      face_found=track.found, probabilities=_smooth(per_frame, smoothing * frames.fps),
      window_indices=idx, window_span=span, window_probabilities=window_probs,
      window_face_fraction=face_fraction,
      settings={'checkpoint': restored.path, 'step': restored.step,
                'model': config.model.name, 'num_frames': clip_len, 'span': span,
                'stride': stride, 'smoothing_s': smoothing, 'face_size': size,
                'image_size': config.image_size, 'face_margin': FACE_MARGIN,
                'min_face_fraction': min_face_fraction})
  if out_dir:
    prediction.write(out_dir, path_or_frames, annotate)
  return prediction


def run_camera(index: int, restored, stride: int = 4, max_frames: int | None = None,
               detector: faces.FaceDetector | None = None, out=print) -> None:
  """Live labels from camera `index`: one line per `stride` frames once a window is full.

  Per frame the best-scoring face is detected (no whole-video track is possible live), its box
  smoothed with an exponential moving average, cropped as the builders do, and the last
  `config.num_frames` crops form the window. Stops on Ctrl-C, at `max_frames`, or when the camera
  stops delivering frames.
  """
  import collections
  config = restored.config
  cap = cv2.VideoCapture(index)
  if not cap.isOpened():
    raise VideoReadError(f'camera {index}', 'cannot be opened (no such camera, or it is busy)')
  detector = detector or faces.default_detector()
  names = restored.class_names
  window, box, n = collections.deque(maxlen=config.num_frames), None, 0
  try:
    while max_frames is None or n < max_frames:
      ok, bgr = cap.read()
      if not ok:
        break
      rgb = video_lib.to_rgb(bgr)
      det = detector(rgb, max(detector.min_face_size, MIN_FACE * min(rgb.shape[:2])))[0]
      n += 1
      if not len(det.boxes):
        window.clear()  # A window must not mix in frames without the face.
        out(f'frame {n:6d}  no face')
        continue
      box = det.boxes[0] if box is None else 0.6 * box + 0.4 * det.boxes[0]
      window.append(faces.crop_faces(rgb[None], box[None], face_size(config), FACE_MARGIN)[0])
      if len(window) == config.num_frames and n % stride == 0:
        p = np.asarray(_probabilities(restored.model, restored.variables,
                                      _model_inputs(np.stack(window)[None], config)))[0]
        out(f'frame {n:6d}  {names[int(np.argmax(p))]:<10s} {float(np.max(p)):.2f}')
  except KeyboardInterrupt:
    pass
  finally:
    cap.release()


def _parser() -> argparse.ArgumentParser:
  class Parser(argparse.ArgumentParser):
    def error(self, message):  # One line on stderr, exit 2.
      self.exit(2, f'error: {message} (see --help)\n')

  p = Parser(prog='python -m emojax.predict', description=__doc__.split('\n')[0])
  p.add_argument('video', nargs='?', help='video file (anything OpenCV reads: mp4, avi, mov, webm)')
  p.add_argument('--checkpoint', required=True,
                 help='a launch.py workdir, one of its fold_K folders or a checkpoint folder')
  p.add_argument('--out', help='output directory (timeline.json / .csv / .png, annotated.mp4)')
  p.add_argument('--stride', type=int, default=4, help='frames between window starts')
  p.add_argument('--span', type=int, default=None,
                 help='frames one window covers (default: config.num_frames, consecutive)')
  p.add_argument('--smoothing', type=float, default=0.2, help='timeline smoothing sigma, seconds')
  p.add_argument('--batch_size', type=int, default=8, help='windows per model call')
  p.add_argument('--fold', type=int, default=None, help='fold of the workdir (default: first)')
  p.add_argument('--annotate', action='store_true', help='also write annotated.mp4')
  p.add_argument('--camera', type=int, default=None, help='live camera index instead of a video')
  return p


def main(argv=None) -> int:
  args = _parser().parse_args(argv)
  if args.camera is None and (not args.video or not args.out):
    _parser().error('give a VIDEO and --out=DIR, or --camera=INDEX')
  # stderr carries the error line alone: no Orbax restore notes, FFmpeg or OpenCV warnings (the
  # error says what was wrong with the file).
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.ERROR)
  os.environ.setdefault('OPENCV_FFMPEG_LOGLEVEL', '-8')  # AV_LOG_QUIET; read at each open.
  cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
  from emojax.checkpoints import restore
  try:
    if args.camera is not None:
      run_camera(args.camera, restore(args.checkpoint, fold=args.fold), stride=args.stride)
      return 0
    _Frames(args.video, None)  # A bad video fails before the model loads.
    restored = restore(args.checkpoint, fold=args.fold)
    pred = predict_video(args.video, restored=restored, stride=args.stride, span=args.span,
                         smoothing=args.smoothing, batch_size=args.batch_size, out_dir=args.out,
                         annotate=args.annotate)
  except (VideoReadError, VideoTooShortError, faces.NoFaceError, FileNotFoundError,
          ValueError) as e:
    print(f'error: {" ".join(str(e).split())}', file=sys.stderr)
    return 1
  except KeyboardInterrupt:
    print('error: interrupted', file=sys.stderr)
    return 130
  labels = [label for label in pred.labels if label]
  top = max(set(labels), key=labels.count) if labels else 'none'
  print(f'{pred.num_frames} frames ({pred.num_frames / pred.fps:.1f}s), face in '
        f'{int(pred.face_found.sum())}, labelled {len(labels)}, most frequent: {top}; '
        f'{len(pred.window_indices)} windows; outputs in {args.out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
