"""A compact Pix2pixHD (Wang et al. 2018) in pure PyTorch: paper B's conditional model family.

The networks follow NVIDIA's ``pix2pixHD`` (``models/networks.py``); the code is our own:

* **Global generator**: 7x7 convolution (reflection padding), ``n_down`` stride-2 3x3
  downsampling convolutions (channels doubling), ``n_blocks`` residual blocks, as many
  transposed-convolution upsamplings, 7x7 convolution to RGB with tanh; instance
  normalisation (no affine) and ReLU throughout. At 32-128 px the *local enhancer* (the
  second, full-resolution generator of the paper) is not needed and not built: the global
  generator alone covers these sizes (our choice, as the issue allows).
* **Multi-scale PatchGAN discriminators**: ``num_d`` (2 at these sizes) identical
  70x70-style PatchGANs (4x4 convolutions, ``n_layers`` stride-2, leaky ReLU 0.2, instance
  norm) on the (map, image) pair at full and half resolution (3x3 average pooling, stride 2);
  each returns every layer's features for the feature-matching loss.
* **Losses**: LSGAN (least squares) adversarial loss on each discriminator's last output, and
  the discriminator feature-matching loss ``lambda_feat * sum_D sum_l (4 / (n_layers + 1)) /
  num_d * L1(D_l(map, fake), D_l(map, real))`` with ``lambda_feat = 10`` (pix2pixHD's
  weights). The VGG perceptual loss is not part of this module: it needs weights a user
  supplies (nothing is downloaded).

Training through the shared engine (paired data, runs, CLI) is not wired yet.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

RES_CHOICES = (32, 64, 128)


def _check_res(res: int) -> int:
    if res not in RES_CHOICES:
        raise ValueError(f"res must be one of {RES_CHOICES}, got {res!r}")
    return res


def _norm(c: int) -> nn.Module:
    return nn.InstanceNorm2d(c, affine=False)


class ResnetBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), _norm(c), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), _norm(c))

    def forward(self, x):
        return x + self.block(x)


class GlobalGenerator(nn.Module):
    """``G(map) -> image``: (B, in_c, res, res) -> (B, 3, res, res) in [-1, 1]."""

    def __init__(self, in_c: int, out_c: int = 3, ngf: int = 32, n_down: int = 2,
                 n_blocks: int = 6):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_c, ngf, 7), _norm(ngf), nn.ReLU(True)]
        c = ngf
        for _ in range(n_down):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), _norm(2 * c), nn.ReLU(True)]
            c *= 2
        layers += [ResnetBlock(c) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                       _norm(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_c, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.in_c, self.n_down = in_c, n_down

    def forward(self, label_map: torch.Tensor) -> torch.Tensor:
        if label_map.shape[-1] % (2 ** self.n_down):
            raise ValueError(f"map size {label_map.shape[-1]} is not divisible by "
                             f"2^{self.n_down}")
        return self.model(label_map)


class NLayerDiscriminator(nn.Module):
    """PatchGAN; ``forward`` returns the list of every layer's output (the last = logits)."""

    def __init__(self, in_c: int, ndf: int = 32, n_layers: int = 3):
        super().__init__()
        pad = math.ceil((4 - 1) / 2)
        seq = [[nn.Conv2d(in_c, ndf, 4, stride=2, padding=pad), nn.LeakyReLU(0.2, True)]]
        nf = ndf
        for n in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            seq.append([nn.Conv2d(prev, nf, 4, stride=2, padding=pad), _norm(nf),
                        nn.LeakyReLU(0.2, True)])
        prev, nf = nf, min(nf * 2, 512)
        seq.append([nn.Conv2d(prev, nf, 4, stride=1, padding=pad), _norm(nf),
                    nn.LeakyReLU(0.2, True)])
        seq.append([nn.Conv2d(nf, 1, 4, stride=1, padding=pad)])
        self.layers = nn.ModuleList(nn.Sequential(*s) for s in seq)
        self.n_layers = n_layers

    def forward(self, x):
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    """``num_d`` PatchGANs on the input at full, 1/2, 1/4 ... resolution; ``forward``
    returns one feature list per scale (full resolution first)."""

    def __init__(self, in_c: int, ndf: int = 32, n_layers: int = 3, num_d: int = 2):
        super().__init__()
        self.ds = nn.ModuleList(NLayerDiscriminator(in_c, ndf, n_layers) for _ in range(num_d))
        self.num_d, self.n_layers = num_d, n_layers

    def forward(self, x):
        out = []
        for i, d in enumerate(self.ds):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(d(x))
        return out


def lsgan_loss(outputs: list, target_real: bool) -> torch.Tensor:
    """Least-squares GAN loss summed over the scales' last outputs."""
    target = 1.0 if target_real else 0.0
    return sum(F.mse_loss(feats[-1], torch.full_like(feats[-1], target)) for feats in outputs)


def feature_matching_loss(fake_outputs: list, real_outputs: list, n_layers: int,
                          lambda_feat: float = 10.0) -> torch.Tensor:
    """pix2pixHD's discriminator feature matching: L1 between the fake's and the (detached)
    real's intermediate features, every layer but the last, every scale, weighted
    ``(4 / (n_layers + 1)) / num_d * lambda_feat``."""
    num_d = len(fake_outputs)
    w = 4.0 / (n_layers + 1) / num_d * lambda_feat
    loss = fake_outputs[0][0].new_zeros(())
    for fake, real in zip(fake_outputs, real_outputs):
        for f, r in zip(fake[:-1], real[:-1]):
            loss = loss + w * F.l1_loss(f, r.detach())
    return loss


def build(res: int, in_c: int, ngf: int = 32, ndf: int = 32, n_blocks: int = 6,
          num_d: int = 2) -> tuple[GlobalGenerator, MultiscaleDiscriminator]:
    """``(G, D)`` for ``res`` px maps with ``in_c`` channels: 2 downsamplings at 32 px, 3 at
    64 and 128 (the bottleneck stays at 8 or 16 px); D sees (map, image) pairs."""
    _check_res(res)
    n_down = 2 if res == 32 else 3
    return (GlobalGenerator(in_c, 3, ngf, n_down, n_blocks),
            MultiscaleDiscriminator(in_c + 3, ndf, 3, num_d))
