"""The model registry and the step interface every model gives the engine.

A model is one module of :mod:`paperlib.models` that calls :func:`register` with a
:class:`ModelSpec`: its networks, step, options (an :class:`Options` dataclass of
:func:`option` fields), sizes per profile and training speed. The engine, the metrics and the
CLI look a model up by name (:func:`get_model`) and never branch on it.

**The step interface** (what :func:`paperlib.engine.train` sees of a model):

* ``modules`` / ``optimizers`` -- ``{name: nn.Module}`` / ``{name: Optimizer}``, checkpointed
  by name (``G``, ``D``, ``latent``, ...);
* ``step(real, augment, generator) -> Tensor[4]`` -- one update on a batch; returns the
  detached ``[d_loss, g_loss, d_real, d_fake]`` the log records;
* ``sampler() -> (latent, G)`` -- what grids and metrics draw from; ``G(x, noise_gen=g)``
  draws any further noise inputs from ``g`` (a generator without them ignores the keyword);
* ``train()`` -- set every module to training mode;
* ``extra_state() -> dict`` / ``load_extra_state(dict)`` -- anything else a resume needs;
* optionally ``bind_data(images)`` -- a conditional model takes its grid's maps from the data.

A *latent* module has ``sample_noise(n, generator, device)``, ``forward(*noise)``,
``extra_loss()`` and ``log_stats()`` (:mod:`paperlib.models.dcgan`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable

import numpy as np

#: Image sizes every model is built for.
RES_CHOICES = (32, 64, 128)

#: Adam settings per config name: ``"paper"`` -- paper A's lr 1e-2 (the betas are DCGAN's:
#: our assumption, paper A states none); ``"conventional"`` -- DCGAN's lr 2e-4.
OPTIM_CONFIGS = {"paper": {"lr": 1e-2, "betas": (0.5, 0.999)},
                 "conventional": {"lr": 2e-4, "betas": (0.5, 0.999)}}


# ----------------------------------------------------------------------------- options
def option(default: Any, help: str, flag: str | None = None, **meta) -> Any:
    """A model option's dataclass field: ``default``, ``help``, and with ``flag`` (e.g.
    ``"--channels"``) a ``train`` flag. ``meta`` may add ``type``, ``metavar``,
    ``default_text`` (--help's default), ``key_default=True`` (left out of the run key
    while at its default), ``legacy=value`` (an option added later: the value runs made
    before it had -- left out of the run key at that value, and what a saved config without
    it reads as) and ``sample_flag`` (e.g. ``"--class"``: a ``generate`` flag setting this
    option of the loaded run, which must change only sampling). A bool option's flag alone
    means true."""
    return field(default=default, metadata={"help": help, "flag": flag, **meta})


@dataclass
class Options:
    """Base of a model's options: a dataclass of :func:`option` fields whose :meth:`validate`
    raises ``ValueError`` on a bad value (and may normalise values, e.g. numpy ints)."""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option (none here)."""


def option_fields(options: Any) -> tuple:
    """The dataclass fields of an options class or object."""
    return fields(options)


def check_int(name: str, v: Any, low: int, allow_none: bool = False) -> int | None:
    """``v`` as an ``int`` >= ``low`` (None passes with ``allow_none``), else ``ValueError``."""
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def check_number(name: str, v: Any, zero_ok: bool = True, at_most_one: bool = False,
                 allow_none: bool = False) -> None:
    """Refuse ``v`` unless a finite number >= 0 (> 0 without ``zero_ok``; <= 1 with
    ``at_most_one``); None passes with ``allow_none``."""
    if v is None and allow_none:
        return
    if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
            or v < 0 or (v == 0 and not zero_ok) or (at_most_one and v > 1)):
        raise ValueError(f"{name} must be a finite number "
                         + ("in [0, 1]" if at_most_one else ">= 0" if zero_ok else "> 0")
                         + f", got {v!r}")


def check_bool(name: str, v: Any) -> None:
    """Refuse ``v`` unless ``True`` or ``False``."""
    if not isinstance(v, bool):
        raise ValueError(f"{name} must be True or False, got {v!r}")


def check_choice(name: str, v: Any, valid) -> None:
    """Refuse ``v`` unless one of ``valid``."""
    if v not in valid:
        raise ValueError(f"unknown {name} {v!r}; valid: {', '.join(map(str, valid))}")


def sizes_by_profile(table: dict) -> Callable[[Any], dict]:
    """A :attr:`ModelSpec.profile_sizes` from ``{profile name: sizes}``: a profile's entry
    over the ``"default"`` one (what a profile of another name gets)."""
    def sizes(prof) -> dict:
        return {**table["default"], **table.get(prof.name, {})}
    return sizes


@dataclass(frozen=True)
class ModelSpec:
    """What the engine, the evaluation and the CLI need to know about one model.

    * ``networks(cfg) -> (latent, G, D)`` -- initialised from torch's global RNG (the engine
      seeds it); ``cfg`` is a :class:`paperlib.engine.TrainConfig`.
    * ``step(cfg, latent, G, D, device)`` -- the step object (module docstring).
    * ``optim(cfg) -> dict`` -- Adam settings; default :data:`OPTIM_CONFIGS` by ``cfg.config``.
    * ``options`` -- the :class:`Options` class (``cfg.options`` is one); its flagged fields
      are ``train``'s model flags.
    * ``fields`` -- option names left out of every other model's run key (None: all).
    * ``data_kind`` -- ``"images"`` (3 channels) or ``"pairs"`` (image, then map channels).
    * ``extra_channels(cfg) -> int`` -- for ``"images"``: channels each training item carries
      after the image's 3 (a class label's constant plane: the step splits them off and
      augments the image alone); None: 0.
    * ``load_folder(path, cfg) -> (tensor, extra identity dict)``, ``join_pairs(pairs, cfg)
      -> tensor`` -- how a folder / a :class:`paperlib.data.paired.Pairs` becomes training
      data (defaults: :func:`paperlib.data.load_folder` at ``cfg.res`` / ``joined()``).
    * ``prepare(cfg, images, data) -> cfg`` -- settle config values taken from the data
      (``data``: its identity, ``load_folder``'s extra dict included).
    * ``validate(cfg)`` -- raise ``ValueError`` on settings this model cannot train with.
    * ``bind_eval_data(run, data_dir)`` -- a conditional model's inputs from the evaluated
      folder (None: unconditional).
    * ``sample_module`` -- checkpoint key of the sampling generator (StyleGAN2: ``"G_ema"``).
    * ``noise_inputs`` -- G has noise inputs besides its latent (constant in eval mode, random
      from ``noise_gen``); only such models' metric cache keys record the noise mode.
    * ``truncation(G, z, psi, noise_gen=None) -> images`` -- StyleGAN's truncation trick,
      ``w = w_avg + psi (w - w_avg)`` (None: the model has none; ``generate --trunc``
      refuses it). The caller uses ``G(z)`` itself at ``psi == 1``.
    * ``profile_sizes(profile) -> dict`` -- the budget (``kimg``) and TrainConfig sizes.
    * ``seconds_per_kimg`` -- ``{profile: measured training seconds per kimg}``, one run per
      single-threaded worker (:func:`paperlib.engine.estimate_seconds`).
    * ``stage_defaults(profile, data_dir, settings) -> (values, note)`` -- what the notebooks
      add to the profile's sizes when they train this model on ``data_dir`` (None: the
      folder is not known yet), given the ``settings`` so far; ``note`` says what was
      adapted to the folder ("" when nothing). None: nothing.
    * ``family`` -- the tables' network family; ``help`` -- one line for --help.
    """

    name: str
    networks: Callable[[Any], tuple]
    step: Callable[..., Any]
    profile_sizes: Callable[[Any], dict]
    optim: Callable[[Any], dict] = lambda cfg: OPTIM_CONFIGS[cfg.config]
    options: type = Options
    fields: tuple[str, ...] | None = None
    data_kind: str = "images"
    extra_channels: Callable[[Any], int] | None = None
    load_folder: Callable[[Any, Any], tuple] | None = None
    join_pairs: Callable[[Any, Any], Any] | None = None
    prepare: Callable[[Any, Any], Any] | None = None
    validate: Callable[[Any], None] | None = None
    bind_eval_data: Callable[[Any, Any], None] | None = None
    sample_module: str = "G"
    noise_inputs: bool = False
    truncation: Callable[..., Any] | None = None
    seconds_per_kimg: dict = field(default_factory=dict)
    stage_defaults: Callable[[Any, Any, dict], tuple[dict, str]] | None = None
    family: str = ""
    help: str = ""

    @property
    def option_names(self) -> tuple[str, ...]:
        """The names of the model's options."""
        return tuple(f.name for f in option_fields(self.options))

    @property
    def key_fields(self) -> tuple[str, ...]:
        """:attr:`fields`, or all option names when None."""
        return self.option_names if self.fields is None else tuple(self.fields)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (a model module calls this when imported)."""
    if spec.data_kind not in ("images", "pairs"):
        raise ValueError(f"{spec.name}: data_kind must be 'images' or 'pairs'")
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def model_names() -> tuple[str, ...]:
    """Every registered model, in registration order."""
    return tuple(_REGISTRY)


def get_model(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; an unknown name is a ``ValueError`` naming the
    valid ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(_REGISTRY)}") from None


def model_fields() -> dict[str, tuple[str, ...]]:
    """``{model: options left out of the other models' run keys}`` of the models that have
    any (:attr:`ModelSpec.key_fields`)."""
    return {n: s.key_fields for n, s in _REGISTRY.items() if s.key_fields}


def option_owner(name: str) -> ModelSpec | None:
    """The first registered model with an option ``name`` (None: no model has it)."""
    return next((s for s in _REGISTRY.values() if name in s.option_names), None)
