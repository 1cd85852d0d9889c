"""The main paper's protocol on Oulu-CASIA (VL, strong illumination: 480 sequences, 80 subjects).

    python launch.py --config=configs/oulu.py --workdir=W --config.dataset.manual_dir=M

3D-ResNet34 + ConvLSTM + Transformer on 16-frame clips (fixed-interval sampling) of 112x112
MTCNN-cropped faces (stored at 128 for random cropping), Adam lr 1e-3, batch 4, 100 epochs,
10-fold subject-independent cross-validation; each fold's accuracy is its final-epoch test accuracy.
The Transformer and ConvLSTM as the paper writes them: one encoder layer with a linear projection
before the attention, and peepholes. The other configs' variant (two pre-LayerNorm layers, no
peepholes): `--config.model.num_layers=2 --config.model.attention_norm=layernorm
--config.model.convlstm_peephole=False`.
Paper: 88.37% (all three modules). The ablation rows are one override each:

    --config.model.use_convlstm=False --config.model.use_transformer=False   # 3D-ResNet34: 84.05%
    --config.model.use_transformer=False                                    # + ConvLSTM: 87.19%
    --config.model.use_convlstm=False                                       # + Transformer: 86.72%

Other conditions of the database: `--config.dataset.config=ni_dark` etc. (see
tfds_builders/oulu_casia/README.md). One fold: `--config.fold=3`.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.dataset.name = 'oulu_casia'
  config.dataset.config = 'vl_strong'
  config.model.num_layers = 1
  config.model.attention_norm = 'projection'
  config.model.convlstm_peephole = True
  return config
