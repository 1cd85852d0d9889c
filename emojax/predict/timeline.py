"""The timeline of one video: face track, windows, the model on each window, per-frame averages.

See the package docstring (`emojax.predict`) for what each step does.
"""
from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from emojax import checkpoints
from emojax.data import faces, flow, mtcnn, tracking
from emojax.data import sampling as sampling_lib
from emojax.data import video as video_lib
from emojax.data import record as record_lib
from emojax.data.record import DataRecord
from emojax.data.smoothing import gaussian_smooth
from emojax.data.video import VideoReadError
from emojax.models import normalize_clip
from emojax.predict import frame_model
from emojax.predict.outputs import Prediction



class VideoTooShortError(ValueError):
  """The video has fewer frames than one prediction window."""


def _progress(total, desc: str, unit: str, enabled: bool | None):
  # enabled=None: a bar only when stderr is a terminal (scripts and pipes stay clean).
  return tqdm(total=total, desc=desc, unit=unit, disable=None if enabled is None else not enabled,
              dynamic_ncols=True, leave=False)


# ----------------------------------------------------------------------------
# Faces.


def crop_settings(restored: checkpoints.Restored) -> tuple[int, float, bool]:
  """(side, margin, align) of the face crops the run's dataset stored, from its `DataRecord`."""
  record = restored.data
  return record.crop_size, record.crop_margin, record.align


def resize_side(restored: checkpoints.Restored) -> int:
  """Side the face crops are resized to before evaluation's centre `image_size` crop, from the
  run's resize margin (its `DataRecord`)."""
  record = restored.data
  return sampling_lib.resized_side(record.image_size, record.resize_margin)


def window_plan(restored: checkpoints.Restored, fps: float, num_frames: int | None = None,
                span: int | None = None) -> tuple[int, np.ndarray]:
  """(span, offsets): the frames one window of a `fps` video covers and the `config.num_frames`
  it takes, as a training clip spanned and sampled them (the run's `DataRecord`: its span in
  seconds, `config.sampling`). A whole-video contract spans the training videos' median length
  (at most `num_frames` of the video, when given). `span` overrides the length."""
  config, record = restored.config, restored.data
  sampling = sampling_lib.Sampling.from_config(config)
  ratio = fps / record.fps if record.fps else 1.0
  if span is None:
    span = max(int(round(record.span_frames * ratio)), 1)
    if record.whole_video and num_frames:
      span = min(span, num_frames)
  if span < 1:
    raise ValueError(f'span={span} must be at least 1')
  return span, sampling.window(span, ratio)


def face_track(path_or_frames, size: int, *, margin: float = faces.CROP_MARGIN,
               align: bool = faces.ALIGN, key_frame_interval: int = faces.KEY_FRAME_INTERVAL,
               detector: mtcnn.FaceDetector | None = None, fps: float | None = None,
               max_cached_bytes: int = 1 << 30, progress: bool | None = None) -> faces.FaceTrack:
  """`extract_face_track(frames, size, margin, align, key_frame_interval)` streamed over a video
  file or an array.

  The key frames are detected as the video is decoded, in the detector's full batches; decoded
  frames are kept up to `max_cached_bytes` for the frames to recheck and for cropping, beyond
  that the video is decoded again. Raises NoFaceError when no frame has a face.
  """
  source = video_lib.open_frames(path_or_frames, fps)
  return _face_track(source, size, margin, align, key_frame_interval, detector, max_cached_bytes,
                     progress)[0]


class _Frames:
  """The decoded chunks of a source, kept while they fit `max_bytes`; frames by index, from them
  or by decoding the source again."""

  def __init__(self, source, max_bytes: int):
    self.source, self.max_bytes, self.chunks, self.bytes = source, max_bytes, [], 0

  def keep(self, chunk) -> None:
    self.bytes += chunk.nbytes
    self.chunks = self.chunks if self.chunks is not None and self.bytes <= self.max_bytes else None
    if self.chunks is not None:
      self.chunks.append(chunk)

  def at(self, indices) -> np.ndarray:
    if self.chunks is not None:
      size = len(self.chunks[0])
      return np.stack([self.chunks[i // size][i % size] for i in indices])
    if isinstance(self.source, video_lib.FrameArray):
      return self.source.array[np.asarray(indices)]
    decoded = self.source.decode(indices)
    return np.stack([decoded[i] for i in indices])

  def all_chunks(self):
    return self.chunks if self.chunks is not None else self.source.chunks()


def _face_track(source, size, margin, align, key_frame_interval, detector, max_cached_bytes,
                progress):
  """(FaceTrack, (height, width) of the frames) of a `VideoReader` or `FrameArray`."""
  detector = detector or mtcnn.default_detector()
  frames, keys, pending, n, shape = _Frames(source, max_cached_bytes), {}, [], 0, None

  def detect(batch):
    keys.update(zip([i for i, _ in batch], detector(np.stack([f for _, f in batch]), smallest)))

  with _progress(source.frame_count_hint, 'faces', 'frame', progress) as bar:
    for chunk in source.chunks():
      if shape is None:
        shape = tuple(int(v) for v in chunk.shape[1:3])
        smallest = faces.smallest_face(detector, shape)
      pending += [(n + k, chunk[k].copy()) for k in range(len(chunk))
                  if (n + k) % key_frame_interval == 0]
      while len(pending) >= detector.batch_size:  # Full batches: one compiled batch shape.
        detect(pending[:detector.batch_size])
        pending = pending[detector.batch_size:]
      last = chunk[-1]
      frames.keep(chunk)
      n += len(chunk)
      bar.update(len(chunk))
  if (n - 1) % key_frame_interval:
    pending.append((n - 1, last))
  if pending:
    detect(pending)
  try:
    (boxes, landmarks, found), detected = tracking.track_subject(
        lambda indices: detector(frames.at(indices), smallest), n, shape, key_frame_interval,
        key_detections=keys)
  except faces.NoFaceError:
    raise faces.NoFaceError(f'{source.name}: no face detected in any of its {n} frames') from None
  crops = np.empty((n, size, size, 3), np.uint8)
  done = 0
  for chunk in frames.all_chunks():
    k = min(len(chunk), n - done)
    crops[done:done + k] = faces.crop_faces(chunk[:k], boxes[done:done + k], size, margin,
                                            landmarks[done:done + k] if align else None)
    done += k
  if done != n:
    raise VideoReadError(source.name, f'decoded {n} frames, then {done} on re-reading')
  return faces.FaceTrack(crops, boxes, found, landmarks, detected), shape


# ----------------------------------------------------------------------------
# Windows and timeline.


def window_indices(num_frames: int, clip_len: int, span: int, stride: int,
                   offsets: np.ndarray | None = None) -> np.ndarray:
  """Frame indices `[W, clip_len]` of the windows: one every `stride` frames, plus one flush with
  the end; each takes `offsets` of its `span` frames (default: `clip_len` at a fixed interval)."""
  if num_frames < span:
    raise VideoTooShortError(f'{num_frames} frames, fewer than one window ({span})')
  starts = list(range(0, num_frames - span + 1, stride))
  if starts[-1] != num_frames - span:
    starts.append(num_frames - span)
  if offsets is None:
    offsets = video_lib.fixed_interval_indices(span, clip_len)
  return np.asarray(starts)[:, None] + np.asarray(offsets)[None]


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


# ----------------------------------------------------------------------------
# Model.


@functools.partial(jax.jit, static_argnums=0)
def probabilities(model, variables, clips):
  """Class probabilities [B, C] of uint8 clips [B, T, H, W, C'] (jitted; the model is static)."""
  logits = model.apply(variables, normalize_clip(clips), train=False)
  return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)


def model_inputs(crops: np.ndarray, config, side: int | None = None,
                 flow_method: str = '') -> np.ndarray:
  """Face crops `[B, T, S, S, 3]` as evaluation's centre view: resized to `side` (default S),
  centre crop to `config.image_size`, plus `flow_method` flow channels for a model that takes
  them (the run's recorded flow)."""
  side = side or crops.shape[-2]
  resized = sampling_lib.resize_frames(crops.reshape(-1, *crops.shape[-3:]), side)
  (top, left), size = sampling_lib.crop_offsets(side, config.image_size)[0], config.image_size
  clips = resized.reshape(*crops.shape[:-3], side, side, 3)[..., top:top + size,
                                                             left:left + size, :]
  if flow_method:
    clips = np.stack([flow.clip_with_flow(c, flow_method) for c in clips])
  return np.ascontiguousarray(clips)


def _resolve(model, restored, checkpoint, variables, config) -> checkpoints.Restored:
  if isinstance(model, checkpoints.Restored):
    restored = model
  elif isinstance(model, (str, os.PathLike)):
    checkpoint = model
  elif model is not None:
    if variables is None or config is None:
      raise ValueError('predict_video(model=<flax module>) needs variables= and config=')
    names = [f'class_{k}' for k in range(config.num_classes)]
    record = DataRecord.for_run(record_lib.builders_crops('<in memory>', names, config.flow.method),
                                config, None, config.num_frames)
    restored = checkpoints.Restored(config, model, variables, -1, '<in memory>', record)
  if restored is None:
    if checkpoint is None:
      return frame_model.fer2013_model()
    restored = checkpoints.restore(os.fspath(checkpoint))
  return restored


# ----------------------------------------------------------------------------
# Entry point.


def predict_video(path_or_frames, model=None, *, restored=None, checkpoint=None, variables=None,
                  config=None, fps: float | None = None, stride: int | None = None,
                  span: int | None = None,
                  smoothing: float = 0.2, batch_size: int = 8, min_face_fraction: float = 0.5,
                  key_frame_interval: int = faces.KEY_FRAME_INTERVAL,
                  detector: mtcnn.FaceDetector | None = None, max_cached_bytes: int = 1 << 30,
                  progress: bool | None = None, out_dir: str | None = None,
                  annotate: bool = False) -> Prediction:
  """Emotion probabilities per window and a smoothed per-frame timeline of one video.

  Args:
    path_or_frames: a video file OpenCV reads (mp4, avi, mov, webm, ...) or uint8 [N, H, W, 3] RGB.
    model: a `Restored`, a checkpoint path, or a flax module (then `variables=` and `config=`);
      none of them: the FER2013 network on every frame (`frame_model.fer2013_model`).
    restored / checkpoint: the model as `emojax.restore` returns it / a path to restore from.
    fps: frames per second of an array (default 25); overrides a file's own.
    stride: frames between window starts (default 4; 1 for a one-frame model, so every frame with
      a face gets its own probabilities). span: frames one window covers (default: what a
      training clip spanned, from the run's data contract; see `window_plan`). A window takes
      config.num_frames of its frames, sampled as evaluation sampled a clip of the stored track.
    smoothing: sigma, in seconds, of the Gaussian over the per-frame timeline (0: none).
    batch_size: windows per model call. min_face_fraction: windows with fewer sampled frames with
      a face are not run.
    key_frame_interval: frames between face detections (`emojax.data.tracking`; 1: every frame).
    detector: the MTCNN detector (default: the process-wide one).
    max_cached_bytes: decoded frames kept for cropping; a longer video is decoded twice.
    progress: tqdm bars; None shows them only when stderr is a terminal.
    out_dir: if given, writes timeline.json / .csv / .png there (and annotated.mp4 if `annotate`).

  Memory: the face crops of every frame (crop side² x 3 bytes each, 48 KiB at 128 px).

  Raises:
    VideoReadError: the file is missing, empty, not a video or undecodable.
    VideoTooShortError: fewer frames than one window.
    NoFaceError: no face in any frame.
  """
  source = video_lib.open_frames(path_or_frames, fps)  # Checks the input before the model loads.
  source_fps = source.fps or video_lib.DEFAULT_FPS
  restored = _resolve(model, restored, checkpoint, variables, config)
  config = restored.config
  clip_len = config.num_frames
  stride = (1 if clip_len == 1 else 4) if stride is None else stride
  if stride < 1:
    raise ValueError(f'stride={stride} must be at least 1')
  hint = source.frame_count_hint
  planned, _ = window_plan(restored, source_fps, hint, span)
  if hint is not None and hint < planned:
    raise VideoTooShortError(f'{source.name}: {hint} frames, fewer than one window ({planned} '
                             'frames)')
  size, margin, align = crop_settings(restored)
  side = resize_side(restored)
  track, (height, width) = _face_track(source, size, margin, align, key_frame_interval, detector,
                                       max_cached_bytes, progress)
  n = len(track.found)
  span, offsets = window_plan(restored, source_fps, n, span)
  try:
    idx = window_indices(n, clip_len, span, stride, offsets)
  except VideoTooShortError as e:
    raise VideoTooShortError(f'{source.name}: {e}') from None
  face_fraction = track.found[idx].mean(1).astype(np.float32)
  run = face_fraction >= min_face_fraction
  window_probs = np.full((len(idx), config.num_classes), np.nan, np.float32)
  todo = np.flatnonzero(run)
  with _progress(len(todo), 'model', 'window', progress) as bar:
    pending = []
    for b in range(0, len(todo), batch_size):
      chosen = todo[b:b + batch_size]
      clips = model_inputs(track.crops[idx[chosen]], config, side, restored.data.flow_method)
      if len(chosen) < batch_size:  # One batch shape: a single compilation.
        clips = np.concatenate([clips, np.repeat(clips[-1:], batch_size - len(chosen), 0)])
      pending.append((chosen, probabilities(restored.model, restored.variables, clips)))
      bar.update(len(chosen))
    for chosen, probs in pending:
      window_probs[chosen] = np.asarray(probs)[:len(chosen)]
  per_frame = _frame_average(idx[:, 0], span, window_probs, run, n)
  per_frame[~track.found] = np.nan
  timeline = gaussian_smooth(per_frame, smoothing * source_fps, np.isfinite(per_frame).all(1))
  prediction = Prediction(
      source=source.name, fps=source_fps, frame_size=(width, height),
      class_names=restored.class_names, boxes=track.boxes,
      face_found=track.found, probabilities=timeline.astype(np.float32),
      window_indices=idx, window_span=span, window_probabilities=window_probs,
      window_face_fraction=face_fraction,
      settings={'checkpoint': restored.path, 'step': restored.step,
                'model': config.model.name, 'num_frames': clip_len, 'span': span,
                'span_s': round(span / source_fps, 4), 'offsets': [int(o) for o in offsets],
                'stride': stride, 'smoothing_s': smoothing, 'face_size': size,
                'resized_to': side, 'image_size': config.image_size, 'face_margin': margin,
                'face_aligned': align, 'key_frame_interval': key_frame_interval,
                'detected_frames': track.detected_frames,
                'min_face_fraction': min_face_fraction})
  if out_dir:
    prediction.write(out_dir, path_or_frames, annotate)
  return prediction
