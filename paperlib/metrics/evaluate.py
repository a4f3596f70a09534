"""The evaluation of a run's checkpoint: FID/KID/PR/DC/IS against a folder
(:func:`evaluate_run`), over training (:func:`metrics_over_training`), side by side on Dask
(:func:`evaluate_many`), and the one evaluation cache behind them and the papers' own
measures (:func:`cached_json`, :func:`cached_run_eval`)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.folders import file_sha256, manifest_hash
from ..engine.parallel import run_all
from ..engine.runs import METRIC_NOISE, RunDir, list_checkpoints, load_run, metric_noise_key
from ..utils.io import atomic_write_json
from .features import get_extractor, images_to_uint8, real_features
from .is_scorers import (
    INCEPTION_LOGITS_ENV,
    IS_EPOCHS,
    is_scorer,
    labelled_is_sources,
    register_is_source,
    resolve_is_source,
)
from .stats import density_coverage, fid_from_features, inception_score, kid, precision_recall

# Runs ----------------------------------------------------------------------------------
#: Keys of an :func:`evaluate_run` result (a cached result missing one is recomputed).
EVAL_KEYS = ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "is",
             "is_std", "is_kind", "is_note", "n_real", "n_fake", "epoch")


def _evaluate_fake(fake_u8: torch.Tensor, real_f: np.ndarray, extractor, scorer, is_kind: str,
                   kid_seed: int = 0, is_note: str | None = None) -> dict:
    fake_f = extractor(fake_u8)
    kid_mean, kid_std = kid(real_f, fake_f, seed=kid_seed)
    precision, recall = precision_recall(real_f, fake_f, k=3)
    density, coverage = density_coverage(real_f, fake_f, k=5)
    if scorer is None:
        is_mean = is_std = None
    else:
        is_mean, is_std = inception_score(scorer(fake_u8), splits=10)
    return {"fid": fid_from_features(real_f, fake_f), "kid": kid_mean, "kid_std": kid_std,
            "precision": precision, "recall": recall, "density": density,
            "coverage": coverage, "is": is_mean, "is_std": is_std, "is_kind": is_kind,
            "is_note": is_note, "n_real": int(real_f.shape[0]),
            "n_fake": int(fake_f.shape[0])}


def evaluate_run(run_dir, data_dir, n_fake: int | None = None, epoch: int | None = None,
                 device=None, is_source: str = "auto", seed: int = 0, extractor=None,
                 tf_inception_path=None, cache_dir=None, use_cache: bool = True,
                 n_real: int | None = None, is_epochs: int = IS_EPOCHS) -> dict:
    """FID, KID, precision/recall, density/coverage and IS of a run's checkpoint vs a data set.

    Cached in ``run_dir/metrics/`` (key: checkpoint, data manifest, ``n_fake``, ``seed``,
    IS source, extractor). ``n_fake`` (default: the real set's size) samples, random noise
    inputs; the real set at the run's ``config.res`` (``n_real``: a fixed subset).
    ``is_source``: :func:`resolve_is_source`, checked before any work; ``is_epochs``: the
    training epochs of a labelled source's classifier (the profile's). Returns the
    :data:`EVAL_KEYS` dict (no IS: ``is`` None, ``is_kind`` ``"none"``, ``is_note`` why).
    """

    is_resolved, is_note = resolve_is_source(is_source, data_dir, tf_inception_path)
    extractor = extractor or get_extractor(device)
    run = load_run(run_dir, epoch=epoch, device=device)
    if run.config.spec.bind_eval_data is not None:   # a conditional model: data_dir's own maps
        run.config.spec.bind_eval_data(run, data_dir)
    ckpt = RunDir(run_dir).checkpoint(run.epoch)[1].stat()
    key = hashlib.sha256(json.dumps([
        run.epoch, ckpt.st_size, ckpt.st_mtime_ns, n_fake, seed, str(is_source),
        str(tf_inception_path or os.environ.get(INCEPTION_LOGITS_ENV) or ""), extractor.key,
        manifest_hash(data_dir), n_real]
        # (a model with noise inputs: how they are sampled is part of the key)
        + [f"{k}={v}" for k, v in metric_noise_key(run_dir).items()]
        # (the IS classifier's length: in the key only when not the default, as before)
        + ([f"is_epochs={int(is_epochs)}"] if int(is_epochs) != IS_EPOCHS else [])
    ).encode()).hexdigest()[:16]
    cached = Path(run_dir) / "metrics" / f"eval_{run.epoch:04d}_{key}.json"

    def compute() -> dict:
        res = int(run.config.res)
        scorer, is_kind = is_scorer(is_resolved, data_dir, res, device, tf_inception_path,
                                     classifier_epochs=int(is_epochs), seed=0,
                                     cache_dir=cache_dir)
        real_f = real_features(data_dir, res, extractor, cache_dir=cache_dir, max_images=n_real)
        n = int(n_fake) if n_fake is not None else int(real_f.shape[0])
        fake_u8 = images_to_uint8(run.sample(n, seed=seed, noise=METRIC_NOISE))
        out = _evaluate_fake(fake_u8, real_f, extractor, scorer, is_kind, kid_seed=seed,
                             is_note=is_note)
        out["epoch"] = int(run.epoch)
        return out

    # a cached result lacking one of EVAL_KEYS is recomputed
    return cached_json(cached, compute, use_cache, valid=lambda out: set(EVAL_KEYS) <= set(out))


def metrics_over_training(run_dir, data_dir, n_fake: int | None = None,
                          epochs: Sequence[int] | None = None, device=None,
                          is_source: str = "auto", seed: int = 0, extractor=None,
                          progress: bool = True, cache_dir=None,
                          use_cache: bool = True, n_real: int | None = None) -> list[dict]:
    """:func:`evaluate_run` at every saved checkpoint (or those in ``epochs``), oldest first
    (paper A's Fig. 3); the same seed draws every checkpoint's samples."""

    have = [e for e, _ in list_checkpoints(run_dir)]
    wanted = have if epochs is None else [e for e in have if e in set(int(x) for x in epochs)]
    if epochs is not None and len(wanted) != len(set(int(x) for x in epochs)):
        missing = sorted(set(int(x) for x in epochs) - set(have))
        raise ValueError(f"{run_dir} has no checkpoint for epoch(s) {missing}; has {have}")
    extractor = extractor or get_extractor(device)
    rows = []
    for e in tqdm(wanted, desc="checkpoints", disable=not progress or len(wanted) < 2):
        rows.append(evaluate_run(run_dir, data_dir, n_fake=n_fake, epoch=e, device=device,
                                 is_source=is_source, seed=seed, extractor=extractor,
                                 cache_dir=cache_dir, use_cache=use_cache, n_real=n_real))
    return rows


# ----------------------------------------------------------------------------- evaluations
def _eval_job(job: dict) -> list[dict]:
    """Evaluate some checkpoints of one run (:func:`evaluate_run`); one worker, one thread.
    The job carries the caller's labelled IS sources, so ``"auto"`` resolves on the worker
    as in the caller."""
    for name, entry in job.get("is_registry", {}).items():
        register_is_source(name, *entry)
    extractor = get_extractor()
    extractor.progress = False
    return [evaluate_run(job["run_dir"], job["data_dir"], n_fake=job["n_fake"], epoch=e,
                         is_source=job.get("is_source", "auto"), seed=job.get("seed", 0),
                         extractor=extractor, n_real=job.get("n_real"),
                         is_epochs=job.get("is_epochs", IS_EPOCHS))
            for e in job["epochs"]]


def evaluate_many(jobs: Sequence[dict], scheduler: str | None = None,
                  desc: str = "evaluations", progress: bool = True) -> list[list[dict]]:
    """Evaluate checkpoints of several runs side by side. Each job: ``run_dir``,
    ``data_dir``, ``epochs``, ``n_fake``, optionally ``seed``, ``is_source``, ``n_real``,
    ``is_epochs``;
    returns, per job, one metrics dict per epoch. Fill the shared caches first."""
    registry = labelled_is_sources()   # functions travel by reference: picklable
    jobs = [{**j, "run_dir": str(Path(j["run_dir"]).resolve()),
             "data_dir": str(Path(j["data_dir"]).resolve()),
             "epochs": [int(e) for e in j["epochs"]], "is_registry": registry} for j in jobs]
    names = [f"{Path(j['run_dir']).name} epochs {j['epochs']}" for j in jobs]
    return run_all(_eval_job, jobs, scheduler, names=names, desc=desc, progress=progress)


def checkpoint_path(run_dir, epoch: int | None = None) -> tuple[int, Path]:
    """``(epoch, path)`` of a run's checkpoint (the latest by default):
    :meth:`paperlib.engine.RunDir.checkpoint` of ``int(epoch)``."""
    return RunDir(run_dir).checkpoint(None if epoch is None else int(epoch))


def cached_json(path, compute, use_cache: bool = True, valid=None) -> dict:
    """The one evaluation cache: ``path``'s JSON when it exists, parses and is ``valid``
    (default: any), else ``compute()``, written there atomically (``use_cache=False``:
    always recomputed, nothing written). :func:`evaluate_run` and :func:`cached_run_eval`
    both go through it, each with its own key recipe."""
    path = Path(path)
    if use_cache and path.is_file():
        try:
            out = json.loads(path.read_text())
            if valid is None or valid(out):
                return out
        except ValueError:
            pass   # unreadable: recompute
    out = compute()
    if use_cache:
        atomic_write_json(path, out, indent=1)
    return out


def cached_run_eval(run_dir: Any, prefix: str, key: dict, compute: Any, extractor: Any = None,
                    epoch: int | None = None, use_cache: bool = True, version: int = 0) -> dict:
    """``compute(epoch, extractor)`` for a run's checkpoint (the latest by default), cached
    (:func:`cached_json`) at ``run_dir/eval/<prefix>_<hash>.json``; the hash covers ``key``,
    the checkpoint's sha256, the feature extractor and the caller's ``version`` (bumped
    when its computation changes). Adds ``epoch`` and ``run``."""
    run_dir = Path(run_dir)
    epoch, ckpt = checkpoint_path(run_dir, epoch)
    extractor = extractor or get_extractor()
    blob = json.dumps({"ckpt": file_sha256(ckpt), **key,
                       "extractor": getattr(extractor, "key", type(extractor).__name__),
                       "version": version}, sort_keys=True)
    path = run_dir / "eval" / f"{prefix}_{hashlib.sha256(blob.encode()).hexdigest()[:20]}.json"

    def run() -> dict:
        out = compute(epoch, extractor)
        out.update(epoch=int(epoch), run=run_dir.name)
        return out

    return cached_json(path, run, use_cache)
