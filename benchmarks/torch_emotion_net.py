"""PyTorch peer of the main network, for side-by-side training-throughput comparisons.

The same architecture as a PyTorch user writes it from the paper: 3D-ResNet34 -> ConvLSTM over
time -> Transformer encoder (CLS token) -> fusion -> logits. `train_throughput.py --peer` runs it
in a subprocess beside the JAX step; quote the ratio from one run, never an absolute time.

PyTorch is not a dependency of emojax; install it by hand for this benchmark:

    pip install torch==2.13.0   # CPU build
    python benchmarks/torch_emotion_net.py --batch 4 --frames 16 --size 112 --steps 3 \
        [--width 64] [--threads 2]

Prints one JSON line: {"peer": "torch", "clips_per_s": ..., "step_s": ..., ...}. The step is the
mean of `--steps` steps (forward, backward, Adam) after one warm-up step; `cpu_s_per_step` is
the process's CPU time (all threads) per step.
"""
import argparse
import json
import time

import torch
from torch import nn


class Block(nn.Module):

  def __init__(self, cin, cout, stride):
    super().__init__()
    self.c1 = nn.Conv3d(cin, cout, 3, stride, 1, bias=False)
    self.b1 = nn.BatchNorm3d(cout)
    self.c2 = nn.Conv3d(cout, cout, 3, 1, 1, bias=False)
    self.b2 = nn.BatchNorm3d(cout)
    self.down = None
    if stride != 1 or cin != cout:
      self.down = nn.Sequential(nn.Conv3d(cin, cout, 1, stride, bias=False),
                                nn.BatchNorm3d(cout))

  def forward(self, x):
    y = torch.relu(self.b1(self.c1(x)))
    y = self.b2(self.c2(y))
    return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNet3D34(nn.Module):

  def __init__(self, width=64, layers=(3, 4, 6, 3)):
    super().__init__()
    w = [width, width * 2, width * 4, width * 8]
    self.stem = nn.Sequential(nn.Conv3d(3, w[0], 7, (1, 2, 2), 3, bias=False),
                              nn.BatchNorm3d(w[0]), nn.ReLU(), nn.MaxPool3d(3, (1, 2, 2), 1))
    blocks, cin = [], w[0]
    for i, (n, c) in enumerate(zip(layers, w)):
      for j in range(n):
        blocks.append(Block(cin, c, (1, 2, 2) if (i > 0 and j == 0) else 1))
        cin = c
    self.blocks = nn.Sequential(*blocks)
    self.out_channels = cin

  def forward(self, x):  # [B, C, T, H, W] -> [B, C', T, H', W'] (time kept for the ConvLSTM)
    return self.blocks(self.stem(x))


class ConvLSTM(nn.Module):

  def __init__(self, cin, hidden):
    super().__init__()
    self.hidden = hidden
    self.gates = nn.Conv2d(cin + hidden, 4 * hidden, 3, 1, 1)

  def forward(self, x):  # [B, C, T, H, W] -> last hidden state [B, hidden, H, W]
    b, _, t, h, w = x.shape
    hs = x.new_zeros(b, self.hidden, h, w)
    cs = hs.clone()
    for step in range(t):
      i, f, o, g = self.gates(torch.cat([x[:, :, step], hs], 1)).chunk(4, 1)
      cs = torch.sigmoid(f) * cs + torch.sigmoid(i) * torch.tanh(g)
      hs = torch.sigmoid(o) * torch.tanh(cs)
    return hs


class AttentionEncoder(nn.Module):

  def __init__(self, dim, heads=8, layers=2, max_len=64):
    super().__init__()
    self.cls = nn.Parameter(torch.zeros(1, 1, dim))
    self.pos = nn.Parameter(torch.zeros(1, max_len + 1, dim))
    self.blocks = nn.ModuleList()
    for _ in range(layers):
      self.blocks.append(nn.ModuleDict(dict(
          norm=nn.LayerNorm(dim), attn=nn.MultiheadAttention(dim, heads, batch_first=True),
          ffn=nn.Sequential(nn.Linear(dim, 2 * dim), nn.LeakyReLU(), nn.Linear(2 * dim, dim)))))
    self.bn = nn.BatchNorm1d(dim)

  def forward(self, tokens):  # [B, T, D] -> CLS feature [B, D]
    x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], 1)
    x = x + self.pos[:, :tokens.shape[1] + 1]
    for blk in self.blocks:
      y = blk['norm'](x)
      x = x + blk['attn'](y, y, y, need_weights=False)[0]
      x = x + blk['ffn'](x)
    return self.bn(x[:, 0])


class EmotionNet(nn.Module):

  def __init__(self, num_classes=6, width=64):
    super().__init__()
    self.backbone = ResNet3D34(width)
    c = self.backbone.out_channels
    self.convlstm = ConvLSTM(c, c // 2)
    self.encoder = AttentionEncoder(c)
    self.head = nn.Linear(c // 2 + c, num_classes)

  def forward(self, x):
    f = self.backbone(x)  # [B, C, T, h, w]
    temporal = self.convlstm(f).mean((2, 3))  # [B, C/2]
    attention = self.encoder(f.mean((3, 4)).transpose(1, 2))  # [B, C]
    return self.head(torch.cat([temporal, attention], 1))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--batch', type=int, default=4)
  parser.add_argument('--frames', type=int, default=16)
  parser.add_argument('--size', type=int, default=112)
  parser.add_argument('--width', type=int, default=64)
  parser.add_argument('--steps', type=int, default=3)
  parser.add_argument('--threads', type=int, default=0)
  args = parser.parse_args()
  if args.threads:
    torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  model = EmotionNet(width=args.width)
  opt = torch.optim.Adam(model.parameters(), 1e-3)
  x = torch.randn(args.batch, 3, args.frames, args.size, args.size)
  y = torch.randint(0, 6, (args.batch,))

  def step():
    opt.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()

  step()  # warm-up
  start, cpu_start = time.perf_counter(), time.process_time()
  for _ in range(args.steps):
    step()
  dt = (time.perf_counter() - start) / args.steps
  cpu_s = (time.process_time() - cpu_start) / args.steps
  print(json.dumps(dict(peer='torch', torch=torch.__version__, batch=args.batch,
                        frames=args.frames, size=args.size, width=args.width,
                        step_s=round(dt, 4), cpu_s_per_step=round(cpu_s, 3), clips_per_s=round(args.batch / dt, 3),
                        params=sum(p.numel() for p in model.parameters()))))


if __name__ == '__main__':
  main()
