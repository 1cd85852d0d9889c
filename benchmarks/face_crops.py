"""Look at the stored face crops of a video: upright and aligned, on the frames with most head roll.

    python benchmarks/face_crops.py VIDEO --out crops.png [--frames 6] [--key_frame_interval 5]
    python benchmarks/face_crops.py --synthetic --out crops.png     # a demo face, tilted

Runs the builders' face track (`extract_face_track`, 128-pixel crops, the builders' margin) on
the video and writes one PNG: for the `--frames` frames whose eye line is most tilted (and the
most upright one), the frame with the tracked landmarks, the upright crop (`align=False`) and the
aligned crop (the builders' default) with a line at the template's eye height. `--synthetic`
renders a face of the demo dataset (`synthetic_expressions`) on a larger canvas that turns from
-25 to 25 degrees. Prints, per frame shown, the head roll and the eye line's angle and height in
the aligned crop (level: 0 degrees, at the template's height).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def tilted_synthetic_face(num_frames: int = 24, size: int = 320) -> np.ndarray:
  """A rendered demo face (192 pixels) on a `size` canvas, turning from -25 to 25 degrees."""
  import cv2

  from tfds_builders.synthetic_expressions import face_model, render
  face = render.render_video(1, face_model.sample_subject(np.random.default_rng(3)), 3,
                             num_frames, 192)
  frames = np.empty((num_frames, size, size, 3), np.uint8)
  for t, angle in enumerate(np.linspace(-25, 25, num_frames)):
    canvas = np.full((size, size, 3), 90, np.uint8)
    o = (size - 192) // 2
    canvas[o:o + 192, o:o + 192] = face[t]
    m = cv2.getRotationMatrix2D((size / 2, size / 2), float(angle), 1.0)
    frames[t] = cv2.warpAffine(canvas, m, (size, size), borderMode=cv2.BORDER_REPLICATE)
  return frames


def montage(frames, track, upright, chosen, size: int) -> np.ndarray:
  import cv2

  from emojax.data import faces
  rows = []
  for t in chosen:
    frame = frames[t].copy()
    for x, y in track.landmarks[t]:
      cv2.circle(frame, (int(x), int(y)), max(2, frame.shape[0] // 150), (255, 0, 0), -1)
    h, w = frame.shape[:2]
    thumb = cv2.resize(frame, (size * w // h, size), interpolation=cv2.INTER_AREA)
    aligned = track.crops[t].copy()
    y = int(round((faces.ALIGNED_EYE_Y + faces.CROP_MARGIN) / (1 + 2 * faces.CROP_MARGIN) * size))
    aligned[y] = (0, 255, 0)
    rows.append(np.concatenate([thumb, upright.crops[t], aligned], 1))
  return np.concatenate(rows, 0)


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('video', nargs='?')
  ap.add_argument('--synthetic', action='store_true', help='a tilted demo face instead')
  ap.add_argument('--out', required=True, help='PNG to write')
  ap.add_argument('--frames', type=int, default=6, help='frames shown')
  ap.add_argument('--key_frame_interval', type=int, default=None,
                  help="frames between detections (default: the builders')")
  args = ap.parse_args()

  import cv2

  from emojax.data import faces, video
  frames = tilted_synthetic_face() if args.synthetic else video.read_video(args.video)
  size = faces.STORED_CROP_SIZE
  kwargs = {} if args.key_frame_interval is None else {'key_frame_interval':
                                                       args.key_frame_interval}
  track = faces.extract_face_track(frames, size, **kwargs)
  upright = faces.extract_face_track(frames, size, align=False, **kwargs)
  eye_line = track.landmarks[:, 1] - track.landmarks[:, 0]
  roll = np.degrees(np.arctan2(eye_line[:, 1], eye_line[:, 0]))
  chosen, gap = [int(np.argmin(np.abs(roll)))], max(len(frames) // (2 * args.frames), 1)
  for t in np.argsort(-np.abs(roll) * track.found):  # The most tilted, spread over the video.
    if len(chosen) < args.frames and all(abs(int(t) - c) >= gap for c in chosen):
      chosen.append(int(t))
  chosen.sort()
  squares = faces.face_squares(track.boxes, track.landmarks)
  eyes = faces.points_in_crop(track.landmarks[:, :2], squares, size)
  level = np.degrees(np.arctan2(*(eyes[:, 1] - eyes[:, 0]).T[::-1]))
  cv2.imwrite(args.out, cv2.cvtColor(montage(frames, track, upright, chosen, size),
                                     cv2.COLOR_RGB2BGR))
  for t in chosen:
    print(json.dumps({'frame': t, 'found': bool(track.found[t]),
                      'roll_deg': round(float(roll[t]), 1),
                      'eye_line_in_crop_deg': round(float(level[t]), 2),
                      'eye_height_in_crop': round(float(eyes[t, :, 1].mean()) / size, 3)}))
  print(f'{len(frames)} frames, face found in {int(track.found.sum())}; roll '
        f'{roll.min():.1f} to {roll.max():.1f} degrees; montage in {args.out}')


if __name__ == '__main__':
  main()
