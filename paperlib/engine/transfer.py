"""Starting a run from another run's weights (NVlabs' ``--resume`` transfer): the source
checkpoint, checked against the new config before any training (:func:`init_checkpoint`).
The loop applies it (``TrainConfig.init_from``: weights only, fresh optimisers)."""
from __future__ import annotations

from pathlib import Path

import torch

from .config import RESUMABLE, TrainConfig, make_config
from .runs import RunDir, build_networks

#: The networks a checkpoint must hold for a transfer (what :func:`build_networks` builds).
NETWORKS = ("latent", "G", "D")

#: Config fields never compared for a transfer (they shape no network).
_NOT_SHAPING = (*RESUMABLE, "init_from", "inject_nan_at_epoch", "seed")


def network_shapes(cfg: TrainConfig) -> dict:
    """``{network: {state-dict key: shape}}`` of ``cfg``'s (latent, G, D), built on the meta
    device (no memory; torch's RNG untouched), on the CPU in a forked RNG if that fails."""
    try:
        with torch.device("meta"):
            nets = build_networks(cfg)
    except Exception:   # noqa: BLE001 -- a model whose constructor needs real tensors
        with torch.random.fork_rng(devices=[]):
            nets = build_networks(cfg)
    return {k: {n: tuple(t.shape) for n, t in m.state_dict().items()}
            for k, m in zip(NETWORKS, nets)}


def _checkpoint_shapes(path: Path) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return {k: {n: tuple(t.shape) for n, t in ckpt[k].items()} for k in NETWORKS if k in ckpt}


def _shaping_fields(cfg: TrainConfig, source: dict) -> list[str]:
    """The config fields whose source value alone changes ``cfg``'s network shapes."""
    mine, new = network_shapes(cfg), cfg.to_dict()
    found = []
    for k, v in new.items():
        if k in _NOT_SHAPING or k not in source or source[k] == v:
            continue
        try:
            shapes = network_shapes(make_config(**{**new, k: source[k]}))
        except ValueError:
            shapes = None
        if shapes != mine:
            found.append(k)
    return found


def _with_unset_from(cfg: TrainConfig, source: dict) -> TrainConfig:
    """``cfg`` with its unset (None) settings the source's: those a model takes from the
    data (``ModelSpec.prepare``, e.g. map channels) are set in a trained run's config."""
    new = cfg.to_dict()
    fill = {k: source[k] for k, v in new.items()
            if v is None and source.get(k) is not None and k not in _NOT_SHAPING}
    return make_config(**{**new, **fill}) if fill else cfg


def init_checkpoint(run, epoch: int | None, cfg: TrainConfig) -> tuple[int, Path]:
    """``(epoch, path)`` of run folder ``run``'s checkpoint (``epoch``, default the latest)
    for ``cfg`` to start from. ``ValueError`` naming what differs when the run is of another
    model or its networks have other sizes (the config fields, else the first tensor; a
    setting ``cfg`` leaves unset, None, reads as the run's);
    ``FileNotFoundError`` when ``run`` is no run folder or has no checkpoint."""
    src = RunDir(run)
    saved = src.config["config"]
    epoch, path = src.checkpoint(epoch)
    if saved["model"] != cfg.model:
        raise ValueError(f"{src.path} is a {saved['model']} run; cannot start a {cfg.model} "
                         "run from its weights")
    check_fits(path, _with_unset_from(cfg, saved), f"{src.path} (epoch {epoch})", saved)
    return epoch, path


def check_fits(path, cfg: TrainConfig, name: str | None = None, source: dict | None = None
               ) -> None:
    """``ValueError`` naming what differs when checkpoint ``path``'s networks do not have
    ``cfg``'s sizes: the config fields that differ from ``source`` (the checkpoint's run
    config) when given, else the first tensor. The loop calls it once the data has
    settled ``cfg`` (e.g. a conditional model's map channels)."""
    name = name or str(path)
    have, want = _checkpoint_shapes(Path(path)), network_shapes(cfg)
    missing = [k for k in NETWORKS if k not in have]
    if missing:
        raise ValueError(f"{name} has no weights for {missing}")
    if have == want:
        return
    blamed = _shaping_fields(cfg, source) if source is not None else []
    if blamed:
        what = ", ".join(f"{k} {source[k]!r} there, {cfg.to_dict()[k]!r} here" for k in blamed)
    else:
        net, key = next((n, k) for n in NETWORKS for k in sorted({*have[n], *want[n]})
                        if have[n].get(k) != want[n].get(k))
        what = f"{net}.{key} {have[net].get(key)} there, {want[net].get(key)} here"
    raise ValueError(f"{name} has networks of other sizes: {what}")
