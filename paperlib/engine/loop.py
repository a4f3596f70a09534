"""The training loop, one for every registered model, behind the step interface
(:mod:`paperlib.models.base`): the PyTorch examples' ``dcgan/main.py`` loop.

Each epoch shuffles the data, calls ``trainer.step`` per batch (augmentation wraps every D
call) and logs the epoch means of its ``[d_loss, g_loss, d_real, d_fake]``. :func:`train`
writes the run folder (:class:`~paperlib.engine.runs.RunDir`): config, status, a log row per
epoch, a fixed-noise sample grid every ``sample_every`` and a ``weights_only`` checkpoint every
``ckpt_every`` epochs (both also at the last; all kept), under the folder's lock (one writer;
another gets :class:`~paperlib.engine.runs.RunBusy`). A killed run leaves "running"; rerun,
it resumes from its latest checkpoint that loads (a corrupt one is set aside with a warning).

Reproducibility: initialisation from ``torch.manual_seed(seed)`` in a forked RNG; shuffling,
noise and augmentation only from two checkpointed ``torch.Generator``. On CPU the same seed
gives identical losses, resumed or not; threads, machines or CUDA may differ in the last bits."""
from __future__ import annotations

import csv
import hashlib
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import save_image
from tqdm.auto import tqdm

from .. import __version__
from ..data.folders import load_folder, manifest_hash
from ..utils.io import atomic_torch_save, atomic_write
from ..utils.threads import pinned_threads
from .augment import Augmenter
from .config import (
    RESUMABLE,
    TrainConfig,
    config_defaults,
    make_config,
    resolve_device,
    run_name,
    saved_settings,
)
from .runs import FORCE_ENV, BadInput, RunDir, RunResult, build_trainer
from .transfer import check_fits

N_FIXED = 64  # images in the fixed-noise sample grid


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
class RunMismatch(BadInput):
    """``out`` holds a run of another configuration or other training images: resuming it
    is impossible. The message names the differences; each caller says how to proceed (the
    API: ``resume=False``; the CLI: ``--restart`` or another ``--out``)."""


def train(cfg: TrainConfig, data, out, progress: bool = True, resume: bool = True) -> RunResult:
    """Train ``cfg`` on ``data`` (a tensor (N,3,res,res) in [-1,1], or a folder) into the
    run folder ``out``; returns a :class:`RunResult`. Resumes a run of the same config (only
    ``epochs``/``device`` may differ; finished or diverged: returns at once); another run in
    ``out`` raises :class:`RunMismatch` unless ``resume=False`` (start over). NaN/inf losses
    end the run as ``"diverged at epoch E"`` (no exception). Every ``ValueError`` of the
    checks before the run folder is written is a :class:`BadInput`. Another process
    writing ``out`` raises :class:`RunBusy` at once (:meth:`RunDir.lock`)."""
    try:
        cfg = make_config(**cfg.to_dict())
        images, data_id = _load_data(data, cfg)
        if cfg.spec.prepare is not None:   # settings taken from the data (e.g. map channels)
            cfg = cfg.spec.prepare(cfg, images, data_id)
        if cfg.init_from:   # the start weights fit the networks this data gives
            check_fits(cfg.init_from, cfg, f"init_from {cfg.init_from}")
    except ValueError as err:
        if isinstance(err, BadInput):
            raise
        raise BadInput(str(err)) from err
    out = RunDir(out)
    if resume and out.is_run():   # refused or nothing to do: no lock taken, nothing written
        _check_resumable(out, cfg, data_id)
        if _is_done(out.status, cfg):
            return out.result()
    with out.lock():   # another process writing ``out``: RunBusy
        start, ckpt, done = _prepare_run_dir(out, cfg, data_id, resume)
        if done:  # finished (at >= cfg.epochs) or diverged already
            return out.result()
        with pinned_threads(cfg.threads):
            return _train_loop(cfg, images, out, start, ckpt, progress)


def _train_loop(cfg: TrainConfig, images, out: RunDir, start: int, ckpt, progress: bool):
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
    # the grid's noise follows from the seed alone: a resumed run rebuilds it (the
    # checkpoint's copy is a record only)
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

    out.write_status("running", start, cfg)
    extra_cols = list(latent.log_stats())
    columns = ["epoch", "kimg", "d_loss", "g_loss", "d_real", "d_fake", *extra_cols, "aug_p",
               "seconds"]
    log_file, log = _open_log(out, columns, keep_through=start)
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
                _save_samples(out.sample_file(epoch), G, latent, fixed_noise)
            if epoch % cfg.ckpt_every == 0 or epoch == cfg.epochs:
                atomic_torch_save({
                    "epoch": epoch, **{k: m.state_dict() for k, m in trainer.modules.items()},
                    **{k: o.state_dict() for k, o in trainer.optimizers.items()},
                    "extra": trainer.extra_state(), "augment": augment.state_dict(),
                    "rng": {"shuffle": g_shuffle.get_state(), "noise": g_noise.get_state()},
                    "fixed_noise": [t.cpu() for t in fixed_noise], "config": cfg.to_dict(),
                }, out.checkpoint_file(epoch))
                out.write_status("running", epoch, cfg)
    finally:
        bar.close()
        log_file.close()
    out.write_status(status, epochs_done, cfg)
    return out.result()


def _load_modules(modules: dict, state: dict, source) -> None:
    """Load every module's weights from a checkpoint dict (a checkpoint of another model
    family lacks some module and is refused by name)."""
    missing = [k for k in modules if k not in state]
    if missing:
        raise ValueError(f"{source} has no weights for {missing}: a checkpoint of another "
                         "model family?")
    for k, m in modules.items():
        m.load_state_dict(state[k])


# ----------------------------------------------------------------------------- run folder
def _load_data(data, cfg: TrainConfig) -> tuple[torch.Tensor, dict]:
    """The training tensor and its identity. A conditional model (``data_kind`` "pairs")
    trains on (map, image) pairs: one tensor per pair, image channels then the map's; a
    model's ``extra_channels`` (e.g. a class label's plane) follow the image's 3."""
    res, paired = cfg.res, cfg.spec.data_kind == "pairs"
    n_extra = cfg.spec.extra_channels(cfg) if cfg.spec.extra_channels is not None else 0
    extra = {}
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.exists():
            raise FileNotFoundError(f"data folder {path} does not exist")
        if not path.is_dir():
            raise NotADirectoryError(f"data {path} is not a folder")
        source = str(path)
        if cfg.spec.load_folder is not None:
            images, extra = cfg.spec.load_folder(path, cfg)
        else:
            images = load_folder(path, res, strict=False).images
        if len(images) == 0:
            raise ValueError(f"no usable images found in {path}")
    else:
        images, source = getattr(data, "images", data), "tensor"
        if paired and hasattr(data, "joined"):
            images = cfg.spec.join_pairs(data, cfg) if cfg.spec.join_pairs else data.joined()
    if not (isinstance(images, torch.Tensor) and images.ndim == 4
            and tuple(images.shape[2:]) == (res, res)
            and (images.shape[1] > 3 if paired else images.shape[1] == 3 + n_extra)):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        what = ("(N, 3 + map channels" if paired else
                f"(N, 3 + {n_extra} label channel(s)" if n_extra else "(N, 3")
        raise ValueError(f"data must be a folder or a float tensor {what}, {res}, {res}); "
                         f"got {shape}")
    if len(images) == 0:
        raise ValueError("data holds no images")
    images = images.detach().float().cpu().contiguous()
    sha1 = hashlib.sha1(images.numpy().tobytes()).hexdigest()
    return images, {"source": source, "n_images": len(images), "sha1": sha1, **extra}


def _is_done(status: dict, cfg: TrainConfig) -> bool:
    """Whether a run of ``status`` has nothing left to train for ``cfg``: diverged, or
    finished at ``cfg.epochs`` or more."""
    return status["status"].startswith("diverged") or (
        status["status"] == "finished" and status["epochs_done"] >= cfg.epochs)


def _prepare_run_dir(out: RunDir, cfg: TrainConfig, data_id: dict, resume: bool):
    """Check/create ``out`` (under its lock); return (start epoch, checkpoint or None,
    nothing to do). Resumes from the latest checkpoint that loads
    (:meth:`RunDir.load_checkpoint`)."""
    if out.is_run() and not resume:
        out.clear()
    if out.is_run():
        _check_resumable(out, cfg, data_id)
        status = out.status
        if _is_done(status, cfg):
            return status["epochs_done"], None, True
        out.drop_partial_checkpoints()
        ckpt = out.load_checkpoint()
        if ckpt is not None:
            return ckpt["epoch"], ckpt, False
        return 0, None, False
    out.path.mkdir(parents=True, exist_ok=True)
    out.write_config({"config": cfg.to_dict(), "data": data_id,
                      "versions": {"paperlib": __version__, "torch": torch.__version__}})
    return 0, None, False


def _check_resumable(out: RunDir, cfg: TrainConfig, data_id: dict) -> None:
    """Raise :class:`RunMismatch` when ``out`` holds a run of another config (only the
    resumable fields may differ) or of other training images."""
    saved = {**out.config, "config": saved_settings(out.config["config"])}
    new = cfg.to_dict()
    defaults = config_defaults(cfg.model)
    # a field added after the run was made reads as its default
    diff = sorted(k for k in set(saved["config"]) | set(new) if k not in RESUMABLE
                  and saved["config"].get(k, defaults.get(k, "<missing>"))
                  != new.get(k, "<missing>"))
    if diff:
        details = ", ".join(f"{k}: {saved['config'].get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise RunMismatch(f"{out.path} holds a run with a different configuration "
                          f"({details}); train into another run folder, or start this one over")
    if saved["data"]["sha1"] != data_id["sha1"]:
        raise RunMismatch(f"{out.path} was trained on different images ({saved['data']}); "
                          "train into another run folder, or start this one over")


def _open_log(run: RunDir, columns: list[str], keep_through: int):
    """Rewrite the run's log keeping its complete rows with epoch <= keep_through (a column
    added since they were written reads "nan"); return (file, appending writer)."""
    rows = [{c: r.get(c, "nan") for c in columns} for r in run.log_rows()
            if int(r["epoch"]) <= keep_through]

    def write(f):
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)

    atomic_write(run.log_file, write, binary=False)
    f = open(run.log_file, "a", newline="")
    return f, csv.DictWriter(f, fieldnames=columns)


def _save_samples(path: Path, G, latent, fixed_noise) -> None:
    G.eval(), latent.eval()
    with torch.no_grad():
        fake = G(latent(*fixed_noise))
    G.train(), latent.train()
    atomic_write(path, lambda f: save_image(fake.cpu(), f, format="png", nrow=8,
                                            normalize=True, value_range=(-1, 1)))


def train_cached(cfg: TrainConfig, data_dir, root, progress: bool = True,
                 force_token: str | None = None) -> RunResult:
    """Train ``cfg`` on the folder ``data_dir`` in ``root/<run_name>``, reusing that run when
    it exists: a finished run returns at once, an interrupted one resumes, a longer
    ``epochs`` continues it. With ``$PAPERLIB_FORCE`` set to a token (``reproduce --force``)
    a run not yet redone under that token is retrained from scratch (``force_token``
    passes the token explicitly, as :mod:`paperlib.engine.parallel` does for its workers)."""

    out = Path(root) / run_name(cfg, manifest_hash(data_dir))
    token = force_token if force_token is not None else os.environ.get(FORCE_ENV)
    token_file = out / "force_token"
    redo = bool(token) and (not token_file.exists() or token_file.read_text() != token)
    result = train(cfg, data_dir, out, progress=progress, resume=not redo)
    if token:
        token_file.write_text(token)
    return result
