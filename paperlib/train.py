"""One training loop for DCGAN, DeLiGAN and the proposed model (paper A).

The loop is the PyTorch examples' ``dcgan/main.py``: Adam, BCE (on logits), a D step on a
real and a fake batch, then a non-saturating G step. The only model-specific part is the
latent module (how ``z`` is sampled and mapped, and its ``extra_loss``; see
:mod:`paperlib.models`). Optional DiffAugment/ADA (:mod:`paperlib.augment`) wraps every
D call.

Optimiser settings (``TrainConfig.config``): ``"paper"`` -- Adam lr 1e-2, betas
(0.5, 0.999). Paper A states only "Adam, learning rate 1e-2, batch size 35"; the betas are
DCGAN's (Radford et al.) -- our assumption. ``"conventional"`` -- DCGAN's lr 2e-4, betas
(0.5, 0.999).

Run folder written by :func:`train`::

    out/
      config.json              TrainConfig + identity (size, sha1) of the training images
      status.json              {"status": "running" | "finished" | "diverged at epoch E",
                                "epochs_done", "epochs_target", "last_checkpoint", ...}
                               ("running" is also what a killed run leaves: rerun to resume)
      log.csv                  one row per epoch: epoch, d_loss, g_loss, d_real, d_fake
                               [, sigma_mean, sigma_min, sigma_max (deligan)], aug_p, seconds
      samples/epoch_0005.png   8x8 grid of a FIXED noise batch (G in eval mode), every
                               sample_every epochs and at the last epoch
      checkpoints/epoch_0005.pt  every ckpt_every epochs and at the last epoch, all kept:
                               G, D, latent, both optimisers, augmenter, generator states,
                               epoch, fixed noise (plain tensors/dicts: weights_only-loadable)

``d_loss = BCE(D(x), 1) + BCE(D(G(z)), 0)``; ``g_loss = BCE(D(G(z)), 1)`` (G's adversarial
loss; DeLiGAN's regulariser is optimised but not included -- see its sigma columns);
``d_real``/``d_fake`` are mean ``sigmoid(D(.))`` in the D step. All are epoch means.

Reproducibility: parameters are initialised from ``torch.manual_seed(seed)`` (in a forked
RNG, leaving the caller's global RNG alone); shuffling, noise and augmentation draw only
from two explicit ``torch.Generator`` whose states are checkpointed. So on CPU the same
seed gives identical losses, and a run killed at any point and resumed from its last
checkpoint ends with exactly the numbers of an uninterrupted run. Different CPU thread
counts, other machines or CUDA (non-deterministic kernels) may differ in the last bits.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.utils import save_image
from tqdm.auto import tqdm

from . import __version__
from .augment import AUGMENT_KINDS, Augmenter
from .config import get_device
from .models import MODEL_NAMES as DCGAN_FAMILY
from .models import RES_CHOICES, GaussianLatent, build_models

#: Every model the engine trains: paper A's DCGAN family and paper B's StyleGAN2 and
#: Pix2pixHD (conditional: trained on (map, image) pairs, :mod:`paperlib.paired`).
MODEL_NAMES = (*DCGAN_FAMILY, "stylegan2", "pix2pixhd")
#: TrainConfig fields only one model reads (left out of every other model's run key, so
#: adding a model leaves the others' run names alone).
MODEL_FIELDS = {
    "stylegan2": ("sg_channels", "sg_map_layers", "r1_gamma", "pl_weight", "ema_kimg",
                  "mixing_prob"),
    "pix2pixhd": ("map_source", "map_channels", "p2p_blocks", "p2p_num_d", "fm_lambda",
                  "vgg_weights", "vgg_lambda"),
}
STYLEGAN2_FIELDS = MODEL_FIELDS["stylegan2"]

#: Optimiser per config name (see module docstring for the sources).
OPTIM_CONFIGS = {"paper": {"lr": 1e-2, "betas": (0.5, 0.999)},
                 "conventional": {"lr": 2e-4, "betas": (0.5, 0.999)}}
#: StyleGAN2-ADA's own Adam (NVlabs' configs: lr 0.0025, betas (0, 0.99), eps 1e-8), used by
#: ``model="stylegan2"`` under either config name (paper B trained StyleGAN2-ADA as it comes).
STYLEGAN2_OPTIM = {"lr": 0.0025, "betas": (0.0, 0.99), "eps": 1e-8}
#: pix2pixHD's Adam (lr 2e-4, betas (0.5, 0.999)), used by ``model="pix2pixhd"``.
PIX2PIXHD_OPTIM = {"lr": 2e-4, "betas": (0.5, 0.999)}
N_FIXED = 64  # images in the fixed-noise sample grid
_RESUMABLE = ("epochs", "device")  # config fields that may change when resuming


@dataclass
class TrainConfig:
    """Everything that defines a run. Build it with :func:`make_config` (validates)."""

    model: str                     # dcgan | deligan | proposed | stylegan2 | pix2pixhd
    epochs: int
    seed: int = 0
    config: str = "paper"          # optimiser settings, see OPTIM_CONFIGS
    res: int = 64
    batch_size: int = 35           # paper A
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    sample_every: int = 5
    ckpt_every: int = 5
    deligan_K: int = 50            # our default; reference code: K = batch size
    deligan_lambda: float = 0.1    # our default; reference range 0.05-0.33
    proposed_N: int = 2
    adjust: bool = True            # proposed: latent distribution adjustment layer
    mean_adjust: bool = True       # proposed: latent mean adjustment
    augment: str = "none"          # none | diffaugment | ada
    device: str = "auto"           # auto = CUDA if available ($PAPERLIB_DEVICE overrides)
    threads: int = 1               # torch CPU threads the run pins (part of the run's identity:
                                   # a different count changes the losses in the last bits)
    # StyleGAN2 only (paperlib.stylegan2): channel_max (channel_base = 16 x it), mapping
    # layers, R1 gamma (None: NVlabs' auto 0.0002 res^2 / batch), path-length weight (0: off),
    # G-EMA half-life in kimg (None: NVlabs' auto batch * 10 / 32), style-mixing probability
    sg_channels: int = 64
    sg_map_layers: int = 2
    r1_gamma: float | None = None
    pl_weight: float = 0.0
    ema_kimg: float | None = None
    mixing_prob: float = 0.0
    # Pix2pixHD only (paperlib.pix2pixhd; widths are ngf/ndf): what makes the maps
    # (paperlib.paired: auto | recipe | forms | edges | a folder of maps), their channels
    # (None: taken from the data), residual blocks, discriminator scales, feature-matching
    # weight, a VGG19 weights file for the perceptual loss (None: not used) and its weight
    map_source: str = "auto"
    map_channels: int | None = None
    p2p_blocks: int = 6
    p2p_num_d: int = 2
    fm_lambda: float = 10.0
    vgg_weights: str | None = None
    vgg_lambda: float = 10.0
    init_from: str | None = None   # checkpoint whose G, D, latent weights start the run
                                   # (fine-tuning, e.g. paper B's shape pre-training)
    inject_nan_at_epoch: int | None = None  # FOR TESTS: G's weights become NaN at this epoch

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return make_config(**d)

    @property
    def optim(self) -> dict:
        return {"stylegan2": STYLEGAN2_OPTIM, "pix2pixhd": PIX2PIXHD_OPTIM}.get(
            self.model, OPTIM_CONFIGS[self.config])

    def latent_opts(self) -> dict:
        if self.model == "deligan":
            return {"K": self.deligan_K, "lam": self.deligan_lambda}
        if self.model == "proposed":
            return {"N": self.proposed_N, "adjust": self.adjust, "mean_adjust": self.mean_adjust}
        return {}

    def validate(self) -> "TrainConfig":
        def choice(name, valid):
            if getattr(self, name) not in valid:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; valid: "
                                 f"{', '.join(map(str, valid))}")

        def integer(name, low, allow_none=False):
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
            setattr(self, name, int(v))

        choice("model", MODEL_NAMES)
        choice("config", tuple(OPTIM_CONFIGS))
        choice("augment", AUGMENT_KINDS)
        for name in ("epochs", "res", "batch_size", "nz", "ngf", "ndf", "sample_every",
                     "ckpt_every", "deligan_K", "proposed_N", "threads", "sg_channels",
                     "sg_map_layers", "p2p_blocks", "p2p_num_d"):
            integer(name, 1)
        integer("map_channels", 1, allow_none=True)
        for name, low_ok in (("r1_gamma", True), ("pl_weight", True), ("ema_kimg", False),
                             ("mixing_prob", True), ("fm_lambda", True), ("vgg_lambda", True)):
            v = getattr(self, name)
            if v is None and name in ("r1_gamma", "ema_kimg"):
                continue
            if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                    or v < 0 or (v == 0 and not low_ok) or (name == "mixing_prob" and v > 1)):
                raise ValueError(f"{name} must be a finite number "
                                 + ("in [0, 1]" if name == "mixing_prob" else
                                    ">= 0" if low_ok else "> 0") + f", got {v!r}")
        choice("res", RES_CHOICES)
        integer("seed", 0)
        integer("inject_nan_at_epoch", 1, allow_none=True)
        lam = self.deligan_lambda
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam < math.inf:
            raise ValueError(f"deligan_lambda must be a finite number >= 0, got {lam!r}")
        for name in ("adjust", "mean_adjust"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.model == "pix2pixhd":
            if self.augment != "none":
                raise ValueError("pix2pixhd does not support augmentation (map and image "
                                 f"would have to be transformed alike); got augment={self.augment!r}")
            from .paired import MAP_SOURCES
            if not isinstance(self.map_source, str) or not (
                    self.map_source in MAP_SOURCES or Path(self.map_source).is_dir()):
                raise ValueError(f"map_source must be one of {MAP_SOURCES} or an existing "
                                 f"folder of maps, got {self.map_source!r}")
        if self.vgg_weights is not None:
            self.vgg_weights = str(self.vgg_weights)
            if not Path(self.vgg_weights).is_file():
                raise ValueError(f"vgg_weights file {self.vgg_weights} does not exist")
        if self.init_from is not None:
            self.init_from = str(self.init_from)
            if not Path(self.init_from).is_file():
                raise ValueError(f"init_from checkpoint {self.init_from} does not exist")
        resolve_device(self.device)
        return self


def make_config(**kw) -> TrainConfig:
    """A validated :class:`TrainConfig`; any bad or unknown value raises ``ValueError``."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(kw) - names)
    if unknown:
        raise ValueError(f"unknown training option(s) {unknown}; valid: {sorted(names)}")
    missing = [n for n in ("model", "epochs") if n not in kw]
    if missing:
        raise ValueError(f"missing required training option(s): {missing}")
    if kw.get("device") is None:
        kw["device"] = "auto"
    return TrainConfig(**kw).validate()


def resolve_device(device: str | None) -> torch.device:
    try:
        return get_device(None if device in (None, "auto") else device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"bad device {device!r}: {err}") from None


@dataclass
class RunResult:
    run_dir: Path
    status: str                    # finished | diverged at epoch E
    epochs_done: int
    rows: list                     # log.csv rows (see read_log)

    @property
    def diverged(self) -> bool:
        return self.status.startswith("diverged")


# ----------------------------------------------------------------------------- the step
def train_step(real, G, D, latent, opt_g, opt_d, augment, generator,
               criterion=nn.BCEWithLogitsLoss()) -> torch.Tensor:
    """One DCGAN step on a real batch; returns detached ``[d_loss, g_loss, d_real, d_fake]``."""
    b = real.size(0)
    ones = torch.ones(b, device=real.device)
    zeros = torch.zeros(b, device=real.device)
    # (1) Update D: maximise log D(x) + log(1 - D(G(z)))
    opt_d.zero_grad()
    out_real = D(augment(real, generator))
    err_d_real = criterion(out_real, ones)
    err_d_real.backward()
    fake = G(latent(*latent.sample_noise(b, generator, real.device)))
    out_fake = D(augment(fake.detach(), generator))
    err_d_fake = criterion(out_fake, zeros)
    err_d_fake.backward()
    opt_d.step()
    augment.update(out_real)
    # (2) Update G (and the latent's parameters): maximise log D(G(z)), plus the regulariser
    opt_g.zero_grad()
    err_g = criterion(D(augment(fake, generator)), ones)
    (err_g + latent.extra_loss()).backward()
    opt_g.step()
    return torch.stack([err_d_real + err_d_fake, err_g, torch.sigmoid(out_real).mean(),
                        torch.sigmoid(out_fake).mean()]).detach()


class DCGANStep:
    """What a paper-A model adds to the loop: its latent module, G, D, two Adams and
    :func:`train_step`. The engine sees only ``modules`` and ``optimizers`` (checkpointed
    by name), ``step``, ``sampler`` (the (latent, G) pair grids and metrics sample from)
    and ``extra_state`` -- the interface :class:`paperlib.stylegan2.StyleGAN2Step` shares."""

    def __init__(self, latent, G, D, optim: dict):
        self.latent, self.G, self.D = latent, G, D
        self.opt_g = torch.optim.Adam(list(G.parameters()) + list(latent.parameters()), **optim)
        self.opt_d = torch.optim.Adam(D.parameters(), **optim)
        self.modules = {"G": G, "D": D, "latent": latent}
        self.optimizers = {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def step(self, real, augment, generator) -> torch.Tensor:
        return train_step(real, self.G, self.D, self.latent, self.opt_g, self.opt_d, augment,
                          generator)

    def sampler(self):
        return self.latent, self.G

    def train(self) -> None:
        self.G.train(), self.D.train(), self.latent.train()

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass


def build_networks(cfg: TrainConfig):
    """``(latent, G, D)`` of ``cfg``'s model, initialised from torch's global RNG."""
    if cfg.model == "pix2pixhd":
        from . import pix2pixhd
        return pix2pixhd.networks(cfg)
    if cfg.model == "stylegan2":
        from . import stylegan2 as sg
        kw = dict(channel_base=16 * cfg.sg_channels, channel_max=cfg.sg_channels)
        return (GaussianLatent(cfg.nz),
                sg.Generator(cfg.res, cfg.nz, cfg.nz, map_layers=cfg.sg_map_layers, **kw),
                sg.Discriminator(cfg.res, **kw))
    return build_models(cfg.model, cfg.res, cfg.nz, cfg.ngf, cfg.ndf, **cfg.latent_opts())


def build_trainer(cfg: TrainConfig, device):
    """The model-specific part of a run, seeded by ``cfg.seed`` (in a forked RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        latent, G, D = (m.to(device) for m in build_networks(cfg))
        if cfg.model == "pix2pixhd":
            from . import pix2pixhd
            return pix2pixhd.step_for(cfg, latent, G, D, device)
        if cfg.model != "stylegan2":
            return DCGANStep(latent, G, D, cfg.optim)
        from . import stylegan2 as sg
        gamma = cfg.r1_gamma if cfg.r1_gamma is not None else sg.auto_r1_gamma(cfg.res, cfg.batch_size)
        ema = cfg.ema_kimg if cfg.ema_kimg is not None else cfg.batch_size * 10 / 32
        return sg.StyleGAN2Step(latent, G, D, r1_gamma=gamma, pl_weight=cfg.pl_weight,
                                ema_kimg=ema, mixing_prob=cfg.mixing_prob, **cfg.optim)


def train_epoch(images, batch_size, trainer, augment, g_shuffle, g_noise) -> list[float]:
    """One pass over ``images`` in an order drawn from ``g_shuffle`` (the last batch may be
    smaller), one ``trainer.step`` per batch; returns the epoch means ``[d_loss, g_loss,
    d_real, d_fake]``."""
    trainer.train()
    sums = torch.zeros(4, device=images.device)
    batches = torch.randperm(len(images), generator=g_shuffle).to(images.device).split(batch_size)
    for idx in batches:
        sums += trainer.step(images[idx], augment, g_noise)
    return (sums / len(batches)).tolist()


# ----------------------------------------------------------------------------- the loop
def train(cfg: TrainConfig, data, out, progress: bool = True, resume: bool = True) -> RunResult:
    """Train ``cfg`` on ``data`` (an image tensor (N,3,res,res) in [-1,1], or a folder) into
    the run folder ``out`` (layout: module docstring); returns a :class:`RunResult`.

    Resumes from the last checkpoint when ``out`` holds a run of the same config (only
    ``epochs`` and ``device`` may differ); a finished or diverged run returns at once.
    ``resume=False`` deletes the run files in ``out`` and starts over. NaN/inf losses end the
    run with status ``"diverged at epoch E"`` (no exception).
    """
    cfg = make_config(**cfg.to_dict())
    images, data_id = _load_data(data, cfg)
    if cfg.model == "pix2pixhd":   # the maps' channels come from the data
        n_map = images.shape[1] - 3
        if cfg.map_channels not in (None, n_map):
            raise ValueError(f"map_channels={cfg.map_channels} but the data's maps have "
                             f"{n_map} channels")
        cfg = dataclasses.replace(cfg, map_channels=n_map)
    out = Path(out)
    start, ckpt, done = _prepare_run_dir(out, cfg, data_id, resume)
    if done:  # finished (at >= cfg.epochs) or diverged already
        return _result(out)
    with pinned_threads(cfg.threads):
        return _train_loop(cfg, images, out, start, ckpt, progress)


@contextlib.contextmanager
def pinned_threads(n: int):
    """Run torch CPU ops on ``n`` threads inside the block (the previous count is restored)."""
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def where_executed() -> dict:
    """Host, pid and (inside a Dask worker) the worker's address: recorded in status.json."""
    worker = None
    try:
        from distributed import get_worker
        worker = get_worker().address
    except (ImportError, ValueError):
        pass
    return {"host": socket.gethostname(), "pid": os.getpid(), "worker": worker,
            "threads": torch.get_num_threads()}


def _train_loop(cfg: TrainConfig, images, out: Path, start: int, ckpt, progress: bool):
    device = resolve_device(cfg.device)
    images = images.to(device)

    trainer = build_trainer(cfg, device)
    if hasattr(trainer, "bind_data"):   # a conditional model draws its grid's maps from the data
        trainer.bind_data(images)
    latent, G = trainer.sampler()
    augment = Augmenter(cfg.augment)
    s_shuffle, s_noise, s_fixed = np.random.SeedSequence(cfg.seed).generate_state(3)
    g_shuffle = torch.Generator().manual_seed(int(s_shuffle))
    g_noise = torch.Generator(device=device).manual_seed(int(s_noise))
    # the sample grid's noise follows from the seed alone, so a resumed run rebuilds it (the
    # copy in each checkpoint is a record; an older latent's copy may no longer fit)
    fixed_noise = latent.sample_noise(N_FIXED, torch.Generator().manual_seed(int(s_fixed)), device)
    if ckpt is None and cfg.init_from:  # fine-tuning: weights only, fresh optimisers
        init = torch.load(cfg.init_from, map_location=device, weights_only=True)
        _load_modules(trainer.modules, init, cfg.init_from)
    if ckpt is not None:
        _load_modules(trainer.modules, ckpt, "checkpoint")
        for name, opt in trainer.optimizers.items():
            opt.load_state_dict(ckpt[name])
        trainer.load_extra_state(ckpt.get("extra", {}))
        augment.load_state_dict(ckpt["augment"])
        g_shuffle.set_state(ckpt["rng"]["shuffle"].cpu())
        g_noise.set_state(ckpt["rng"]["noise"].cpu())

    _write_json(out / "status.json", _status(out, "running", start, cfg))
    extra_cols = list(latent.log_stats())
    columns = ["epoch", "kimg", "d_loss", "g_loss", "d_real", "d_fake", *extra_cols, "aug_p",
               "seconds"]
    log_file, log = _open_log(out / "log.csv", columns, keep_through=start)
    status, epochs_done = "finished", start
    bar = tqdm(range(start + 1, cfg.epochs + 1), initial=start, total=cfg.epochs,
               desc=cfg.model, unit="epoch", disable=not progress)
    try:
        for epoch in bar:
            t0 = time.perf_counter()
            if epoch == cfg.inject_nan_at_epoch:  # test hook: poison G
                with torch.no_grad():
                    next(trainer.G.parameters()).fill_(float("nan"))
            d_loss, g_loss, d_real, d_fake = train_epoch(
                images, cfg.batch_size, trainer, augment, g_shuffle, g_noise)
            row = {"epoch": epoch, "kimg": round(epoch * len(images) / 1000, 3), "d_loss": d_loss, "g_loss": g_loss, "d_real": d_real,
                   "d_fake": d_fake, **latent.log_stats(), "aug_p": augment.p,
                   "seconds": time.perf_counter() - t0}
            log.writerow(row)
            log_file.flush()
            bar.set_postfix(d_loss=f"{d_loss:.3f}", g_loss=f"{g_loss:.3f}")
            if not (math.isfinite(d_loss) and math.isfinite(g_loss)):
                status = f"diverged at epoch {epoch}"
                break
            epochs_done = epoch
            if epoch % cfg.sample_every == 0 or epoch == cfg.epochs:
                _save_samples(out / "samples" / f"epoch_{epoch:04d}.png", G, latent, fixed_noise)
            if epoch % cfg.ckpt_every == 0 or epoch == cfg.epochs:
                _atomic_torch_save({
                    "epoch": epoch, **{k: m.state_dict() for k, m in trainer.modules.items()},
                    **{k: o.state_dict() for k, o in trainer.optimizers.items()},
                    "extra": trainer.extra_state(), "augment": augment.state_dict(),
                    "rng": {"shuffle": g_shuffle.get_state(), "noise": g_noise.get_state()},
                    "fixed_noise": [t.cpu() for t in fixed_noise], "config": cfg.to_dict(),
                }, out / "checkpoints" / f"epoch_{epoch:04d}.pt")
                _write_json(out / "status.json", _status(out, "running", epoch, cfg))
    finally:
        bar.close()
        log_file.close()
    _write_json(out / "status.json", _status(out, status, epochs_done, cfg))
    return _result(out)


def _load_modules(modules: dict, state: dict, source) -> None:
    """Load every module's weights from a checkpoint dict (a StyleGAN2 checkpoint without
    ``G_ema`` -- none exists -- or a DCGAN one into StyleGAN2 is refused by name)."""
    missing = [k for k in modules if k not in state]
    if missing:
        raise ValueError(f"{source} has no weights for {missing}: a checkpoint of another "
                         "model family?")
    for k, m in modules.items():
        m.load_state_dict(state[k])


# ----------------------------------------------------------------------------- run folder
def _load_data(data, cfg: TrainConfig) -> tuple[torch.Tensor, dict]:
    """The training tensor and its identity. Pix2pixHD trains on (map, image) pairs
    (:func:`paperlib.paired.load_pairs`): one tensor per pair, image channels then map's."""
    res, paired = cfg.res, cfg.model == "pix2pixhd"
    extra = {}
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.exists():
            raise FileNotFoundError(f"data folder {path} does not exist")
        if not path.is_dir():
            raise NotADirectoryError(f"data {path} is not a folder")
        source = str(path)
        if paired:
            from .paired import load_pairs
            pairs = load_pairs(path, res, cfg.map_source)
            images, extra = pairs.joined(), {"map_source": pairs.map_source}
        else:
            from .data import load_folder  # lazy: only needed for folders
            images = load_folder(path, res, strict=False).images
        if len(images) == 0:
            raise ValueError(f"no usable images found in {path}")
    else:
        images, source = getattr(data, "images", data), "tensor"
        if paired and hasattr(data, "joined"):
            images = data.joined()
    if not (isinstance(images, torch.Tensor) and images.ndim == 4
            and tuple(images.shape[2:]) == (res, res)
            and (images.shape[1] > 3 if paired else images.shape[1] == 3)):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        what = "(N, 3 + map channels" if paired else "(N, 3"
        raise ValueError(f"data must be a folder or a float tensor {what}, {res}, {res}); "
                         f"got {shape}")
    if len(images) == 0:
        raise ValueError("data holds no images")
    images = images.detach().float().cpu().contiguous()
    sha1 = hashlib.sha1(images.numpy().tobytes()).hexdigest()
    return images, {"source": source, "n_images": len(images), "sha1": sha1, **extra}


def _prepare_run_dir(out: Path, cfg: TrainConfig, data_id: dict, resume: bool):
    """Check/create ``out``; return (start epoch, checkpoint or None, nothing to do)."""
    cfg_file = out / "config.json"
    if cfg_file.exists() and not resume:
        for name in ("config.json", "status.json", "log.csv"):
            (out / name).unlink(missing_ok=True)
        for sub in ("samples", "checkpoints"):
            shutil.rmtree(out / sub, ignore_errors=True)
    if cfg_file.exists():
        saved = json.loads(cfg_file.read_text())
        new = cfg.to_dict()
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
        # a field added after the run was made reads as its default
        diff = sorted(k for k in set(saved["config"]) | set(new) if k not in _RESUMABLE
                      and saved["config"].get(k, defaults.get(k, "<missing>"))
                      != new.get(k, "<missing>"))
        if diff:
            details = ", ".join(f"{k}: {saved['config'].get(k)!r} -> {new.get(k)!r}" for k in diff)
            raise ValueError(f"{out} holds a run with a different configuration ({details}); "
                             f"pick another out folder (or pass resume=False to start over)")
        if saved["data"]["sha1"] != data_id["sha1"]:
            raise ValueError(f"{out} was trained on different images ({saved['data']}); "
                             f"pick another out folder")
        status = read_status(out)
        if status["status"].startswith("diverged") or (
                status["status"] == "finished" and status["epochs_done"] >= cfg.epochs):
            return status["epochs_done"], None, True
        ckpts = list_checkpoints(out)
        for tmp in (out / "checkpoints").glob("*.tmp"):
            tmp.unlink()
        if ckpts:
            ckpt = torch.load(ckpts[-1][1], map_location="cpu", weights_only=True)
            return ckpt["epoch"], ckpt, False
        return 0, None, False
    out.mkdir(parents=True, exist_ok=True)
    _write_json(cfg_file, {"config": cfg.to_dict(), "data": data_id,
                           "versions": {"paperlib": __version__, "torch": torch.__version__}})
    return 0, None, False


def _open_log(path: Path, columns: list[str], keep_through: int):
    """Rewrite log.csv keeping rows with epoch <= keep_through; return (file, appending writer)."""
    rows = [r for r in _read_csv(path)  # (a row cut short by a kill has empty fields)
            if None not in r.values() and "" not in r.values() and int(r["epoch"]) <= keep_through]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    f = open(path, "a", newline="")
    return f, csv.DictWriter(f, fieldnames=columns)


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _save_samples(path: Path, G, latent, fixed_noise) -> None:
    G.eval(), latent.eval()
    with torch.no_grad():
        fake = G(latent(*fixed_noise))
    G.train(), latent.train()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("tmp_" + path.name)  # not matched by epoch_*.png
    save_image(fake.cpu(), tmp, nrow=8, normalize=True, value_range=(-1, 1))
    os.replace(tmp, path)


def _atomic_torch_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def _status(out: Path, status: str, epochs_done: int, cfg: TrainConfig) -> dict:
    ckpts = list_checkpoints(out)
    return {"status": status, "epochs_done": epochs_done, "epochs_target": cfg.epochs,
            "last_checkpoint": ckpts[-1][0] if ckpts else None, "model": cfg.model,
            "updated": time.strftime("%Y-%m-%d %H:%M:%S"), "executed": where_executed()}


def _result(out: Path) -> RunResult:
    st = read_status(out)
    return RunResult(out, st["status"], st["epochs_done"], read_log(out))


# ----------------------------------------------------------------------------- reading runs
def read_status(run_dir) -> dict:
    """status.json; a run killed before writing it reads as running with 0 epochs done."""
    path = Path(run_dir) / "status.json"
    if not path.exists():
        return {"status": "running", "epochs_done": 0}
    return json.loads(path.read_text())


def read_log(run_dir) -> list[dict]:
    """log.csv rows as dicts: ``epoch`` int, every other column float."""
    return [{k: int(v) if k == "epoch" else float(v) for k, v in r.items()}
            for r in _read_csv(Path(run_dir) / "log.csv")]


def list_checkpoints(run_dir) -> list[tuple[int, Path]]:
    """``[(epoch, path), ...]`` of a run's checkpoints, oldest first."""
    found = []
    for p in (Path(run_dir) / "checkpoints").glob("epoch_*.pt"):
        m = re.fullmatch(r"epoch_(\d+)\.pt", p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


# ----------------------------------------------------------------------------- instability
#: Paper A's "instability": D converges much faster than G and G stops learning. Per epoch,
#: "D wins" when D's loss BCE(D(x),1) + BCE(D(G(z)),0) is under D_WIN_LOSS = 0.1 -- D gives
#: reals and fakes their right label with confidence ~0.95 or more (2 * -log 0.95 = 0.10);
#: at the 2 log 2 = 1.39 equilibrium D cannot tell them apart -- AND G is losing: G's loss
#: -log D(G(z)) above G_LOSE_LOSS = 4 (D(G(z)) below e^-4 = 0.018, G fools D on under 2%)
#: or mean D(G(z)) under D_FAKE_NEAR_ZERO = 0.02. An onset is INSTABILITY_EPOCHS = 5
#: consecutive such epochs (one bad epoch can be a transient; G that "stops learning" stays
#: beaten).
D_WIN_LOSS = 0.1
G_LOSE_LOSS = 4.0
D_FAKE_NEAR_ZERO = 0.02
INSTABILITY_EPOCHS = 5


def d_wins(row: dict, d_thresh: float = D_WIN_LOSS, g_thresh: float = G_LOSE_LOSS,
           fake_thresh: float = D_FAKE_NEAR_ZERO) -> bool:
    """One epoch's log row shows D winning (see the constants above)."""
    return row["d_loss"] < d_thresh and (row["g_loss"] > g_thresh or row["d_fake"] < fake_thresh)


def instability_onset(rows: list[dict], d_thresh: float = D_WIN_LOSS,
                      g_thresh: float = G_LOSE_LOSS, k: int = INSTABILITY_EPOCHS,
                      fake_thresh: float = D_FAKE_NEAR_ZERO) -> int | None:
    """First epoch starting ``k`` consecutive D-wins epochs (:func:`d_wins`), else None."""
    streak = 0
    for i, row in enumerate(rows):
        streak = streak + 1 if d_wins(row, d_thresh, g_thresh, fake_thresh) else 0
        if streak == k:
            return rows[i - k + 1]["epoch"]
    return None


def is_stable(rows: list[dict], past_epoch: int, **thresholds) -> bool:
    """Paper A's N-search test "no instability past epoch 30" (``past_epoch``): the run
    reached ``past_epoch``, every loss is finite, and the epochs after ``past_epoch`` hold no
    instability onset (a streak that began earlier and goes on past it counts)."""
    if not rows or rows[-1]["epoch"] < past_epoch:
        return False
    if not all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows):
        return False
    return instability_onset([r for r in rows if r["epoch"] > past_epoch], **thresholds) is None


# ----------------------------------------------------------------------------- trained models
@dataclass
class TrainedGAN:
    """A checkpoint loaded for use (eval mode). ``sample`` is what the metrics call."""

    config: TrainConfig
    epoch: int
    latent: nn.Module
    G: nn.Module
    D: nn.Module
    device: torch.device

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, batch_size: int = 256) -> torch.Tensor:
        """``n`` images (n,3,res,res) in [-1,1] on the CPU, determined by ``seed`` (all noise
        is drawn first, so ``batch_size`` changes nothing beyond float rounding)."""
        self.G.eval(), self.latent.eval()
        noise = self.latent.sample_noise(n, torch.Generator().manual_seed(seed), "cpu")
        out = [self.G(self.latent(*(t[i:i + batch_size].to(self.device) for t in noise))).cpu()
               for i in range(0, n, batch_size)]
        res = self.config.res
        return torch.cat(out).float() if out else torch.empty(0, 3, res, res)


def load_run(run_dir, epoch: int | None = None, device=None) -> TrainedGAN:
    """Load a run's checkpoint (the latest by default) as a :class:`TrainedGAN`."""
    run_dir = Path(run_dir)
    ckpts = dict(list_checkpoints(run_dir))
    if not ckpts:
        raise FileNotFoundError(f"no checkpoints in {run_dir / 'checkpoints'}")
    if epoch is None:
        epoch = max(ckpts)
    if epoch not in ckpts:
        raise ValueError(f"{run_dir} has no checkpoint for epoch {epoch}; has {sorted(ckpts)}")
    saved = json.loads((run_dir / "config.json").read_text())["config"]
    cfg = make_config(**{**saved, "device": "auto"})
    dev = resolve_device(device)
    ckpt = torch.load(ckpts[epoch], map_location=dev, weights_only=True)
    latent, G, D = build_networks(cfg)
    # StyleGAN2 samples and is evaluated with its EMA generator (NVlabs' G_ema)
    g_key = "G_ema" if cfg.model == "stylegan2" else "G"
    for module, key in ((latent, "latent"), (G, g_key), (D, "D")):
        module.load_state_dict(ckpt[key])
        module.to(dev).eval()
    return TrainedGAN(cfg, epoch, latent, G, D, dev)


# ----------------------------------------------------------------------------- cached runs
#: Config fields left out of a run's cache key: more epochs resume the same run folder.
_NOT_IN_KEY = ("epochs", "device", "inject_nan_at_epoch")
FORCE_ENV = "PAPERLIB_FORCE"  # set by `reproduce --force`: every cached run is redone once


def epochs_for_kimg(kimg: float, n_images: int) -> int:
    """Epochs of an ``n_images`` set that show at least ``kimg`` thousand images (budgets
    are counted in images shown, as StyleGAN2-ADA does; epochs are derived)."""
    if not (isinstance(kimg, (int, float)) and kimg > 0 and math.isfinite(kimg)):
        raise ValueError(f"kimg must be a positive number, got {kimg!r}")
    if int(n_images) < 1:
        raise ValueError(f"need at least one training image, got {n_images!r}")
    return max(1, math.ceil(round(kimg * 1000 / int(n_images), 6)))


def profile_config(profile, model: str, config: str = "paper", seed: int = 0,
                   n_images: int | None = None, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` sized by a profile (res, widths, batch, intervals). Its
    length is ``overrides["epochs"]`` or, given the training set's ``n_images``, the
    profile's ``kimg`` budget (``sg_kimg`` for StyleGAN2) in epochs of that set
    (:func:`epochs_for_kimg`). StyleGAN2 takes the profile's ``sg_*`` sizes, Pix2pixHD its
    ``p2p_*`` sizes and budget."""
    from .config import get_profile

    prof = get_profile(profile)
    sg, p2p = model == "stylegan2", model == "pix2pixhd"
    if "epochs" not in overrides:
        if n_images is None:
            raise ValueError("profile_config needs epochs=... or the training set's n_images")
        kimg = prof.sg_kimg if sg else prof.p2p_kimg if p2p else prof.kimg
        overrides["epochs"] = epochs_for_kimg(kimg, n_images)
    kw = dict(model=model, seed=seed, config=config, res=prof.res,
              batch_size=prof.sg_batch if sg else prof.p2p_batch if p2p else prof.batch_size,
              sample_every=prof.sample_every, ckpt_every=prof.ckpt_every)
    if sg:   # (ngf/ndf are DCGAN widths: left at their defaults)
        kw.update(nz=prof.sg_nz, sg_channels=prof.sg_channels)
    elif p2p:
        kw.update(ngf=prof.p2p_ngf, ndf=prof.p2p_ndf, p2p_blocks=prof.p2p_blocks)
    else:
        kw.update(ngf=prof.ngf, ndf=prof.ndf)
    return make_config(**{**kw, **overrides})


def profile_jobs(profile, model: str, data_dir, root, configs=None, seeds=None,
                 conventional_seeds=None, **overrides) -> dict:
    """The runs a paper-A notebook trains for ``model``: ``{(config, seed): (TrainConfig,
    data_dir, root)}`` -- the claims' config (``"paper"``) with the profile's ``seeds``, the
    conventional one with its (fewer) ``conventional_seeds``; ready for
    :func:`paperlib.parallel.train_many`."""
    from .config import get_profile
    from .data import image_files

    prof = get_profile(profile)
    n = len(image_files(data_dir))
    seeds = tuple(seeds if seeds is not None else prof.seeds)
    conv = tuple(conventional_seeds if conventional_seeds is not None else prof.conventional_seeds)
    return {(c, s): (profile_config(prof, model, c, s, n_images=n, **overrides), data_dir, root)
            for c in (configs or prof.configs) for s in (seeds if c == "paper" else conv)}


def run_name(cfg: TrainConfig, data_key: str) -> str:
    """``<model>-<config>-s<seed>-<hash>``: the hash covers every setting that changes the
    result (all config fields but epochs/device) and the training data's identity."""
    others = {f for m, fields in MODEL_FIELDS.items() if m != cfg.model for f in fields}
    key = {k: v for k, v in cfg.to_dict().items() if k not in _NOT_IN_KEY and k not in others}
    digest = hashlib.sha256(json.dumps([key, data_key], sort_keys=True).encode()).hexdigest()
    return f"{cfg.model}-{cfg.config}-s{cfg.seed}-{digest[:10]}"


def train_cached(cfg: TrainConfig, data_dir, root, progress: bool = True,
                 force_token: str | None = None) -> RunResult:
    """Train ``cfg`` on the folder ``data_dir`` in ``root/<run_name>``, reusing that run when
    it exists: a finished run returns at once, an interrupted one resumes, a longer
    ``epochs`` continues it. With ``$PAPERLIB_FORCE`` set to a token (``reproduce --force``)
    a run not yet redone under that token is retrained from scratch (``force_token``
    passes the token explicitly, as :mod:`paperlib.parallel` does for its workers)."""
    from .data import manifest_hash

    out = Path(root) / run_name(cfg, manifest_hash(data_dir))
    token = force_token if force_token is not None else os.environ.get(FORCE_ENV)
    token_file = out / "force_token"
    redo = bool(token) and (not token_file.exists() or token_file.read_text() != token)
    result = train(cfg, data_dir, out, progress=progress, resume=not redo)
    if token:
        token_file.write_text(token)
    return result


def run_summary(result: RunResult, **extra) -> dict:
    """One table row for a run: its config, status, instability onset and last epoch."""
    cfg = json.loads((Path(result.run_dir) / "config.json").read_text())["config"]
    last = result.rows[-1] if result.rows else {}
    return {"model": cfg["model"], "config": cfg["config"], "seed": cfg["seed"], **extra,
            "status": result.status, "epochs": result.epochs_done,
            "kimg": last.get("kimg"), "train_s": round(sum(r["seconds"] for r in result.rows), 1),
            "instability_onset": instability_onset(result.rows),
            "d_loss": last.get("d_loss"), "g_loss": last.get("g_loss"),
            "d_real": last.get("d_real"), "d_fake": last.get("d_fake"),
            "run": Path(result.run_dir).name}


def stability_report(summaries: list[dict], group: str = "config") -> str:
    """Markdown lines, one per value of ``group``: how many runs show an instability onset
    (and at which epochs), how many diverged, and the mean last-epoch losses."""
    lines = []
    for value in dict.fromkeys(s[group] for s in summaries):
        rows = [s for s in summaries if s[group] == value]
        onsets = sorted(int(s["instability_onset"]) for s in rows
                        if s["instability_onset"] is not None)
        diverged = sum(s["status"].startswith("diverged") for s in rows)
        finite = [s for s in rows if s["d_loss"] is not None and math.isfinite(s["d_loss"])]
        losses = (f"; last-epoch D loss {np.mean([s['d_loss'] for s in finite]):.3f}, "
                  f"G loss {np.mean([s['g_loss'] for s in finite]):.3f} (mean over runs)"
                  if finite else "")
        lines.append(f"- **{group} {value}**: instability onset in {len(onsets)}/{len(rows)} runs"
                     + (f" (epochs {onsets})" if onsets else "")
                     + f"; {diverged} diverged" + losses)
    return "\n".join(lines)


def search_n(profile, data_dir, root, config: str = "paper", seed: int = 0,
             progress: bool = True, scheduler: str | None = None) -> tuple[int, list[dict]]:
    """Paper A's choice of N for the proposed model: train with N = 1, 2, ... (up to the
    profile's ``n_search_max``) and stop at the first run that stays stable past the
    profile's ``stable_epoch`` (the paper's epoch 30; :func:`is_stable`), each run as long
    as the profile's ``kimg`` budget.

    Candidates are trained side by side, as many at a time as the scheduler has worker
    slots (:mod:`paperlib.parallel`): a slot would otherwise idle, so N + 1 is trained
    speculatively while N is; runs past the chosen N are cached but not listed.
    Returns (chosen N, one summary row per N up to the chosen one). When no N is stable,
    the N whose instability started latest is chosen and its row says ``stable: False``.
    Runs are cached, so calling this again (notebook 06 does) costs nothing.
    """
    from .config import get_profile
    from .data import image_files
    from .parallel import n_slots, train_many

    prof = get_profile(profile)
    n_images = len(image_files(data_dir))
    batch = max(1, n_slots(scheduler))
    tried = []
    for first in range(1, prof.n_search_max + 1, batch):
        ns = list(range(first, min(first + batch, prof.n_search_max + 1)))
        jobs = [(profile_config(prof, "proposed", config, seed, n_images=n_images, proposed_N=n),
                 data_dir, root) for n in ns]
        for n, res in zip(ns, train_many(jobs, scheduler, desc=f"N search {ns}",
                                         progress=progress)):
            tried.append(run_summary(res, N=n, stable=is_stable(res.rows, prof.stable_epoch)))
            if tried[-1]["stable"]:
                return n, tried
    latest = max(tried, key=lambda r: (r["instability_onset"] or math.inf)
                 if not r["status"].startswith("diverged") else -1)
    return latest["N"], tried
