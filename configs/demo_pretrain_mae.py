"""A tiny masked autoencoder pretrained on generated face videos without their labels: step 1 of
the two-run recipe (configs/pretrain_mae.py) at CPU size; configs/demo_vit.py fine-tunes from it.

    python launch.py --config=configs/demo_pretrain_mae.py --workdir=/tmp/emojax_demo_mae

Pretrains on `synthetic_expressions/other_subjects`: 576 videos of 48 generated people, none of
whom is in `default`, which configs/demo_vit.py fine-tunes and tests on (as MAE-DFER pretrains on
VoxCeleb2's people and tests on DFEW's). Every video is one fold (`protocol='all'`), labels unread;
the run ends with the masked reconstruction error and `fold_0/reconstructions.png`. Settings as
configs/pretrain_mae.py (90 % tube masking, AdamW betas (0.9, 0.95), weight decay 0.05, warm-up
then cosine) with the demo ViT's encoder and a 2-block, 32-wide decoder. On the demo's 2 x 2
tubelet positions per time slot, 90 % masking hides 3 (`int(0.9 * 4)`): the encoder sees one
quarter of the face through the clip and the decoder draws the other three.
"""
import ml_collections

from configs import default, demo_vit


def get_config():
  config = demo_vit.data(default.get_config())
  config.dataset.config = 'other_subjects'
  config.protocol = 'all'
  config.num_folds = 0
  config.fold = -1
  config.model = ml_collections.ConfigDict(dict(
      name='video_mae', mask_ratio=0.9, decoder_dim=32, decoder_depth=2, decoder_num_heads=2,
      **demo_vit.ENCODER))
  config.augment.flip = False
  config.augment.brightness = 0.0
  config.augment.contrast = 0.0
  config.batch_size = 16
  config.eval_batch_size = 32
  config.num_epochs = 20
  config.optimizer = 'adam'
  config.adam_b2 = 0.95
  config.learning_rate = 1e-3
  config.weight_decay = 0.05
  config.schedule = 'cosine'
  config.warmup_epochs = 2.0
  return config
