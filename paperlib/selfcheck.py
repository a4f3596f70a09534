"""``python -m paperlib selfcheck --profile NAME``: every registered model, at that profile's
sizes, goes once through the whole pipeline on a tiny synthetic set.

Per model (:func:`check_model`, each in its own child process, so a crash is reported by
name and peak memory is the model's own): build its ``TrainConfig`` from the profile
(``batch`` may lower only the minibatch); train one epoch of ``steps`` steps on a
``donglein`` stand-in set, resume for a second; sample ``n_score`` images and score them
with :func:`paperlib.metrics.evaluate_run` (``is_source="none"``; the numbers mean
nothing, the code path is checked). Reported: G and D parameters, seconds per step, peak
memory. The CLI exits 1 when a model fails.
"""
from __future__ import annotations

import csv
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from . import engine, metrics
from .config import ROOT, get_profile
from .data import build_artist_set
from .models import get_model, model_names

ARTIST_STYLE = "donglein"


def _n_params(*modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def check_model(profile: str, model: str, workdir, steps: int = 2, batch: int | None = None,
                n_score: int = 8, device: str | None = None) -> dict:
    """Run one model through build, train, resume, sample and score (module docstring);
    returns its row (``ok`` True) or raises."""
    prof = get_profile(profile)
    spec = get_model(model)
    work = Path(workdir)
    dev = engine.resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    sizes = dict(spec.profile_sizes(prof))
    bs = int(batch or sizes["batch_size"])
    data = work / f"train_{prof.res}_{steps * bs}"
    held = work / f"score_{prof.res}_{n_score}"
    build_artist_set(data, ARTIST_STYLE, n=steps * bs, res=prof.res, seed=0)
    build_artist_set(held, ARTIST_STYLE, n=n_score, res=prof.res, seed=1)
    run = work / f"run_{model}"
    cfg = engine.profile_config(prof, model, epochs=1, batch_size=bs, sample_every=1,
                                ckpt_every=1, device=str(dev))
    t0 = time.perf_counter()
    first = engine.train(cfg, data, run, progress=False)
    if first.status != "finished" or first.epochs_done != 1:
        raise RuntimeError(f"first epoch: status {first.status!r}, {first.epochs_done} epochs")
    resumed = engine.train(engine.make_config(**{**cfg.to_dict(), "epochs": 2}), data, run,
                           progress=False)
    if resumed.status != "finished" or resumed.epochs_done != 2:
        raise RuntimeError(f"resume: status {resumed.status!r}, {resumed.epochs_done} epochs")
    if [e for e, _ in engine.list_checkpoints(run)] != [1, 2]:
        raise RuntimeError(f"checkpoints {engine.list_checkpoints(run)}, expected epochs 1, 2")
    train_s = time.perf_counter() - t0
    with (run / "log.csv").open() as f:
        log = list(csv.DictReader(f))
    if [int(r["epoch"]) for r in log] != [1, 2]:
        raise RuntimeError(f"log epochs {[r['epoch'] for r in log]}, expected 1, 2")
    per_step = sum(float(r["seconds"]) for r in log) / (len(log) * steps)

    trained = engine.load_run(run, device=str(dev))
    if spec.bind_eval_data is not None:   # a conditional model translates the scoring set's maps
        spec.bind_eval_data(trained, held)
    imgs = trained.sample(n_score, seed=0)
    if tuple(imgs.shape) != (n_score, 3, prof.res, prof.res) or not torch.isfinite(imgs).all():
        raise RuntimeError(f"samples: shape {tuple(imgs.shape)}, finite "
                           f"{bool(torch.isfinite(imgs).all())}")
    scores = metrics.evaluate_run(run, held, n_fake=n_score, device=str(dev), is_source="none",
                                  cache_dir=work / "feature_cache")
    if not math.isfinite(scores["fid"]):
        raise RuntimeError(f"FID is not finite: {scores['fid']}")
    if dev.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(dev) / 2**20
        peak_kind = "cuda max_memory_allocated"
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        peak_kind = "peak RSS"
    return {"model": model, "ok": True, "res": prof.res, "batch": bs, "steps": steps,
            "G_params": _n_params(trained.latent, trained.G), "D_params": _n_params(trained.D),
            "s_per_step": per_step, "peak_mb": peak_mb, "peak_kind": peak_kind,
            "train_resume_s": train_s, "fid": scores["fid"], "device": str(dev),
            "threads": cfg.threads}


def _child(args: list[str]) -> None:
    """Entry of the per-model child process: one JSON line on stdout."""
    profile, model, workdir, steps, batch, n_score, device = args
    row = check_model(profile, model, workdir, int(steps), int(batch) if batch else None,
                      int(n_score), device or None)
    print("SELFCHECK " + json.dumps(row), flush=True)


def run_selfcheck(profile: str, steps: int = 2, batch: int | None = None, n_score: int = 8,
                  device: str | None = None, models=None, timeout: float | None = None,
                  workdir=None) -> list[dict]:
    """:func:`check_model` for every registered model (or ``models``), each in a child
    process; a failing model's row has ``ok`` False and ``error`` (its last stderr line)."""
    prof = get_profile(profile).name
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    rows = []
    with tempfile.TemporaryDirectory(prefix="selfcheck_", dir=workdir) as tmp:
        for name in models or model_names():
            args = [prof, name, tmp, str(steps), str(batch or ""), str(n_score), device or ""]
            cmd = [sys.executable, "-c",
                   "import sys; from paperlib.selfcheck import _child; _child(sys.argv[1:])",
                   *args]
            t0 = time.perf_counter()
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                     timeout=timeout)
                lines = [ln for ln in out.stdout.splitlines() if ln.startswith("SELFCHECK ")]
                if out.returncode == 0 and lines:
                    row = json.loads(lines[-1][len("SELFCHECK "):])
                else:
                    err = [ln for ln in out.stderr.splitlines() if ln.strip()]
                    row = {"model": name, "ok": False,
                           "error": err[-1] if err else f"exit status {out.returncode}"}
            except subprocess.TimeoutExpired:
                row = {"model": name, "ok": False, "error": f"timed out after {timeout} s"}
            row["wall_s"] = time.perf_counter() - t0
            rows.append(row)
    return rows


def format_table(profile: str, rows: list[dict]) -> str:
    """The report of :func:`run_selfcheck`'s ``rows``: one line per model, then the verdict."""
    prof = get_profile(profile)
    head = (f"selfcheck --profile {prof.name}: {prof.res} px; per model: build at the "
            "profile's sizes, train 1 epoch, resume 1 more, sample, score")
    lines = [head, f"{'model':10s} {'result':6s} {'batch':>5s} {'steps':>5s} {'G params':>11s} "
                   f"{'D params':>11s} {'s/step':>8s} {'peak MB':>8s} {'wall s':>7s}"]
    for r in rows:
        if r["ok"]:
            lines.append(f"{r['model']:10s} {'ok':6s} {r['batch']:5d} {r['steps']:5d} "
                         f"{r['G_params']:11,d} {r['D_params']:11,d} {r['s_per_step']:8.3f} "
                         f"{r['peak_mb']:8.0f} {r['wall_s']:7.1f}")
        else:
            lines.append(f"{r['model']:10s} FAILED {r['error']}")
    ok = [r for r in rows if r["ok"]]
    if ok:
        lines.append(f"(device {ok[0]['device']}, {ok[0]['threads']} thread(s) per run; peak MB: "
                     f"{ok[0]['peak_kind']} of the model's own process)")
    bad = [r["model"] for r in rows if not r["ok"]]
    lines.append(f"selfcheck: FAILED: {', '.join(bad)}" if bad else
                 f"selfcheck: OK ({len(rows)} models)")
    return "\n".join(lines)
