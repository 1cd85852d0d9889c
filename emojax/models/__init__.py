"""Model registry (`config.model.name` -> a flax.linen module class), the model-input contract,
and the interface generic code asks a model through (`emojax.models.interface`).

Every model maps `[B, T, H, W, C]` float clips in [-1, 1] (`normalize_clip` of uint8 pixels) to
`[B, num_classes]` logits, or per-frame logits `[B, T, num_classes]` (a frame classifier: training
labels each frame with its clip's label, evaluation averages them, `clip_logits`); takes `train` as
a call argument and keeps BatchNorm statistics in `batch_stats`. `config.model` holds the named
module's fields; a field a config leaves out takes the module's own default.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from emojax.errors import ConfigError
from emojax.models.attention_lstm import AttentionLSTMNet, FrameClassifier
from emojax.models.emotion_net import EmotionNet
from emojax.models.fer_frames import FrameBaseline
from emojax.models.fer_temporal import FERTemporalNet
from emojax.models.i3d import InceptionI3D
from emojax.models.interface import PretrainedPart
from emojax.models.p3d import C3D, P3DNet
from emojax.models.two_stream import RFSCNN
from emojax.models.video_mae import VideoMAE
from emojax.models.video_vit import VideoViT

MODELS: dict[str, type[nn.Module]] = {
    'emotion_net': EmotionNet,
    'p3d': P3DNet,
    'c3d': C3D,
    'attention_lstm': AttentionLSTMNet,
    'frame_cnn': FrameClassifier,
    'rfscnn': RFSCNN,
    'i3d': InceptionI3D,
    'frame_baseline': FrameBaseline,
    'video_vit': VideoViT,
    'video_mae': VideoMAE,
    'fer_temporal': FERTemporalNet,
}

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16, 'float16': jnp.float16}


def normalize_clip(clip: jax.Array) -> jax.Array:
  """uint8 pixels -> float32 in [-1, 1]; done on device so the host ships uint8."""
  return clip.astype(jnp.float32) * (2.0 / 255.0) - 1.0


def create_model(config, num_classes: int | None = None) -> nn.Module:
  """Builds `MODELS[config.model.name]` from the fields of `config.model`, with `num_classes`
  outputs (default `config.num_classes`).

  `config.num_classes` is the dataset's class count: a run sets it from the dataset's builder info
  (`emojax.train.protocol`), so configs leave it at 0. Raises ConfigError naming the setting when the
  name, a field, the dtype or the class count is unusable.
  """
  name = config.model.name
  if name not in MODELS:
    raise ConfigError(f'config.model.name={name!r} is not a model; known: {sorted(MODELS)}')
  cls = MODELS[name]
  fields = {f.name for f in dataclasses.fields(cls)} - {'parent', 'name'}
  classifies = 'num_classes' in fields
  num_classes = config.num_classes if num_classes is None else num_classes
  if classifies and num_classes < 1:
    raise ConfigError(f'config.num_classes={num_classes}: a model needs the class count; a run '
                      'takes it from the dataset, a model built by hand must be told it')
  kwargs = {k: v for k, v in config.model.items() if k != 'name'}
  unknown = sorted(set(kwargs) - fields)
  if unknown:
    raise ConfigError(f'config.model.{unknown[0]} is not a field of {cls.__name__}; '
                     f'its fields: {sorted(fields)}')
  if 'dtype' in kwargs:
    if kwargs['dtype'] not in DTYPES:
      raise ConfigError(f"config.model.dtype={kwargs['dtype']!r}: expected one of {sorted(DTYPES)}")
    kwargs['dtype'] = DTYPES[kwargs['dtype']]
  for key, value in kwargs.items():
    if isinstance(value, list):
      kwargs[key] = tuple(value)
  return cls(num_classes=num_classes, **kwargs) if classifies else cls(**kwargs)


def clip_logits(logits: jax.Array) -> jax.Array:
  """`[B, num_classes]` logits of a model's output: per-frame logits averaged over the frames."""
  return logits.mean(axis=1) if logits.ndim == 3 else logits


def frozen_prefixes(model: nn.Module) -> tuple[str, ...]:
  """The parameter-path prefixes `model` keeps fixed in training (its `frozen_prefixes`; none by
  default), for `emojax.train.state.make_optimizer`."""
  return tuple(getattr(model, 'frozen_prefixes', ()))


def pretrained_parts(model: nn.Module) -> tuple[PretrainedPart, ...]:
  """The sub-trees of `model`'s variables that start from weights learned elsewhere (its
  `pretrained_parts`; none by default), for `emojax.pretrained.start`."""
  return tuple(getattr(model, 'pretrained_parts', ()))


def objective(model: nn.Module) -> str:
  """What training minimises for `model` (its `objective`): 'classification' (softmax
  cross-entropy on logits, the default) or 'masked_reconstruction' (a masked autoencoder's
  outputs, `video_mae.masked_reconstruction_loss`)."""
  return getattr(model, 'objective', 'classification')


def layer_ids(model: nn.Module):
  """`model`'s function from a parameter tree to each parameter's layer (its `layer_ids`, for
  layer-wise learning-rate decay), or None for a model without layers in that sense."""
  return getattr(model, 'layer_ids', None)


def video_feature_methods(model: nn.Module) -> tuple[str, str | None]:
  """`(per_view, per_video)` methods of `model`'s features averaged over a video's views (its
  `video_feature_methods`; by default each view's `features`, averaged)."""
  return tuple(getattr(model, 'video_feature_methods', ('features', None)))


def crops_face_box(model: nn.Module) -> bool:
  """Whether `model` crops its input to the face box (its `crops_face_box`; False by default): a
  run then fills its field `face_box` (`emojax.models.interface`)."""
  return bool(getattr(model, 'crops_face_box', False))


def input_channels(config) -> int:
  """3 (RGB), or 6 when `config.flow.method` adds optical-flow images (dx, dy, magnitude)."""
  return 6 if config.flow.method else 3


def input_shape(config, batch_size: int = 1) -> tuple[int, ...]:
  """`[B, T, H, W, C]` of the model input that `config` describes."""
  return (batch_size, config.num_frames, config.image_size, config.image_size,
          input_channels(config))


def check_input(model: nn.Module, config) -> None:
  """Fails at start, naming the settings, when the model cannot take the configured clips.

  Evaluates shapes only: no array is made and no backend started, so no accelerator memory is
  claimed (and `jax.distributed.initialize` may still follow). A model's `conv_impl='auto'` would
  ask the backend which implementation to use; every one gives the same shapes.
  """
  if getattr(model, 'conv_impl', None) == 'auto':
    model = model.clone(conv_impl='xla')
  rng = jax.eval_shape(jax.random.key, 0)
  clip = jax.ShapeDtypeStruct(input_shape(config), jnp.float32)
  try:
    jax.eval_shape(lambda key, x: model.init(key, x, train=False), rng, clip)
  except (ValueError, TypeError) as e:
    if 'config.' in str(e):  # already names the setting
      raise ConfigError(str(e)) from None
    raise ConfigError(f'config.model.name={config.model.name!r} cannot take clips of '
                     f'config.num_frames={config.num_frames} x config.image_size='
                     f'{config.image_size}: {e}') from e
