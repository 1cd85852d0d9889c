"""Mistakes a user can fix end every command with one line that names the flag and what to do, and
exit status 2, without a traceback: launch.py, `python -m emojax.evaluate`, `python -m
emojax.predict`, `python -m tfds_builders`."""
import json
import os

import numpy as np
import pytest

from emojax.data import record as record_lib

from conftest import launch_command, run_python, tiny_flags


@pytest.fixture
def old_run(saved_run, tmp_path):
  """`saved_run` as emojax 0.1 wrote it: a data.json without the workdir format."""
  import shutil
  workdir = str(tmp_path / 'old')
  shutil.copytree(saved_run, workdir)
  path = os.path.join(workdir, record_lib.DATA_FILE)
  with open(path) as f:
    written = json.load(f)
  del written['format'], written['flow_method']
  with open(path, 'w') as f:
    json.dump(written, f)
  return workdir


def _one_line(capsys, code, *words):
  err = capsys.readouterr().err
  assert code == 2 and err.startswith('error: ') and err.count('\n') == 1, (code, err)
  for word in words:
    assert word in err, err


def test_evaluate_without_a_finished_fold(tmp_path, capsys):
  from emojax.evaluate import cli
  _one_line(capsys, cli.main([f'--workdir={tmp_path}']), f'--workdir={tmp_path}',
            'no finished fold')


def test_evaluate_svm_of_a_run_without_one(saved_run, capsys):
  from emojax.evaluate import cli
  _one_line(capsys, cli.main([f'--workdir={saved_run}', '--svm']), '--svm',
            'config.svm.enabled=False')


def test_evaluate_and_predict_refuse_a_workdir_of_another_layout(old_run, tmp_path, capsys):
  from emojax.evaluate import cli as evaluate_cli
  from emojax.predict import cli as predict_cli
  before = f'before workdir format {record_lib.FORMAT} (emojax 0.1)'
  _one_line(capsys, evaluate_cli.main([f'--workdir={old_run}']), before)
  video = tmp_path / 'face.avi'
  _write_video(video)
  _one_line(capsys, predict_cli.main([str(video), f'--checkpoint={old_run}',
                                      f'--out={tmp_path / "out"}']), before)


def _write_video(path, frames=6, face=True):
  from tfds_builders import fakes
  from tfds_builders.enterface05.fake_archive import write_avi
  write_avi(str(path), fakes.fake_face_frames(frames, (320, 240), face=face, seed=1), fps=10.0,
            codec='MJPG')


@pytest.mark.parametrize('case', ['missing', 'garbage', 'no checkpoint'])
def test_predict_bad_input(case, saved_run, tmp_path, capsys):
  from emojax.predict import cli
  video, checkpoint = tmp_path / 'video.avi', saved_run
  if case == 'garbage':  # FFmpeg itself would log 'moov atom not found'
    video.write_bytes(np.random.default_rng(0).bytes(4096))
  if case == 'no checkpoint':
    _write_video(video)
    checkpoint = str(tmp_path)
  message = {'missing': 'file not found', 'garbage': 'not decodable as video',
             'no checkpoint': 'no config.json'}[case]
  _one_line(capsys, cli.main([str(video), f'--checkpoint={checkpoint}',
                              f'--out={tmp_path / "out"}']), message)


def test_builders_unknown_dataset_or_config(tmp_path, capsys):
  from tfds_builders import cli
  _one_line(capsys, cli.main(['build', 'oulu', f'--data_dir={tmp_path}']),
            "'oulu' is not a dataset of emojax")
  _one_line(capsys, cli.main(['build', 'oulu_casia', '--config=vis', f'--data_dir={tmp_path}']),
            '--config=vis: oulu_casia has the configs')


def test_builders_without_the_manual_download_name_the_flag(tmp_path, capsys):
  from tfds_builders import cli
  code = cli.main(['build', 'oulu_casia', f'--data_dir={tmp_path}',
                   f'--manual_dir={tmp_path / "missing"}'])
  err = capsys.readouterr().err
  assert code == 2 and err.startswith('error: ') and 'Traceback' not in err
  assert '--manual_dir=DIR' in err.splitlines()[0]


# launch.py: a process each.
LAUNCH_CASES = {
    'no data': (['--config.dataset.data_dir={tmp}/tfds'], 'oulu.py',
                ["config.dataset.manual_dir=''", 'set --config.dataset.manual_dir=']),
    'mistyped key': (['--config.model.widht=8'], 'demo.py',
                     ['no such key', 'Did you mean', '--config.model.widht']),
    'wrong type': (['--config.num_epochs=many'], 'demo.py', ['--config.num_epochs']),
    'conflict': ([*tiny_flags(), '--config.early_stopping_patience=3'], 'demo.py',
                 ['config.early_stopping_patience=3 needs a validation part',
                  'set --config.early_stopping_patience=']),
    'old workdir': ([*tiny_flags(), '--config.dataset.data_dir={tfds}'], 'demo.py',
                    [f'before workdir format {record_lib.FORMAT} (emojax 0.1)']),
}


@pytest.mark.slow
@pytest.mark.parametrize('case', sorted(LAUNCH_CASES))
def test_launch_mistakes(case, old_run, tfds_dir, tmp_path):
  flags, config, words = LAUNCH_CASES[case]
  workdir = old_run if case == 'old workdir' else str(tmp_path / 'run')
  flags = [f.format(tmp=tmp_path, tfds=tfds_dir) for f in flags]
  proc = run_python(launch_command(workdir, *flags, config=config), timeout=300)
  assert proc.returncode == 2 and proc.stderr.startswith('error: '), proc.stderr[-3000:]
  assert proc.stderr.count('\n') == 1, proc.stderr
  for word in words:
    assert word in proc.stderr, proc.stderr
