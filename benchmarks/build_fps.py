"""Frames/s of a dataset build on real videos: the MAFW builder on a tree made of your videos.

    python benchmarks/build_fps.py --work W --videos A.mp4 B.mp4 ... [--config default|faces]
        [--workers 2] [--key_frame_interval 5]

Writes (once; reused when W/manual exists) a MAFW tree in W/manual: each video as a clip
(`data/clips/00001.mp4`, all in the first fold's test list, so one worker pool takes them all) and, for `--config faces`, its face
crops as a face-crop release ships them (`data/faces/00001/*.jpg`: 224 x 224 JPEGs of the face
box plus a quarter of its side around it, on the frames where MTCNN, run on every frame, found
the face; not timed). Then builds
the config into a fresh W/data_* with `--workers` processes and prints the build's summary
(videos, frames decoded and detected, seconds, decoded frames/s) and a JSON line with the
1-minute load before and after. `default` detects faces in the videos; `faces` takes the crops as
given (`given_faces`). Runs from any checkout of emojax whose MAFW builder reads `data/clips` and
`data/faces` (so a build before a change is measured with the same command).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

WORDS = ('anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise')


def make_tree(root: str, videos, faces: bool) -> None:
  """The MAFW layout of `videos`, all in fold 1."""
  import cv2
  import numpy as np

  data = os.path.join(root, 'MAFW', 'data')
  lists = os.path.join(root, 'MAFW', 'Train & Test Set', 'single', 'no_caption')
  rows = [(k + 1, WORDS[k % len(WORDS)]) for k in range(len(videos))]
  for (clip, word), path in zip(rows, videos):
    os.makedirs(os.path.join(data, 'clips'), exist_ok=True)
    shutil.copy(path, os.path.join(data, 'clips', f'{clip:05d}.mp4'))
    if faces:
      from emojax.data import faces as faces_lib
      from emojax.data import video
      try:
        track = faces_lib.extract_face_track(video.read_video(path), 224, margin=0.25,
                                             align=False, key_frame_interval=1)
      except faces_lib.NoFaceError:
        continue  # A release has no face crops of a video without a face.
      folder = os.path.join(data, 'faces', f'{clip:05d}')
      os.makedirs(folder, exist_ok=True)
      for n, t in enumerate(np.flatnonzero(track.found)):  # Crops where a face was detected.
        cv2.imwrite(os.path.join(folder, f'{n + 1:05d}.jpg'),
                    np.ascontiguousarray(track.crops[t, ..., ::-1]))
  os.makedirs(os.path.join(lists, 'set_1'), exist_ok=True)
  for name, listed in (('test.txt', rows), ('train.txt', [])):
    with open(os.path.join(lists, 'set_1', name), 'w') as f:
      f.writelines(f'{c:05d}.mp4 {w}\n' for c, w in listed)


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--work', required=True, help='folder for the tree and the builds')
  ap.add_argument('--videos', nargs='+', help='video files; needed the first time')
  ap.add_argument('--config', default='default', choices=('default', 'faces'))
  ap.add_argument('--workers', type=int, default=os.cpu_count())
  ap.add_argument('--key_frame_interval', type=int, default=None,
                  help="the builders' unless given (a checkout without key frames: leave out)")
  args = ap.parse_args()

  import tensorflow_datasets as tfds

  import tfds_builders  # noqa: F401  (registers the builders)
  from tfds_builders.mafw import mafw

  manual = os.path.join(args.work, 'manual')
  if not os.path.isdir(manual):
    if not args.videos:
      ap.error('give --videos the first time')
    make_tree(manual, args.videos, faces=True)
  config = next(c for c in mafw.BUILDER_CONFIGS if c.name == args.config)
  if args.key_frame_interval is not None:
    import dataclasses
    config = dataclasses.replace(config, name=f'{config.name}_k{args.key_frame_interval}',
                                 key_frame_interval=args.key_frame_interval)
  data_dir = os.path.join(args.work, f'data_{time.time_ns()}')
  builder = mafw.Mafw(config=config, data_dir=data_dir, num_workers=args.workers)
  load = [round(os.getloadavg()[0], 2)]
  start = time.perf_counter()
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual))
  seconds = time.perf_counter() - start
  load.append(round(os.getloadavg()[0], 2))
  stats = builder.build_stats
  shutil.rmtree(data_dir, ignore_errors=True)
  print(stats)
  print(json.dumps({'config': config.name, 'workers': args.workers, 'videos': stats.videos,
                    'skipped': stats.skipped, 'frames_decoded': stats.frames_decoded,
                    'frames_detected': getattr(stats, 'frames_detected', None),
                    'build_s': round(stats.seconds, 1), 'prepare_s': round(seconds, 1),
                    'frames_per_s': round(stats.frames_per_s, 1),
                    'cpu_cores': len(os.sched_getaffinity(0)), 'load_avg_1m': load}))


if __name__ == '__main__':
  main()
