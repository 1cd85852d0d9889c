"""RFSCNN (two-stream spatio-temporal recursive network + SVM) on eNTERFACE'05, leave one subject
out.

    python launch.py --config=configs/enterface_rfscnn.py --workdir=/tmp/enterface_rfscnn \
        --config.dataset.manual_dir=/path/to/enterface05

Paper (Zhou, "Video Expression Recognition Method Based on Spatiotemporal Recurrent Neural Network
and Feature Fusion", JIPS 2021): 88.67% on eNTERFACE'05 (70.32% RML, 63.84% AFEW 6.0) with
multiplication fusion and an SVM on the fused features. Each fold reports the softmax accuracy and,
under `svm`, the SVM's. The model takes RGB ++ optical-flow images (6 channels; emojax/data/flow.py)
at the paper's sizes: 227x227 face crops, stream CNNs with 8 and 16 filters, 64-unit stream
features (emojax/models/two_stream.py; docs/models.md says which details are ours). Segments, as
the paper: training draws a random 16-frame segment of each stored video every epoch; evaluation
takes 4 evenly spaced segments per video, and the SVM's video feature is their stream features
averaged, then fused (`emojax.evaluate.svm`); the softmax accuracy averages their logits.

Trained as the paper, streams first: each stream with its own softmax head, a training stage of
its own per fold (`config.stages.spatial`, `config.stages.temporal`: 50 epochs at 1e-4, under
W/stages/), then the fusion and head on the frozen streams (`config.model.freeze_streams`,
`num_epochs` / `learning_rate`). End to end instead:
`--config.init_from.stages=() --config.init_from.subtrees=() --config.model.freeze_streams=False`.

Table 1's one-stream rows (the stream alone, trained as stage 1 trains it; RML and AFEW alike):

    python launch.py --config=configs/enterface_rfscnn.py:spatial --workdir=... (flags as above)
    python launch.py --config=configs/enterface_rfscnn.py:temporal --workdir=...
"""
import ml_collections

from configs import enterface, stages

STAGE_EPOCHS = 50  # stage 1, each stream
STAGE_LEARNING_RATE = 1e-4


def base_config():
  """The two-stream network and its data on eNTERFACE'05, before the training recipe."""
  config = enterface.get_config()
  config.dataset.config = 'flow'  # whole face tracks + their Farneback flow, computed once
  config.sampling.method = 'random_segment'  # a random 16-frame segment per video per epoch
  config.eval.num_clips = 4  # evenly spaced segments; the SVM fuses their mean stream features
  config.image_size = 227  # the paper's face crops

  config.model = ml_collections.ConfigDict()
  config.model.name = 'rfscnn'
  config.model.cnn_features = (8, 16)  # the paper's
  config.model.srl_features = 64
  config.model.srl_merge = 'concat'  # | 'sum'
  config.model.temporal_features = 64
  config.model.fc_features = 64  # the paper's: each stream's feature, multiplied in the fusion
  config.model.streams = 'both'  # | 'spatial' | 'temporal' (get_config's argument)
  config.model.fusion = 'product'  # | 'concat' | 'sum'
  config.model.normalize_fused = True  # BatchNorm before the softmax head (not the SVM's features)
  config.model.freeze_streams = False  # `finish` freezes them for stage 2
  config.model.dropout_rate = 0.5
  config.model.dtype = 'float32'

  config.flow.method = 'farneback'  # the dataset's stored flow

  config.svm.enabled = True
  config.svm.kernel = 'linear'  # | 'rbf'
  config.svm.C = 1.0

  config.batch_size = 8
  config.num_epochs = 10  # stage 2
  config.learning_rate = 1e-3
  config.protocol = 'loso'
  config.num_folds = 0
  return config


def finish(config, streams: str = 'both'):
  """`config` (a `base_config`, perhaps on another dataset) with the paper's training: streams
  first, then fusion; or, for `streams` 'spatial' / 'temporal', Table 1's one-stream row: the
  stream alone, trained as its stage trains it (with the SVM)."""
  if streams == 'both':
    return stages.rfscnn_two_stage(config, STAGE_EPOCHS, STAGE_LEARNING_RATE)
  row = stages.stream_stage(config, streams, STAGE_EPOCHS, STAGE_LEARNING_RATE, config.seed)
  row.svm.enabled = config.svm.enabled
  row.report_frame_baseline = config.report_frame_baseline
  return row


def get_config(streams: str = 'both'):
  return finish(base_config(), streams)
