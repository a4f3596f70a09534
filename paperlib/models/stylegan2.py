"""A compact StyleGAN2 (Karras et al. 2020) in pure PyTorch: paper B's model family.

The mathematics follows NVlabs' ``stylegan2-ada-pytorch`` (``networks.py``, ``loss.py``, the
reference paths of ``bias_act``/``upfirdn2d``); the code is our own: a mapping network, skip
synthesis with modulated/demodulated convolutions and noise inputs, a residual discriminator
with minibatch-std, equalised lr and [1, 3, 3, 1] FIR resampling. :class:`StyleGAN2Step`
trains with the non-saturating loss, lazy R1 (every 16), optional path length (every 4) and
an EMA of G used for samples and evaluation. With ``sg_cond`` (NVlabs' ``--cond``) G and D
are class-conditional: a label embedding in G's mapping, a projection discriminator.

Our simplifications: upsample-then-convolve (NVlabs fuses them); no mixed precision or
``conv_clamp``; training noise from an explicit ``torch.Generator``; eval-mode noise is the
fixed buffers unless a ``noise_gen`` is passed (docs/DECISIONS.md, "StyleGAN2")."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..data.folders import load_class_folders, load_folder
from ..utils.images import check_res
from .base import (
    RES_CHOICES,
    ModelSpec,
    Options,
    check_bool,
    check_int,
    check_number,
    option,
    register,
    sizes_by_profile,
)
from .dcgan import GaussianLatent

SQRT2 = math.sqrt(2.0)


_FIR = (1.0, 3.0, 3.0, 1.0)


# ----------------------------------------------------------------------------- reference ops
def _fir_kernel(channels: int, like: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    f = torch.tensor(_FIR, dtype=like.dtype, device=like.device)
    f = torch.outer(f, f)
    f = f / f.sum() * gain
    return f.expand(channels, 1, 4, 4)


def upsample2d(x: torch.Tensor) -> torch.Tensor:
    """2x upsampling: insert zeros, pad (2, 1), filter with [1,3,3,1] (gain 4); NVlabs'
    ``upfirdn2d.upsample2d`` with its reference implementation."""
    b, c, h, w = x.shape
    y = x.new_zeros(b, c, h, 2, w, 2)
    y[:, :, :, 0, :, 0] = x
    y = F.pad(y.reshape(b, c, 2 * h, 2 * w), (2, 1, 2, 1))
    return F.conv2d(y, _fir_kernel(c, x, gain=4.0), groups=c)


def downsample2d(x: torch.Tensor) -> torch.Tensor:
    """2x downsampling: pad 1, filter with [1,3,3,1], keep every second pixel
    (``upfirdn2d.downsample2d``)."""
    c = x.shape[1]
    return F.conv2d(F.pad(x, (1, 1, 1, 1)), _fir_kernel(c, x), stride=2, groups=c)


def lrelu(x: torch.Tensor, gain: float = SQRT2) -> torch.Tensor:
    """``bias_act``'s "lrelu": leaky ReLU (slope 0.2) times sqrt 2."""
    return F.leaky_relu(x, 0.2) * gain


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     demodulate: bool = True, up: bool = False) -> torch.Tensor:
    """Convolution with ``weight`` modulated per sample by ``styles`` and, with
    ``demodulate``, scaled to unit norm per output channel (:func:`demodulated_weights`).
    ``up``: 2x FIR upsampling first. Padding keeps the size."""
    if up:
        x = upsample2d(x)
    # NVlabs' non-fused path: style-scale the inputs, shared conv, demodulate the outputs --
    # equal to convolving with demodulated_weights(), and much faster on CPU.
    x = x * styles[:, :, None, None]
    x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
    if demodulate:
        w = weight[None] * styles[:, None, :, None, None]
        x = x * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()[:, :, None, None]
    return x


def demodulated_weights(weight: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """Per-sample weights ``(B, O, I, k, k)``: modulated by ``styles`` (B, I), then scaled to
    unit L2 norm over (I, k, k) for every sample and output channel."""
    w = weight[None] * styles[:, None, :, None, None]
    return w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()


# ----------------------------------------------------------------------------- layers
class FullyConnected(nn.Module):
    """Equalised-lr linear layer: weight N(0, 1/lr_mul^2) used as ``W * lr_mul/sqrt(in)``,
    bias ``b * lr_mul`` (init ``bias_init``); optional lrelu."""

    def __init__(self, in_f: int, out_f: int, activation: bool = False, lr_mul: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_f, in_f) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_f,), float(bias_init)))
        self.activation, self.w_gain, self.b_gain = activation, lr_mul / math.sqrt(in_f), lr_mul

    def forward(self, x):
        x = F.linear(x, self.weight * self.w_gain, self.bias * self.b_gain)
        return lrelu(x) if self.activation else x


class Conv(nn.Module):
    """Equalised-lr convolution for D (optional FIR 2x downsampling first, optional lrelu)."""

    def __init__(self, in_c: int, out_c: int, k: int, bias: bool = True,
                 activation: bool = True, down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_c, in_c, k, k))
        self.bias = nn.Parameter(torch.zeros(out_c)) if bias else None
        self.activation, self.down, self.gain = activation, down, 1.0 / math.sqrt(in_c * k * k)

    def forward(self, x, gain: float = 1.0):
        if self.down:
            x = downsample2d(x)
        x = F.conv2d(x, self.weight * self.gain, self.bias, padding=self.weight.shape[-1] // 2)
        return (lrelu(x, SQRT2 * gain) if self.activation else x * gain)


class MappingNetwork(nn.Module):
    """``z`` (and with ``c_dim`` the one-hot class ``c``) -> ``w``, broadcast to ``num_ws``
    (None: ``(B, w_dim)``). As NVlabs: ``c`` is embedded linearly to ``w_dim`` features,
    each input normalised to unit second moment and concatenated (``z_dim`` 0: ``c`` alone,
    D's projection); ``w_avg_beta`` None: no mean w tracked (no truncation)."""

    def __init__(self, z_dim: int, w_dim: int, num_ws: int | None, layers: int = 2,
                 lr_mul: float = 0.01, w_avg_beta: float | None = 0.995, c_dim: int = 0):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.w_avg_beta = z_dim, w_dim, num_ws, w_avg_beta
        self.c_dim = c_dim
        dims = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * layers
        self.fcs = nn.ModuleList(FullyConnected(a, b, True, lr_mul) for a, b in zip(dims, dims[1:]))
        if c_dim:
            self.embed = FullyConnected(c_dim, w_dim)
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z, truncation_psi: float = 1.0, c: torch.Tensor | None = None):
        parts = [normalize_2nd_moment(z)] if self.z_dim else []
        if self.c_dim:
            if c is None:
                raise ValueError("a class-conditional mapping needs the labels c (B, c_dim)")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        for fc in self.fcs:
            x = fc(x)
        if self.w_avg_beta is not None:
            if self.training:  # track the mean w (for truncation), as NVlabs does in training
                with torch.no_grad():
                    self.w_avg.copy_(x.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
            if truncation_psi != 1.0:
                x = self.w_avg.lerp(x, truncation_psi)
        return x if self.num_ws is None else x.unsqueeze(1).repeat(1, self.num_ws, 1)


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (+ optional 2x up) + noise + bias + lrelu."""

    def __init__(self, in_c: int, out_c: int, w_dim: int, res: int, up: bool = False):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_c, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_c, in_c, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_c))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(res, res))
        self.up, self.res = up, res

    def forward(self, x, w, noise_gen: torch.Generator | None = None,
                random: bool | None = None):
        """``random`` (default: in training mode): NVlabs' ``noise_mode="random"``, fresh
        noise drawn from ``noise_gen`` (torch's global RNG when None); otherwise
        ``noise_mode="const"``, the fixed ``noise_const`` buffer."""
        x = modulated_conv2d(x, self.weight, self.affine(w), demodulate=True, up=self.up)
        if self.training if random is None else random:
            gen = noise_gen
            shape = (x.shape[0], 1, self.res, self.res)
            noise = (torch.randn(shape, generator=gen, device=gen.device).to(x.device)
                     if gen is not None else torch.randn(shape, device=x.device))
        else:              # noise_mode "const"
            noise = self.noise_const
        x = x + noise * self.noise_strength
        return lrelu(x + self.bias.view(1, -1, 1, 1))


class ToRGB(nn.Module):
    def __init__(self, in_c: int, w_dim: int, nc: int = 3):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_c, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(nc, in_c, 1, 1))
        self.bias = nn.Parameter(torch.zeros(nc))
        self.gain = 1.0 / math.sqrt(in_c)

    def forward(self, x, w):
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.gain, demodulate=False)
        return x + self.bias.view(1, -1, 1, 1)


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at resolution ``res``: ``min(channel_base // res, channel_max)``."""
    return min(channel_base // res, channel_max)


def _check_res(res: int) -> int:
    return int(math.log2(check_res(res, RES_CHOICES)))


class Generator(nn.Module):
    """``G(z) -> (B, 3, res, res)`` (about [-1, 1]): mapping network + skip synthesis.

    ``G.mapping(z)`` gives ``ws`` (B, num_ws, w_dim), ``G.synthesis(ws)`` the image. Noise
    inputs: random from ``G.noise_gen`` in training, else the constant buffers unless a
    ``noise_gen`` is passed. With ``c_dim`` G's input is ``z`` then the one-hot class
    (:meth:`split`; ``G.mapping(z, c=c)``)."""

    def __init__(self, res: int = 32, z_dim: int = 128, w_dim: int = 128, channel_base: int = 4096,
                 channel_max: int = 128, map_layers: int = 2, nc: int = 3, c_dim: int = 0):
        super().__init__()
        log2 = _check_res(res)
        self.res, self.z_dim, self.in_dim, self.nc = res, z_dim, z_dim + c_dim, nc
        self.c_dim = c_dim
        self.resolutions = [2 ** i for i in range(2, log2 + 1)]
        ch = {r: channels_at(r, channel_base, channel_max) for r in self.resolutions}
        self.const = nn.Parameter(torch.randn(ch[4], 4, 4))
        self.convs = nn.ModuleList()
        self.torgbs = nn.ModuleList()
        for r in self.resolutions:
            if r > 4:
                self.convs.append(SynthesisLayer(ch[r // 2], ch[r], w_dim, r, up=True))
            self.convs.append(SynthesisLayer(ch[r], ch[r], w_dim, r))
            self.torgbs.append(ToRGB(ch[r], w_dim, nc))
        self.num_ws = len(self.convs) + 1  # NVlabs: conv layers + the last toRGB
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, map_layers, c_dim=c_dim)
        self.noise_gen: torch.Generator | None = None

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(z, one-hot c)`` of G's input (``c`` None when unconditional)."""
        return (x[:, :self.z_dim], x[:, self.z_dim:]) if self.c_dim else (x, None)

    def synthesis(self, ws: torch.Tensor, noise_gen: torch.Generator | None = None
                  ) -> torch.Tensor:
        """The image of ``ws``; ``noise_gen`` given: random noise inputs drawn from it (in
        either mode), else random from ``self.noise_gen`` in training, constant in eval."""
        random = True if noise_gen is not None else self.training
        gen = noise_gen if noise_gen is not None else self.noise_gen
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        img, k = None, 0
        for j, r in enumerate(self.resolutions):
            for _ in range(1 if r == 4 else 2):
                x = self.convs[k](x, ws[:, k], gen, random)
                k += 1
            y = self.torgbs[j](x, ws[:, k])
            img = y if img is None else upsample2d(img) + y
        return img

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0,
                noise_gen: torch.Generator | None = None) -> torch.Tensor:
        z, c = self.split(z)
        return self.synthesis(self.mapping(z, truncation_psi, c=c), noise_gen)


def minibatch_std(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append the mean over channels/pixels of the per-group std of features (1 channel).
    The group is the largest divisor of the batch not above ``group_size``."""
    b, c, h, w = x.shape
    g = max(d for d in range(1, min(group_size, b) + 1) if b % d == 0)
    y = x.reshape(g, -1, c, h, w)
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt()
    y = y.mean(dim=[1, 2, 3]).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    def __init__(self, in_c: int, out_c: int):
        super().__init__()
        self.conv0 = Conv(in_c, in_c, 3)
        self.conv1 = Conv(in_c, out_c, 3, down=True)
        self.skip = Conv(in_c, out_c, 1, bias=False, activation=False, down=True)

    def forward(self, x):
        y = self.skip(x, gain=math.sqrt(0.5))
        return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


#: Layers of D's label mapping (NVlabs' MappingNetwork default, D's ``mapping_kwargs``).
D_MAP_LAYERS = 8


class Discriminator(nn.Module):
    """Residual discriminator: ``D(img) -> (B,)`` logits. With ``c_dim``: NVlabs' projection
    discriminator, ``D(img, c)``: the output layer gives ``cmap_dim = ch[4]`` features,
    projected on ``D.mapping(c)`` and scaled by ``1 / sqrt(cmap_dim)``."""

    def __init__(self, res: int = 32, channel_base: int = 4096, channel_max: int = 128,
                 nc: int = 3, mbstd_group: int = 4, c_dim: int = 0):
        super().__init__()
        log2 = _check_res(res)
        self.res, self.mbstd_group = res, mbstd_group
        ch = {2 ** i: channels_at(2 ** i, channel_base, channel_max) for i in range(2, log2 + 1)}
        self.fromrgb = Conv(nc, ch[res], 1)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(ch[2 ** i], ch[2 ** (i - 1)])
                                      for i in range(log2, 2, -1)])
        self.conv = Conv(ch[4] + 1, ch[4], 3)
        self.fc = FullyConnected(ch[4] * 16, ch[4], activation=True)
        self.c_dim, self.cmap_dim = c_dim, ch[4] if c_dim else 0
        self.out = FullyConnected(ch[4], self.cmap_dim or 1)
        if c_dim:
            self.mapping = MappingNetwork(0, self.cmap_dim, None, D_MAP_LAYERS,
                                          w_avg_beta=None, c_dim=c_dim)

    def features(self, img: torch.Tensor) -> torch.Tensor:
        """The penultimate (fully-connected) features, (B, ch[4])."""
        x = self.blocks(self.fromrgb(img))
        x = self.conv(minibatch_std(x, self.mbstd_group))
        return self.fc(x.flatten(1))

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.out(self.features(img))
        if self.c_dim:
            if c is None:
                raise ValueError("a class-conditional discriminator needs the labels c")
            cmap = self.mapping(None, c=c)
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x.view(-1)


# ----------------------------------------------------------------------------- training
@torch.no_grad()
def ema_update(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """``p_ema <- p + beta * (p_ema - p)`` for every parameter; buffers are copied."""
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b.detach())


def ema_beta(batch_size: int, ema_kimg: float, images_seen: int, rampup: float | None = 0.05) -> float:
    """NVlabs' EMA decay per step: half-life ``ema_kimg`` thousand images, ramped up to
    ``rampup * images_seen`` early in training."""
    ema_nimg = ema_kimg * 1000
    if rampup is not None:
        ema_nimg = min(ema_nimg, images_seen * rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


def r1_penalty(D: nn.Module, real: torch.Tensor, augment=None, generator=None,
               c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample ``||grad_x D(x)||^2`` on reals (x = the un-augmented batch, as NVlabs
    differentiates through the augmentation; ``c``: their labels), and the logits."""
    x = real.detach().requires_grad_(True)
    y = augment(x, generator) if augment is not None else x
    logits = D(y) if c is None else D(y, c)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.square().sum(dim=[1, 2, 3]), logits


def path_length(G: Generator, z: torch.Tensor, generator: torch.Generator | None = None,
                c: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample path lengths ``||J_w^T y||`` with ``y ~ N(0, I) / sqrt(H*W)`` (``c``: the
    classes of a conditional G)."""
    ws = G.mapping(z, c=c)
    img = G.synthesis(ws)
    gen = generator
    noise = (torch.randn(img.shape, generator=gen, device=gen.device).to(img.device)
             if gen is not None else torch.randn_like(img)) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
    return grad.square().sum(2).mean(1).sqrt()


class StyleGAN2Step:
    """StyleGAN2's step object (modules ``latent``, ``G``, ``D``, ``G_ema``). :meth:`step`
    runs NVlabs' Gmain, Greg (every ``pl_interval`` when ``pl_weight > 0``), Dmain, Dreg (every
    ``r1_interval``) and the EMA update; returns ``[d_loss, g_loss, d_real, d_fake]``.

    A conditional G (``G.c_dim``): each batch item is the image, then its class index as a
    constant plane (split off here; augmentation sees the image alone). D sees reals with
    their labels, fakes with classes drawn from the training labels (:meth:`bind_data`), as
    NVlabs' ``gen_c``; R1 is on reals with their labels."""

    r1_interval = 16
    pl_interval = 4
    pl_decay = 0.01
    pl_batch_shrink = 2

    def __init__(self, latent, G: Generator, D: Discriminator, lr: float, betas, eps: float,
                 r1_gamma: float, pl_weight: float, ema_kimg: float, mixing_prob: float):
        self.latent, self.G, self.D = latent, G, D
        self.G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        self.r1_gamma, self.pl_weight = float(r1_gamma), float(pl_weight)
        self.ema_kimg, self.mixing_prob = float(ema_kimg), float(mixing_prob)
        self.pl_mean = torch.zeros(())
        self.n_steps, self.n_images = 0, 0
        self.labels: torch.Tensor | None = None   # a conditional G's training labels

        def adam(params, interval):
            ratio = interval / (interval + 1) if interval else 1.0
            return torch.optim.Adam(params, lr=lr * ratio, eps=eps,
                                    betas=tuple(b ** ratio for b in betas))

        self.opt_g = adam(G.parameters(), self.pl_interval if self.pl_weight > 0 else 0)
        self.opt_d = adam(D.parameters(), self.r1_interval)

    # -- what the engine sees
    @property
    def modules(self) -> dict:
        return {"latent": self.latent, "G": self.G, "D": self.D, "G_ema": self.G_ema}

    @property
    def optimizers(self) -> dict:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def sampler(self):
        """(latent, generator) used for sample grids and evaluation: the EMA generator."""
        return self.latent, self.G_ema

    def extra_state(self) -> dict:
        return {"pl_mean": self.pl_mean.clone(), "n_steps": self.n_steps,
                "n_images": self.n_images}

    def load_extra_state(self, state: dict) -> None:
        self.pl_mean = state["pl_mean"].to(self.pl_mean.device)
        self.n_steps, self.n_images = int(state["n_steps"]), int(state["n_images"])

    def train(self) -> None:
        self.G.train(), self.D.train(), self.latent.train()

    def bind_data(self, data: torch.Tensor) -> None:
        """The engine's training tensor: a conditional G draws its classes from its labels."""
        if self.G.c_dim:
            self.labels = data[:, 3, 0, 0].round().long()

    def _split(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(images, one-hot labels or None)`` of a batch."""
        if not self.G.c_dim:
            return batch, None
        return batch[:, :3], F.one_hot(batch[:, 3, 0, 0].round().long(), self.G.c_dim).float()

    def _gen_c(self, b, generator) -> torch.Tensor | None:
        """One-hot classes of ``b`` fakes, drawn from the training labels (None: unconditional)."""
        if not self.G.c_dim:
            return None
        if self.labels is None:
            raise ValueError("a conditional StyleGAN2 step needs the training labels "
                             "(bind_data)")
        idx = torch.randint(len(self.labels), (b,), generator=generator,
                            device=generator.device).to(self.labels.device)
        return F.one_hot(self.labels[idx], self.G.c_dim).float()

    def _z(self, b, generator, device):
        """``b`` latents (a conditional latent's class part dropped: :meth:`_gen_c` draws it)."""
        return self.G.split(self.latent(*self.latent.sample_noise(b, generator, device)))[0]

    def _ws(self, z, generator, c=None):
        """Mapping with style mixing: with probability ``mixing_prob`` the layers from a random
        cutoff on take the w of a second z (same class ``c``)."""
        ws = self.G.mapping(z, c=c)
        if self.mixing_prob > 0:
            b, n = ws.shape[:2]
            u = torch.rand((2, b), generator=generator, device=generator.device).to(ws.device)
            cut = (u[0] * (n - 1) + 1).long()
            cut = torch.where(u[1] < self.mixing_prob, cut, torch.full_like(cut, n))
            z2 = self._z(b, generator, z.device)
            ws2 = self.G.mapping(z2, c=c)
            layer = torch.arange(n, device=ws.device).view(1, n, 1)
            ws = torch.where(layer < cut.view(b, 1, 1), ws, ws2)
        return ws

    def _fake(self, b, device, generator, c=None):
        z = self._z(b, generator, device)
        return self.G.synthesis(self._ws(z, generator, c))

    def _D(self, x, c):
        return self.D(x) if c is None else self.D(x, c)

    def step(self, batch: torch.Tensor, augment, generator: torch.Generator) -> torch.Tensor:
        G = self.G
        real, c_real = self._split(batch)
        G.noise_gen = generator
        b = real.size(0)
        # Gmain: maximise log D(G(z)) -- softplus(-D(G(z)))
        self.D.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        gen_c = self._gen_c(b, generator)
        fake_logits_g = self._D(augment(self._fake(b, real.device, generator, gen_c),
                                        generator), gen_c)
        loss_g = F.softplus(-fake_logits_g).mean()
        loss_g.backward()
        self.opt_g.step()
        # Greg: path-length regularisation, lazily
        if self.pl_weight > 0 and self.n_steps % self.pl_interval == 0:
            self.opt_g.zero_grad(set_to_none=True)
            nb = max(1, b // self.pl_batch_shrink)
            z = self._z(nb, generator, real.device)
            c = self._gen_c(nb, generator)
            lengths = path_length(G, z, generator) if c is None else path_length(G, z, generator, c)
            self.pl_mean = self.pl_mean.to(lengths.device).lerp(lengths.mean().detach(),
                                                                 self.pl_decay)
            ((lengths - self.pl_mean).square().mean() * self.pl_weight * self.pl_interval).backward()
            self.opt_g.step()
        self.D.requires_grad_(True)
        # Dmain: softplus(D(G(z))) + softplus(-D(x))
        self.opt_d.zero_grad(set_to_none=True)
        gen_c = self._gen_c(b, generator)
        with torch.no_grad():
            fake = self._fake(b, real.device, generator, gen_c)
        fake_logits = self._D(augment(fake, generator), gen_c)
        real_logits = self._D(augment(real, generator), c_real)
        loss_d = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        loss_d.backward()
        self.opt_d.step()
        augment.update(real_logits)
        # Dreg: lazy R1 on reals, weighted by the interval
        if self.r1_gamma > 0 and self.n_steps % self.r1_interval == 0:
            self.opt_d.zero_grad(set_to_none=True)
            penalty, _ = r1_penalty(self.D, real, augment, generator, c_real)
            (penalty.mean() * (self.r1_gamma / 2) * self.r1_interval).backward()
            self.opt_d.step()
        # G_ema: NVlabs ramps the half-life with cur_nimg, the images shown *before* this
        # step (so the first update, at 0 images, copies G), and adds the batch afterwards
        ema_update(self.G_ema, G, ema_beta(b, self.ema_kimg, self.n_images))
        self.n_steps += 1
        self.n_images += b
        G.noise_gen = None
        return torch.stack([loss_d, loss_g, torch.sigmoid(real_logits).mean(),
                            torch.sigmoid(fake_logits).mean()]).detach()


def auto_r1_gamma(res: int, batch_size: int) -> float:
    """NVlabs' "auto" config: ``gamma = 0.0002 * res^2 / batch``."""
    return 0.0002 * res ** 2 / batch_size


# ----------------------------------------------------------------------------- registry
#: NVlabs' Adam, under either config name (paper B trained StyleGAN2-ADA as it comes).
STYLEGAN2_OPTIM = {"lr": 0.0025, "betas": (0.0, 0.99), "eps": 1e-8}
@dataclass
class StyleGAN2Options(Options):
    """StyleGAN2's own settings (``nz`` is the z and w size; ngf/ndf are unused)."""

    sg_channels: int = option(64, "feature maps per layer at most (channel_base = 16 x it)",
                              flag="--channels")
    sg_map_layers: int = option(2, "mapping network layers")
    r1_gamma: float | None = option(None, "R1 weight", flag="--r1-gamma",
                                    default_text="NVlabs' auto 0.0002 res^2 / batch")
    pl_weight: float = option(0.0, "path-length regularisation weight", flag="--pl-weight",
                              default_text="0: off")
    ema_kimg: float | None = option(None, "G-EMA half-life in kimg (None: NVlabs' auto "
                                          "batch * 10 / 32)")
    mixing_prob: float = option(0.0, "style-mixing probability")
    sg_lr: float | None = option(None, "Adam lr of G and D (None: STYLEGAN2_OPTIM's 0.0025)",
                                 key_default=True)
    sg_cond: bool = option(False, "class-conditional (NVlabs' --cond): --data's class "
                                  "sub-folders are the labels", flag="--cond",
                           key_default=True, default_text="off")
    sg_classes: list | None = option(None, "a conditional run's class names, sorted (None: "
                                           "taken from the data)", key_default=True)
    sg_cond_class: str | None = option(None, "the class a conditional run samples, a class "
                                             "sub-folder's name (unset: the first, sorted)",
                                       key_default=True,
                                       sample_flag="--class", metavar="NAME")

    def validate(self) -> None:
        for name in ("sg_channels", "sg_map_layers"):
            setattr(self, name, check_int(name, getattr(self, name), 1))
        check_number("r1_gamma", self.r1_gamma, allow_none=True)
        check_number("pl_weight", self.pl_weight)
        check_number("ema_kimg", self.ema_kimg, zero_ok=False, allow_none=True)
        check_number("mixing_prob", self.mixing_prob, at_most_one=True)
        check_number("sg_lr", self.sg_lr, zero_ok=False, allow_none=True)
        self._check_cond()

    def _check_cond(self) -> None:
        check_bool("sg_cond", self.sg_cond)
        for name in ("sg_classes", "sg_cond_class"):
            if getattr(self, name) is not None and not self.sg_cond:
                raise ValueError(f"{name} needs a class-conditional run (sg_cond, train "
                                 f"--cond); this one is unconditional")
        if self.sg_classes is not None:
            names = self.sg_classes
            if (not isinstance(names, (list, tuple)) or len(names) < 2
                    or not all(isinstance(n, str) for n in names)
                    or list(names) != sorted(set(names))):
                raise ValueError(f"sg_classes must be 2 or more distinct class names in "
                                 f"sorted order, got {names!r}")
            self.sg_classes = list(names)
        c = self.sg_cond_class
        if c is not None and not (isinstance(c, str) and
                                  (self.sg_classes is None or c in self.sg_classes)):
            raise ValueError(f"unknown class {c!r}" + (
                f"; the run's classes: {', '.join(self.sg_classes)}" if self.sg_classes
                else ": sg_cond_class must be a class name (a sub-folder of the data)"))

    @property
    def class_index(self) -> int:
        """The index of the class a conditional run samples (``sg_classes`` must be set)."""
        return self.sg_classes.index(self.sg_cond_class or self.sg_classes[0])


#: StyleGAN2's options (all left out of other models' run keys).
STYLEGAN2_FIELDS = tuple(f.name for f in fields(StyleGAN2Options))


def _optim(cfg) -> dict:
    """:data:`STYLEGAN2_OPTIM`, its lr replaced by ``cfg.options.sg_lr`` when set."""
    lr = cfg.options.sg_lr
    return STYLEGAN2_OPTIM if lr is None else {**STYLEGAN2_OPTIM, "lr": float(lr)}


class ClassLatent(GaussianLatent):
    """A conditional G's latent: :class:`GaussianLatent`'s ``z``, then the one-hot of the
    class it samples (``cls``, an index; :meth:`set_class`). No parameters or buffers."""

    def __init__(self, nz: int, c_dim: int, cls: int = 0):
        super().__init__(nz)
        self.c_dim, self.out_dim = int(c_dim), nz + int(c_dim)
        self.set_class(cls)

    def set_class(self, cls: int) -> None:
        """Sample class ``cls`` (0 <= cls < c_dim) from now on."""
        if isinstance(cls, bool) or not isinstance(cls, int) or not 0 <= cls < self.c_dim:
            raise ValueError(f"class index must be in [0, {self.c_dim}), got {cls!r}")
        self.cls = cls

    def forward(self, eps: torch.Tensor) -> torch.Tensor:
        cls = torch.full(eps.shape[:1], self.cls, dtype=torch.long, device=eps.device)
        return torch.cat([eps, F.one_hot(cls, self.c_dim).to(eps.dtype)], dim=1)


def _networks(cfg) -> tuple:
    o = cfg.options
    kw = dict(channel_base=16 * o.sg_channels, channel_max=o.sg_channels)
    if not o.sg_cond:
        return (GaussianLatent(cfg.nz),
                Generator(cfg.res, cfg.nz, cfg.nz, map_layers=o.sg_map_layers, **kw),
                Discriminator(cfg.res, **kw))
    if o.sg_classes is None:
        raise ValueError("a conditional stylegan2 (sg_cond) needs sg_classes; train() "
                         "takes them from the data's class sub-folders")
    c = len(o.sg_classes)
    return (ClassLatent(cfg.nz, c, o.class_index),
            Generator(cfg.res, cfg.nz, cfg.nz, map_layers=o.sg_map_layers, c_dim=c, **kw),
            Discriminator(cfg.res, c_dim=c, **kw))


def _extra_channels(cfg) -> int:
    """A conditional run's items carry their class index as one constant plane."""
    return 1 if cfg.options.sg_cond else 0


def _load_folder(path, cfg) -> tuple:
    """Unconditional: the engine's default. Conditional: a labelled folder
    (:func:`paperlib.data.folders.load_class_folders`), each image followed by its class
    index as a constant plane; the identity records the class names."""
    if not cfg.options.sg_cond:
        return load_folder(path, cfg.res, strict=False).images, {}
    loaded, labels, classes = load_class_folders(path, cfg.res)
    plane = labels.float().view(-1, 1, 1, 1).expand(-1, 1, cfg.res, cfg.res)
    return torch.cat([loaded.images, plane], dim=1), {"classes": classes}


def _prepare(cfg, images, data=None):
    """A conditional run's ``sg_classes``: the data's class names (a tensor's: "0", "1",
    ...); ``sg_cond_class`` must be one of them."""
    o = cfg.options
    if not o.sg_cond:
        return cfg
    labels = images[:, 3, 0, 0]
    classes = (data or {}).get("classes") or [str(i) for i in range(int(labels.max()) + 1)]
    if not bool(((labels >= 0) & (labels < len(classes)) & (labels == labels.round())).all()):
        raise ValueError(f"the label plane must hold class indices 0..{len(classes) - 1}")
    if o.sg_classes is not None and list(o.sg_classes) != list(classes):
        raise ValueError(f"sg_classes={o.sg_classes} but the data's classes are {classes}")
    options = replace(o, sg_classes=list(classes))
    options.validate()   # at least 2 classes; a known sg_cond_class
    return replace(cfg, options=options)


def _step(cfg, latent, G, D, device) -> StyleGAN2Step:
    o = cfg.options
    gamma = o.r1_gamma if o.r1_gamma is not None else auto_r1_gamma(cfg.res, cfg.batch_size)
    ema = o.ema_kimg if o.ema_kimg is not None else cfg.batch_size * 10 / 32
    return StyleGAN2Step(latent, G, D, r1_gamma=gamma, pl_weight=o.pl_weight,
                         ema_kimg=ema, mixing_prob=o.mixing_prob, **cfg.optim)


def _truncation(G: Generator, z: torch.Tensor, psi: float,
                noise_gen: torch.Generator | None = None) -> torch.Tensor:
    """``G``'s images of ``z`` with ``w = w_avg + psi (w - w_avg)``; ``w_avg`` is the mean w
    tracked in training (NVlabs' ``mapping.w_avg``, decay 0.995 from zero per step: after
    under ~1000 steps it is still pulled toward zero). Stored in checkpoints already."""
    return G(z, truncation_psi=float(psi), noise_gen=noise_gen)


#: Sizes per profile (``kimg``: the artist-alone stage's budget); ``"default"``: a profile of
#: another name (calibration: docs/DECISIONS.md, "StyleGAN2").
PROFILE_SIZES = {
    "default": {"kimg": 50.0, "batch_size": 32, "nz": 128, "sg_channels": 32, "r1_gamma": None,
                "sg_lr": None},
    "smoke": {"kimg": 0.07, "batch_size": 16, "nz": 16, "sg_channels": 8},
    # benchmarks/calibrate_stylegan2_configs.py: lr 0.01 (4x NVlabs') for a 4-core-minute run
    "cpu": {"kimg": 64.0, "batch_size": 32, "nz": 128, "sg_channels": 32, "sg_lr": 0.01},
    # NVlabs' auto config at 64 px, 256 maps (NVlabs: 512); budget not calibrated (no GPU)
    "paper": {"kimg": 2000.0, "batch_size": 32, "nz": 512, "sg_channels": 256},
}

#: Measured training seconds per kimg (docs/DECISIONS.md, "Seconds per kimg").
SECONDS_PER_KIMG = {"smoke": 7.0, "cpu": 6.5}


def _stage_defaults(prof, data_dir, settings) -> tuple[dict, str]:
    """Notebooks 01 and 05 train StyleGAN2 with the profile's ``b_augment``."""
    return {"augment": prof.b_augment}, ""

register(ModelSpec(name="stylegan2", networks=_networks, step=_step,
                   profile_sizes=sizes_by_profile(PROFILE_SIZES), optim=_optim,
                   options=StyleGAN2Options, seconds_per_kimg=SECONDS_PER_KIMG,
                   extra_channels=_extra_channels, load_folder=_load_folder,
                   prepare=_prepare,
                   sample_module="G_ema", noise_inputs=True, truncation=_truncation,
                   stage_defaults=_stage_defaults,
                   family="StyleGAN2-ADA", help="StyleGAN2 with ADA (paper B)"))
