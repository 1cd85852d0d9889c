"""Two processes on localhost (JAX's CPU collectives) run launch.py as two hosts would: they build
the dataset once, train, evaluate, checkpoint, are killed, resume, and end where one process with
the same global batch ends."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import DEMO_RUN, ROOT, launch_command, tiny_flags

# The demo run's config (early stopping on a validation quarter of the training subjects, with a
# patience of 1 epoch: a resumed run must restore the best score and the patience left to stop
# where one run stops), without the frame baseline; `demo_run` is the one process (run in-process,
# as launch.py runs it).
RUN = tiny_flags(**DEMO_RUN, report_frame_baseline=False)


def _command(workdir, tfds_dir, *extra):
  return [sys.executable, *launch_command(workdir, f'--config.dataset.data_dir={tfds_dir}', *RUN,
                                          *extra)]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _start_processes(workdir, tfds_dir, by_flags: bool, logs: str):
  """Two launch.py processes of one run, told their place by flags or by environment variables;
  their output goes to `logs`_K.txt."""
  address = f'localhost:{_free_port()}'
  procs = []
  for k in range(2):
    env = dict(os.environ, JAX_PLATFORMS='cpu')
    extra = []
    if by_flags:
      extra = [f'--coordinator_address={address}', '--num_processes=2', f'--process_id={k}']
    else:
      env.update(JAX_COORDINATOR_ADDRESS=address, JAX_NUM_PROCESSES='2', JAX_PROCESS_ID=str(k))
    with open(f'{logs}_{k}.txt', 'w') as out:
      procs.append(subprocess.Popen(_command(workdir, tfds_dir, *extra), env=env, cwd=ROOT,
                                    stdout=out, stderr=subprocess.STDOUT))
  return procs


def _output(logs: str) -> list[str]:
  return [open(f'{logs}_{k}.txt').read() for k in range(2)]


def _fold(workdir):
  with open(os.path.join(workdir, 'fold_0', 'result.json')) as f:
    return json.load(f)


@pytest.mark.slow
def test_two_processes_train_resume_and_match_one_process(tmp_path, demo_run):
  start = time.perf_counter()
  tfds_dir, single, multi = str(tmp_path / 'tfds'), demo_run.workdir, str(tmp_path / 'multi')
  first, second = str(tmp_path / 'first'), str(tmp_path / 'second')
  procs = _start_processes(multi, tfds_dir, by_flags=True, logs=first)
  checkpoints = os.path.join(multi, 'fold_0', 'checkpoints')
  deadline = time.time() + 600
  while time.time() < deadline and all(p.poll() is None for p in procs):
    saved = [int(d) for d in os.listdir(checkpoints) if d.isdigit()] if (
        os.path.isdir(checkpoints)) else []
    if any(s > 4 for s in saved):  # past the first epoch's validation (4 steps an epoch)
      break
    time.sleep(0.2)
  assert all(p.poll() is None for p in procs), [out[-3000:] for out in _output(first)]
  for p in procs:
    p.send_signal(signal.SIGKILL)
    p.wait()
  killed = time.perf_counter() - start
  assert not os.path.exists(os.path.join(multi, 'results.json'))

  procs = _start_processes(multi, tfds_dir, by_flags=False, logs=second)
  for p in procs:
    p.wait(timeout=900)
  outs = _output(second)
  assert [p.returncode for p in procs] == [0, 0], [out[-5000:] for out in outs]
  two = time.perf_counter() - start
  assert all('fold 0: resumed at step' in out for out in outs)
  one, two_fold = _fold(single), _fold(multi)
  for key in ('accuracy', 'uar', 'confusion_matrix', 'steps'):
    assert two_fold[key] == one[key], key
  assert [h['epoch'] for h in two_fold['history']] == [h['epoch'] for h in one['history']]
  # Two hosts sum the global batch's gradients in another order: after a few Adam steps the
  # training means differ in the third digit, the evaluated predictions not at all.
  for key in ('train_loss', 'train_accuracy', 'val_accuracy', 'test_accuracy'):
    assert [h[key] for h in two_fold['history']] == pytest.approx(
        [h[key] for h in one['history']], rel=5e-3, abs=1e-6), key
  # Process 0 alone wrote the shared files; both took part in every step.
  assert sorted(os.listdir(multi)) == sorted(os.listdir(single))
  print(f'2 processes: killed at {killed:.1f} s, finished at {two:.1f} s; history '
        f'{one["history"]}')
