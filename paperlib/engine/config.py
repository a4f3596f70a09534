"""A run's configuration: :class:`TrainConfig` (validated by :func:`make_config`), its
name in the run cache (:func:`run_name`) and its size from a profile (:func:`profile_config`,
budgets in kimg: :func:`epochs_for_kimg`). What a model adds (its networks, optimiser,
options and profile sizes) comes from its registry entry (:mod:`paperlib.models.base`)."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from ..config import get_device, get_profile
from ..data.folders import image_files
from ..models import ModelSpec, get_model, model_fields, model_names
from ..models.base import OPTIM_CONFIGS, RES_CHOICES, check_choice, check_int, option_owner
from ..utils.images import check_res
from .augment import AUGMENT_KINDS, canonical_kind

RESUMABLE = ("epochs", "device")  # config fields that may change when resuming

#: Options that were once TrainConfig fields, in their old order, with their old defaults:
#: every run's flat dict (:meth:`TrainConfig.to_dict`) still records each, so saved configs
#: and run names stay valid (history: docs/DECISIONS.md, "Training loop and run cache").
_LEGACY_OPTIONS = {
    "deligan_K": 50, "deligan_lambda": 0.1, "proposed_N": 2, "adjust": True, "mean_adjust": True,
    "sg_channels": 64, "sg_map_layers": 2, "r1_gamma": None, "pl_weight": 0.0, "ema_kimg": None,
    "mixing_prob": 0.0, "sg_lr": None, "map_source": "auto", "map_channels": None,
    "p2p_blocks": 6, "p2p_num_d": 2, "fm_lambda": 10.0, "vgg_weights": None, "vgg_lambda": 10.0,
    "p2p_norm": "none", "p2p_skip": True, "l1_lambda": 0.0, "p2p_boundary": True, "p2p_feat": 0,
    "p2p_clusters": 10, "p2p_decay": 0.0, "p2p_up": "transpose"}
_PAPER_A = ("deligan_K", "deligan_lambda", "proposed_N", "adjust", "mean_adjust")
#: Renamed values, ``{setting: {current: old}}``: a run key records the old name, so runs
#: made before the rename keep their names; a saved config's old name reads as the current.
_RENAMED_VALUES = {"augment": {"ada-diffaug": "ada"}}


@dataclass
class TrainConfig:
    """Everything that defines a run: the settings every model has, and ``options``, the
    model's own (its :attr:`ModelSpec.options` object; ``cfg.X`` reads option ``X`` too).
    Build it with :func:`make_config` (validates; takes every option by its flat name)."""

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
    augment: str = "none"          # none | diffaugment | ada-diffaug (old name: ada) | ada-bgc
    device: str = "auto"           # auto = CUDA if available ($PAPERLIB_DEVICE overrides)
    threads: int = 1               # torch CPU threads the run pins (part of the run's identity:
                                   # a different count changes the losses in the last bits)
    init_from: str | None = None   # checkpoint whose G, D, latent weights start the run
                                   # (fine-tuning, e.g. paper B's shape pre-training)
    inject_nan_at_epoch: int | None = None  # FOR TESTS: G's weights become NaN at this epoch
    options: Any = None            # the model's options (None: its defaults, set by validate)
    other_options: dict = field(default_factory=dict)  # other models' non-default options
    # (old flat configs): recorded in to_dict, never read

    def __getattr__(self, name: str) -> Any:
        """An option by its flat name: the model's, else one given for another model, else
        its old default (:data:`_LEGACY_OPTIONS`)."""
        if name.startswith("_") or name in ("options", "other_options"):
            raise AttributeError(name)
        opts = self.__dict__.get("options")
        if opts is not None and name in {f.name for f in fields(opts)}:
            return getattr(opts, name)
        if name in self.__dict__.get("other_options", {}):
            return self.other_options[name]
        if name in _LEGACY_OPTIONS:
            return _LEGACY_OPTIONS[name]
        raise AttributeError(f"'TrainConfig' object has no attribute {name!r}")

    def to_dict(self) -> dict:
        """The flat ``{name: value}`` of every setting and option (the run folder's saved
        config, run keys): the legacy options at their old defaults, other models' given
        options, the own."""
        common = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name not in ("options", "other_options")}
        own = {} if self.options is None else asdict(self.options)
        values = {**common, **_LEGACY_OPTIONS, **self.other_options, **own}
        order = [*list(common)[:11], *_PAPER_A, *list(common)[11:14],
                 *(k for k in _LEGACY_OPTIONS if k not in _PAPER_A), *list(common)[14:]]
        return {k: values[k] for k in [*order, *(k for k in values if k not in order)]}

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
        """Check every setting (the options by their :meth:`Options.validate`, then the
        model's :attr:`ModelSpec.validate`); ``ValueError`` names the first bad one."""
        check_choice("model", self.model, model_names())
        check_choice("config", self.config, tuple(OPTIM_CONFIGS))
        self.augment = canonical_kind(self.augment)
        check_choice("augment", self.augment, AUGMENT_KINDS)
        for name in ("epochs", "res", "batch_size", "nz", "ngf", "ndf", "sample_every",
                     "ckpt_every", "threads"):
            setattr(self, name, check_int(name, getattr(self, name), 1))
        check_res(self.res, RES_CHOICES)
        self.seed = check_int("seed", self.seed, 0)
        self.inject_nan_at_epoch = check_int("inject_nan_at_epoch", self.inject_nan_at_epoch,
                                             1, allow_none=True)
        if self.options is None:
            self.options = self.spec.options()
        if not isinstance(self.options, self.spec.options):
            raise ValueError(f"{self.model} options must be a {self.spec.options.__name__}, "
                             f"got {type(self.options).__name__}")
        self.options.validate()
        if self.spec.validate is not None:
            self.spec.validate(self)
        if self.init_from is not None:
            self.init_from = str(self.init_from)
            if not Path(self.init_from).is_file():
                raise ValueError(f"init_from checkpoint {self.init_from} does not exist")
        resolve_device(self.device)
        return self


_COMMON = tuple(f.name for f in fields(TrainConfig)
                if f.name not in ("options", "other_options"))


def _other_options(model: str, given: dict) -> dict:
    """``given`` options of models other than ``model``, each validated by its model's
    options (alone, the others at their defaults); those at their (old) default dropped."""
    kept = {}
    for name, value in given.items():
        owner = option_owner(name)
        if owner is not None:
            opts = owner.options(**{name: value})
            opts.validate()
            value = getattr(opts, name)
            default = _LEGACY_OPTIONS.get(name, getattr(owner.options(), name))
        else:
            default = _LEGACY_OPTIONS[name]
        if not (type(value) is type(default) and value == default):
            kept[name] = value
    return kept


def make_config(**kw) -> TrainConfig:
    """A validated :class:`TrainConfig` from flat names: the settings, the model's options
    and (recorded, never read) other models' options; any bad or unknown value raises
    ``ValueError``."""
    names = {*_COMMON, *_LEGACY_OPTIONS, *(n for m in model_names()
                                           for n in get_model(m).option_names)}
    unknown = sorted(set(kw) - names)
    if unknown:
        raise ValueError(f"unknown training option(s) {unknown}; valid: {sorted(names)}")
    missing = [n for n in ("model", "epochs") if n not in kw]
    if missing:
        raise ValueError(f"missing required training option(s): {missing}")
    check_choice("model", kw["model"], model_names())
    spec = get_model(kw["model"])
    own = {k: kw.pop(k) for k in list(kw) if k in spec.option_names}
    other = _other_options(spec.name, {k: kw.pop(k) for k in list(kw) if k not in _COMMON})
    if kw.get("device") is None:
        kw["device"] = "auto"
    return TrainConfig(**kw, options=spec.options(**own), other_options=other).validate()


def current_names(saved: dict) -> dict:
    """A saved flat config with its renamed values (:data:`_RENAMED_VALUES`) under their
    current names."""
    old_to_new = {k: {old: new for new, old in m.items()} for k, m in _RENAMED_VALUES.items()}
    return {k: old_to_new.get(k, {}).get(v, v) if isinstance(v, str) else v
            for k, v in saved.items()}


def _legacy_values(model: str) -> dict:
    """``{option: value}`` of ``model``'s options added after runs existed (``legacy``
    metadata): the value those runs had."""
    return {f.name: f.metadata["legacy"] for f in fields(get_model(model).options)
            if "legacy" in f.metadata}


def config_defaults(model: str) -> dict:
    """The flat defaults of a ``model`` config (:meth:`TrainConfig.to_dict`'s keys but model
    and epochs): what a setting missing from an older saved config reads as (an option
    added later: its ``legacy`` value)."""
    d = TrainConfig(model=model, epochs=1, options=get_model(model).options()).to_dict()
    d.update(_legacy_values(model))
    return {k: v for k, v in d.items() if k not in ("model", "epochs")}


def saved_settings(saved: dict) -> dict:
    """A saved flat config as this paperlib reads it: renamed values under their current
    names (:func:`current_names`) and its model's options added since it was saved at their
    ``legacy`` value (what its run had)."""
    return {**_legacy_values(saved["model"]), **current_names(saved)}


def resolve_device(device: str | None) -> torch.device:
    try:
        return get_device(None if device in (None, "auto") else device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"bad device {device!r}: {err}") from None


# ----------------------------------------------------------------------------- cached runs
#: Config fields left out of a run's cache key: more epochs resume the same run folder.
_NOT_IN_KEY = ("epochs", "device", "inject_nan_at_epoch")


def _key_defaults(cfg: TrainConfig) -> dict:
    """``{option: value}`` left out of the run key at that value, so earlier cached runs keep
    their names: the model's ``key_default`` options at their default, its ``legacy`` ones
    at their legacy value."""
    return {**{f.name: f.default for f in fields(cfg.spec.options)
               if f.metadata.get("key_default")}, **_legacy_values(cfg.model)}


def epochs_for_kimg(kimg: float, n_images: int) -> int:
    """Epochs of an ``n_images`` set that show at least ``kimg`` thousand images (budgets
    are counted in images shown, as StyleGAN2-ADA does; epochs are derived)."""
    if not (isinstance(kimg, (int, float)) and kimg > 0 and math.isfinite(kimg)):
        raise ValueError(f"kimg must be a positive number, got {kimg!r}")
    if int(n_images) < 1:
        raise ValueError(f"need at least one training image, got {n_images!r}")
    return max(1, math.ceil(round(kimg * 1000 / int(n_images), 6)))


def profile_sizes(profile, model: str) -> dict:
    """A profile's sizes for ``model`` (:attr:`ModelSpec.profile_sizes`): its budget
    ``kimg`` and TrainConfig values by their flat names (e.g. stylegan2's ``sg_channels``)."""
    return dict(get_model(model).profile_sizes(get_profile(profile)))


def profile_config(profile, model: str, config: str = "paper", seed: int = 0,
                   n_images: int | None = None, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` sized by a profile (res, widths, batch, intervals). Its
    length is ``overrides["epochs"]`` or, given the training set's ``n_images``, the
    profile's budget for the model (:attr:`ModelSpec.profile_sizes`: ``kimg`` and the
    model's sizes) in epochs of that set (:func:`epochs_for_kimg`)."""

    prof = get_profile(profile)
    sizes = profile_sizes(prof, model)
    kimg = sizes.pop("kimg")
    if "epochs" not in overrides:
        if n_images is None:
            raise ValueError("profile_config needs epochs=... or the training set's n_images")
        overrides["epochs"] = epochs_for_kimg(kimg, n_images)
    kw = dict(model=model, seed=seed, config=config, res=prof.res,
              sample_every=prof.sample_every, ckpt_every=prof.ckpt_every, **sizes)
    return make_config(**{**kw, **overrides})


def stage_config(profile, model: str, data_dir, *, epochs: int | None = None,
                 kimg: float | None = None, **given) -> tuple[TrainConfig, str]:
    """The config the notebooks train ``model`` with on ``data_dir`` under ``profile`` (the
    command line's ``train`` too): the profile's sizes (:func:`profile_config`), then the
    model's stage defaults for that folder (:attr:`ModelSpec.stage_defaults`: StyleGAN2's
    ``b_augment``; Pix2pixHD's encoder off for maps without instances), then ``given``
    (explicit values win). Length: ``epochs``, else ``kimg`` (None: the profile's budget for
    the model) in epochs of the folder. Returns the config and the model's note ("" if none);
    ``ValueError`` for a folder without images."""
    prof = get_profile(profile)
    n = len(image_files(data_dir))
    if n == 0:
        raise ValueError(f"no images in {data_dir}")
    sizes = profile_sizes(prof, model)
    kimg = sizes.pop("kimg") if kimg is None else kimg
    adapt, note = stage_defaults(prof, model, data_dir, {**sizes, **given})
    epochs = epochs_for_kimg(kimg, n) if epochs is None else epochs
    return profile_config(prof, model, **{**adapt, **given, "epochs": epochs}), note


def stage_defaults(profile, model: str, data_dir=None, settings: dict | None = None
                   ) -> tuple[dict, str]:
    """``model``'s :attr:`ModelSpec.stage_defaults` under ``profile`` (``({}, "")`` when it
    has none); ``data_dir`` None: before the folder is known (no adaptation to it)."""
    hook = get_model(model).stage_defaults
    if hook is None:
        return {}, ""
    return hook(get_profile(profile), data_dir, dict(settings or {}))


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
    defaults = _key_defaults(cfg)
    key = {k: _RENAMED_VALUES.get(k, {}).get(v, v) if isinstance(v, str) else v
           for k, v in cfg.to_dict().items() if k not in _NOT_IN_KEY and k not in others
           and not (k in defaults and v == defaults[k])}
    digest = hashlib.sha256(json.dumps([key, data_key], sort_keys=True).encode()).hexdigest()
    return f"{cfg.model}-{cfg.config}-s{cfg.seed}-{digest[:10]}"
