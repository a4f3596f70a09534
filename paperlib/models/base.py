"""The model registry and the step interface every model gives the engine.

A model is one module in :mod:`paperlib.models` that builds its networks and its training
step and calls :func:`register` with a :class:`ModelSpec`. The engine
(:mod:`paperlib.engine`), the evaluation (:mod:`paperlib.metrics`) and the CLI look a model
up by name (:func:`get_model`) and never branch on it, so adding a model means adding one
module here (NVlabs' stylegan2-ada builds its networks by name from a config the same way).

**The step interface** (what :func:`paperlib.engine.train` sees of a model; the PyTorch
examples' ``dcgan/main.py`` step is :func:`paperlib.models.dcgan.train_step`):

* ``modules`` -- ``{name: nn.Module}``, checkpointed by name (``G``, ``D``, ``latent``, ...);
* ``optimizers`` -- ``{name: torch.optim.Optimizer}``, checkpointed by name;
* ``step(real, augment, generator) -> Tensor[4]`` -- one update on a batch; returns the
  detached ``[d_loss, g_loss, d_real, d_fake]`` the log records;
* ``sampler() -> (latent, G)`` -- what sample grids and metrics draw from; ``G(x)`` gives
  the images of the latent's output ``x``, and ``G(x, noise_gen=g)`` (a ``torch.Generator``)
  those with any further noise inputs drawn at random from ``g`` -- a generator without
  such inputs accepts the keyword and ignores it (``noise_inputs`` below);
* ``train()`` -- set every module to training mode;
* ``extra_state() -> dict`` / ``load_extra_state(dict)`` -- anything else a resume needs;
* optionally ``bind_data(images)`` -- a conditional model takes its grid's maps from the data.

A *latent* module has ``sample_noise(n, generator, device)``, ``forward(*noise)``,
``extra_loss()`` and ``log_stats()`` (:mod:`paperlib.models.dcgan`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

#: Image sizes every model is built for.
RES_CHOICES = (32, 64, 128)

#: Optimiser settings per config name, for models that follow the config: ``"paper"`` --
#: Adam lr 1e-2, betas (0.5, 0.999) (paper A states only "Adam, learning rate 1e-2, batch
#: size 35"; the betas are DCGAN's, Radford et al. -- our assumption); ``"conventional"`` --
#: DCGAN's lr 2e-4, betas (0.5, 0.999).
OPTIM_CONFIGS = {"paper": {"lr": 1e-2, "betas": (0.5, 0.999)},
                 "conventional": {"lr": 2e-4, "betas": (0.5, 0.999)}}


@dataclass(frozen=True)
class ModelSpec:
    """What the engine, the evaluation and the CLI need to know about one model.

    * ``networks(cfg) -> (latent, G, D)`` -- initialised from torch's global RNG (the engine
      seeds it); ``cfg`` is a :class:`paperlib.engine.TrainConfig`.
    * ``step(cfg, latent, G, D, device)`` -- the model's training step object (interface in
      the module docstring).
    * ``optim(cfg) -> dict`` -- the Adam settings; default :data:`OPTIM_CONFIGS` by
      ``cfg.config``.
    * ``fields`` -- TrainConfig fields only this model reads: left out of every other
      model's run key, so adding a model leaves the others' run names alone.
    * ``data_kind`` -- ``"images"`` (3 channels) or ``"pairs"`` (image channels, then the
      input map's: a conditional model).
    * ``load_folder(path, cfg) -> (tensor, extra identity dict)`` -- how a folder becomes
      training data (default: :func:`paperlib.data.load_folder` at ``cfg.res``).
    * ``join_pairs(pairs, cfg) -> tensor`` -- how a :class:`paperlib.data.paired.Pairs`
      passed to :func:`paperlib.engine.train` becomes training data (default: its
      ``joined()``).
    * ``prepare(cfg, images) -> cfg`` -- settle config values taken from the data.
    * ``validate(cfg)`` -- raise ``ValueError`` on settings this model cannot train with.
    * ``bind_eval_data(run, data_dir)`` -- a conditional model draws its inputs from the
      evaluated folder (None: unconditional).
    * ``sample_module`` -- the checkpoint key of the generator that samples (``"G_ema"``
      for StyleGAN2, NVlabs' practice).
    * ``noise_inputs`` -- the generator has noise inputs besides its latent (StyleGAN2's
      per-pixel noise): constant in eval mode, random from the ``noise_gen`` keyword. Metrics
      sample them at random (:meth:`paperlib.engine.TrainedGAN.sample`), and their cache
      keys record that only for such models (the others' images do not change).
    * ``profile_sizes(profile) -> dict`` -- the profile's budget (``kimg``) and the
      TrainConfig sizes for this model.
    * ``cli_defaults`` -- CLI defaults for ``batch_size``, ``nz``, ``ngf``, ``ndf``.
    * ``family`` -- the tables' name for the network family; ``help`` -- one line for --help.
    """

    name: str
    networks: Callable[[Any], tuple]
    step: Callable[..., Any]
    profile_sizes: Callable[[Any], dict]
    optim: Callable[[Any], dict] = lambda cfg: OPTIM_CONFIGS[cfg.config]
    fields: tuple[str, ...] = ()
    data_kind: str = "images"
    load_folder: Callable[[Any, Any], tuple] | None = None
    join_pairs: Callable[[Any, Any], Any] | None = None
    prepare: Callable[[Any, Any], Any] | None = None
    validate: Callable[[Any], None] | None = None
    bind_eval_data: Callable[[Any, Any], None] | None = None
    sample_module: str = "G"
    noise_inputs: bool = False
    cli_defaults: dict = field(default_factory=dict)
    family: str = ""
    help: str = ""


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
    """``{model: its own TrainConfig fields}`` of the models that have any."""
    return {n: s.fields for n, s in _REGISTRY.items() if s.fields}
