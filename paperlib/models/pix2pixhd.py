"""A compact Pix2pixHD (Wang et al. 2018) in pure PyTorch: paper B's conditional model family.

The networks follow NVIDIA's ``pix2pixHD``; the code is our own: the global generator (no
local enhancer at 32-128 px), multi-scale PatchGAN discriminators on (map, image) pairs,
LSGAN + feature matching, the VGG19 loss only with user-supplied weights (nothing is
downloaded), optionally pix2pix's L1 term, instance-boundary maps and the instance-wise feature
encoder (:mod:`paperlib.models.p2p_encoder`). Our fix: the generator defaults to no
normalisation, PyTorch's init and a full-resolution skip (``p2p_norm="none"``,
``p2p_skip=True``; pix2pixHD: ``"instance"``, ``False``), with which it learns the maps
instead of memorising them (docs/DECISIONS.md, "Pix2pixHD").

Training goes through the shared engine (:class:`Pix2PixHDStep`): each item is one tensor,
image channels then the map's; the "latent" is a :class:`paperlib.data.paired.MapSource`.
Augmentation is not supported (it would have to transform map and image alike)."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.paired import (
    MAP_SOURCES,
    MapSource,
    Pairs,
    has_instances,
    instance_edges,
    load_pairs,
    resolve_map_source,
)
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
from .p2p_encoder import EncodedGenerator, Encoder


def _check_res(res: int) -> int:
    return check_res(res, RES_CHOICES)


#: The generator's upsampling (``p2p_up``): pix2pixHD's stride-2 transposed convolution, or
#: a nearest resize + 3x3 convolution (Odena et al. 2016's remedy for checkerboard artefacts).
G_UPSAMPLING = ("transpose", "resize")
#: The generator's normalisation (``p2p_norm``): none (our fix) or pix2pixHD's instance norm.
G_NORMS = ("none", "instance")


def _norm(c: int) -> nn.Module:
    return nn.InstanceNorm2d(c, affine=False)


def _g_norm(kind: str):
    if kind not in G_NORMS:
        raise ValueError(f"generator norm must be one of {G_NORMS}, got {kind!r}")
    return _norm if kind == "instance" else (lambda c: nn.Identity())


class ResnetBlock(nn.Module):
    def __init__(self, c: int, norm=_norm):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c))

    def forward(self, x):
        return x + self.block(x)


class GlobalGenerator(nn.Module):
    """``G(map) -> image``: (B, in_c, res, res) -> (B, 3, res, res) in [-1, 1].

    ``head`` (7x7 conv, norm, ReLU), ``body`` (``n_down`` stride-2 downsamplings,
    ``n_blocks`` residual blocks, as many upsamplings), ``tail`` (7x7 conv, tanh). ``norm``:
    ``"instance"`` (pix2pixHD) or ``"none"``; ``skip``: the tail also sees the head's
    features and the map scaled to [-1, 1] (U-Net's outermost skip)."""

    def __init__(self, in_c: int, out_c: int = 3, ngf: int = 32, n_down: int = 2,
                 n_blocks: int = 6, norm: str = "instance", skip: bool = False,
                 up: str = "transpose"):
        super().__init__()
        nl = _g_norm(norm)
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_c, ngf, 7), nl(ngf),
                                  nn.ReLU(True))
        body, c = [], ngf
        for _ in range(n_down):
            body += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nl(2 * c), nn.ReLU(True)]
            c *= 2
        body += [ResnetBlock(c, nl) for _ in range(n_blocks)]
        if up not in G_UPSAMPLING:
            raise ValueError(f"up must be one of {G_UPSAMPLING}, got {up!r}")
        for _ in range(n_down):
            if up == "transpose":   # pix2pixHD's
                body += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1)]
            else:                   # nearest resize, then a 3x3 convolution (no checkerboard)
                body += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                         nn.Conv2d(c, c // 2, 3)]
            body += [nl(c // 2), nn.ReLU(True)]
            c //= 2
        self.body = nn.Sequential(*body)
        tail_in = c + (ngf + in_c if skip else 0)
        self.tail = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(tail_in, out_c, 7), nn.Tanh())
        self.in_c, self.n_down, self.norm, self.skip = in_c, n_down, norm, bool(skip)

    def forward(self, label_map: torch.Tensor, noise_gen: torch.Generator | None = None
                ) -> torch.Tensor:
        """``noise_gen`` is ignored: no noise inputs besides the map (the step interface)."""
        if label_map.shape[-1] % (2 ** self.n_down):
            raise ValueError(f"map size {label_map.shape[-1]} is not divisible by "
                             f"2^{self.n_down}")
        h = self.head(label_map)
        y = self.body(h)
        if self.skip:      # (the map in [-1, 1]: centred, the tail learns much faster)
            y = torch.cat([y, h, 2 * label_map - 1], 1)
        return self.tail(y)


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


def init_weights(module: nn.Module) -> None:
    """pix2pixHD's ``weights_init``: convolutions N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class VGGLoss(nn.Module):
    """pix2pixHD's perceptual loss on VGG19 features from a user-supplied weights file: a
    torchvision ``vgg19`` state dict (only its ``features.*`` entries up to relu5_1 are
    read; loaded with ``weights_only=True``)."""

    SLICES = (2, 7, 12, 21, 30)        # ends of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
    WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)

    def __init__(self, weights_path):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        self.features = make_layers(cfgs["E"])[:self.SLICES[-1]]
        try:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
            wanted = self.features.state_dict()
            self.features.load_state_dict({k: state[f"features.{k}"] for k in wanted})
        except (OSError, RuntimeError, KeyError, ValueError, TypeError,
                AttributeError) as err:
            raise ValueError(f"cannot load VGG19 weights from {weights_path} (a torchvision "
                             f"vgg19 state dict is needed): {err!r}") from None
        self.features.eval()
        for p in self.features.parameters():
            p.requires_grad_(False)

    def forward(self, x, y):
        loss, start = x.new_zeros(()), 0
        for end, w in zip(self.SLICES, self.WEIGHTS):
            block = self.features[start:end]
            x, y = block(x), block(y)
            loss = loss + w * F.l1_loss(x, y.detach())
            start = end
        return loss


class Pix2PixHDStep:
    """Pix2pixHD's step object. ``step(batch, augment, generator)``: ``batch`` is images,
    then G's conditioning; returns ``[d_loss, g_loss, d_real, d_fake]`` (LSGAN D loss halved;
    G: adversarial + feature matching (+ VGG, + L1); D's mean last output over the scales).
    ``augment`` is unused. With the encoder, clusters are refitted at every epoch's end.

    lr schedule (``decay``): over the last ``decay`` share of the ``T`` planned updates, update
    ``t`` has ``lr * (T - t) / (decay * T)``; set from the step count (the only extra state),
    so a resumed run follows it exactly."""

    def __init__(self, maps, G, D, lr: float = 2e-4, betas=(0.5, 0.999),
                 lambda_feat: float = 10.0, vgg=None, lambda_vgg: float = 10.0,
                 lambda_l1: float = 0.0, batch_size: int | None = None, seed: int = 0,
                 decay: float = 0.0, epochs: int | None = None):
        self.latent, self.G, self.D = maps, G, D
        self.opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
        self.modules = {"G": G, "D": D, "latent": maps}
        self.optimizers = {"opt_g": self.opt_g, "opt_d": self.opt_d}
        self.lambda_feat, self.vgg, self.lambda_vgg = lambda_feat, vgg, lambda_vgg
        self.lambda_l1 = lambda_l1
        self.batch_size, self.seed = batch_size, int(seed)
        self.steps = 0                       # updates done (checkpointed)
        self.data = None
        self.lr, self.decay, self.epochs = lr, float(decay), epochs

    @property
    def encoder(self) -> bool:
        return isinstance(self.G, EncodedGenerator)

    def bind_data(self, data: torch.Tensor) -> None:
        """The engine's training pairs: their conditioning is what the fixed grid
        translates (and, with the encoder, what the clusters are fitted on)."""
        self.latent.set_bank(data[:, 3:])
        self.data = data

    def steps_per_epoch(self) -> int | None:
        if self.data is None or not self.batch_size:
            return None
        return -(-len(self.data) // int(self.batch_size))

    def lr_at(self, t: int) -> float:
        """The learning rate of update ``t`` (0-based) under the schedule."""
        if not self.decay:
            return self.lr
        per_epoch = self.steps_per_epoch()
        if per_epoch is None or not self.epochs:
            raise ValueError("the lr decay needs the run's length: epochs, batch_size and "
                             "the training data (bind_data)")
        total = self.epochs * per_epoch
        return self.lr * min(1.0, max(0.0, (total - t) / (self.decay * total)))

    def step(self, batch, augment, generator) -> torch.Tensor:
        if self.decay:
            lr = self.lr_at(self.steps)
            for opt in (self.opt_g, self.opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
        real, cond = batch[:, :3], batch[:, 3:]
        if self.encoder:
            maps, inst, _ = self.G.split(cond)
            fake = self.G.G(torch.cat([maps, self.G.encode(real, inst)], 1))
        else:
            maps, fake = cond, self.G(cond)
        pred_fake_d = self.D(torch.cat([maps, fake.detach()], 1))
        pred_real = self.D(torch.cat([maps, real], 1))
        pred_fake = self.D(torch.cat([maps, fake], 1))
        loss_d = 0.5 * (lsgan_loss(pred_fake_d, False) + lsgan_loss(pred_real, True))
        loss_g = lsgan_loss(pred_fake, True) + feature_matching_loss(
            pred_fake, pred_real, self.D.n_layers, self.lambda_feat)
        if self.vgg is not None:
            loss_g = loss_g + self.lambda_vgg * self.vgg(fake, real)
        if self.lambda_l1:
            loss_g = loss_g + self.lambda_l1 * F.l1_loss(fake, real)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        self.steps += 1
        per_epoch = self.steps_per_epoch()
        if self.encoder and per_epoch and self.steps % per_epoch == 0:
            self.G.fit_clusters(self.data[:, :3], self.data[:, 3:], seed=self.seed)
        with torch.no_grad():
            d_real = torch.stack([p[-1].mean() for p in pred_real]).mean()
            d_fake = torch.stack([p[-1].mean() for p in pred_fake_d]).mean()
        return torch.stack([loss_d, loss_g, d_real, d_fake]).detach()

    def sampler(self):
        return self.latent, self.G

    def train(self) -> None:
        self.G.train(), self.D.train()

    def extra_state(self) -> dict:
        return {"steps": self.steps}

    def load_extra_state(self, state: dict) -> None:
        self.steps = int(state.get("steps", 0))


def build(res: int, in_c: int, ngf: int = 32, ndf: int = 32, n_blocks: int = 6,
          num_d: int = 2, norm: str = "none", skip: bool = True, feat: int = 0,
          up: str = "transpose") -> tuple[GlobalGenerator, MultiscaleDiscriminator]:
    """``(G, D)`` for ``res`` px maps with ``in_c`` channels: 2 downsamplings at 32 px, 3 at
    64 and 128 (the bottleneck stays at 8 or 16 px); D sees (map, image) pairs, G the map
    and ``feat`` feature channels. ``norm`` and ``skip``: the generator's
    (:class:`GlobalGenerator`; defaults: our fix)."""
    _check_res(res)
    n_down = 2 if res == 32 else 3
    return (GlobalGenerator(in_c + feat, 3, ngf, n_down, n_blocks, norm, skip, up),
            MultiscaleDiscriminator(in_c + 3, ndf, 3, num_d))


def networks(cfg) -> tuple:
    """``(MapSource, G, D)`` of a pix2pixhd TrainConfig (``map_channels`` must be set),
    initialised from torch's global RNG: D with pix2pixHD's ``weights_init``, G too only with
    instance norm. With ``p2p_feat`` G is an
    :class:`~paperlib.models.p2p_encoder.EncodedGenerator` and the map source also takes
    instance ids (and images for "gt")."""

    if cfg.options.map_channels is None:
        raise ValueError("pix2pixhd needs map_channels (train() takes it from the data)")
    G, D = build(cfg.res, cfg.options.map_channels, cfg.ngf, cfg.ndf, cfg.options.p2p_blocks, cfg.options.p2p_num_d,
                 cfg.options.p2p_norm, cfg.options.p2p_skip, cfg.options.p2p_feat, cfg.options.p2p_up)
    if cfg.options.p2p_norm == "instance":
        init_weights(G)
    init_weights(D)
    if not cfg.options.p2p_feat:
        return MapSource(cfg.options.map_channels), G, D
    E = Encoder(cfg.options.p2p_feat, cfg.ngf, G.n_down)
    init_weights(E)
    n_classes = cfg.options.map_channels - int(cfg.options.p2p_boundary)
    G = EncodedGenerator(G, E, cfg.options.map_channels, n_classes, cfg.options.p2p_feat, cfg.options.p2p_clusters)
    return MapSource(cfg.options.map_channels + 1, accept=(cfg.options.map_channels + 4,)), G, D


def step_for(cfg, maps, G, D, device) -> Pix2PixHDStep:
    """The engine's model step for ``cfg`` (with the VGG loss when ``cfg.options.vgg_weights``)."""
    vgg = VGGLoss(cfg.options.vgg_weights).to(device) if cfg.options.vgg_weights else None
    return Pix2PixHDStep(maps, G, D, **cfg.optim, lambda_feat=cfg.options.fm_lambda, vgg=vgg,
                         lambda_vgg=cfg.options.vgg_lambda, lambda_l1=cfg.options.l1_lambda,
                         batch_size=cfg.batch_size, seed=cfg.seed, decay=cfg.options.p2p_decay,
                         epochs=cfg.epochs)


#: How an encoder run's instances get their features at test time: drawn from the
#: per-class clusters of the training features, or encoded from the real images
#: (``"gt"``: the upper bound).
FEATURE_MODES = ("clusters", "gt")


def model_inputs(cfg, pairs: Pairs, features: str = "clusters") -> torch.Tensor:
    """What ``cfg``'s generator is fed for ``pairs`` (:class:`paperlib.data.paired.Pairs`):
    the maps, with the instance-boundary channel when ``cfg.options.p2p_boundary`` (dropped or
    added from the pairs' instance ids as needed); with the feature encoder
    (``cfg.options.p2p_feat``) then the instance ids, and for ``features="gt"`` the images."""
    if features not in FEATURE_MODES:
        raise ValueError(f"features must be one of {FEATURE_MODES}, got {features!r}")
    maps = pairs.maps
    if pairs.boundary and not cfg.options.p2p_boundary:
        maps = maps[:, :-1]
    elif cfg.options.p2p_boundary and not pairs.boundary and pairs.instances is not None:
        maps = torch.cat([maps, instance_edges(pairs.instances)], 1)
    if not cfg.options.p2p_feat:
        return maps
    if pairs.instances is None:
        raise ValueError(f"p2p_feat needs instance ids, and map source {pairs.map_source!r} "
                         "has none: use recipe or forms maps or a folder of maps")
    parts = [maps, pairs.instances] + ([pairs.images] if features == "gt" else [])
    return torch.cat(parts, 1)


def join_pairs(pairs: Pairs, cfg) -> torch.Tensor:
    """The training tensor of ``pairs`` for ``cfg``: image channels, then
    :func:`model_inputs`."""
    return torch.cat([pairs.images, model_inputs(cfg, pairs)], 1)


@torch.no_grad()
def translate(run, maps, batch_size: int = 256, features: str = "clusters") -> torch.Tensor:
    """A loaded Pix2pixHD run's images for ``maps`` -- a :class:`paperlib.data.paired.Pairs`
    (through :func:`model_inputs`, ``features`` as there) or G's input tensor -- as
    (N, 3, res, res) in [-1, 1] on the CPU, in order."""
    if not hasattr(run.latent, "set_bank"):
        raise ValueError(f"{run.config.model} is not a conditional model: it has no maps to "
                         "translate")
    if isinstance(maps, Pairs):
        maps = model_inputs(run.config, maps, features)
    elif features != "clusters":
        raise ValueError("ground-truth features need the images: pass a Pairs")
    run.latent.set_bank(maps.to(run.device))
    return run.sample(len(maps), batch_size=batch_size)


# ----------------------------------------------------------------------------- registry
#: pix2pixHD's Adam, under either config name.
PIX2PIXHD_OPTIM = {"lr": 2e-4, "betas": (0.5, 0.999)}
@dataclass
class Pix2PixHDOptions(Options):
    """Pix2pixHD's own settings (widths are ngf/ndf): the maps and their channels, the
    networks' shape (norm and skip: our fix, module docstring), the loss weights, the
    instance features and the lr decay (pix2pixHD's: :data:`PIX2PIXHD_SCHEDULE`)."""

    map_source: str = option(
        "auto", "where each image's input map comes from: auto (recipe for a stand-in artist "
        "set, else edges), recipe, forms (the fidelity form finder), edges (Sobel), or a "
        "folder of your own maps named like the images (outside --data)", flag="--maps")
    map_channels: int | None = option(None, "the maps' channels (None: taken from the data)")
    p2p_blocks: int = option(6, "generator residual blocks")
    p2p_num_d: int = option(2, "discriminator scales")
    fm_lambda: float = option(10.0, "feature-matching loss weight")
    vgg_weights: str | None = option(
        None, "a torchvision vgg19 state-dict file; turns on the VGG perceptual loss",
        flag="--vgg-weights", type=Path, metavar="PATH",
        default_text="not used; nothing is downloaded")
    vgg_lambda: float = option(10.0, "VGG perceptual loss weight")
    p2p_norm: str = option("none", f"generator normalisation: one of {G_NORMS}")
    p2p_skip: bool = option(True, "generator skip from the input maps")
    l1_lambda: float = option(0.0, "pix2pix's L1 weight (0: off)")
    p2p_boundary: bool = option(True, "instance-boundary channel of label maps")
    p2p_feat: int = option(0, "instance-wise feature channels (0: no encoder)")
    p2p_clusters: int = option(10, "feature clusters per class")
    p2p_decay: float = option(0.0, "share of the run, at its end, over which lr decays "
                                   "linearly to 0 (0: constant)")
    p2p_up: str = option("transpose", f"generator upsampling: one of {G_UPSAMPLING}",
                         key_default=True)

    def validate(self) -> None:
        self.p2p_blocks = check_int("p2p_blocks", self.p2p_blocks, 1)
        self.p2p_num_d = check_int("p2p_num_d", self.p2p_num_d, 1)
        self.map_channels = check_int("map_channels", self.map_channels, 1, allow_none=True)
        for name in ("fm_lambda", "vgg_lambda"):
            check_number(name, getattr(self, name))
        if self.p2p_up not in G_UPSAMPLING:
            raise ValueError(f"p2p_up must be one of {G_UPSAMPLING}, got {self.p2p_up!r}")
        if self.p2p_norm not in G_NORMS:
            raise ValueError(f"p2p_norm must be one of {G_NORMS}, got {self.p2p_norm!r}")
        for name in ("p2p_skip", "p2p_boundary"):
            check_bool(name, getattr(self, name))
        self.p2p_feat = check_int("p2p_feat", self.p2p_feat, 0)
        self.p2p_clusters = check_int("p2p_clusters", self.p2p_clusters, 1)
        if self.p2p_feat and self.map_source in ("edges", "identity"):
            raise ValueError(f"p2p_feat needs instance ids: map source {self.map_source!r} "
                             "has none (use recipe or forms maps or a folder of maps)")
        d = self.p2p_decay
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= d <= 1:
            raise ValueError(f"p2p_decay must be a number in [0, 1], got {d!r}")
        check_number("l1_lambda", self.l1_lambda)
        self._check_files()

    def _check_files(self) -> None:
        if not isinstance(self.map_source, str) or not (
                self.map_source in MAP_SOURCES or Path(self.map_source).is_dir()):
            raise ValueError(f"map_source must be one of {MAP_SOURCES} or an existing "
                             f"folder of maps, got {self.map_source!r}")
        if self.vgg_weights is not None:
            self.vgg_weights = str(self.vgg_weights)
            if not Path(self.vgg_weights).is_file():
                raise ValueError(f"vgg_weights file {self.vgg_weights} does not exist")


#: Pix2pixHD's options (all left out of other models' run keys).
PIX2PIXHD_FIELDS = tuple(f.name for f in fields(Pix2PixHDOptions))


#: pix2pixHD's training schedule (``train.py``: batch 1, lr constant for 100 epochs, then
#: linearly to 0 over 100) as TrainConfig overrides, e.g.
#: ``engine.profile_config(prof, "pix2pixhd", **PIX2PIXHD_SCHEDULE, ...)``. Not the
#: profiles' default (batch 1 is slow on a CPU).
PIX2PIXHD_SCHEDULE = {"batch_size": 1, "p2p_decay": 0.5}


def _load_folder(path, cfg) -> tuple:
    pairs = load_pairs(path, cfg.res, cfg.options.map_source, boundary=cfg.options.p2p_boundary)
    return join_pairs(pairs, cfg), {"map_source": pairs.map_source}


def _prepare(cfg, images, data=None):
    """The maps' channels come from the data (image channels first, then the map's, then
    with the feature encoder the instance ids)."""
    n_map = images.shape[1] - 3 - (1 if cfg.options.p2p_feat else 0)
    if cfg.options.map_channels not in (None, n_map):
        raise ValueError(f"map_channels={cfg.options.map_channels} but the data's maps have "
                         f"{n_map} channels")
    return replace(cfg, options=replace(cfg.options,
                                                                map_channels=n_map))


def _validate(cfg) -> None:
    """What the options cannot check alone: augmentation is off."""
    if cfg.augment != "none":
        raise ValueError("pix2pixhd does not support augmentation (map and image "
                         f"would have to be transformed alike); got augment={cfg.augment!r}")


def _bind_eval_data(run, data_dir) -> None:
    """Evaluation translates ``data_dir``'s own maps, in order (cycling past the last)."""
    cfg = run.config
    pairs = load_pairs(data_dir, int(cfg.res), cfg.options.map_source, boundary=cfg.options.p2p_boundary)
    run.latent.set_bank(model_inputs(cfg, pairs).to(run.device))


#: Sizes per profile (``kimg``: thousands of (map, image) pairs shown); ``"default"``: a
#: profile of another name. ``l1_lambda`` 100 is pix2pix's L1 term (pix2pixHD has none);
#: (calibration: docs/DECISIONS.md, "Pix2pixHD").
PROFILE_SIZES = {
    "default": {"kimg": 16.0, "batch_size": 16, "ngf": 16, "ndf": 16, "p2p_blocks": 6,
                "p2p_feat": 3, "p2p_decay": 0.5, "p2p_num_d": 2, "l1_lambda": 100.0,
                "p2p_up": "resize"},
    "smoke": {"kimg": 0.07, "ngf": 4, "ndf": 4, "p2p_blocks": 1, "p2p_num_d": 1},
    # batch 4; one D scale at 32 px (a 70x70 PatchGAN already sees the whole image)
    "cpu": {"kimg": 16.0, "batch_size": 4, "p2p_num_d": 1},
    # pix2pixHD's widths (ngf/ndf 64, 9 blocks); budget not calibrated (no GPU)
    "paper": {"kimg": 500.0, "batch_size": 8, "ngf": 64, "ndf": 64, "p2p_blocks": 9},
}


def stage_defaults(prof, data_dir, settings) -> tuple[dict, str]:
    """Notebook 01b's adaptation to a training folder: maps without instance ids (``edges``,
    ``identity``; a user's folder under ``map_source="auto"``) cannot feed the instance-wise
    feature encoder, so a profile's ``p2p_feat`` is turned off for them and the note says so."""
    source = settings.get("map_source", "auto")
    if data_dir is None or not settings.get("p2p_feat") or has_instances(data_dir, source):
        return {}, ""
    note = (f"{Path(data_dir).name}: its maps ({resolve_map_source(data_dir, source)}) carry "
            "no instance ids, so the instance-wise feature encoder is off and the map has no "
            "boundary channel; give a folder of label maps (one flat colour per class: "
            "connected components become the instances) to use both")
    return {"p2p_feat": 0}, note


register(ModelSpec(name="pix2pixhd", networks=networks, step=step_for,
                   profile_sizes=sizes_by_profile(PROFILE_SIZES),
                   optim=lambda cfg: PIX2PIXHD_OPTIM, options=Pix2PixHDOptions,
                   data_kind="pairs", load_folder=_load_folder, join_pairs=join_pairs,
                   prepare=_prepare,
                   validate=_validate, bind_eval_data=_bind_eval_data,
                   seconds_per_kimg={"cpu": 9.0},   # measured (docs/DECISIONS.md)
                   stage_defaults=stage_defaults,
                   family="Pix2pixHD", help="Pix2pixHD, conditional: map -> image (paper B)"))
