"""A video ViT on FERV39k's official split, fine-tuned from masked-autoencoder pretraining as
MAE-DFER does (configs/pretrain_mae.py has the recipe, what emojax leaves out, and step 1).

    python launch.py --config=configs/ferv39k_vit.py --workdir=W --config.dataset.manual_dir=M \
        --config.init_from.workdir=W_PRE --config.init_from.subtrees=encoder
    python launch.py --config=configs/ferv39k_vit.py:small ...  # ViT-S, from a ViT-S pretraining

Without `init_from` the same ViT trains from scratch. MAE-DFER's fine-tuning on FERV39k
(`scripts/ferv39k/finetune_*.sh`): batch 120 (40 on each of 3 GPUs), so learning rate
1e-3 x 120 / 256, 16 consecutive frames (sampling rate 1); the other settings are
`pretrain_mae.finetune`'s. The number is the final epoch's on `test` (`official_split`, as
configs/ferv39k.py).

Published, UAR / WAR on test: MAE-DFER 43.12 / 52.07 (ACM MM 2023, LGI-Former encoder pretrained
on VoxCeleb2). Selection: the last epoch's model; its public code reports the final epoch on the
test split (`logs/ferv39k.out` shows these two numbers for the last-epoch model), though it also
evaluates the test split after every epoch as its validation set (`preprocess/ferv39k.py`: "val ==
test") to keep a best checkpoint it does not report. Left out here: mixup / cutmix, RandAugment,
random erasing and random resized crops, and the LGI-Former (ours is VideoMAE's plain ViT). More
systems and their selection: docs/datasets.md.
"""
from configs import ferv39k, pretrain_mae


def get_config(size: str = 'base'):
  return pretrain_mae.finetune(ferv39k.get_config(), size, batch_size=120, stride=1)
