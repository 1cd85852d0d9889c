"""MTCNN face detection and face tracks on real photographs (scikit-image's)."""

import math

import cv2
import numpy as np
import pytest
import skimage.data

from emojax.data import faces, mtcnn, mtcnn_nets, tracking

S = 512  # Every frame is 512x512 so the jitted P-Net levels compile once.
# The astronaut's face (checked by eye): x 180-268, y 60-173 in the 512x512 photo.
FACE = np.array([181., 61., 268., 173.])


@pytest.fixture(scope='module')
def detector():
  # min_face_size 52 (> 10% of 512, extract_face_track's default floor) keeps one
  # pyramid for every call, and few levels; batch_size 4 keeps batch shapes few.
  return mtcnn.FaceDetector(min_face_size=52, batch_size=4)


@pytest.fixture(scope='module')
def astronaut():
  return skimage.data.astronaut()


def _canvas(image, scale=1.0, dx=0, dy=0, fill=100):
  """`image` resized by `scale` and pasted at (dx, dy) (may be cut off) on an SxS frame."""
  if scale != 1:
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
  out = np.full((S, S, 3), fill, np.uint8)
  h, w = image.shape[:2]
  ys, xs = slice(max(dy, 0), min(dy + h, S)), slice(max(dx, 0), min(dx + w, S))
  out[ys, xs] = image[ys.start - dy:ys.stop - dy, xs.start - dx:xs.stop - dx]
  return out


def test_weights_load_into_the_networks():
  # load_params checks every array against the flax module's parameter shapes.
  params = mtcnn_nets.load_params('onet')
  assert params['params']['fc5']['kernel'].shape == (1152, 256)
  assert params['params']['prelu1']['alpha'].shape == (32,)


def test_astronaut_face_box_and_landmarks(detector, astronaut):
  (det,) = detector(astronaut)
  assert det.boxes.shape == (1, 4) and det.scores.shape == (1,)
  assert det.landmarks.shape == (1, 5, 2)
  assert det.scores[0] > 0.95
  np.testing.assert_allclose(det.boxes[0], FACE, atol=12)
  (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = det.landmarks[0]
  x1, y1, x2, y2 = det.boxes[0]
  assert np.all((det.landmarks[0] > [x1, y1]) & (det.landmarks[0] < [x2, y2]))
  assert lx < nx < rx and mlx < nx < mrx  # Left of the image to its right.
  assert max(ly, ry) < ny < min(mly, mry)  # Eyes above nose above mouth.
  assert 30 < rx - lx < 60  # Eye distance of a ~90 pixel wide face.


def test_box_follows_scale_and_translation(detector, astronaut):
  scale, dx, dy = 0.75, 120, 90
  (det,) = detector(_canvas(astronaut, scale, dx, dy))
  assert len(det.boxes) == 1
  expected = FACE * scale + [dx, dy, dx, dy]
  np.testing.assert_allclose(det.boxes[0], expected, atol=10)
  (ref,) = detector(astronaut)
  np.testing.assert_allclose(det.landmarks[0], ref.landmarks[0] * scale + [dx, dy], atol=6)


@pytest.mark.slow
def test_batch_matches_one_by_one(detector, astronaut):
  frames = np.stack([astronaut, _canvas(astronaut, 0.75, 120, 90),
                     _canvas(astronaut, 1, -40, 30), np.zeros_like(astronaut)])
  batch = detector(frames)
  assert len(batch) == 4 and len(batch[3].boxes) == 0
  for frame, b in zip(frames, batch):
    (single,) = detector(frame)
    assert len(single.boxes) == len(b.boxes)
    np.testing.assert_allclose(b.boxes, single.boxes, atol=0.05)
    np.testing.assert_allclose(b.landmarks, single.landmarks, atol=0.05)
    np.testing.assert_allclose(b.scores, single.scores, atol=1e-3)


def test_lfw_faces_found_and_non_faces_not(detector):
  """skimage's LFW subset: 25x25 crops, 100 faces then 100 non-faces. Tiled 4x4
  (scaled to 80 pixels) on four frames: every face found once, nothing else."""
  lfw = (skimage.data.lfw_subset() * 255).astype(np.uint8)

  def tiles(images):
    out = np.full((S, S, 3), 128, np.uint8)
    for k, image in enumerate(images):
      r, c = divmod(k, 4)
      out[r * 128 + 24:r * 128 + 104, c * 128 + 24:c * 128 + 104] = cv2.resize(
          image, (80, 80), interpolation=cv2.INTER_CUBIC)[..., None]
    return out

  frames = np.stack([tiles(lfw[0:16]), tiles(lfw[16:32]), tiles(lfw[100:116]),
                     tiles(lfw[116:132])])
  detections = detector(frames)
  for det in detections[:2]:
    centres = (det.boxes[:, :2] + det.boxes[:, 2:]) / 2
    cells = sorted(map(tuple, (centres // 128).astype(int).tolist()))
    assert cells == [(c, r) for c in range(4) for r in range(4)]
    assert np.all(det.landmarks[:, 0, 0] < det.landmarks[:, 1, 0])  # Left eye left.
  assert len(detections[2].boxes) == 0 and len(detections[3].boxes) == 0


def test_no_face_in_cat_or_noise(detector):

  rng = np.random.default_rng(0)
  frames = np.stack([_canvas(skimage.data.chelsea()),
                     rng.integers(0, 256, (S, S, 3), dtype=np.uint8)])
  assert all(len(d.boxes) == 0 for d in detector(frames))


def test_face_track_fills_blanked_frames(detector, astronaut):
  shifts = np.arange(8) * 4
  frames = np.stack([_canvas(astronaut, 1, int(dx), 0) for dx in shifts])
  frames[3:5] = 0  # Two frames where detection fails.
  # Every frame detected: key frames 5 apart would carry the face over the two blank frames.
  track = faces.extract_face_track(frames, 64, detector=detector, source='blank.mp4',
                                   key_frame_interval=1)
  assert track.crops.shape == (8, 64, 64, 3) and track.crops.dtype == np.uint8
  assert track.boxes.shape == (8, 4) and track.boxes.dtype == np.float32
  np.testing.assert_array_equal(track.found, [1, 1, 1, 0, 0, 1, 1, 1])
  # Filled boxes lie between their neighbours, and every box follows the shift.
  x1 = track.boxes[:, 0]
  assert x1[2] < x1[3] < x1[4] < x1[5]
  np.testing.assert_allclose(track.boxes, FACE + shifts[:, None] * [1, 0, 1, 0], atol=12)
  # The crops follow the face: first and last crop agree, unlike fixed crops.
  diff = np.abs(track.crops[0].astype(int) - track.crops[7]).mean()
  fixed = faces.crop_faces(frames[[0, 7]], track.boxes[[0, 0]], 64)
  assert diff < 0.5 * np.abs(fixed[0].astype(int) - fixed[1]).mean()


def test_faceless_video_raises_naming_source(detector):
  rng = np.random.default_rng(1)
  frames = rng.integers(0, 256, (4, S, S, 3), dtype=np.uint8)
  frames[0] = _canvas(skimage.data.chelsea())
  with pytest.raises(faces.NoFaceError, match='clips/cat_and_noise.avi'):
    faces.extract_face_track(frames, 64, detector=detector, source='clips/cat_and_noise.avi')
  assert issubclass(faces.NoFaceError, ValueError)


def _all(detections):
  return dict(enumerate(detections))


def test_track_faces_keeps_the_subject():
  def det(*boxes):
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    return mtcnn.Detection(boxes, np.full(len(boxes), 0.99, np.float32),
                           np.zeros((len(boxes), 5, 2), np.float32))
  subject, extra = [200, 150, 300, 270], [20, 20, 70, 80]  # Big central, small corner.
  detections = [det(extra, subject), det(subject), det(), det(extra), det(subject, extra),
                det([420, 300, 470, 360])]  # A brief face elsewhere.
  boxes, _, found = tracking.subject_track(_all(detections), (480, 640), len(detections), sigma=0)
  np.testing.assert_array_equal(found, [1, 1, 0, 0, 1, 0])
  np.testing.assert_allclose(boxes, np.tile(subject, (6, 1)), atol=1e-4)
  with pytest.raises(faces.NoFaceError):
    tracking.subject_track(_all([det(), det()]), (480, 640), 2)


def test_track_faces_interpolates_and_smooths():
  def det(x):
    return mtcnn.Detection(np.array([[x, 100, x + 100, 200]], np.float32),
                           np.ones(1, np.float32), np.zeros((1, 5, 2), np.float32))
  empty = mtcnn.Detection(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                          np.zeros((0, 5, 2), np.float32))
  detections = [det(100), empty, empty, det(130), det(140), empty]
  boxes, _, found = tracking.subject_track(_all(detections), (480, 640), len(detections), sigma=0)
  np.testing.assert_allclose(boxes[:, 0], [100, 110, 120, 130, 140, 140], atol=1e-4)
  jittery = [det(100 + 10 * (t % 2)) for t in range(9)]
  smooth, _, _ = tracking.subject_track(_all(jittery), (480, 640), 9, sigma=2)
  assert np.ptp(smooth[2:-2, 0]) < 2 and np.allclose(smooth[:, 2] - smooth[:, 0], 100)


def test_crop_faces_geometry():
  yy, xx = np.mgrid[:400, :400]
  frame = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
  box = np.array([[100., 120., 200., 220.]])
  # margin 0, size = box side: the crop is exactly the box's pixels.
  np.testing.assert_array_equal(faces.crop_faces(frame[None], box, 100, margin=0)[0],
                                frame[120:220, 100:200])
  # margin 0.5 adds half the side on each side.
  np.testing.assert_array_equal(faces.crop_faces(frame[None], box, 200, margin=0.5)[0],
                                frame[70:270, 50:250])


def _landmarks(centre, eye_distance, angle_deg, eye_mouth=None):
  """Five landmarks of a face whose eye midpoint is `centre`, turned by `angle_deg`."""
  a = math.radians(angle_deg)
  right, down = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
  h, m = eye_distance / 2, eye_mouth or eye_distance * faces.ALIGNED_EYE_MOUTH / (
      faces.ALIGNED_EYE_DISTANCE)
  points = [-h * right, h * right, 0.5 * m * down, m * down - 0.7 * h * right,
            m * down + 0.7 * h * right]
  return np.asarray(centre) + np.array(points)


@pytest.mark.parametrize('angle', [-25, 0, 15])
def test_aligned_crops_put_the_eyes_level_at_fixed_places(angle):
  marks = _landmarks((210., 180.), 40., angle)
  dots = np.zeros((400, 400, 3), np.uint8)
  for x, y in marks[:2]:  # Pixel (i, j) covers [j, j + 1) x [i, i + 1); 4 bits of sub-pixel.
    cv2.circle(dots, (round((x - 0.5) * 16), round((y - 0.5) * 16)), 48, (255, 255, 255), -1,
               cv2.LINE_AA, 4)
  size, margin = 100, 0.25
  crop = faces.crop_faces(dots[None], np.zeros((1, 4)), size, margin, marks[None])[0, :, :, 0]
  ys, xs = np.nonzero(crop > 100)
  left, right = xs < size / 2, xs >= size / 2
  eyes = np.array([[np.average(xs[k], weights=crop[ys[k], xs[k]]),
                    np.average(ys[k], weights=crop[ys[k], xs[k]])] for k in (left, right)]) + 0.5
  # The template's places: the face square spans [margin, 1 + margin] / (1 + 2 margin) of the crop.
  at = lambda v: (v + margin) / (1 + 2 * margin) * size  # noqa: E731
  half = faces.ALIGNED_EYE_DISTANCE / 2
  np.testing.assert_allclose(eyes, [[at(0.5 - half), at(faces.ALIGNED_EYE_Y)],
                                    [at(0.5 + half), at(faces.ALIGNED_EYE_Y)]], atol=0.2)


def test_a_face_turned_aside_keeps_its_scale():
  frontal = faces.face_squares(None, _landmarks((200., 200.), 40., 0)[None])[0]
  # Turned aside: the eyes come 40% closer, the eye-to-mouth distance stays.
  turned = faces.face_squares(None, _landmarks((200., 200.), 24., 0, frontal[2] *
                                               faces.ALIGNED_EYE_MOUTH)[None])[0]
  assert turned[2] == pytest.approx(faces.PROFILE_GUARD * frontal[2])
  assert frontal[2] == pytest.approx(40. / faces.ALIGNED_EYE_DISTANCE)


def test_aligned_crops_of_a_tilted_face_match_the_upright_one(detector, astronaut):
  """The astronaut turned by +-20 degrees about her face: aligned, the crops look like the
  upright face's; upright crops do not."""
  centre = tuple(float(v) for v in (FACE[:2] + FACE[2:]) / 2)
  frames = np.stack([cv2.warpAffine(astronaut, cv2.getRotationMatrix2D(centre, a, 1.0), (S, S),
                                    borderMode=cv2.BORDER_REFLECT) for a in (0, 20, -20)])
  track = faces.extract_face_track(frames, 64, detector=detector, sigma=0)
  upright = faces.extract_face_track(frames, 64, align=False, detector=detector, sigma=0)
  eye_line = track.landmarks[:, 1] - track.landmarks[:, 0]
  np.testing.assert_allclose(np.degrees(np.arctan2(eye_line[:, 1], eye_line[:, 0])) -
                             np.degrees(math.atan2(*(eye_line[0, ::-1]))), [0, -20, 20], atol=3)
  def diff(crops, k):
    return np.abs(crops[k].astype(int) - crops[0]).mean()
  for k in (1, 2):
    assert diff(track.crops, k) < 0.5 * diff(upright.crops, k)


class _CountingDetector(mtcnn.FaceDetector):
  """Counts the frames the full search (P-Net pyramid, R-Net, O-Net) runs on."""
  searched = 0

  def __call__(self, frames, min_face_size=None):
    self.searched += len(np.asarray(frames).reshape(-1, *np.shape(frames)[-3:]))
    return super().__call__(frames, min_face_size)


def test_given_face_crops_are_aligned_and_framed_as_detected_faces_without_a_search():
  from tfds_builders import fakes
  frames = fakes.fake_face_crops(6, (128, 128), margin=0.3)
  detector = _CountingDetector(min_face_size=52, batch_size=4)
  given = faces.extract_face_track(frames, 48, detector=detector, given_faces=True,
                                   key_frame_interval=1)
  assert detector.searched == 0 and given.found.all()
  searched = faces.extract_face_track(frames, 48, detector=detector, key_frame_interval=1)
  assert detector.searched == 6
  np.testing.assert_allclose(given.landmarks, searched.landmarks, atol=2.0)
  assert np.abs(given.crops.astype(int) - searched.crops).mean() < 6
  # A frame O-Net finds no face in (a blank one) is searched; found nowhere, it is not found.
  frames[2] = 128
  blank = faces.extract_face_track(frames, 48, detector=detector, given_faces=True,
                                   key_frame_interval=1)
  assert detector.searched == 7 and blank.found.tolist() == [1, 1, 0, 1, 1, 1]
