"""Held-out accuracy of a trained run with several evaluation views (clips x crops), no retraining.

    python benchmarks/eval_views.py --workdir=/tmp/emojax_demo --views 1x1 4x1 1x3 4x3 \
        [--fold=0] [--aggregate=logits] [--svm]

Restores fold K's last checkpoint, makes the run's fold plan again (`protocol.fold_plan`) and
scores each of the fold's test videos with `config.eval` set to each CLIPSxCROPS in turn (the same
path as training's evaluation: `emojax.train.loop.evaluate`). Prints one JSON line per setting.
`--svm` (a run with `config.svm`, RFSCNN) also refits the fold's SVM on the features of every
training and test video averaged over the same views (`emojax.train.svm.svm_fold_result`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--workdir', required=True)
  ap.add_argument('--fold', type=int, default=0)
  ap.add_argument('--views', nargs='+', default=['1x1', '4x3'], help='CLIPSxCROPS, e.g. 4x3')
  ap.add_argument('--aggregate', default='logits', choices=('logits', 'probabilities'))
  ap.add_argument('--svm', action='store_true', help="refit the run's SVM with each setting")
  args = ap.parse_args()

  import jax
  import numpy as np
  from jax.sharding import NamedSharding, PartitionSpec as P

  from emojax import checkpoints, models
  from emojax.data import pipeline
  from emojax.train import datasets, loop, metrics, protocol, steps, svm

  restored = checkpoints.restore(args.workdir, fold=args.fold)
  config = restored.config
  if 'eval' not in config:
    raise SystemExit(f'{args.workdir}: its config has no eval block (a run from before views)')
  source, record, example_splits = datasets.load_splits(config)
  index = pipeline.read_index(source, record.class_names)
  fold = protocol.fold_plan(config, index.subjects, example_splits)[args.fold]
  test = fold.test
  if args.svm and not svm.svm_enabled(config):
    raise SystemExit(f'{args.workdir}: --svm needs a run whose config has config.svm.enabled')
  mesh = steps.make_mesh()

  def logits(variables, batch):
    return restored.model.apply(variables, models.normalize_clip(batch['clip']), train=False)

  fn = jax.jit(logits, in_shardings=(steps.replicated(mesh), NamedSharding(mesh, P('data'))),
               out_shardings=NamedSharding(mesh, P('data')))
  for views in args.views:
    clips, crops = (int(v) for v in views.split('x'))
    with config.unlocked():
      config.eval.num_clips, config.eval.num_crops = clips, crops
      config.eval.aggregate = args.aggregate
    start = time.perf_counter()
    probabilities, labels = loop.evaluate(fn, restored.variables, source, test, config, mesh)
    matrix = metrics.confusion_matrix(labels, np.argmax(probabilities, -1), config.num_classes)
    line = {'views': views, 'aggregate': args.aggregate, 'videos': len(test),
            'correct': int(np.trace(matrix)), 'accuracy': round(metrics.accuracy(matrix), 4),
            'uar': round(metrics.unweighted_average_recall(matrix), 4),
            'seconds': round(time.perf_counter() - start, 1)}
    if args.svm:
      start = time.perf_counter()
      data = loop.FoldData(source, fold.train, test, record.class_names)
      result = svm.svm_fold_result(config, restored.variables, restored.model, data, mesh)
      line.update(svm_accuracy=round(result['accuracy'], 4),
                  svm_seconds=round(time.perf_counter() - start, 1))
    print(json.dumps(line), flush=True)


if __name__ == '__main__':
  main()
