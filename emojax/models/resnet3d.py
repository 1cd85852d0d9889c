"""3D ResNets (Hara et al., "Can Spatiotemporal 3D CNNs Retrace the History of 2D CNNs?").

The network returns the last stage's feature map `[B, T', H', W', C]` rather than logits so that the
temporal modules of `EmotionNet` can read every remaining frame. By default time is never strided
(stem, max-pool and stages stride only H and W, as in the PyTorch peer), so a 16-frame clip keeps 16
feature frames; `temporal_strides` trades that for speed.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from emojax.models.norm import BatchNorm

ModuleDef = Any


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
  """XLA's 'SAME' padding of one axis."""
  total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


def _conv2d(x, kernel, strides):
  return lax.conv_general_dilated(x, kernel, strides, 'SAME',
                                  dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def _pad_axis(x, axis: int, pads: tuple[int, int], value=0):
  widths = [(0, 0)] * x.ndim
  widths[axis] = pads
  return jnp.pad(x, widths, constant_values=value)


def conv3d_xla(x, kernel, strides):
  """XLA's own 3D convolution (cuDNN on GPU; a slow generic loop on XLA:CPU)."""
  return lax.conv_general_dilated(x, kernel, strides, 'SAME',
                                  dimension_numbers=('NDHWC', 'DHWIO', 'NDHWC'))


def conv3d_frames(x, kernel, strides):
  """One 2D convolution over frames whose channels hold their `kt` temporal neighbours."""
  kt, kh, kw, cin, features = kernel.shape
  batch, frames = x.shape[:2]
  st = strides[0]
  out_frames = -(-frames // st)
  x = _pad_axis(x, 1, _same_padding(frames, kt, st))
  span = (out_frames - 1) * st + 1
  stacked = jnp.concatenate([x[:, dt:dt + span:st] for dt in range(kt)], axis=-1)
  y = _conv2d(stacked.reshape(batch * out_frames, *stacked.shape[2:]),
              kernel.transpose(1, 2, 0, 3, 4).reshape(kh, kw, kt * cin, features), strides[1:])
  return y.reshape(batch, out_frames, *y.shape[1:])


def _tap_sources(frames: int, kt: int, st: int, dt: int) -> tuple[int, int, int]:
  """`(first output frame, output frames, first source frame)` of temporal tap `dt`: output frame
  `t` reads source frame `t * st + dt - pad` where that lies inside the clip ('SAME' padding)."""
  lo, _ = _same_padding(frames, kt, st)
  out_frames = -(-frames // st)
  valid = [t for t in range(out_frames) if 0 <= t * st + dt - lo < frames]
  if not valid:
    return 0, 0, 0
  return valid[0], len(valid), valid[0] * st + dt - lo


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def shifted_tap_sum(taps, frames: int, st: int):
  """`out[:, t] = sum_dt taps[:, t * st + dt - pad, ..., dt, :]` over the sources inside the clip:
  the temporal half of a 3D convolution whose spatial half gave each frame's contribution to every
  temporal tap (`taps`: `[B, T, H, W, kt, F]`).

  Each tap's frames are sliced and padded into place, rather than the whole `taps` padded in time.
  The gradient (written out) stacks the taps' shifted copies of the output gradient along the tap
  axis: as a sum over taps, which autodiff gives, XLA evaluated the output gradient's producers
  (BatchNorm, ReLU and pooling gradients) once per tap for every element.
  """
  kt = taps.shape[-2]
  out_frames = -(-frames // st)
  out = 0
  for dt in range(kt):
    first, count, source = _tap_sources(frames, kt, st, dt)
    if count:
      part = lax.slice_in_dim(taps[..., dt, :], source, source + (count - 1) * st + 1, st, axis=1)
      out = out + _pad_axis(part, 1, (first, out_frames - first - count))
  return out


def _shifted_tap_sum_fwd(taps, frames, st):
  return shifted_tap_sum(taps, frames, st), taps.shape[-2]


def _shifted_tap_sum_bwd(frames, st, kt, dy):
  columns = []
  for dt in range(kt):
    first, count, source = _tap_sources(frames, kt, st, dt)
    part = lax.slice_in_dim(dy, first, first + count, axis=1)
    if st > 1:  # source frames of consecutive outputs are st apart
      part = lax.pad(part, jnp.zeros((), dy.dtype), [(0, 0, 0), (0, 0, st - 1)] +
                     [(0, 0, 0)] * (dy.ndim - 2))
    part = _pad_axis(part, 1, (source, frames - source - part.shape[1]))
    columns.append(part)
  return (jnp.stack(columns, axis=-2),)


shifted_tap_sum.defvjp(_shifted_tap_sum_fwd, _shifted_tap_sum_bwd)


def conv3d_frame_taps(x, kernel, strides):
  """One 2D convolution of every frame giving its contribution to each of the `kt` temporal taps
  as channels, then a shifted sum over time (`shifted_tap_sum`)."""
  kt, kh, kw, cin, features = kernel.shape
  batch, frames = x.shape[:2]
  y = _conv2d(x.reshape(batch * frames, *x.shape[2:]),
              kernel.transpose(1, 2, 3, 0, 4).reshape(kh, kw, cin, kt * features), strides[1:])
  return shifted_tap_sum(y.reshape(batch, frames, *y.shape[1:3], kt, features), frames,
                         strides[0])


def conv3d_of_still(x0, kernel, strides, frames: int):
  """The 3D convolution of a clip of `frames` copies of the frame `x0` (`[B, H, W, C]`): one 2D
  convolution giving every temporal tap, summed over the taps whose source lies inside the clip."""
  kt, kh, kw, cin, features = kernel.shape
  y = _conv2d(x0, kernel.transpose(1, 2, 3, 0, 4).reshape(kh, kw, cin, kt * features), strides[1:])
  taps = np.zeros((-(-frames // strides[0]), kt), np.float32)
  for dt in range(kt):
    first, count, _ = _tap_sources(frames, kt, strides[0], dt)
    taps[first:first + count, dt] = 1
  return jnp.einsum('bhwkf,tk->bthwf', y.reshape(*y.shape[:3], kt, features), taps.astype(y.dtype))


def conv3d_matmul(x, kernel, strides):
  """One matrix product of the stacked `kt x kh x kw` neighbourhoods (im2col) with the kernel."""
  kt, kh, kw, cin, features = kernel.shape
  out = [-(-size // stride) for size, stride in zip(x.shape[1:4], strides)]
  for axis, (size, k, stride) in enumerate(zip(x.shape[1:4], kernel.shape[:3], strides), start=1):
    x = _pad_axis(x, axis, _same_padding(size, k, stride))
  spans = [(n - 1) * stride + 1 for n, stride in zip(out, strides)]
  patches = jnp.concatenate([
      x[:, a:a + spans[0]:strides[0], b:b + spans[1]:strides[1], c:c + spans[2]:strides[2]]
      for a in range(kt) for b in range(kh) for c in range(kw)], axis=-1)
  return patches @ kernel.reshape(-1, features)


CONV3D_IMPLS = {'xla': conv3d_xla, 'frames': conv3d_frames, 'frame_taps': conv3d_frame_taps,
                'matmul': conv3d_matmul}


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv3d_by_pass(x, kernel, strides, impls: tuple[str, str, str]):
  """The 3D convolution with its forward, input gradient and kernel gradient each computed by its
  own implementation (`impls`: three names in `CONV3D_IMPLS`). All give the same values; which is
  fastest differs between the three convolutions of a layer's training step (`auto_conv3d_impl`)."""
  return CONV3D_IMPLS[impls[0]](x, kernel, strides)


def _conv3d_by_pass_fwd(x, kernel, strides, impls):
  return conv3d_by_pass(x, kernel, strides, impls), (x, kernel)


def _conv3d_by_pass_bwd(strides, impls, residuals, dy):
  x, kernel = residuals
  _, input_grad = jax.vjp(lambda x: CONV3D_IMPLS[impls[1]](x, kernel, strides), x)
  _, kernel_grad = jax.vjp(lambda k: CONV3D_IMPLS[impls[2]](x, k, strides), kernel)
  return input_grad(dy)[0], kernel_grad(dy)[0]


conv3d_by_pass.defvjp(_conv3d_by_pass_fwd, _conv3d_by_pass_bwd)


def auto_conv3d_impl(input_shape, kernel_shape, strides, backend: str) -> tuple[str, str, str]:
  """The fastest implementations of a layer's forward, input gradient and kernel gradient, as
  measured with benchmarks/conv3d_impls.py and the whole train step (docs/benchmarks.md).

  On GPU, XLA's own 3D convolution. XLA:CPU runs 3D convolutions through a slow generic loop, and
  its 2D convolutions are slow on tiny maps and for few output channels, so there: a matrix
  product for maps of at most 2x2 positions; per-frame temporal taps for fewer than 16 output
  channels (a narrow strided stem: its `kt x features` tap channels at the output's resolution
  are fewer values than `kt x in channels` stacked neighbours at the input's); stacked temporal
  neighbours for fewer than 16 input channels (the paper's 3-channel stem). Otherwise the
  forward and the kernel gradient as per-frame taps and the input gradient as stacked neighbours
  (`conv3d_by_pass`): each of those 2D convolutions then reads the fewer channels (`in` rather
  than `kt x in`; the output gradient's `features` rather than `kt x features`), and XLA:CPU's
  convolutions gather their input patches (im2col) per channel read.
  """
  if backend != 'cpu':
    return ('xla',) * 3
  out_positions = (-(-input_shape[2] // strides[1])) * (-(-input_shape[3] // strides[2]))
  if out_positions <= 4:
    return ('matmul',) * 3
  temporal = kernel_shape[0] > 1
  if temporal and kernel_shape[-1] < 16:
    return ('frame_taps',) * 3
  if not temporal or kernel_shape[3] < 16:
    return ('frames',) * 3
  return ('frame_taps', 'frames', 'frame_taps')


def conv3d(x, kernel, strides, impl: str = 'auto'):
  """The 'SAME' 3D convolution of `x` by `kernel` computed by `impl` (`CONV3D_IMPLS` for every
  pass, or 'auto': `auto_conv3d_impl` for the layer's shapes and the backend)."""
  if impl != 'auto' and impl not in CONV3D_IMPLS:
    raise ValueError(f'config.model.conv_impl={impl!r}: expected one of '
                     f"{['auto', *CONV3D_IMPLS]}")
  impls = (auto_conv3d_impl(x.shape, kernel.shape, strides, jax.default_backend())
           if impl == 'auto' else (impl,) * 3)
  if len(set(impls)) == 1:
    return CONV3D_IMPLS[impls[0]](x, kernel, strides)
  return conv3d_by_pass(x, kernel, tuple(strides), impls)


class Conv3D(nn.Module):
  """3D convolution, 'SAME' padding, `[B, T, H, W, C]`; parameters laid out as `nn.Conv`'s.

  `impl` picks how it is computed (`CONV3D_IMPLS`; all give the same result): `'auto'` picks per
  layer, pass (forward, input and kernel gradient) and backend (`auto_conv3d_impl`).

  `frame_difference=True` convolves `[x, x - x[:, :1]]` (each frame and its difference from the
  clip's first, as channels: a kernel over twice x's channels) without building it: the
  convolution is linear, so it equals conv(x, k_x + k_d) - conv(x_0 in every frame, k_d), and the
  second term is one 2D convolution of the first frame (`conv3d_of_still`). The big convolution
  reads half the channels.
  """
  features: int
  kernel_size: tuple[int, int, int]
  strides: tuple[int, int, int] = (1, 1, 1)
  use_bias: bool = False
  impl: str = 'auto'
  frame_difference: bool = False
  dtype: Any = jnp.float32
  kernel_init: Any = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x):
    channels = x.shape[-1] * (2 if self.frame_difference else 1)
    kernel = self.param('kernel', self.kernel_init, (*self.kernel_size, channels, self.features))
    x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
    strides = tuple(self.strides)
    if self.frame_difference:
      kernel_x, kernel_d = jnp.split(kernel, 2, axis=3)
      kernel = kernel_x + kernel_d
    y = conv3d(x, kernel, strides, self.impl)
    if self.frame_difference:
      y = y - conv3d_of_still(x[:, 0], kernel_d, strides, x.shape[1])
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros_init(), (self.features,)).astype(self.dtype)
    return y


def separable_max_pool(x, window: Sequence[int], strides: Sequence[int]):
  """`nn.max_pool(x, window, strides, padding='SAME')` computed as one strided 1D max per axis.

  The max over a box is separable. XLA:CPU expands the gradient of a single reduce-window into
  index arrays; the chain of 1D maxima took the 3x3x3 pool of the paper-size stem forward and back
  in 264 ms instead of 379 ms. Tied maxima share the gradient instead of one taking it all.
  """
  for axis, (size, stride) in enumerate(zip(window, strides), start=1):
    if size == 1 and stride == 1:
      continue
    length = x.shape[axis]
    out = -(-length // stride)
    x = _pad_axis(x, axis, _same_padding(length, size, stride), -jnp.inf)
    x = functools.reduce(jnp.maximum, [
        lax.slice_in_dim(x, d, d + (out - 1) * stride + 1, stride, axis) for d in range(size)])
  return x


def residual_shortcut(x, y, conv: ModuleDef, norm: ModuleDef, strides):
  """The block input `x`, projected by a strided 1x1x1 convolution and BatchNorm when its shape
  differs from the residual branch's output `y` (submodules of the calling block)."""
  if x.shape == y.shape:
    return x
  return norm(name='norm_proj')(conv(y.shape[-1], (1, 1, 1), strides, name='conv_proj')(x))


class BasicBlock3D(nn.Module):
  """Two 3x3x3 convolutions with a residual connection."""
  filters: int
  conv: ModuleDef
  norm: ModuleDef
  act: Callable = nn.relu
  strides: tuple[int, int, int] = (1, 1, 1)

  @nn.compact
  def __call__(self, x):
    residual = x
    y = self.conv(self.filters, (3, 3, 3), self.strides)(x)
    y = self.act(self.norm()(y))
    y = self.conv(self.filters, (3, 3, 3))(y)
    y = self.norm(scale_init=nn.initializers.zeros_init())(y)
    return self.act(residual_shortcut(residual, y, self.conv, self.norm, self.strides) + y)


class Bottleneck3D(nn.Module):
  """1x1x1 -> 3x3x3 -> 1x1x1 (x4 channels) with a residual connection."""
  filters: int
  conv: ModuleDef
  norm: ModuleDef
  act: Callable = nn.relu
  strides: tuple[int, int, int] = (1, 1, 1)

  @nn.compact
  def __call__(self, x):
    residual = x
    y = self.act(self.norm()(self.conv(self.filters, (1, 1, 1))(x)))
    y = self.act(self.norm()(self.conv(self.filters, (3, 3, 3), self.strides)(y)))
    y = self.conv(self.filters * 4, (1, 1, 1))(y)
    y = self.norm(scale_init=nn.initializers.zeros_init())(y)
    return self.act(residual_shortcut(residual, y, self.conv, self.norm, self.strides) + y)


class ResNet3D(nn.Module):
  """3D ResNet feature extractor: `[B, T, H, W, C]` -> `[B, T', H', W', C']`.

  `num_filters` is the first stage's width (64 in the paper; smaller for the demo and tests); the
  stages double it. `temporal_strides` gives the time stride of the stem and of each stage.
  """
  stage_sizes: Sequence[int]
  block_cls: ModuleDef = BasicBlock3D
  num_filters: int = 64
  stem_kernel: tuple[int, int, int] = (7, 7, 7)
  temporal_strides: Sequence[int] = (1, 1, 1, 1, 1)
  stem_stride: int = 2
  max_pool: bool = True
  frame_difference: bool = False  # the stem reads [x, x - x[:, :1]] (see `Conv3D`)
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = True):
    if len(self.temporal_strides) != len(self.stage_sizes) + 1:
      raise ValueError(f'temporal_strides needs {len(self.stage_sizes) + 1} entries (stem + one per '
                       f'stage), got {tuple(self.temporal_strides)}')
    conv = functools.partial(Conv3D, impl=self.conv_impl, dtype=self.dtype)
    norm = functools.partial(BatchNorm, use_running_average=not train, dtype=self.dtype)
    x = conv(self.num_filters, self.stem_kernel,
             (self.temporal_strides[0], self.stem_stride, self.stem_stride),
             frame_difference=self.frame_difference, name='conv_init')(x.astype(self.dtype))
    x = nn.relu(norm(name='bn_init')(x))
    if self.max_pool:
      x = separable_max_pool(x, (3, 3, 3), (1, 2, 2))
    for i, block_size in enumerate(self.stage_sizes):
      for j in range(block_size):
        strides = (self.temporal_strides[i + 1], 2, 2) if i > 0 and j == 0 else (1, 1, 1)
        x = self.block_cls(self.num_filters * 2**i, conv=conv, norm=norm, strides=strides)(x)
    return x


ResNet3D10 = functools.partial(ResNet3D, stage_sizes=(1, 1, 1, 1))
ResNet3D18 = functools.partial(ResNet3D, stage_sizes=(2, 2, 2, 2))
ResNet3D34 = functools.partial(ResNet3D, stage_sizes=(3, 4, 6, 3))
ResNet3D50 = functools.partial(ResNet3D, stage_sizes=(3, 4, 6, 3), block_cls=Bottleneck3D)

RESNETS = {10: ResNet3D10, 18: ResNet3D18, 34: ResNet3D34, 50: ResNet3D50}


def resnet3d(depth: int, **kwargs) -> ResNet3D:
  """The 3D ResNet of the given depth (10, 18, 34 or 50)."""
  if depth not in RESNETS:
    raise ValueError(f'config.model.depth={depth}: expected one of {sorted(RESNETS)}')
  return RESNETS[depth](**kwargs)
