"""Run folders: reading a run's status, log and checkpoints, building a model's networks and
step from its config by name, and loading a checkpoint for use (:func:`load_run`)."""
from __future__ import annotations

import csv
import json
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..models import get_model
from ..utils.io import atomic_torch_save, atomic_write_json
from .config import TrainConfig, make_config, resolve_device


@dataclass
class RunResult:
    run_dir: Path
    status: str                    # finished | diverged at epoch E
    epochs_done: int
    rows: list                     # log.csv rows (see read_log)

    @property
    def diverged(self) -> bool:
        return self.status.startswith("diverged")


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


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _status(out: Path, status: str, epochs_done: int, cfg: TrainConfig) -> dict:
    ckpts = list_checkpoints(out)
    return {"status": status, "epochs_done": epochs_done, "epochs_target": cfg.epochs,
            "last_checkpoint": ckpts[-1][0] if ckpts else None, "model": cfg.model,
            "updated": time.strftime("%Y-%m-%d %H:%M:%S"), "executed": where_executed()}


def _result(out: Path) -> RunResult:
    st = read_status(out)
    return RunResult(out, st["status"], st["epochs_done"], read_log(out))


# ----------------------------------------------------------------------------- reading runs
def read_config(run_dir) -> dict:
    """A run's ``config.json``: ``{"config": TrainConfig fields, "data": the training
    data's identity (source, n_images, sha1, ...), "versions": ...}``."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    return json.loads(path.read_text())


def list_runs(root) -> list[Path]:
    """The run folders directly under ``root`` (those with a ``config.json``), sorted;
    empty when ``root`` does not exist."""
    root = Path(root)
    return sorted(p.parent for p in root.glob("*/config.json")) if root.is_dir() else []


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


# ----------------------------------------------------------------------------- trained models
#: ``TrainedGAN.sample``'s noise modes (NVlabs' ``noise_mode``).
NOISE_MODES = ("const", "random")
#: The mode metrics and generated training sets sample with: random noise inputs, as
#: NVlabs' metrics draw them (sample grids keep "const").
METRIC_NOISE = "random"


def metric_noise_key(run_dir) -> dict:
    """What a cache key of images sampled from ``run_dir`` for metrics records about noise:
    ``{"noise": METRIC_NOISE}`` when its model has noise inputs (``spec.noise_inputs``),
    ``{}`` otherwise -- so the keys (and cached results) of models whose images the mode
    cannot change stay as they were."""
    spec = get_model(read_config(run_dir)["config"]["model"])
    return {"noise": METRIC_NOISE} if spec.noise_inputs else {}


@dataclass
class TrainedGAN:
    """A checkpoint loaded for use (eval mode). ``sample`` is what the metrics call."""

    config: TrainConfig
    epoch: int
    latent: nn.Module
    G: nn.Module
    D: nn.Module | None            # None for an exported generator (:func:`export_generator`)
    device: torch.device

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, batch_size: int = 256, noise: str = "const",
               noise_seed: int | None = None) -> torch.Tensor:
        """``n`` images (n,3,res,res) in [-1,1] on the CPU, determined by ``seed`` (the
        latents are all drawn first, so ``batch_size`` changes nothing beyond float rounding).

        ``noise``: what a generator with noise inputs besides its latent
        (``spec.noise_inputs``, StyleGAN2's per-pixel noise) uses for them -- ``"const"``
        (its fixed buffers, as sample grids) or ``"random"`` (NVlabs' metrics' mode: drawn
        per batch from a ``torch.Generator`` seeded by ``noise_seed``, by default one
        derived from ``seed``; then the images also depend on ``batch_size``). Other
        generators ignore it (:data:`METRIC_NOISE` is what metrics pass).
        """
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {NOISE_MODES}, got {noise!r}")
        self.G.eval(), self.latent.eval()
        latents = self.latent.sample_noise(n, torch.Generator().manual_seed(seed), "cpu")
        kw = {}
        if noise == "random":
            if noise_seed is None:   # a stream of its own, not another seed's latents
                noise_seed = int(np.random.SeedSequence([int(seed), 1]).generate_state(1)[0])
            kw["noise_gen"] = torch.Generator().manual_seed(int(noise_seed))
        out = [self.G(self.latent(*(t[i:i + batch_size].to(self.device) for t in latents)),
                      **kw).cpu()
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
    g_key = cfg.spec.sample_module   # the generator that samples (an EMA copy for some models)
    if "D" not in ckpt:              # an exported generator: no discriminator to load
        D = None
    for module, key in ((latent, "latent"), (G, g_key), (D, "D")):
        if module is not None:
            module.load_state_dict(ckpt[key])
            module.to(dev).eval()
    return TrainedGAN(cfg, epoch, latent, G, D, dev)


def export_generator(run_dir, dest, epoch: int | None = None) -> Path:
    """Write a run's sampling generator alone as a small run folder ``dest`` that
    :func:`load_run` opens (``TrainedGAN.D`` is then ``None``): its ``config.json`` and one
    checkpoint holding only the latent module and the generator that samples
    (``spec.sample_module``), as float32 tensors -- no discriminator, optimisers or RNG
    state, so it can be shipped in the repository and loaded with ``weights_only=True``.
    Returns ``dest``; files are written atomically, a previous export is replaced."""
    run_dir, dest = Path(run_dir), Path(dest)
    ckpts = dict(list_checkpoints(run_dir))
    if not ckpts:
        raise FileNotFoundError(f"no checkpoints in {run_dir / 'checkpoints'}: nothing to export")
    epoch = max(ckpts) if epoch is None else epoch
    if epoch not in ckpts:
        raise ValueError(f"{run_dir} has no checkpoint for epoch {epoch}; has {sorted(ckpts)}")
    saved = read_config(run_dir)
    g_key = get_model(saved["config"]["model"]).sample_module
    ckpt = torch.load(ckpts[epoch], map_location="cpu", weights_only=True)
    keep = {"epoch": epoch, "latent": ckpt["latent"], g_key: ckpt[g_key]}
    (dest / "checkpoints").mkdir(parents=True, exist_ok=True)
    for old in (dest / "checkpoints").glob("epoch_*.pt"):
        if old.name != f"epoch_{epoch:04d}.pt":
            old.unlink()
    atomic_torch_save(keep, dest / "checkpoints" / f"epoch_{epoch:04d}.pt")
    atomic_write_json(dest / "config.json", {**saved, "exported_from": run_dir.name}, indent=1)
    return dest


FORCE_ENV = "PAPERLIB_FORCE"  # set by `reproduce --force`: every cached run is redone once


def build_networks(cfg: TrainConfig):
    """``(latent, G, D)`` of ``cfg``'s model, initialised from torch's global RNG."""
    return cfg.spec.networks(cfg)


def build_trainer(cfg: TrainConfig, device):
    """The model-specific part of a run (its step object), seeded by ``cfg.seed`` (in a
    forked RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        latent, G, D = (m.to(device) for m in build_networks(cfg))
        return cfg.spec.step(cfg, latent, G, D, device)
