"""A linear probe on the frozen FER2013 network's last maps: the bar a temporal head must clear.

    python benchmarks/fer_probe.py [--config configs/demo_fer_temporal.py] [--fold 0] [--C 0.1]

For fold K of the config's dataset and protocol, every video's centre evaluation view (the
config's clip: `num_frames` at its sampling, resized and cut as evaluation cuts them) goes
through the FER2013 mini-Xception on each frame's face box (`face_box` as the run fills it); a
logistic regression on standardised, flattened 4x4x128 maps is fitted on the training videos and
scored on the test videos, for the maps of the last frame (the apex of a sequence that ends
there), of the last minus the first (the change from the neutral onset), and of both. Prints one
JSON line per feature set. No temporal model: what a classifier on one frame's maps gets.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def maps_of_videos(dataset, indices, config, face_box: float, batch: int = 16):
  """`[N, T, 2048]` flattened FER2013 maps of each video's centre view, and labels `[N]`."""
  import jax
  import numpy as np

  from emojax.evaluate import views
  from emojax.models import fer_frames, normalize_clip
  from emojax.models.mini_xception import MiniXception
  from emojax.pretrained import fer2013

  with config.unlocked():
    config.eval.num_clips, config.eval.num_crops, config.eval.flip = 1, 1, False
  net, variables = MiniXception(output='features'), fer2013.load_fer2013()

  @jax.jit
  def maps(clips):
    frames = fer_frames.fer_faces(normalize_clip(clips.reshape(-1, *clips.shape[2:])), face_box)
    return net.apply(variables, frames, train=False).reshape(*clips.shape[:2], -1)

  examples = [views.video_views(dataset.source[int(i)], config) for i in indices]
  clips = np.concatenate([e['clip'] for e in examples])
  out = np.concatenate([np.asarray(maps(clips[k:k + batch])) for k in range(0, len(clips), batch)])
  return out, np.asarray([e['label'] for e in examples])


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--config', default='configs/demo_fer_temporal.py')
  ap.add_argument('--fold', type=int, default=0)
  ap.add_argument('--C', type=float, default=0.1, help='inverse L2 strength of the probe')
  args = ap.parse_args(argv)
  import numpy as np
  from sklearn.linear_model import LogisticRegression
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler

  from emojax import datasets
  from emojax.data import folds, sampling

  name = os.path.splitext(os.path.relpath(args.config, ROOT))[0].replace(os.sep, '.')
  config = importlib.import_module(name).get_config()
  dataset = datasets.load(config)
  fold = folds.fold_plan(config, dataset.index.subjects, dataset.index.splits)[args.fold]
  face_box = sampling.face_box_fraction(config.image_size, dataset.stored['crop_margin'],
                                        config.augment.crop_margin)
  train, train_labels = maps_of_videos(dataset, fold.train, config, face_box)
  test, test_labels = maps_of_videos(dataset, fold.test, config, face_box)
  features = {'last frame': lambda m: m[:, -1], 'last - first': lambda m: m[:, -1] - m[:, 0],
              'both': lambda m: np.concatenate([m[:, -1], m[:, -1] - m[:, 0]], -1)}
  for label, feature in features.items():
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=2000))
    probe.fit(feature(train), train_labels)
    accuracy = float(np.mean(probe.predict(feature(test)) == test_labels))
    print(json.dumps({'config': args.config, 'fold': args.fold, 'features': label,
                      'face_box': round(face_box, 4), 'C': args.C, 'train_videos': len(train),
                      'test_videos': len(test), 'accuracy': round(accuracy, 4)}), flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
