"""Key-frame face tracking (`emojax.data.tracking`) with a scripted detector: where it looks."""

import numpy as np
import pytest

from emojax.data import mtcnn, tracking

SHAPE = (480, 640)


def _face(x, y=150., side=100., score=0.999, roll=0.):
  """One face's Detection: a box at (x, y) and landmarks turned by `roll` radians."""
  box = np.array([[x, y, x + side, y + side]], np.float32)
  c, h = np.array([x + side / 2, y + 0.4 * side]), 0.17 * side
  eyes = c + np.array([[-1], [1]]) * h * np.array([np.cos(roll), np.sin(roll)])
  marks = np.concatenate([eyes, [c + [0, 0.2 * side]], eyes + [0, 0.35 * side]])
  return mtcnn.Detection(box, np.array([score], np.float32), marks[None].astype(np.float32))


NONE = mtcnn.Detection(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                       np.zeros((0, 5, 2), np.float32))


class Scripted:
  """A detector of a scripted video: `faces[t]` is frame t's Detection; records what it saw."""

  def __init__(self, faces):
    self.faces, self.seen = faces, []

  def __call__(self, indices):
    self.seen += [int(i) for i in indices]
    return [self.faces[i] for i in indices]


def _track(faces, interval, sigma=0.):
  detect = Scripted(faces)
  (boxes, marks, found), detected = tracking.track_subject(detect, len(faces), SHAPE, interval,
                                                           sigma)
  assert detected == len(set(detect.seen))
  return detect, boxes, marks, found


def test_a_steady_face_is_detected_on_key_frames_only_and_interpolated():
  x = 100 + 2.0 * np.arange(23)  # 2 pixels a frame: 10 between key frames, a tenth of the face.
  detect, boxes, marks, found = _track([_face(v) for v in x], 5)
  assert detect.seen == [0, 5, 10, 15, 20, 22]
  np.testing.assert_allclose(boxes[:, 0], x, atol=1e-4)  # A straight line between key frames.
  np.testing.assert_allclose(marks[:, 0, 0], x + 50 - 17, atol=1e-3)
  assert found.all()


@pytest.mark.parametrize('change, rechecked', [
    ({12: dict(x=140.)}, range(11, 15)),  # Moved 40 pixels between key frames 10 and 15 ...
    ({15: dict(score=0.8)}, [*range(11, 15), *range(16, 20)]),  # ... unsure at 15 ...
    ({15: dict(roll=0.3)}, [*range(11, 15), *range(16, 20)]),  # ... turned by 17 degrees ...
    ({15: None}, [*range(11, 15), *range(16, 20)]),  # ... missed at key frame 15.
])
def test_the_frames_around_an_unsure_key_frame_are_detected(change, rechecked):
  faces = [_face(100.) for _ in range(21)]
  for t, face in change.items():
    faces[t] = NONE if face is None else _face(**{'x': 100., **face})
  if 12 in change:  # The face jumps at frame 12 and stays.
    faces[12:] = [_face(140.)] * 9
  detect, boxes, _, found = _track(faces, 5)
  assert detect.seen == [0, 5, 10, 15, 20, *rechecked]
  if 12 in change:
    np.testing.assert_allclose(boxes[11:13, 0], [100, 140])  # The jump where it happened.
  assert found.sum() == 21 - (15 in change and change[15] is None)


def test_frames_between_key_frames_without_the_face_are_not_found():
  faces = [_face(100.)] * 6 + [NONE] * 9 + [_face(100.)] * 6  # Gone from frame 6 to 14.
  detect, _, _, found = _track(faces, 5)
  assert detect.seen == [0, 5, 10, 15, 20, 6, 7, 8, 9, 11, 12, 13, 14]
  np.testing.assert_array_equal(found, [True] * 6 + [False] * 9 + [True] * 6)


def test_a_face_on_no_key_frame_is_looked_for_everywhere():
  faces = [NONE] * 6 + [_face(100.)] * 3 + [NONE] * 4  # Frames 6-8 only.
  detect, _, _, found = _track(faces, 5)
  assert sorted(detect.seen) == list(range(13))
  np.testing.assert_array_equal(np.flatnonzero(found), [6, 7, 8])


def test_interval_one_detects_every_frame_once():
  detect, _, _, _ = _track([_face(100. + 30 * (t % 2)) for t in range(7)], 1)
  assert detect.seen == list(range(7))


def test_key_frames_include_the_last_frame():
  np.testing.assert_array_equal(tracking.key_frames(11, 5), [0, 5, 10])
  np.testing.assert_array_equal(tracking.key_frames(12, 5), [0, 5, 10, 11])
  with pytest.raises(ValueError, match='key_frame_interval'):
    tracking.key_frames(12, 0)
