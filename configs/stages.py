"""Training stages of the papers' two-stage recipes, as configs of their own (emojax/train/stages.py).

A stage is a complete config trained per fold before the run that starts from it (`config.stages`,
`config.init_from`). The stages here train as the papers' first stages did: Adam at a constant
learning rate of their own, nothing reported but the softmax result, no early stopping.
"""
import ml_collections

from configs import default


def _stage(config, num_epochs: int, learning_rate: float, seed: int):
  """A copy of `config` as a first stage: no stages of its own, no SVM or baseline."""
  stage = config.copy_and_resolve_references()
  fresh = default.get_config()
  stage.stages = fresh.stages
  stage.init_from = fresh.init_from
  stage.num_epochs = num_epochs
  stage.learning_rate = learning_rate
  stage.seed = seed
  stage.optimizer = 'adam'
  stage.schedule = 'constant'
  stage.warmup_epochs = 0.0
  stage.weight_decay = 0.0
  stage.l1 = 0.0
  stage.grad_clip_norm = 0.0
  stage.early_stopping_patience = 0
  stage.svm.enabled = False
  stage.report_frame_baseline = False
  return stage


def stream_stage(config, stream: str, num_epochs: int, learning_rate: float, seed: int):
  """RFSCNN's stream `stream` ('spatial' | 'temporal') alone, with its own softmax head: the
  one-stream model of the paper's Table 1."""
  stage = _stage(config, num_epochs, learning_rate, seed)
  stage.model.streams = stream
  stage.model.freeze_streams = False
  return stage


def rfscnn_two_stage(config, num_epochs: int, learning_rate: float):
  """`config` (a two-stream RFSCNN) trained as the paper: each stream first, as a stage of
  `num_epochs` at `learning_rate` (each from its own seed), then the fusion and head on the frozen
  streams (`config.num_epochs`, `config.learning_rate`)."""
  config.stages = ml_collections.ConfigDict({
      stream: stream_stage(config, stream, num_epochs, learning_rate, config.seed + 1000 * k)
      for k, stream in enumerate(('spatial', 'temporal'), start=1)})
  config.init_from.stages = ('spatial', 'temporal')
  config.init_from.subtrees = ('spatial', 'temporal')
  config.model.freeze_streams = True
  return config


def frame_cnn_stage(config, num_epochs: int, learning_rate: float):
  """`config` (an attention LSTM with the AlexNet-like CNN) trained as the paper: the frame CNN
  first on single frames, each labelled with its clip's label (stage `frames`, model
  'frame_cnn'), then the whole network from its `cnn`, with `config.model.freeze_cnn`."""
  stage = _stage(config, num_epochs, learning_rate, config.seed)
  cnn = config.model
  stage.model = ml_collections.ConfigDict({
      'name': 'frame_cnn', 'cnn_features': cnn.cnn_features, 'fc_features': cnn.fc_features,
      'dropout_rate': cnn.dropout_rate, 'dtype': cnn.dtype})
  for field in ('pool_after', 'first_stride', 'batch_norm'):
    if field in cnn:
      stage.model[field] = cnn[field]
  config.stages = ml_collections.ConfigDict({'frames': stage})
  config.init_from.stages = ('frames',)
  config.init_from.subtrees = ('cnn',)
  return config
