"""Shared defaults of every experiment: the main paper's settings on Oulu-CASIA.

Each experiment config starts from `get_config()` here and overrides what differs. Every setting
any code reads is here, with its default; `config.model` holds the named model's module fields
(emojax/models/), a field left out taking the module's own default. `emojax.train.validate`
checks a whole config once, at the start of a run.
"""
import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0

  config.dataset = ml_collections.ConfigDict()
  config.dataset.name = 'oulu_casia'
  config.dataset.config = ''  # the TFDS builder config; '' for the builder's default
  config.dataset.data_dir = ''  # '' for TFDS's default (~/tensorflow_datasets)
  config.dataset.manual_dir = ''  # where the licence-gated archive was unpacked
  # Further built datasets ('name/config') whose videos join the first's, for pretraining without
  # labels (config.protocol='all'); their labels are not read.
  config.dataset.more = ()
  config.num_classes = 0  # from the dataset's builder info; set only to insist on a count
  config.num_frames = 16  # frames of each clip the model sees
  config.image_size = 112  # the stored face crops are resized to it (plus augment.crop_margin)

  # Which stored frames make a clip (emojax/data/sampling.py); the builders store whole tracks.
  config.sampling = ml_collections.ConfigDict()
  config.sampling.method = 'fixed_interval'  # over the whole video | 'random_segment'
  config.sampling.num_fragments = 1  # N > 1: N fragments of num_frames / N, one per N-th of video
  config.sampling.stride = 1  # random_segment: stored frames between a segment's frames

  # Evaluation: num_clips evenly spaced clips x num_crops crops per video, averaged.
  config.eval = ml_collections.ConfigDict()
  config.eval.num_clips = 1
  config.eval.num_crops = 1  # 1..5 of centre, top-left, bottom-right, top-right, bottom-left
  config.eval.aggregate = 'logits'  # mean logits | 'probabilities' (mean softmax)
  config.eval.flip = False  # each view also mirrored left-right (twice the views), averaged

  config.model = ml_collections.ConfigDict()
  config.model.name = 'emotion_net'
  config.model.depth = 34
  config.model.width = 64
  config.model.use_convlstm = True
  config.model.use_transformer = True
  # Two pre-LayerNorm Transformer layers, a ConvLSTM without peepholes; configs/oulu.py has the
  # paper's (one layer, a linear projection before the attention, peepholes).
  config.model.num_layers = 2
  config.model.attention_norm = 'layernorm'  # | 'projection'
  config.model.convlstm_peephole = False
  config.model.num_heads = 8
  config.model.dropout_rate = 0.0
  config.model.frame_difference = False
  # Backbone features relative to the clip's first onset_frames steps, for sequences that start
  # neutral: '' | 'difference' | 'concat' (emojax/models/onset.py)
  config.model.onset_reference = ''
  config.model.onset_frames = 1
  config.model.max_pool = True
  config.model.conv_impl = 'auto'  # per layer and pass: 'xla' on GPU; frames | frame_taps | matmul on CPU
  config.model.dtype = 'float32'

  # Optical-flow images (dx, dy, magnitude) appended to the RGB channels, for two-stream models:
  # '' for none, else 'farneback' | 'dis' | 'tvl1' (emojax/data/flow.py). A dataset config that
  # stores flow ('flow') must match it; otherwise the pipeline computes it from each clip.
  config.flow = ml_collections.ConfigDict()
  config.flow.method = ''

  config.batch_size = 4  # global, over every device
  config.eval_batch_size = 8
  config.num_epochs = 100
  config.optimizer = 'adam'
  config.adam_b2 = 0.999  # Adam's second-moment decay; masked-autoencoder pretraining takes 0.95
  config.learning_rate = 1e-3
  config.schedule = 'constant'
  config.warmup_epochs = 0.0
  config.lr_decay_epochs = ()  # schedule 'step': x0.1 at these epochs
  config.lr_decay_per_epoch = 0.99  # schedule 'exponential': x this after every epoch
  config.weight_decay = 0.0  # decoupled, on kernels (rank >= 2), not biases or norm scales
  config.layer_decay = 0.0  # > 0: layer-wise lr decay (x this per layer below the head; ViT)
  config.l1 = 0.0  # L1 penalty on the kernels, added to the loss's gradient
  config.grad_clip_norm = 0.0
  config.label_smoothing = 0.0

  config.augment = ml_collections.ConfigDict()
  config.augment.random_crop = True
  # Resize the stored crop to image_size * (1 + crop_margin), then cut image_size (random in
  # training, centre in evaluation): 128 for 112, as the crops were stored. At most
  # face_margin / (1 + face_margin) (0.167 for the builders' 0.2), so no window cuts the face.
  config.augment.crop_margin = 0.143
  config.augment.flip = True
  config.augment.temporal_jitter = 1  # stored frames each clip index may move in training
  config.augment.brightness = 0.1
  config.augment.contrast = 0.1

  # 'kfold' (subject folds) | 'loso' | 'official_split' | 'official_folds' (the dataset's splits)
  # | 'all' (one fold of every video and no test: pretraining a masked autoencoder)
  config.protocol = 'kfold'
  config.splits = ml_collections.ConfigDict()  # official_split: TFDS split names, ','-joined
  config.splits.train = 'train'
  config.splits.validation = ''  # '' draws validation_fraction of the training part instead
  config.splits.test = 'test'
  config.num_folds = 10  # 'kfold' only: subject folds; leave 0 for the other protocols
  config.fold = -1  # -1 runs every fold; K runs fold K alone
  config.fold_seed = 0
  config.validation_fraction = 0.0  # of training subjects, for early stopping only
  config.early_stopping_patience = 0
  config.extra_metrics = ()  # beside accuracy (WAR) and UAR, e.g. ('macro_precision',)

  # Score the per-frame FER2013 network (zero-shot) on each fold's test videos too: the baseline
  # beside the model in results.json / results.csv (emojax/evaluate/baseline.py).
  config.report_frame_baseline = True

  # An SVM on the model's features, fitted per fold on its training videos (RFSCNN's last stage;
  # emojax/evaluate/svm.py), reported beside the softmax result.
  config.svm = ml_collections.ConfigDict()
  config.svm.enabled = False
  config.svm.kernel = 'linear'  # | 'rbf'
  config.svm.C = 1.0

  # Training stages (emojax/train/stages.py): NAME -> a complete config trained first, per fold,
  # under W/stages/NAME (same dataset and folds), e.g. the RFSCNN's streams (configs/stages.py).
  config.stages = ml_collections.ConfigDict()
  # Where a fold's parameters start, beside the model's own pretrained parts: sub-trees of
  # earlier runs' parameters (with their BatchNorm statistics).
  config.init_from = ml_collections.ConfigDict()
  config.init_from.stages = ()  # names in config.stages; their fold K starts fold K
  config.init_from.workdir = ''  # a finished run: its fold K (or its only fold) starts fold K
  config.init_from.subtrees = ()  # the sub-trees copied, e.g. ('cnn',), each from one source

  config.data_workers = 0  # grain worker processes (0: threads in this process)
  config.data_threads = 4
  config.log_every_steps = 50
  config.checkpoint_every_steps = 500
  config.keep_checkpoints = 2
  return config
