"""Two-stage training: stage 1 pre-trains a part of the model with its own softmax, stage 2 trains
the whole model with that part loaded (frozen where the model's `frozen_prefixes` say, applied by
`state.make_optimizer`). `pretrain_into_state` runs stage 1 into a fold's fresh state when
`config.pretrain.enabled`; each stage-1 network trains through the shared train step.

  * attention LSTM: `pretrain_frame_cnn` trains `FramePretrainNet` (the same `FrameCNN`, named
    `cnn`, with its own softmax) on single frames of the fold's training clips, each frame labelled
    with its clip's label; `load_pretrained_cnn` copies its `cnn` parameters and BatchNorm
    statistics into the full model's train state (`config.model.freeze_cnn` freezes the convs).
  * RFSCNN (the paper's streams first, fusion second): `pretrain_streams` trains each stream as the
    one-stream model with its own softmax head (`RFSCNN.stream_model`) on the fold's training
    clips; `load_pretrained_streams` copies the streams into the two-stream state
    (`config.model.freeze_streams` keeps them fixed while the fusion and head train).

Weights learned elsewhere (FER2013, Kinetics-400; `emojax.pretrained.start`) enter the same way:
`pretrained_start` puts them into the fold's initial state, once, before the first step.
"""
from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
import optax

from emojax import models
from emojax.data import pipeline
from emojax.models.attention_lstm import AttentionLSTMNet, FramePretrainNet, cnn_kwargs
from emojax.models.two_stream import RFSCNN, stream_names
from emojax.pretrained import start as pretrained_start_lib
from emojax.train import state as state_lib
from emojax.train import steps as steps_lib


def pretrain_enabled(config) -> bool:
  return bool(config.get('pretrain') and config.pretrain.get('enabled', False))


def train_stage_one(net, config, source, indices: Sequence[int], input_shape, what: str,
                    seed: int = 0, mesh=None, log=print, to_batch=None) -> dict:
  """Trains `net` on the fold's training batches (`config.batch_size` clips, the fold's
  augmentation, each through `to_batch`) for `config.pretrain.num_epochs` epochs of Adam at
  `config.pretrain.learning_rate`, with the shared train step. Returns its `{'params',
  'batch_stats'}`; logs each epoch's loss and accuracy as `what`."""
  mesh = mesh or steps_lib.make_mesh()
  steps_per_epoch = len(indices) // config.batch_size
  total = steps_per_epoch * config.pretrain.num_epochs
  if total == 0:
    raise ValueError(f'config.pretrain.num_epochs={config.pretrain.num_epochs} with '
                     f'config.batch_size={config.batch_size} over {len(indices)} clips is no step')
  tx = optax.adam(config.pretrain.learning_rate)
  init_rng, step_rng = jax.random.split(jax.random.key(seed))
  state = jax.jit(lambda rng: state_lib.create_train_state(net, tx, rng, input_shape),
                  out_shardings=steps_lib.replicated(mesh))(init_rng)
  step_rng = steps_lib.replicate(step_rng, mesh)
  train_fn, _ = steps_lib.compile_steps(mesh, config.label_smoothing)
  batches = iter(pipeline.train_dataset(source, indices, config, seed=seed))
  losses, accs = [], []
  for step in range(total):
    batch = next(batches)
    batch = to_batch(batch) if to_batch else batch
    state, metrics = train_fn(state, steps_lib.shard_batch(batch, mesh), step_rng)
    losses.append(metrics['loss'])
    accs.append(metrics['accuracy'])
    if (step + 1) % steps_per_epoch == 0:
      log(f'{what} epoch {(step + 1) // steps_per_epoch}/{config.pretrain.num_epochs}: '
          f'loss={float(np.mean(jax.device_get(losses))):.4f} '
          f'accuracy={float(np.mean(jax.device_get(accs))):.4f}')
      losses, accs = [], []
  if hasattr(batches, 'close'):
    batches.close()
  return {'params': state.params, 'batch_stats': state.batch_stats}


def pretrain_frame_cnn(config, source, indices: Sequence[int], seed: int = 0, mesh=None,
                       log=print) -> dict:
  """Trains the frame CNN of `config`'s attention-LSTM on single frames; returns its variables.

  Each training batch of `config.batch_size` clips (the fold's augmentation) gives
  `batch_size * num_frames` frames, each with its clip's label. Returns `{'params',
  'batch_stats'}` of `FramePretrainNet` (`cnn` and `frame_head`).
  """
  model = models.create_model(config)
  if not isinstance(model, AttentionLSTMNet) or model.frame_encoder != 'alexnet':
    raise ValueError('config.pretrain.enabled pre-trains the AlexNet-like frame CNN of '
                     "config.model.name='attention_lstm'; got config.model.name="
                     f"{config.model.name!r}, frame_encoder={config.model.get('frame_encoder')!r}")

  def frames(batch):
    clip = np.asarray(batch['clip'])[..., :3]
    return {'clip': clip.reshape(-1, *clip.shape[2:]),
            'label': np.repeat(np.asarray(batch['label']), clip.shape[1])}

  net = FramePretrainNet(config.num_classes, cnn_kwargs(model))
  frame_shape = (1, config.image_size, config.image_size, 3)
  return train_stage_one(net, config, source, indices, frame_shape, 'frame pre-training', seed,
                         mesh, log, frames)


def load_pretrained_cnn(state, pretrained: dict):
  """`state` with its `cnn` parameters and BatchNorm statistics replaced by `pretrained`'s.

  The optimizer state is re-initialised for the new parameters; the step count is kept.
  """
  params = {**state.params, 'cnn': pretrained['params']['cnn']}
  batch_stats = dict(state.batch_stats)
  if 'cnn' in pretrained.get('batch_stats', {}):
    batch_stats['cnn'] = pretrained['batch_stats']['cnn']
  return state.replace(params=params, batch_stats=batch_stats, opt_state=state.tx.init(params))


def pretrain_streams(config, source, indices: Sequence[int], seed: int = 0, mesh=None,
                     log=print) -> dict[str, dict]:
  """Stage 1 of the RFSCNN: trains each stream of `config`'s two-stream model as the one-stream
  model with its own softmax head (each from its own seed: initialisation and batch order);
  returns `{stream name: {'params', 'batch_stats'}}`."""
  model = models.create_model(config)
  if not isinstance(model, RFSCNN) or model.streams != 'both':
    raise ValueError("config.pretrain.enabled trains the two streams of config.model.name="
                     "'rfscnn' with config.model.streams='both' first; got config.model.name="
                     f"{config.model.name!r}, streams={config.model.get('streams')!r} (a "
                     'one-stream model trains its stream directly: config.pretrain.enabled=False)')
  trained = {}
  for k, name in enumerate(stream_names(model.streams)):
    trained[name] = train_stage_one(model.stream_model(name), config, source, indices,
                                    models.input_shape(config), f'{name} stream pre-training',
                                    seed + 1000 * (k + 1), mesh, log)
  return trained


def load_pretrained_streams(state, pretrained: dict[str, dict]):
  """`state` with each stream's parameters and BatchNorm statistics replaced by `pretrained`'s
  (`pretrain_streams`); their stream heads stay behind. The optimizer state is re-initialised."""
  params, batch_stats = dict(state.params), dict(state.batch_stats)
  for name, variables in pretrained.items():
    params[name] = variables['params'][name]
    if name in variables.get('batch_stats', {}):
      batch_stats[name] = variables['batch_stats'][name]
  return state.replace(params=params, batch_stats=batch_stats, opt_state=state.tx.init(params))


def pretrain_into_state(config, state, source, indices: Sequence[int], seed: int = 0, mesh=None,
                        log=print):
  """With `config.pretrain.enabled`: runs the model's stage 1 (frame CNN of the attention LSTM,
  streams of the RFSCNN) and loads it into `state`; otherwise returns `state` unchanged."""
  if config.model.get('freeze_streams') and not pretrain_enabled(config):
    raise ValueError('config.model.freeze_streams keeps the streams as stage 1 trained them: it '
                     'needs config.pretrain.enabled (or freeze_streams=False to train end to end)')
  if not pretrain_enabled(config):
    return state
  mesh = mesh or steps_lib.make_mesh()
  if config.model.name == 'rfscnn':
    pretrained = pretrain_streams(config, source, indices, seed=seed, mesh=mesh, log=log)
    return steps_lib.replicate(load_pretrained_streams(state, pretrained), mesh)
  pretrained = pretrain_frame_cnn(config, source, indices, seed=seed, mesh=mesh, log=log)
  return steps_lib.replicate(load_pretrained_cnn(state, pretrained), mesh)


def pretrained_start(config, state, class_names: Sequence[str], mesh=None):
  """`state` with the pretrained weights of `config` put into its parameters and BatchNorm
  statistics (`emojax.pretrained.start.init_variables`); `state` itself when there are none."""
  variables = {'params': state.params, 'batch_stats': state.batch_stats}
  loaded = pretrained_start_lib.init_variables(config, class_names, variables)
  if loaded is variables:
    return state
  mesh = mesh or steps_lib.make_mesh()
  state = state.replace(params=loaded['params'], batch_stats=loaded.get('batch_stats', {}),
                        opt_state=state.tx.init(loaded['params']))
  return steps_lib.replicate(state, mesh)
