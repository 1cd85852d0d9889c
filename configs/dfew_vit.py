"""A video ViT on DFEW's 5 official folds, fine-tuned from masked-autoencoder pretraining as
MAE-DFER does (configs/pretrain_mae.py has the recipe, what emojax leaves out, and step 1).

    python launch.py --config=configs/dfew_vit.py --workdir=W --config.dataset.manual_dir=M \
        --config.init_from.workdir=W_PRE --config.init_from.subtrees=encoder
    python launch.py --config=configs/dfew_vit.py:small ...     # ViT-S, from a ViT-S pretraining

Without `init_from` the same ViT trains from scratch. MAE-DFER's fine-tuning on DFEW
(`scripts/dfew/finetune_*.sh`): batch 96 (32 on each of 3 GPUs), so learning rate 1e-3 x 96 / 256,
16 frames 4 stored frames apart; the other settings are `pretrain_mae.finetune`'s. Each fold's
number is its final-epoch result on the fold's test clips (`official_folds`, as configs/dfew.py).

Published, 5 official folds, UAR / WAR: MAE-DFER 63.41 / 74.43 (ACM MM 2023, LGI-Former encoder
pretrained on VoxCeleb2). Selection: the last epoch's model; its public code
(`run_class_finetuning.py`) reports the final epoch on the test fold (`logs/dfew.out`, fold 1: UAR
62.59, WAR 74.88), though it also evaluates that fold after every epoch as its validation set
(`preprocess/dfew.py`: "val == test") to keep a best checkpoint it does not report. Left out here:
mixup / cutmix, RandAugment, random erasing and random resized crops (emojax's augmentation is a
crop shift, flips and brightness / contrast), and the LGI-Former (ours is VideoMAE's plain ViT).
More systems and their selection: docs/datasets.md.
"""
from configs import dfew, pretrain_mae


def get_config(size: str = 'base'):
  return pretrain_mae.finetune(dfew.get_config(), size, batch_size=96, stride=4)
