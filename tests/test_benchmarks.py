"""Benchmarks cannot rot: every ``benchmarks/*.py`` runs end to end with ``--smoke``.

Each script runs as its own process (``sys.executable``, repository root as the working
directory and first on ``PYTHONPATH``, so this checkout's ``paperlib`` is the one imported)
with ``--smoke --out <tmp>``: tiny sizes, seconds each, everything written under ``<tmp>``
(see ``benchmarks/_smoke.py``; the ``_``-prefixed helpers there are not benchmarks). The
scripts are found by glob, so a new benchmark without ``--smoke`` fails here. Each runs with
``$PAPERLIB_HOME`` set to an empty checkout of its own (so that whatever else runs in the
repository meanwhile, a notebook or a reproduce, cannot be taken for a leak), and that
home's ``figures/``, ``data/`` and ``runs/`` must come out untouched.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))
#: Per script; a smoke run takes 3-40 s on a quiet 2-core machine (several times that when
#: the cores are shared), a benchmark that ignored --smoke would run for minutes to hours.
TIMEOUT_S = 300
#: Repository folders a smoke run must not write to.
GUARDED = ("figures", "data", "runs")


def _snapshot(home: Path) -> dict[str, tuple[int, int]]:
    """Every file under the guarded folders of ``home``: path -> (size, mtime_ns)."""
    out = {}
    for name in GUARDED:
        for path in (home / name).rglob("*"):
            if path.is_file():
                st = path.stat()
                out[str(path.relative_to(home))] = (st.st_size, st.st_mtime_ns)
    return out


def _empty_checkout(home: Path) -> Path:
    """A folder ``paperlib.config`` takes for a source checkout (``notebooks/`` and
    ``pyproject.toml``), with one file in each guarded folder."""
    (home / "notebooks").mkdir(parents=True)
    (home / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    for name in GUARDED:
        (home / name / "cpu").mkdir(parents=True)
        (home / name / "cpu" / "kept.txt").write_text(name)
    return home


def test_benchmarks_are_found():
    names = {p.name for p in BENCHMARKS}
    assert {"calibrate.py", "fid_throughput.py", "parallel_runs.py",
            "train_throughput.py"} <= names, names


def _smoke_run(script: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``script --smoke --out <tmp>`` in its own empty checkout; (the process, the files
    it changed under that checkout's guarded folders)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in
                                                        [env.get("PYTHONPATH")] if p])
    home = _empty_checkout(tmp_path / "home")
    env["PAPERLIB_HOME"] = str(home)
    before = _snapshot(home)
    try:
        proc = subprocess.run([sys.executable, str(script), "--smoke", "--out",
                               str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=False, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as err:   # (its output is bytes, whatever text= says)
        tail = err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else err.stdout
        pytest.fail(f"{script.name} --smoke ran past {TIMEOUT_S} s (does it honour --smoke?)"
                    f"\n--- stdout tail ---\n{(tail or '')[-3000:]}")
    after = _snapshot(home)
    return proc, sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_smoke_runs(script, tmp_path):
    proc, changed = _smoke_run(script, tmp_path)
    log = f"\n--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, f"{script.name} --smoke exited {proc.returncode}{log}"
    assert "smoke mode: outputs under" in proc.stdout, log
    assert not changed, f"{script.name} --smoke wrote into the repository: {changed[:20]}"


def test_the_guard_sees_a_script_that_ignores_out(tmp_path):
    """A 'benchmark' that writes to the configured figures folder instead of --out."""
    script = tmp_path / "leaky.py"
    script.write_text("from paperlib import config\n"
                      "(config.FIGURES_DIR / 'smoke').mkdir(parents=True, exist_ok=True)\n"
                      "(config.FIGURES_DIR / 'smoke' / 'leak.csv').write_text('x')\n"
                      "print('smoke mode: outputs under nowhere')\n")
    proc, changed = _smoke_run(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert changed == ["figures/smoke/leak.csv"]
