"""Frames/s of the face pipeline (`extract_face_track`) on 640x480 frames held in memory.

    python benchmarks/preprocess_fps.py [--frames 64] [--size 640x480] [--repeats 3] [--face 128]

Frames are the tests' fake face video (`skimage.data.astronaut()`'s head drifting over a
backdrop). After a warm-up call (it compiles the P-Net pyramid levels and the R/O-Net buckets),
times `FaceDetector` alone and `extract_face_track` (detect + track + smooth + crop) over the same
frames; the median of `--repeats`. Prints a table row and a JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--frames', type=int, default=64)
  ap.add_argument('--size', default='640x480', help='WIDTHxHEIGHT of the frames')
  ap.add_argument('--repeats', type=int, default=3)
  ap.add_argument('--face', type=int, default=128, help='side of the face crops')
  ap.add_argument('--batch_size', type=int, default=16, help="the detector's frames per call")
  args = ap.parse_args()

  from emojax.data import faces, mtcnn
  from tfds_builders import fakes

  width, height = (int(v) for v in args.size.split('x'))
  frames = fakes.fake_face_frames(args.frames, (width, height), seed=0)
  detector = mtcnn.FaceDetector(batch_size=args.batch_size)
  min_face = faces.smallest_face(detector, (height, width))  # extract_face_track's floor
  start = time.perf_counter()
  faces.extract_face_track(frames, args.face, detector=detector)
  warm_s = time.perf_counter() - start

  load = [round(os.getloadavg()[0], 2)]
  detect, track = [], []
  for _ in range(args.repeats):
    start = time.perf_counter()
    detector(frames, min_face)
    detect.append(time.perf_counter() - start)
    start = time.perf_counter()
    result = faces.extract_face_track(frames, args.face, detector=detector)
    track.append(time.perf_counter() - start)
  load.append(round(os.getloadavg()[0], 2))
  out = {'frames': args.frames, 'frame_size': [width, height], 'face': args.face,
         'batch_size': args.batch_size, 'min_face_px': min_face, 'warmup_s': round(warm_s, 1),
         'detect_fps': round(args.frames / statistics.median(detect), 1),
         'track_fps': round(args.frames / statistics.median(track), 1),
         'found': float(result.found.mean()), 'cpu_cores': len(os.sched_getaffinity(0)),
         'load_avg_1m': load}
  print('| frames | detector fps | extract_face_track fps | load |')
  print(f"| {args.frames} x {width}x{height} | {out['detect_fps']} | {out['track_fps']} | "
        f"{load[0]}-{load[1]} |")
  print(json.dumps(out))


if __name__ == '__main__':
  main()
