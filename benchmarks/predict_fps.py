"""End-to-end frames/s of `emojax.predict_video` (decode + faces + model) on a 640x480 video.

    python benchmarks/predict_fps.py [--frames 200] [--stride 4] [--config configs/demo.py]

Writes a 640x480 MJPG AVI (or `--codec mp4v` MP4) of `skimage.data.astronaut()`'s head drifting
over a backdrop (the tests' fake face video, larger), builds the config's model with random weights
(speed does not depend on them; a model in memory takes the builders' default crop size,
`emojax.data.faces.STORED_CROP_SIZE`), predicts once to warm up (compiles the detector's
pyramid levels and buckets and the model; `warmup_s`), then times:

  decode   one pass of the streaming reader alone (`emojax.data.video.VideoReader`, OpenCV)
  faces    `timeline.face_track` on the file (decode + MTCNN + track + crop) minus `decode`
  model    the windows through the jitted model (softmax included), on the face crops
  total    `predict_video` end to end (no output files)

and prints a table row and a JSON line. Goal: >= 25 frames/s end to end on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_video(path: str, num_frames: int, size=(640, 480), fps: float = 25.0,
               codec: str = 'MJPG') -> str:
  import cv2
  from tfds_builders import fakes
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), fps, size)
  if not writer.isOpened():
    raise RuntimeError(f'OpenCV cannot write {codec} to {path}')
  for frame in fakes.fake_face_frames(num_frames, size, seed=0):
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  return path


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--frames', type=int, default=200, help='video length (frames, 25 fps)')
  ap.add_argument('--stride', type=int, default=4, help='frames between window starts')
  ap.add_argument('--batch_size', type=int, default=8, help='windows per model call')
  ap.add_argument('--config', default='configs/demo.py', help='config file of the model')
  ap.add_argument('--codec', default='MJPG', choices=['MJPG', 'mp4v'],
                  help='of the generated video: MJPG (.avi) or MPEG-4 part 2 (.mp4)')
  ap.add_argument('--video', default=None, help='time this video instead of a generated one')
  args = ap.parse_args()

  import jax
  import jax.numpy as jnp
  import numpy as np

  from emojax import models
  from emojax.data import faces, video
  from emojax.predict import timeline

  name = os.path.splitext(os.path.relpath(os.path.join(ROOT, args.config), ROOT))[0]
  config = importlib.import_module(name.replace(os.sep, '.')).get_config()
  config.num_classes = config.num_classes or 6  # a run takes it from the dataset; speed does not
  model = models.create_model(config)
  variables = jax.jit(lambda: model.init(jax.random.key(0),
                                         jnp.zeros(models.input_shape(config)), train=False))()
  tmp = tempfile.mkdtemp()
  suffix = '.avi' if args.codec == 'MJPG' else '.mp4'
  path = args.video or make_video(os.path.join(tmp, 'face_640x480' + suffix), args.frames,
                                  codec=args.codec)
  # A model in memory: the builders' crops.
  size, margin, align = faces.STORED_CROP_SIZE, faces.CROP_MARGIN, faces.ALIGN
  kwargs = dict(model=model, variables=variables, config=config, stride=args.stride,
                batch_size=args.batch_size, progress=False)

  # Warm-up on the same video: every jit (pyramid levels, the batch and R/O-Net crop buckets this
  # video needs, the model) compiles; a first prediction on a new video pays that once.
  start = time.perf_counter()
  timeline.predict_video(path, **kwargs)
  warm_s = time.perf_counter() - start

  load = [round(os.getloadavg()[0], 2)]
  start = time.perf_counter()
  n = sum(len(chunk) for chunk in video.VideoReader(path).chunks())
  decode_s = time.perf_counter() - start

  start = time.perf_counter()
  track = timeline.face_track(path, size, margin=margin, align=align, progress=False)
  faces_s = time.perf_counter() - start - decode_s

  idx = timeline.window_indices(n, config.num_frames, config.num_frames, args.stride)
  start = time.perf_counter()
  out = []
  for b in range(0, len(idx), args.batch_size):
    clips = timeline.model_inputs(track.crops[idx[b:b + args.batch_size]], config)
    if len(clips) < args.batch_size:
      clips = np.concatenate([clips, np.repeat(clips[-1:], args.batch_size - len(clips), 0)])
    out.append(timeline.probabilities(model, variables, clips))
  jax.block_until_ready(out)
  model_s = time.perf_counter() - start

  start = time.perf_counter()
  pred = timeline.predict_video(path, **kwargs)
  total_s = time.perf_counter() - start
  load.append(round(os.getloadavg()[0], 2))
  assert pred.num_frames == n

  result = {
      'video': os.path.basename(path), 'frames': n, 'frame_size': list(pred.frame_size),
      'stride': args.stride,
      'windows': len(idx), 'model': config.model.name, 'width': config.model.width,
      'num_frames': config.num_frames, 'image_size': config.image_size,
      'face_size': size, 'faces_found': int(pred.face_found.sum()),
      'warmup_s': round(warm_s, 1),
      'decode_fps': round(n / decode_s, 1), 'faces_fps': round(n / faces_s, 1),
      'model_fps': round(n / model_s, 1), 'model_windows_per_s': round(len(idx) / model_s, 1),
      'total_fps': round(n / total_s, 1),
      'split_s': {'decode': round(decode_s, 2), 'faces': round(faces_s, 2),
                  'model': round(model_s, 2), 'total': round(total_s, 2)},
      'cpu_cores': len(os.sched_getaffinity(0)), 'load_avg_1m': load,
  }
  print('| video | frames | decode fps | faces fps | model fps | end-to-end fps | load |')
  print(f"| {pred.frame_size[0]}x{pred.frame_size[1]} | {n} | {result['decode_fps']} | "
        f"{result['faces_fps']} | {result['model_fps']} | {result['total_fps']} | "
        f"{load[0]}-{load[1]} |")
  print(json.dumps(result))


if __name__ == '__main__':
  main()
