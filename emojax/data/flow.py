"""Optical-flow images for the temporal stream of two-stream models (RFSCNN).

`flow_images(frames)` turns a clip `uint8 [T, H, W, 3]` into `uint8 [T, H, W, 3]` flow images: frame t
holds the flow from frame t to frame t + 1 (the last frame repeats the previous flow; a one-frame
clip gets zero flow). The channels are

    0: dx, horizontal displacement in pixels per frame   u8 = round(127.5 + 127.5 * clip(dx, -c, c) / c)
    1: dy, vertical displacement (down is positive)      u8 = round(127.5 + 127.5 * clip(dy, -c, c) / c)
    2: magnitude sqrt(dx^2 + dy^2)                       u8 = round(255 * min(magnitude, c) / c)

with the same fixed clip range c = `FLOW_CLIP` pixels for every dataset and clip (no per-clip
normalisation), so a pixel value means the same motion everywhere; zero motion is (128, 128, 0).
Because the scaling is fixed, a horizontally flipped flow image is (255 - dx, dy, magnitude), up to
one grey level of rounding.

Methods: 'farneback' (cv2.calcOpticalFlowFarneback), 'dis' (cv2.DISOpticalFlow, faster) and
'tvl1' (Dual TV-L1, the classic choice for two-stream networks; needs opencv-contrib's
`cv2.optflow`, otherwise a ValueError says so).
"""
from __future__ import annotations

import numpy as np

FLOW_CLIP = 8.0  # pixels per frame: displacements beyond +-8 px saturate
METHODS = ('farneback', 'dis', 'tvl1')


def _gray(frames: np.ndarray) -> np.ndarray:
  import cv2
  return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames])


def _flow_fn(method: str):
  """`(prev_gray, next_gray) -> float32 [H, W, 2]` for `method`."""
  import cv2
  if method == 'farneback':
    return lambda a, b: cv2.calcOpticalFlowFarneback(
        a, b, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2,
        flags=0)
  if method == 'dis':
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return lambda a, b: dis.calc(a, b, None)
  if method == 'tvl1':
    if not hasattr(cv2, 'optflow'):
      raise ValueError(
          "flow method 'tvl1' needs cv2.optflow (pip package opencv-contrib-python[-headless]); the "
          f"installed OpenCV {cv2.__version__} lacks it. Use 'farneback' or 'dis'.")
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
    return lambda a, b: tvl1.calc(a, b, None)
  raise ValueError(f'flow method {method!r}: expected one of {METHODS}')


def encode_flow(flow: np.ndarray, clip: float = FLOW_CLIP) -> np.ndarray:
  """float `[..., 2]` displacements (dx, dy) -> uint8 `[..., 3]` (dx, dy, magnitude) images."""
  flow = np.asarray(flow, np.float32)
  magnitude = np.sqrt(np.sum(flow**2, axis=-1, keepdims=True))
  dxdy = 127.5 + 127.5 * np.clip(flow, -clip, clip) / clip
  mag = 255.0 * np.minimum(magnitude, clip) / clip
  return np.round(np.concatenate([dxdy, mag], axis=-1)).astype(np.uint8)


def mirror_flow_images(images: np.ndarray) -> np.ndarray:
  """Flow images of a horizontally flipped clip, given the flipped images: dx changes sign."""
  mirrored = np.array(images, copy=True)
  mirrored[..., 0] = 255 - mirrored[..., 0]
  return mirrored


def decode_flow(images: np.ndarray, clip: float = FLOW_CLIP) -> np.ndarray:
  """uint8 flow images -> float `[..., 2]` (dx, dy) in pixels (exact up to the clip and rounding)."""
  return (np.asarray(images[..., :2], np.float32) - 127.5) / 127.5 * clip


def scale_flow_images(images: np.ndarray, factor: float, clip: float = FLOW_CLIP) -> np.ndarray:
  """Flow images of frames resized by `factor` (given the resized images): displacements scale."""
  if factor == 1.0:
    return images
  return encode_flow(decode_flow(images, clip) * factor, clip)


def flow_images(frames: np.ndarray, method: str = 'farneback', clip: float = FLOW_CLIP) -> np.ndarray:
  """RGB clip `uint8 [T, H, W, 3]` -> flow images `uint8 [T, H, W, 3]` (see the module docstring)."""
  frames = np.asarray(frames)
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
    raise ValueError(f'expected uint8 [T, H, W, 3] frames, got {frames.dtype} {frames.shape}')
  fn = _flow_fn(method)
  num_frames, height, width = frames.shape[:3]
  if num_frames < 2:
    return encode_flow(np.zeros((num_frames, height, width, 2), np.float32), clip)
  gray = _gray(frames)
  flows = [fn(gray[t], gray[t + 1]) for t in range(num_frames - 1)]
  flows.append(flows[-1])
  return encode_flow(np.stack(flows), clip)


def clip_with_flow(frames: np.ndarray, method: str = 'farneback') -> np.ndarray:
  """`uint8 [T, H, W, 6]`: the RGB frames and their flow images on the channel axis (RFSCNN input)."""
  return np.concatenate([frames, flow_images(frames, method)], axis=-1)
