"""A run's configuration: :class:`TrainConfig` (validated by :func:`make_config`), its
name in the run cache (:func:`run_name`) and its size from a profile (:func:`profile_config`,
budgets in kimg: :func:`epochs_for_kimg`). What a model adds (its networks, optimiser,
options and profile sizes) comes from its registry entry (:mod:`paperlib.models.base`)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import get_device, get_profile
from ..data.folders import image_files
from ..models import RES_CHOICES, ModelSpec, get_model, model_fields, model_names
from ..models.base import OPTIM_CONFIGS
from ..utils.images import check_res
from .augment import AUGMENT_KINDS

_RESUMABLE = ("epochs", "device")  # config fields that may change when resuming


@dataclass
class TrainConfig:
    """Everything that defines a run. Build it with :func:`make_config` (validates)."""

    model: str                     # a registered model (paperlib.models.model_names())
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
    augment: str = "none"          # none | diffaugment | ada | ada-bgc
    device: str = "auto"           # auto = CUDA if available ($PAPERLIB_DEVICE overrides)
    threads: int = 1               # torch CPU threads the run pins (part of the run's identity:
                                   # a different count changes the losses in the last bits)
    # options only one model reads (its ModelSpec.fields, documented in its module)
    sg_channels: int = 64
    sg_map_layers: int = 2
    r1_gamma: float | None = None
    pl_weight: float = 0.0
    ema_kimg: float | None = None
    mixing_prob: float = 0.0
    sg_lr: float | None = None     # StyleGAN2's Adam lr (None: NVlabs' 0.0025)
    map_source: str = "auto"
    map_channels: int | None = None
    p2p_blocks: int = 6
    p2p_num_d: int = 2
    fm_lambda: float = 10.0
    vgg_weights: str | None = None
    vgg_lambda: float = 10.0
    p2p_norm: str = "none"
    p2p_skip: bool = True
    l1_lambda: float = 0.0
    p2p_boundary: bool = True
    p2p_feat: int = 0
    p2p_clusters: int = 10
    p2p_decay: float = 0.0
    p2p_up: str = "transpose"
    init_from: str | None = None   # checkpoint whose G, D, latent weights start the run
                                   # (fine-tuning, e.g. paper B's shape pre-training)
    inject_nan_at_epoch: int | None = None  # FOR TESTS: G's weights become NaN at this epoch

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return make_config(**d)

    @property
    def spec(self) -> ModelSpec:
        """The model's registry entry (:func:`paperlib.models.get_model`)."""
        return get_model(self.model)

    @property
    def optim(self) -> dict:
        """The model's Adam settings (:attr:`ModelSpec.optim`)."""
        return self.spec.optim(self)

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

        choice("model", model_names())
        choice("config", tuple(OPTIM_CONFIGS))
        choice("augment", AUGMENT_KINDS)
        for name in ("epochs", "res", "batch_size", "nz", "ngf", "ndf", "sample_every",
                     "ckpt_every", "deligan_K", "proposed_N", "threads", "sg_channels",
                     "sg_map_layers", "p2p_blocks", "p2p_num_d"):
            integer(name, 1)
        integer("map_channels", 1, allow_none=True)
        for name, low_ok in (("r1_gamma", True), ("pl_weight", True), ("ema_kimg", False),
                             ("mixing_prob", True), ("fm_lambda", True), ("vgg_lambda", True),
                             ("sg_lr", False)):
            v = getattr(self, name)
            if v is None and name in ("r1_gamma", "ema_kimg", "sg_lr"):
                continue
            if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                    or v < 0 or (v == 0 and not low_ok) or (name == "mixing_prob" and v > 1)):
                raise ValueError(f"{name} must be a finite number "
                                 + ("in [0, 1]" if name == "mixing_prob" else
                                    ">= 0" if low_ok else "> 0") + f", got {v!r}")
        check_res(self.res, RES_CHOICES)
        integer("seed", 0)
        integer("inject_nan_at_epoch", 1, allow_none=True)
        lam = self.deligan_lambda
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam < math.inf:
            raise ValueError(f"deligan_lambda must be a finite number >= 0, got {lam!r}")
        for name in ("adjust", "mean_adjust"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.spec.validate is not None:
            self.spec.validate(self)
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


# ----------------------------------------------------------------------------- cached runs
#: Config fields left out of a run's cache key: more epochs resume the same run folder.
_NOT_IN_KEY = ("epochs", "device", "inject_nan_at_epoch")
#: Fields added after runs were cached, left out of the key while at these defaults, so
#: every run cached before them keeps its name (tests/test_run_names.py).
_KEY_DEFAULTS = {"sg_lr": None, "p2p_up": "transpose"}


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
    profile's budget for the model (:attr:`ModelSpec.profile_sizes`: ``kimg`` and the
    model's sizes) in epochs of that set (:func:`epochs_for_kimg`)."""

    prof = get_profile(profile)
    sizes = dict(get_model(model).profile_sizes(prof))
    kimg = sizes.pop("kimg")
    if "epochs" not in overrides:
        if n_images is None:
            raise ValueError("profile_config needs epochs=... or the training set's n_images")
        overrides["epochs"] = epochs_for_kimg(kimg, n_images)
    kw = dict(model=model, seed=seed, config=config, res=prof.res,
              sample_every=prof.sample_every, ckpt_every=prof.ckpt_every, **sizes)
    return make_config(**{**kw, **overrides})


def profile_jobs(profile, model: str, data_dir, root, configs=None, seeds=None,
                 conventional_seeds=None, **overrides) -> dict:
    """The runs a paper-A notebook trains for ``model``: ``{(config, seed): (TrainConfig,
    data_dir, root)}`` -- the claims' config (``"paper"``) with the profile's ``seeds``, the
    conventional one with its (fewer) ``conventional_seeds``; ready for
    :func:`paperlib.engine.parallel.train_many`."""

    prof = get_profile(profile)
    n = len(image_files(data_dir))
    seeds = tuple(seeds if seeds is not None else prof.seeds)
    conv = tuple(conventional_seeds if conventional_seeds is not None else prof.conventional_seeds)
    return {(c, s): (profile_config(prof, model, c, s, n_images=n, **overrides), data_dir, root)
            for c in (configs or prof.configs) for s in (seeds if c == "paper" else conv)}


def run_name(cfg: TrainConfig, data_key: str) -> str:
    """``<model>-<config>-s<seed>-<hash>``: the hash covers every setting that changes the
    result (all config fields but epochs/device) and the training data's identity."""
    others = {f for m, fields in model_fields().items() if m != cfg.model for f in fields}
    key = {k: v for k, v in cfg.to_dict().items() if k not in _NOT_IN_KEY and k not in others
           and not (k in _KEY_DEFAULTS and v == _KEY_DEFAULTS[k])}
    digest = hashlib.sha256(json.dumps([key, data_key], sort_keys=True).encode()).hexdigest()
    return f"{cfg.model}-{cfg.config}-s{cfg.seed}-{digest[:10]}"
