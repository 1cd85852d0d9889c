"""emojax.predict on short face videos: outputs, faceless frames, bad input, the CLI (a run's
windows, crops and flow from its data record)."""
import csv
import dataclasses
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import emojax
from emojax import checkpoints, predict
from emojax.data import faces
from emojax.predict import timeline as timeline_lib
from emojax.data.record import DataRecord
from emojax.data.video import VideoReadError

from conftest import ROOT, tiny_config

NUM_FRAMES, BLANK = 24, slice(10, 14)  # A 2.4 s video at 10 fps whose frames 10-13 show no face.


def _frames(n, face=True, seed=1):
  from tfds_builders import fakes  # The astronaut's head drifting over a 320x240 backdrop.
  return fakes.fake_face_frames(n, (320, 240), face=face, seed=seed)


def _write(path, frames, fps=10.0):
  from tfds_builders.enterface05.fake_archive import write_avi
  write_avi(str(path), frames, fps=fps, codec='MJPG')
  return str(path)


@pytest.fixture(scope='module')
def restored(saved_run):
  return emojax.restore(saved_run)


@pytest.fixture(scope='module')
def frames():
  frames = _frames(NUM_FRAMES)
  frames[BLANK] = _frames(BLANK.stop - BLANK.start, face=False, seed=2)
  return frames


@pytest.fixture(scope='module')
def video(tmp_path_factory, frames):
  return _write(tmp_path_factory.mktemp('videos') / 'face.avi', frames)


def test_outputs_are_consistent(video, restored, tmp_path):
  pred = emojax.predict_video(video, restored=restored, stride=2, out_dir=str(tmp_path))
  with open(tmp_path / 'timeline.json') as f:
    timeline = json.load(f)
  names = timeline['class_names']
  assert names == list(pred.class_names) == ['anger', 'disgust', 'fear', 'happiness', 'sadness',
                                             'surprise']  # from the run's data record
  assert timeline['fps'] == pytest.approx(10.0) and len(timeline['frames']) == NUM_FRAMES
  # The crops are the run's dataset's (synthetic_expressions/tiny: 32 pixels, no margin recorded).
  assert timeline['settings']['face_size'] == restored.data.crop_size == 32
  assert timeline['settings']['face_margin'] == faces.CROP_MARGIN
  for i, frame in enumerate(timeline['frames']):
    assert frame['frame'] == i and frame['time'] == pytest.approx(i / 10.0)
    if frame['label'] is None:
      continue
    assert frame['face_found'] and len(frame['box']) == 4
    assert sum(frame['probabilities'].values()) == pytest.approx(1.0, abs=1e-4)
    assert frame['label'] == max(frame['probabilities'], key=frame['probabilities'].get)
  # A window spans a training clip's 0.4 s (the whole 8-frame video at 20 fps; data.json): 4
  # frames of this 10 fps video, all 4 taken. One every 2 frames, the last flush with the end.
  assert timeline['settings']['span'] == 4 and timeline['settings']['span_s'] == 0.4
  starts = [w['start'] for w in timeline['windows']]
  assert starts == list(range(0, NUM_FRAMES - 4 + 1, 2))
  assert all(w['frames'] == list(range(w['start'], w['start'] + 4)) for w in timeline['windows'])
  run = [w for w in timeline['windows'] if w['probabilities']]
  assert run and all(sum(w['probabilities'].values()) == pytest.approx(1.0, abs=1e-4) for w in run)
  # A window whose frames are all faceless is not run.
  assert timeline['windows'][5]['face_fraction'] == 0 and timeline['windows'][5]['label'] is None
  with open(tmp_path / 'timeline.csv') as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == NUM_FRAMES and rows[3]['label'] == pred.labels[3]
  assert float(rows[3][f'p_{names[0]}']) == pytest.approx(pred.probabilities[3, 0], abs=1e-5)
  assert cv2.imread(str(tmp_path / 'timeline.png')) is not None


def test_faceless_frames_get_no_label(video, restored):
  pred = emojax.predict_video(video, restored=restored, stride=2)
  found = np.ones(NUM_FRAMES, bool)
  found[BLANK] = False
  np.testing.assert_array_equal(pred.face_found, found)
  assert all(pred.labels[i] is None for i in range(BLANK.start, BLANK.stop))
  assert np.isnan(pred.probabilities[BLANK]).all()
  assert all(label in pred.class_names for i, label in enumerate(pred.labels) if found[i])


def test_array_input_matches_the_file(video, frames, restored):
  from_file = emojax.predict_video(video, restored=restored, stride=2, max_cached_bytes=0)
  from_array = emojax.predict_video(frames, restored=restored, stride=2, fps=10.0)
  np.testing.assert_array_equal(from_file.face_found, from_array.face_found)
  # MJPG compression changes pixels a little; the labels and boxes barely move.
  np.testing.assert_allclose(from_file.boxes, from_array.boxes, atol=3.0)
  np.testing.assert_allclose(from_file.probabilities, from_array.probabilities, atol=0.05)


def test_face_track_is_the_builders_pipeline(frames):
  streamed = predict.face_track(frames[:12], 27)
  whole = faces.extract_face_track(frames[:12], size=27, margin=0.2)
  np.testing.assert_array_equal(streamed.found, whole.found)
  np.testing.assert_allclose(streamed.boxes, whole.boxes, atol=1e-4)
  np.testing.assert_array_equal(streamed.crops, whole.crops)


STORED = {'dataset': 'd', 'class_names': ('a',), 'crop_size': 40, 'crop_margin': 0.3,
          'flow_method': '', 'align': True, 'key_frame_interval': 5, 'given_faces': False}


def _restored(config=None, **record_fields):
  """A restored run of `config` (default: the tiny one) whose data record has `record_fields`."""
  config = config or tiny_config()
  record = dataclasses.replace(DataRecord.for_run(STORED, config, 20.0, 8), **record_fields)
  return checkpoints.Restored(config, None, {}, 0, 'W', record)


def test_crop_settings_come_from_the_run_data_record():
  assert timeline_lib.crop_settings(_restored()) == (40, 0.3, True)
  assert timeline_lib.crop_settings(_restored(crop_size=20, crop_margin=0.1, align=False)) == (
      20, 0.1, False)


def test_model_inputs_resize_as_evaluation_does_with_the_runs_flow():
  assert timeline_lib.resize_side(_restored(image_size=24, resize_margin=0.25)) == 30
  assert timeline_lib.resize_side(_restored(image_size=24, resize_margin=0.0)) == 24
  crops = np.zeros((1, 2, 20, 20, 3), np.uint8)
  crops[..., :1, :] = 255  # the face crop's left edge
  clips = timeline_lib.model_inputs(crops, tiny_config(), side=24)
  assert clips.shape == (1, 2, 24, 24, 3) and clips[..., 0, 0].min() > 100  # shrunk, not cut
  with_flow = timeline_lib.model_inputs(crops, tiny_config(), side=24, flow_method='farneback')
  assert with_flow.shape == (1, 2, 24, 24, 6)
  np.testing.assert_array_equal(with_flow[..., :3], clips)


def test_windows_span_and_sample_what_a_training_clip_did():
  whole = _restored(fps=20.0, num_frames=4, whole_video=True, span_frames=16)
  span, offsets = timeline_lib.window_plan(whole, fps=30.0, num_frames=100)
  assert span == 24 and offsets.tolist() == [0, 8, 15, 23]  # 0.8 s at 30 fps, fixed interval
  assert timeline_lib.window_plan(whole, fps=30.0, num_frames=10)[0] == 10
  assert timeline_lib.window_plan(whole, fps=30.0, span=12)[0] == 12
  segment = _restored(tiny_config(**{'sampling.method': 'random_segment', 'sampling.stride': 2}),
                      fps=10.0, whole_video=False, span_frames=7)
  span, offsets = timeline_lib.window_plan(segment, fps=20.0)
  assert span == 14 and offsets.tolist() == [0, 4, 8, 12]  # stride 2 at 10 fps: 4 at 20 fps


def test_prediction_imports_no_training_code():
  code = ('import sys, emojax.predict, emojax.predict.cli; print(sorted(m for m in sys.modules '
          'if m.startswith(("emojax.train", "tfds_builders"))))')
  proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                        timeout=120)
  assert proc.returncode == 0 and proc.stdout.strip() == '[]', proc.stdout + proc.stderr


def test_spanned_windows_sample_at_a_fixed_interval():
  idx = predict.window_indices(20, 4, span=10, stride=4)
  np.testing.assert_array_equal(idx[:, 0], [0, 4, 8, 10])
  np.testing.assert_array_equal(idx[0], [0, 3, 6, 9])


@pytest.mark.parametrize('case', ['missing', 'empty', 'text', 'garbage', 'image'])
def test_unreadable_inputs_raise(case, tmp_path, restored):
  path = tmp_path / f'bad.{ {"text": "txt", "image": "png"}.get(case, "mp4") }'
  if case == 'empty':
    path.write_bytes(b'')
  elif case == 'text':
    path.write_text('not a video\n' * 50)
  elif case == 'garbage':
    path.write_bytes(np.random.default_rng(0).bytes(4096))
  elif case == 'image':
    cv2.imwrite(str(path), np.zeros((32, 32, 3), np.uint8))
  with pytest.raises(VideoReadError):
    emojax.predict_video(str(path), restored=restored)


def test_short_video_raises(tmp_path, restored):
  path = _write(tmp_path / 'short.avi', _frames(3))
  with pytest.raises(predict.VideoTooShortError, match='fewer than one window'):
    emojax.predict_video(path, restored=restored, span=5)


def test_video_without_faces_raises(tmp_path, restored):
  path = _write(tmp_path / 'empty_room.avi', _frames(6, face=False))
  with pytest.raises(faces.NoFaceError, match='empty_room.avi'):
    emojax.predict_video(path, restored=restored)


def _cli(*args):
  return subprocess.run([sys.executable, '-m', 'emojax.predict', *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_cli_writes_outputs_and_annotated_video(video, saved_run, tmp_path):
  out = tmp_path / 'out'
  proc = _cli(video, f'--checkpoint={saved_run}', f'--out={out}', '--stride=3', '--annotate')
  assert proc.returncode == 0, proc.stderr
  assert f'{NUM_FRAMES} frames' in proc.stdout
  assert {'timeline.json', 'timeline.csv', 'timeline.png', 'annotated.mp4'} <= set(os.listdir(out))
  cap = cv2.VideoCapture(str(out / 'annotated.mp4'))
  count = 0
  while cap.grab():
    count += 1
  assert count == NUM_FRAMES


def test_cli_predicts_many_videos_and_skips_a_broken_one(video, saved_run, tmp_path, capsys):
  from emojax.predict import cli
  folder = tmp_path / 'videos'
  folder.mkdir()
  for name in ('a.avi', 'b.avi'):
    os.link(video, folder / name)
  (folder / 'broken.mp4').write_bytes(np.random.default_rng(0).bytes(4096))
  (folder / 'notes.txt').write_text('not a video')
  other = tmp_path / 'a.avi'  # A second video named a.avi: its own folder.
  os.link(video, other)
  out = tmp_path / 'out'
  status = cli.main([str(folder), str(other), f'--checkpoint={saved_run}', f'--out={out}',
                     '--stride=6'])
  captured = capsys.readouterr()
  assert status == 1  # One video failed; the others were predicted.
  assert sorted(os.listdir(out)) == ['a', 'a_2', 'b']
  assert all('timeline.json' in os.listdir(out / d) for d in ('a', 'a_2', 'b'))
  assert captured.err.count('\n') == 1 and 'broken.mp4' in captured.err
  assert 'not decodable as video' in captured.err
  assert '3 of 4 videos predicted' in captured.out and 'failed: ' in captured.out


def test_compilation_cache_defaults_to_the_user_cache_and_respects_settings(tmp_path,
                                                                             monkeypatch):
  import jax
  from emojax import compilation_cache
  saved = (jax.config.jax_compilation_cache_dir,
           jax.config.jax_persistent_cache_min_compile_time_secs)
  try:
    monkeypatch.delenv('JAX_COMPILATION_CACHE_DIR', raising=False)
    monkeypatch.delenv('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    jax.config.update('jax_compilation_cache_dir', None)
    monkeypatch.setenv(compilation_cache.ENV_SWITCH, '0')
    assert compilation_cache.enable() is None and jax.config.jax_compilation_cache_dir is None
    monkeypatch.delenv(compilation_cache.ENV_SWITCH)
    assert compilation_cache.enable(False) is None
    folder = str(tmp_path / 'emojax' / 'jax')
    assert compilation_cache.enable() == folder == jax.config.jax_compilation_cache_dir
    # A folder the user chose (JAX reads JAX_COMPILATION_CACHE_DIR into its config) is kept.
    jax.config.update('jax_compilation_cache_dir', str(tmp_path / 'mine'))
    assert compilation_cache.enable() == str(tmp_path / 'mine')
  finally:
    jax.config.update('jax_compilation_cache_dir', saved[0])
    jax.config.update('jax_persistent_cache_min_compile_time_secs', saved[1])
