"""Two-stage training of the attention-LSTM system: frame-level pre-training, then fine-tuning with
the conv layers frozen (`AttentionLSTMNet.frozen_prefixes`, applied by `state.make_optimizer`).

Pre-training (`config.pretrain.enabled`): `pretrain_frame_cnn` trains `FramePretrainNet` (the same
`FrameCNN`, named `cnn`, with its own softmax) on single frames of the fold's training clips, each
frame labelled with its clip's label; `load_pretrained_cnn` copies its `cnn` parameters and
BatchNorm statistics into the full model's train state. `pretrain_into_state` does both.

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
from emojax.pretrained import start as pretrained_start_lib
from emojax.train import state as state_lib
from emojax.train import steps as steps_lib


def pretrain_enabled(config) -> bool:
  return bool(config.get('pretrain') and config.pretrain.get('enabled', False))


def pretrain_frame_cnn(config, source, indices: Sequence[int], seed: int = 0, mesh=None,
                       log=print) -> dict:
  """Trains the frame CNN of `config`'s attention-LSTM on single frames; returns its variables.

  Each training batch of `config.batch_size` clips (the fold's augmentation) gives
  `batch_size * num_frames` frames, each with its clip's label. Runs `config.pretrain.num_epochs`
  epochs of Adam at `config.pretrain.learning_rate`. Returns `{'params', 'batch_stats'}` of
  `FramePretrainNet` (`cnn` and `frame_head`).
  """
  model = models.create_model(config)
  if not isinstance(model, AttentionLSTMNet) or model.frame_encoder != 'alexnet':
    raise ValueError('config.pretrain.enabled pre-trains the AlexNet-like frame CNN of '
                     "config.model.name='attention_lstm'; got config.model.name="
                     f"{config.model.name!r}, frame_encoder={config.model.get('frame_encoder')!r}")
  mesh = mesh or steps_lib.make_mesh()
  net = FramePretrainNet(config.num_classes, cnn_kwargs(model))
  steps_per_epoch = len(indices) // config.batch_size
  total = steps_per_epoch * config.pretrain.num_epochs
  if total == 0:
    raise ValueError(f'config.pretrain.num_epochs={config.pretrain.num_epochs} with '
                     f'config.batch_size={config.batch_size} over {len(indices)} clips is no step')
  tx = optax.adam(config.pretrain.learning_rate)
  init_rng, step_rng = jax.random.split(jax.random.key(seed))
  frame_shape = (1, config.image_size, config.image_size, 3)
  state = jax.jit(lambda rng: state_lib.create_train_state(net, tx, rng, frame_shape),
                  out_shardings=steps_lib.replicated(mesh))(init_rng)
  step_rng = steps_lib.replicate(step_rng, mesh)
  train_fn, _ = steps_lib.compile_steps(mesh, config.label_smoothing)
  batches = iter(pipeline.train_dataset(source, indices, config, seed=seed))
  losses, accs = [], []
  for step in range(total):
    batch = next(batches)
    clip = np.asarray(batch['clip'])[..., :3]
    frames = {'clip': clip.reshape(-1, *clip.shape[2:]),
              'label': np.repeat(np.asarray(batch['label']), clip.shape[1])}
    state, metrics = train_fn(state, steps_lib.shard_batch(frames, mesh), step_rng)
    losses.append(metrics['loss'])
    accs.append(metrics['accuracy'])
    if (step + 1) % steps_per_epoch == 0:
      log(f'frame pre-training epoch {(step + 1) // steps_per_epoch}/{config.pretrain.num_epochs}: '
          f'loss={float(np.mean(jax.device_get(losses))):.4f} '
          f'frame_accuracy={float(np.mean(jax.device_get(accs))):.4f}')
      losses, accs = [], []
  return {'params': state.params, 'batch_stats': state.batch_stats}


def load_pretrained_cnn(state, pretrained: dict):
  """`state` with its `cnn` parameters and BatchNorm statistics replaced by `pretrained`'s.

  The optimizer state is re-initialised for the new parameters; the step count is kept.
  """
  params = {**state.params, 'cnn': pretrained['params']['cnn']}
  batch_stats = dict(state.batch_stats)
  if 'cnn' in pretrained.get('batch_stats', {}):
    batch_stats['cnn'] = pretrained['batch_stats']['cnn']
  return state.replace(params=params, batch_stats=batch_stats, opt_state=state.tx.init(params))


def pretrain_into_state(config, state, source, indices: Sequence[int], seed: int = 0, mesh=None,
                        log=print):
  """With `config.pretrain.enabled`: pre-trains the frame CNN and loads it into `state`; otherwise
  returns `state` unchanged."""
  if not pretrain_enabled(config):
    return state
  mesh = mesh or steps_lib.make_mesh()
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
