"""A tiny video ViT on the generated faces, fold 0 of 4: from scratch, or fine-tuned from the
masked autoencoder of configs/demo_pretrain_mae.py (the two-run recipe of configs/pretrain_mae.py
at CPU size).

    python launch.py --config=configs/demo_pretrain_mae.py --workdir=/tmp/emojax_demo_mae
    python launch.py --config=configs/demo_vit.py --workdir=/tmp/emojax_demo_vit_pretrained \
        --config.init_from.workdir=/tmp/emojax_demo_mae --config.init_from.subtrees=encoder
    python launch.py --config=configs/demo_vit.py --workdir=/tmp/emojax_demo_vit_scratch

Both fine-tuning runs hold out the same quarter of the subjects as configs/demo.py, with the same
epochs and seed; they differ only in where the encoder starts. Settings follow
`pretrain_mae.finetune` (AdamW, weight decay 0.05, layer decay 0.75, warm-up then cosine, drop path
0.1, label smoothing 0.1, 2 clips x 2 crops) at the demo's size. What pretraining did for it, with
the times: docs/models.md.
"""
import ml_collections

from configs import default

# The demo's encoder: VideoMAE's 2 x 16 x 16 tubelets on 8 frames of 32 x 32 (4 x 2 x 2 tokens),
# 64 wide. With 2 x 8 x 8 tubelets (4 x 4 x 4 tokens) the ViT sits at chance for a longer start
# (shorter runs ended there) and each step costs more; likely because the class is a change of a
# few pixels and the mean over many small tokens keeps little of where it happened (docs/models.md).
ENCODER = dict(patch_size=16, tubelet_size=2, embed_dim=64, depth=4, num_heads=4, mlp_ratio=4.0,
               positional='sinusoidal')


def data(config):
  """The generated faces at the demo ViT's clip size, folds as configs/demo.py."""
  config.dataset.name = 'synthetic_expressions'
  config.dataset.config = 'default'
  config.num_frames = 8
  config.image_size = 32
  config.num_folds = 4
  config.fold = 0
  config.report_frame_baseline = False
  config.log_every_steps = 10
  return config


def get_config():
  config = data(default.get_config())
  config.model = ml_collections.ConfigDict(dict(name='video_vit', drop_path_rate=0.1, **ENCODER))
  config.batch_size = 16
  config.eval_batch_size = 32
  config.num_epochs = 30
  config.optimizer = 'adam'
  config.learning_rate = 1e-3
  config.weight_decay = 0.05
  config.layer_decay = 0.75
  config.schedule = 'cosine'
  config.warmup_epochs = 1.0
  config.label_smoothing = 0.1
  # Flips only: the default crop shifts, colour jitter and temporal jitter were dropped while the
  # ViT stayed at chance with 8 x 8 patches and short runs, and not tried again since.
  config.augment.random_crop = False
  config.augment.brightness = 0.0
  config.augment.contrast = 0.0
  config.augment.temporal_jitter = 0
  config.eval.num_clips = 2
  config.eval.num_crops = 2
  config.eval.aggregate = 'probabilities'
  return config
