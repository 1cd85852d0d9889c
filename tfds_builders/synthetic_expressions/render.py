"""Pure numpy/OpenCV renderer of synthetic facial-expression videos.

No TFDS, no TensorFlow: `face_model.sample_subject(rng)` draws one synthetic
person and `render_video(rng, subject, label, num_frames, size)` draws one
neutral -> apex video of that person as `uint8 [T, H, W, 3]` RGB.

A face is a set of antialiased polygons (cv2.fillPoly / polylines, LINE_AA,
4 bits of sub-pixel precision) drawn at twice the output size and area-resized.
Its expression is a small vector of "action units" (AUs, loosely after FACS,
0 = neutral): each frame draws `rest + intensity(t) * apex[label]`, where `rest`
is the subject's resting face (some subjects rest with a face that looks like
another class's apex at moderate intensity) and `intensity(t)` is 0 up to a
random onset, then rises smoothly to a random apex intensity at a random speed.
Nuisances: head motion (translation, rotation, scale), blinks, lighting drift,
pixel noise. Frame 0 is the subject's resting face in its resting pose and
lighting, for every class, so only the change over time tells the classes apart.
"""

from __future__ import annotations

import cv2
import numpy as np

from tfds_builders.synthetic_expressions import draw, face_model

_SUPERSAMPLE = 2


def _smoothstep(x):
  x = np.clip(x, 0., 1.)
  return x * x * (3. - 2. * x)


def _drift(rng, num_frames, amplitude):
  """A smooth random trajectory that starts at exactly 0."""
  a = rng.uniform(-amplitude, amplitude)
  cycles = rng.uniform(0.2, 0.8)
  phase = rng.uniform(0, 2 * np.pi)
  t = np.arange(num_frames) / max(num_frames - 1, 1)
  return a * (np.sin(2 * np.pi * cycles * t + phase) - np.sin(phase))


def render_video(rng, subject: face_model.SubjectParams, label: int, num_frames: int,
                 size: int) -> np.ndarray:
  """Renders one video of `subject` making expression `label` (`emotions.BASIC_EMOTIONS`).

  Args:
    rng: np.random.Generator or seed for this video's nuisances (onset, speed,
      intensity, head motion, blinks, lighting, noise).
    subject: from `sample_subject`.
    label: class index, a row of `face_model.APEX`.
    num_frames: T.
    size: output height and width.

  Returns:
    uint8 [T, size, size, 3] RGB; frame 0 is the subject's resting face.
  """
  rng = np.random.default_rng(rng)
  T, S = num_frames, size * _SUPERSAMPLE
  last = max(T - 1, 1)

  # Expression time course: neutral until the onset, then a smooth rise.
  onset = max(1., rng.uniform(0.08, 0.35) * last)
  duration = rng.uniform(0.3, 0.55) * last
  peak = rng.uniform(0.8, 1.1) * subject.expressivity
  intensity = peak * _smoothstep((np.arange(T) - onset) / duration)
  apex = face_model.APEX[label] * rng.normal(1., 0.15, len(face_model.AU_NAMES))
  apex += rng.normal(0., 0.05, len(face_model.AU_NAMES))
  rest = np.asarray(subject.rest)
  aus = np.clip(rest + intensity[:, None] * apex, face_model.AU_LO, face_model.AU_HI)

  # Blinks: 0-2, never on frame 0.
  t = np.arange(T, dtype=np.float64)
  eye_open = np.ones(T)
  for _ in range(rng.choice([0, 1, 1, 2])):
    width = rng.uniform(0.8, 1.6)
    centre = rng.uniform(width + 0.2, max(width + 0.2, T - 1.))
    eye_open -= 0.95 * np.clip(1. - np.abs(t - centre) / width, 0., 1.)
  eye_open = np.clip(eye_open, 0.05, 1.)

  # Head pose and lighting drifts, all 0 at frame 0.
  tx, ty = _drift(rng, T, 0.02), _drift(rng, T, 0.015)
  rot = _drift(rng, T, np.deg2rad(3.))
  scale = 1. + _drift(rng, T, 0.025)
  flicker = 1. + _drift(rng, T, 0.03)
  light_turn = _drift(rng, T, 0.25)
  noise_sigma = rng.uniform(0.5, 2.)
  noise = rng.normal(0., 1., (T, size, size, 1)) * noise_sigma
  noise = noise + rng.normal(0., 0.25 * noise_sigma, (T, size, size, 3))

  fw, fh = subject.face_w * S, subject.face_h * S
  centre = np.array([0.5 * S, subject.face_y * S])
  bg = np.empty((S, S, 3), np.uint8)
  bg[:] = np.clip(subject.background, 0, 255).astype(np.uint8)
  body = draw.Canvas(bg, np.diag([fw, fh]), centre, fw)
  body.fill(draw.ellipse(0., 2.05, 1.9, 0.85, 24), subject.clothes)
  body.fill([[-0.33, 0.5], [0.33, 0.5], [0.38, 1.35], [-0.38, 1.35]],
            draw.shade(subject.skin, 0.12))

  yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size - 0.5
  out = np.empty((T, size, size, 3), np.uint8)
  canvas = np.empty_like(bg)
  for i in range(T):
    c, s_ = np.cos(rot[i]), np.sin(rot[i])
    matrix = scale[i] * np.array([[c, -s_], [s_, c]]) @ np.diag([fw, fh])
    offset = centre + np.array([tx[i], ty[i]]) * S
    canvas[:] = bg
    draw.draw_face(draw.Canvas(canvas, matrix, offset, fw * scale[i]), subject,
                   aus[i], eye_open[i], fh / fw)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    ang = subject.light_angle + light_turn[i]
    light = subject.brightness * flicker[i] * (
        1. + 2. * subject.light_strength * (xx * np.cos(ang) + yy * np.sin(ang)))
    frame = small.astype(np.float32) * light[..., None].astype(np.float32)
    out[i] = np.clip(np.rint(frame + noise[i]), 0, 255).astype(np.uint8)
  return out
