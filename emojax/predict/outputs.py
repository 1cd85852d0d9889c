"""What `predict_video` found (`Prediction`) and the files it writes: timeline.json, timeline.csv,
timeline.png and, on request, annotated.mp4 (boxes, labels and class bars drawn on the video).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os

import cv2
import numpy as np

from emojax.data import video as video_lib


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
    source = video_lib.open_frames(frames, self.fps)
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
