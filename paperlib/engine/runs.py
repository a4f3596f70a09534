"""Run folders: reading a run's status, log and checkpoints, the one writer's lock
(:meth:`RunDir.lock`), building a model's networks and step from its config by name, and
loading a checkpoint for use (:func:`load_run`)."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..models import get_model
from ..utils.io import atomic_torch_save, atomic_write, atomic_write_json, atomic_write_text
from .config import TrainConfig, make_config, resolve_device, saved_settings


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


try:
    import fcntl
except ImportError:  # not POSIX (Windows): run folders are not locked
    fcntl = None

#: The files of a run folder (:class:`RunDir`).
CONFIG_FILE, STATUS_FILE, LOG_FILE, LOCK_FILE = "config.json", "status.json", "log.csv", ".lock"
#: The suffix a checkpoint that does not load is renamed with (:meth:`RunDir.set_aside`).
CORRUPT_SUFFIX = ".corrupt"


class BadInput(ValueError):
    """Input refused by a check made before any work starts (nothing was written): the
    command line's exit 2. A ``ValueError`` raised once work has started is a failure."""


class RunBusy(RuntimeError):
    """Another process is writing the run folder (it holds :meth:`RunDir.lock`); the message
    names its pid, host and start time."""


class CheckpointCorrupt(UserWarning):
    """A checkpoint did not load: it was set aside and an earlier one used."""


class RunDir:
    """A run folder and its layout, the one place that knows its file names::

        config.json              {"config": TrainConfig fields, "data": the training images'
                                 identity (source, n_images, sha1, ...), "versions": ...}
        status.json              {"status": "running" | "finished" | "diverged at epoch E",
                                  "epochs_done", "epochs_target", "last_checkpoint", ...}
                                 ("running" is also what a killed run leaves)
        log.csv                  one row per epoch (:func:`paperlib.engine.loop.train`)
        samples/epoch_0005.png   sample grids of a fixed noise batch
        checkpoints/epoch_0005.pt  checkpoints, all kept (one that does not load is renamed
                                 ``epoch_0005.pt.corrupt`` on resume)
        .lock                    the writer's lock (:meth:`lock`): pid, host, start time

    Reading never writes and takes no lock; ``path`` need not exist (then :meth:`is_run`
    is false). Writing happens under :meth:`lock`."""

    def __init__(self, path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def status_file(self) -> Path:
        return self.path / STATUS_FILE

    @property
    def log_file(self) -> Path:
        return self.path / LOG_FILE

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK_FILE

    def checkpoint_file(self, epoch: int) -> Path:
        """Where the checkpoint of ``epoch`` is (or would be) written."""
        return self.checkpoints_dir / f"epoch_{int(epoch):04d}.pt"

    def sample_file(self, epoch: int) -> Path:
        """Where the sample grid of ``epoch`` is (or would be) written."""
        return self.path / "samples" / f"epoch_{int(epoch):04d}.png"

    # -- reading
    def is_run(self) -> bool:
        """Whether the folder holds a run (its config file exists)."""
        return self.config_file.is_file()

    @property
    def config(self) -> dict:
        """The parsed config file (layout: class docstring); ``FileNotFoundError`` naming
        the folder when it is not a run folder."""
        if not self.is_run():
            raise FileNotFoundError(f"{self.path} is not a run folder (no {CONFIG_FILE})")
        return json.loads(self.config_file.read_text())

    def train_config(self, **overrides) -> TrainConfig:
        """The run's :class:`TrainConfig` (``device`` "auto"), with ``overrides`` applied."""
        return make_config(**{**saved_settings(self.config["config"]), "device": "auto",
                              **overrides})

    @property
    def status(self) -> dict:
        """The status file; a run killed before writing it reads as running, 0 epochs done."""
        if not self.status_file.exists():
            return {"status": "running", "epochs_done": 0}
        return json.loads(self.status_file.read_text())

    def log_rows(self, keep_truncated: bool = False) -> list[dict]:
        """log.csv's rows as string dicts, in file order ([] without a log). A row a kill
        cut short (a missing or empty field) is dropped unless ``keep_truncated``."""
        if not self.log_file.exists():
            return []
        with open(self.log_file, newline="") as f:
            rows = list(csv.DictReader(f))
        return rows if keep_truncated else [
            r for r in rows if None not in r.values() and "" not in r.values()]

    def log(self) -> list[dict]:
        """Every log.csv row parsed: ``epoch`` int, every other column float."""
        return [{k: int(v) if k == "epoch" else float(v) for k, v in r.items()}
                for r in self.log_rows(keep_truncated=True)]

    def result(self) -> RunResult:
        """The run as a :class:`RunResult` (status file and parsed log)."""
        st = self.status
        return RunResult(self.path, st["status"], st["epochs_done"], self.log())

    def checkpoints(self) -> list[tuple[int, Path]]:
        """``[(epoch, path), ...]`` of the run's checkpoints, oldest first."""
        found = []
        for p in self.checkpoints_dir.glob("epoch_*.pt"):
            m = re.fullmatch(r"epoch_(\d+)\.pt", p.name)
            if m:
                found.append((int(m.group(1)), p))
        return sorted(found)

    def checkpoint(self, epoch: int | None = None, or_latest: bool = False
                   ) -> tuple[int, Path]:
        """``(epoch, path)`` of the checkpoint of ``epoch``, the latest when ``epoch`` is
        None (or, with ``or_latest``, when there is none of ``epoch``). Raises
        ``FileNotFoundError`` without checkpoints, ``ValueError`` naming the epochs there are
        when ``epoch``'s is missing."""
        ckpts = dict(self.checkpoints())
        if not ckpts:
            raise FileNotFoundError(f"no checkpoints in {self.checkpoints_dir}")
        if epoch is None or (or_latest and epoch not in ckpts):
            epoch = max(ckpts)
        if epoch not in ckpts:
            raise ValueError(f"{self.path} has no checkpoint for epoch {epoch}; "
                             f"has {sorted(ckpts)}")
        return epoch, ckpts[epoch]

    def load_checkpoint(self) -> dict | None:
        """The latest checkpoint that loads (``weights_only``), or None without one. One that
        does not (truncated, garbage, another epoch inside) is renamed ``*.corrupt``
        (:meth:`set_aside`, never deleted) with a :class:`CheckpointCorrupt` warning naming
        it, and the one before is tried. A file that cannot be opened (permissions) raises
        its ``OSError``. Call it under :meth:`lock`."""
        for epoch, path in reversed(self.checkpoints()):
            with open(path, "rb") as f:   # unreadable: the OSError, nothing set aside
                try:
                    ckpt = torch.load(f, map_location="cpu", weights_only=True)
                    if not (isinstance(ckpt, dict) and ckpt.get("epoch") == epoch):
                        raise ValueError(f"holds no checkpoint of epoch {epoch}")
                except Exception as err:  # noqa: BLE001 - a file that opens but does not
                    bad = err             # load is corrupt (a short one can raise OSError)
                else:
                    return ckpt
            moved = self.set_aside(path)
            why = str(bad).splitlines()[0] if str(bad) else ""
            warnings.warn(f"checkpoint {path} does not load ({type(bad).__name__}: {why}); "
                          f"moved it to {moved.name} and resuming from the one before",
                          CheckpointCorrupt, stacklevel=2)
        return None

    # -- writing (the training loop and :func:`export_generator`)
    @contextlib.contextmanager
    def lock(self):
        """Hold the folder's writer lock for the block (the folder is created): an exclusive
        ``flock`` on ``.lock``, which records the holder's pid, host and start time. Another
        holder (process, or open in this one) raises :class:`RunBusy` at once, naming it.
        The kernel releases a dead process's lock, so a killed run's is taken over. A no-op
        where ``fcntl`` is missing (Windows)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunBusy(self._busy_message(fd)) from None
            holder = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": time.strftime("%Y-%m-%d %H:%M:%S")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
            yield
        finally:
            os.close(fd)   # releases the lock

    def _busy_message(self, fd: int) -> str:
        """RunBusy's message: the holder as its lock file records it."""
        for _ in range(20):   # the holder writes its record just after locking
            try:
                h = json.loads(os.pread(fd, 4096, 0).decode() or "null")
            except ValueError:
                h = None
            if h:
                return (f"{self.path} is in use by another process (pid {h['pid']} on "
                        f"{h['host']}, since {h['since']}); wait for it to finish or stop it, "
                        "then rerun")
            time.sleep(0.05)
        return f"{self.path} is in use by another process; wait for it to finish, then rerun"

    def set_aside(self, path) -> Path:
        """Rename a bad file ``path`` to ``<name>.corrupt`` (``.corrupt.1``, ... when taken);
        returns the new path."""
        path = Path(path)
        dest, n = path.with_name(path.name + CORRUPT_SUFFIX), 0
        while dest.exists():
            n += 1
            dest = path.with_name(f"{path.name}{CORRUPT_SUFFIX}.{n}")
        os.replace(path, dest)
        return dest

    def write_config(self, record: dict) -> None:
        """Write the config file (atomically; layout: class docstring)."""
        atomic_write_json(self.config_file, record, indent=1)

    def write_status(self, status: str, epochs_done: int, cfg: TrainConfig) -> None:
        """Write the status file: ``status``, the epochs done and targeted, the last
        checkpoint, the time and where it executed (:func:`where_executed`)."""
        ckpts = self.checkpoints()
        atomic_write_json(self.status_file, {
            "status": status, "epochs_done": epochs_done, "epochs_target": cfg.epochs,
            "last_checkpoint": ckpts[-1][0] if ckpts else None, "model": cfg.model,
            "updated": time.strftime("%Y-%m-%d %H:%M:%S"), "executed": where_executed()},
            indent=1)

    def clear(self) -> None:
        """Delete the run's files (config, status, log, samples, checkpoints; the lock
        stays)."""
        for f in (self.config_file, self.status_file, self.log_file):
            f.unlink(missing_ok=True)
        for sub in (self.path / "samples", self.checkpoints_dir):
            shutil.rmtree(sub, ignore_errors=True)

    def drop_partial_checkpoints(self) -> None:
        """Delete checkpoint files a kill left half-written (``*.tmp``)."""
        for tmp in self.checkpoints_dir.glob("*.tmp"):
            tmp.unlink()


# ----------------------------------------------------------------------------- reading runs
def read_config(run_dir) -> dict:
    """A run's config file: :attr:`RunDir.config`."""
    return RunDir(run_dir).config


def list_runs(root) -> list[Path]:
    """The run folders directly under ``root`` (:meth:`RunDir.is_run`), sorted; empty when
    ``root`` does not exist."""
    root = Path(root)
    return sorted(p.parent for p in root.glob(f"*/{CONFIG_FILE}")) if root.is_dir() else []


def find_runs(root) -> list[RunDir]:
    """Every folder under ``root`` (any depth) holding a config file, in the sorted order
    of those files; empty when ``root`` does not exist."""
    root = Path(root)
    return [RunDir(p.parent) for p in sorted(root.rglob(CONFIG_FILE))] if root.is_dir() else []


def read_status(run_dir) -> dict:
    """A run's status: :attr:`RunDir.status`."""
    return RunDir(run_dir).status


def read_log(run_dir) -> list[dict]:
    """A run's parsed log.csv rows: :meth:`RunDir.log`."""
    return RunDir(run_dir).log()


def list_checkpoints(run_dir) -> list[tuple[int, Path]]:
    """``[(epoch, path), ...]`` of a run's checkpoints, oldest first."""
    return RunDir(run_dir).checkpoints()


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
    spec = get_model(RunDir(run_dir).config["config"]["model"])
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
               noise_seed: int | None = None, psi: float = 1.0) -> torch.Tensor:
        """``n`` images (n,3,res,res) in [-1,1] on the CPU, determined by ``seed``
        (``batch_size`` changes only float rounding). ``noise`` (models with noise inputs):
        ``"const"`` buffers, or ``"random"``, drawn per batch from ``noise_seed`` (default:
        derived from ``seed``; then ``batch_size`` matters). Metrics pass :data:`METRIC_NOISE`.
        ``psi`` != 1: the model's truncation trick (``spec.truncation``; ``ValueError``
        without one); ``psi == 1`` is exactly the untruncated images.
        """
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {NOISE_MODES}, got {noise!r}")
        G = self.G
        if psi != 1.0:
            trunc = self.config.spec.truncation
            if trunc is None:
                raise ValueError(f"{self.config.model} has no truncation trick (psi {psi})")

            def G(z, **kw):
                return trunc(self.G, z, psi, **kw)
        self.G.eval(), self.latent.eval()
        latents = self.latent.sample_noise(n, torch.Generator().manual_seed(seed), "cpu")
        kw = {}
        if noise == "random":
            if noise_seed is None:   # a stream of its own, not another seed's latents
                noise_seed = int(np.random.SeedSequence([int(seed), 1]).generate_state(1)[0])
            kw["noise_gen"] = torch.Generator().manual_seed(int(noise_seed))
        out = [G(self.latent(*(t[i:i + batch_size].to(self.device) for t in latents)),
                 **kw).cpu()
               for i in range(0, n, batch_size)]
        res = self.config.res
        return torch.cat(out).float() if out else torch.empty(0, 3, res, res)

    def sample_seeds(self, seeds, psi: float = 1.0) -> torch.Tensor:
        """One image per seed (len(seeds),3,res,res), constant noise inputs: seed ``s``'s is
        ``sample(1, seed=s)``, the first latent drawn by the latent module's
        ``sample_noise`` from ``torch.Generator().manual_seed(s)`` on the CPU, so the same
        on every call whatever the other seeds. ``psi``: as :meth:`sample`."""
        res = self.config.res
        out = [self.sample(1, seed=int(s), psi=psi) for s in seeds]
        return torch.cat(out) if out else torch.empty(0, 3, res, res)


def load_run(run_dir, epoch: int | None = None, device=None,
             options: dict | None = None) -> TrainedGAN:
    """Load a run's checkpoint (the latest by default; :meth:`RunDir.checkpoint`) as a
    :class:`TrainedGAN`. ``options``: sampling options over the run's (e.g. the class a
    conditional StyleGAN2 samples); ``ValueError`` for a bad one."""
    run = RunDir(run_dir)
    epoch, path = run.checkpoint(epoch)
    cfg = run.train_config(**(options or {}))
    dev = resolve_device(device)
    ckpt = torch.load(path, map_location=dev, weights_only=True)
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
    :func:`load_run` opens (``D`` None): the config and one checkpoint (default: the latest)
    with only the latent and ``spec.sample_module``, ``weights_only``-loadable. Returns
    ``dest``; written atomically, replacing a previous export."""
    run, out = RunDir(run_dir), RunDir(dest)
    epoch, path = run.checkpoint(epoch)
    saved = run.config
    g_key = get_model(saved["config"]["model"]).sample_module
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    keep = {"epoch": epoch, "latent": ckpt["latent"], g_key: ckpt[g_key]}
    with out.lock():
        out.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        for old in out.checkpoints_dir.glob("epoch_*.pt"):
            if old != out.checkpoint_file(epoch):
                old.unlink()
        atomic_torch_save(keep, out.checkpoint_file(epoch))
        out.write_config({**saved, "exported_from": run.path.name})
    return out.path


def snapshot(run_dir, epoch: int, dest) -> RunResult:
    """Write ``dest`` as a finished run folder holding ``run_dir`` as it stood at ``epoch``:
    its config with ``epochs`` = ``epoch``, its log rows up to ``epoch`` and that epoch's
    checkpoint (hard-linked where the file system allows, else copied), so that code
    starting from a run's *latest* checkpoint starts from ``epoch``. A finished ``dest`` of
    the same run and epoch is kept. Raises ``ValueError`` when ``run_dir`` has no checkpoint
    at ``epoch``."""
    run, out = RunDir(run_dir), RunDir(dest)
    epoch, src = run.checkpoint(int(epoch))
    saved = run.config
    record = {**saved, "config": {**saved["config"], "epochs": epoch},
              "snapshot_of": {"run": str(run.path), "epoch": epoch}}
    if out.is_run() and out.config.get("snapshot_of") == record["snapshot_of"] \
            and out.status.get("status") == "finished":
        return out.result()
    with out.lock():
        out.clear()
        out.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, out.checkpoint_file(epoch))
        except OSError:
            atomic_write(out.checkpoint_file(epoch), lambda f: f.write(src.read_bytes()),
                         fsync=True)
        rows = [r for r in run.log_rows() if int(r["epoch"]) <= epoch]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["epoch"])
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(out.log_file, buf.getvalue())
        out.write_config(record)
        out.write_status("finished", epoch, make_config(**{
            **saved_settings(record["config"]), "device": "auto"}))
    return out.result()


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
