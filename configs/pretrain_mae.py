"""Masked-autoencoder pretraining on unlabelled face video (VideoMAE; the MAE-DFER recipe), and the
fine-tuning settings that follow it (`finetune`, used by configs/{dfew,ferv39k,mafw}_vit.py).

    # 1. pretrain on every video of one or several built datasets (labels, where any, unread)
    python launch.py --config=configs/pretrain_mae.py --workdir=W_PRE \
        --config.dataset.manual_dir=M --config.dataset.data_dir=D_MINE \
        --config.dataset.more="('dfew/default', 'mafw/default')"
    # 2. fine-tune a video ViT of the same size from its encoder (here on DFEW's 5 folds)
    python launch.py --config=configs/dfew_vit.py --workdir=W --config.dataset.manual_dir=M_DFEW \
        --config.init_from.workdir=W_PRE --config.init_from.subtrees=encoder

ViT-B (VideoMAE's `vit_base_patch16`) by default; `--config=configs/pretrain_mae.py:small` for
ViT-S (and then `configs/dfew_vit.py:small` to fine-tune). The dataset is `video_folder`'s
`unlabelled` config: any folder M of face videos, e.g. VoxCeleb2's dev set as MAE-DFER pretrains
on (`tfds_builders/video_folder/README.md`); `config.dataset.more` joins other built datasets'
videos (their `data_dir` must be `config.dataset.data_dir`). `config.protocol='all'` trains on
every video as one fold and tests on none; the fold ends with the masked reconstruction error of a
few videos and `fold_0/reconstructions.png` (original, masked input, reconstruction).

Settings as MAE-DFER's `scripts/voxceleb2/pretrain_*.sh` and `run_mae_pretraining.py`: tube
masking of 90 %, a 4-block decoder, loss on per-tubelet normalised pixels, 16 frames 4 stored
frames apart, 160 x 160 input, AdamW with betas (0.9, 0.95) and weight decay 0.05 (kernels only),
learning rate 3e-4 x batch / 256 (their code's scaling: 1.875e-4 at the batch of 160 their log
shows) with 5 warm-up epochs, then cosine, 100 epochs; random crops, no flips, no colour jitter.
Left out or different: MAE-DFER's encoder is its LGI-Former (512 wide, 16 blocks, local-global
attention) with frame-difference targets on part of the tubelets, ours VideoMAE's plain ViT with
joint space-time attention and pixel targets only; its crops are multi-scale (scales 1 to 0.66),
ours shift within `augment.crop_margin`; its cosine ends at min_lr (1e-5 x batch / 256), ours at 0;
it fine-tunes from the 50th epoch's checkpoint of its 100-epoch schedule, `init_from` takes a run's
last. The builders store 128-pixel face crops, which the 160-pixel input resizes up.

Compute runs in bfloat16 (float32 parameters); on NVIDIA GPUs `--config.model.attention_impl=cudnn`
takes cuDNN's fused attention. Pretraining throughput on a GPU is not measured yet
(docs/models.md).
"""
import ml_collections

from configs import default
from emojax.models import video_vit

SIZES = ('small', 'base')


def encoder_fields(size: str) -> dict:
  """The video ViT fields of VideoMAE's ViT-S or ViT-B with 2 x 16 x 16 tubelets."""
  if size not in SIZES:
    raise ValueError(f'configs/pretrain_mae.py: size {size!r}; expected one of {SIZES}')
  return dict(patch_size=16, tubelet_size=2, positional='sinusoidal', dtype='bfloat16',
              **{k: video_vit.SIZES[size][k] for k in video_vit.ENCODER_SIZE_KEYS})


def clips(config, stride: int):
  """16 consecutive-in-time frames `stride` stored frames apart (MAE-DFER's sampling rate), at
  160 x 160, no per-frame jitter."""
  config.num_frames = 16
  config.image_size = 160
  config.sampling.method = 'random_segment'
  config.sampling.stride = stride
  config.augment.temporal_jitter = 0
  return config


def get_config(size: str = 'base'):
  config = clips(default.get_config(), stride=4)
  config.dataset.name = 'video_folder'
  config.dataset.config = 'unlabelled'
  config.protocol = 'all'
  config.num_folds = 0
  config.report_frame_baseline = False

  decoder = {k: video_vit.SIZES[size][k]
             for k in ('decoder_dim', 'decoder_depth', 'decoder_num_heads')}
  config.model = ml_collections.ConfigDict(dict(
      name='video_mae', mask_ratio=0.9, normalize_target=True, **encoder_fields(size), **decoder))
  config.augment.flip = False
  config.augment.brightness = 0.0
  config.augment.contrast = 0.0

  config.batch_size = 160
  config.eval_batch_size = 32
  config.num_epochs = 100
  config.optimizer = 'adam'
  config.adam_b2 = 0.95
  config.weight_decay = 0.05
  config.learning_rate = 3e-4 * config.batch_size / 256
  config.schedule = 'cosine'
  config.warmup_epochs = 5.0
  config.log_every_steps = 50
  return config


def finetune(config, size: str, batch_size: int, stride: int):
  """`config` (a dataset's) with MAE-DFER's fine-tuning settings (its `scripts/<dataset>/
  finetune_*.sh` and `run_class_finetuning.py`) for a video ViT of `size`: AdamW lr 1e-3 x
  batch / 256, betas (0.9, 0.999), weight decay 0.05 on kernels, layer-wise lr decay 0.75, 5
  warm-up epochs then cosine, 100 epochs, drop path 0.1, label smoothing 0.1, 16 frames `stride`
  stored frames apart at 160 x 160, and 2 clips x 2 crops per test video (mean softmax).
  Fine-tuning from a pretraining run is `config.init_from` (see the module docstring)."""
  config = clips(config, stride)
  config.model = ml_collections.ConfigDict(dict(name='video_vit', drop_path_rate=0.1,
                                                **encoder_fields(size)))
  config.batch_size = batch_size
  config.eval_batch_size = 32
  config.num_epochs = 100
  config.optimizer = 'adam'
  config.weight_decay = 0.05
  config.layer_decay = 0.75
  config.learning_rate = 1e-3 * batch_size / 256
  config.schedule = 'cosine'
  config.warmup_epochs = 5.0
  config.label_smoothing = 0.1
  config.eval.num_clips = 2
  config.eval.num_crops = 2
  config.eval.aggregate = 'probabilities'
  return config
