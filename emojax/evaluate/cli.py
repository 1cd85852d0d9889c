"""`python -m emojax.evaluate`: a finished run scored again with other evaluation views.

    python -m emojax.evaluate --workdir=W --views 1x1 4x1 1x3 4x3 1x1+flip [--fold=K] \
        [--aggregate=logits] [--svm]

Restores fold K's last checkpoint (every finished fold when no --fold is given), makes the run's
fold plan again from its config and data, and scores each fold's test videos with `config.eval`
set to each CLIPSxCROPS in turn (`+flip`: each view also mirrored, `config.eval.flip`), through
the same evaluator as training (`evaluate_fold`), without the per-frame baseline. Prints one JSON
line per fold and setting; `--svm` (a run with `config.svm.enabled`) also refits the fold's SVM
with each setting's views.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time


def _views(text: str) -> tuple[int, int, bool]:
  match = re.fullmatch(r'(\d+)x(\d+)(\+flip)?', text)
  if not match:
    raise argparse.ArgumentTypeError(f'{text!r}: expected CLIPSxCROPS or CLIPSxCROPS+flip, e.g. '
                                     '4x3 or 1x1+flip')
  return int(match.group(1)), int(match.group(2)), bool(match.group(3))


def parser() -> argparse.ArgumentParser:
  ap = argparse.ArgumentParser(prog='python -m emojax.evaluate', description=__doc__.split('\n')[0])
  ap.add_argument('--workdir', required=True, help='a workdir of launch.py')
  ap.add_argument('--fold', type=int, default=None, help='one fold (default: every finished one)')
  ap.add_argument('--views', nargs='+', type=_views, default=[(1, 1, False)],
                  help='CLIPSxCROPS[+flip] settings, e.g. 1x1 4x3 1x1+flip')
  ap.add_argument('--aggregate', default=None, choices=('logits', 'probabilities'),
                  help="how a video's views are combined (default: the run's)")
  ap.add_argument('--svm', action='store_true', help="refit the run's SVM with each setting")
  return ap


def finished_folds(workdir: str) -> list[int]:
  return sorted(int(name.split('_')[1]) for name in os.listdir(workdir)
                if re.fullmatch(r'fold_\d+', name)
                and os.path.exists(os.path.join(workdir, name, 'result.json')))


def run(args) -> None:
  from emojax import checkpoints, datasets, evaluate, sharding
  from emojax.data import folds as folds_lib
  from emojax.errors import DataError

  folds = [args.fold] if args.fold is not None else finished_folds(args.workdir)
  if not folds:
    raise DataError(f'--workdir={args.workdir}: no finished fold (fold_K/result.json) to evaluate')
  mesh = sharding.make_mesh()
  dataset = None
  for k in folds:
    restored = checkpoints.restore(args.workdir, fold=k)
    config = restored.config
    if args.svm and not config.svm.enabled:
      raise DataError(f'--svm: the run in {args.workdir} has no SVM (config.svm.enabled=False)')
    if dataset is None:
      dataset = datasets.load(config)
    fold = folds_lib.fold_plan(config, dataset.index.subjects, dataset.index.splits)[k]
    for clips, crops, flip in args.views:
      with config.unlocked():
        config.eval.num_clips, config.eval.num_crops, config.eval.flip = clips, crops, flip
        config.eval.aggregate = args.aggregate or config.eval.aggregate
        config.report_frame_baseline = False
        config.svm.enabled = args.svm
      start = time.perf_counter()
      result = evaluate.evaluate_fold(config, restored.model, restored.variables, dataset, fold,
                                      mesh, log=lambda message: None)
      line = {'fold': k, 'views': f'{clips}x{crops}' + ('+flip' if flip else ''),
              'aggregate': config.eval.aggregate,
              'videos': result['num_examples'],
              'correct': int(sum(row[i] for i, row in enumerate(result['confusion_matrix']))),
              'accuracy': round(result['accuracy'], 4), 'uar': round(result['uar'], 4),
              'seconds': round(time.perf_counter() - start, 1)}
      if args.svm:
        line['svm_accuracy'] = round(result['svm']['accuracy'], 4)
      print(json.dumps(line), flush=True)


def main(argv: list[str] | None = None) -> int:
  args = parser().parse_args(argv)
  from emojax.errors import UserError
  try:
    run(args)
  except UserError as e:
    print(f'error: {" ".join(str(e).split())}', file=sys.stderr)
    return 2
  return 0
