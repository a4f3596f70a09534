"""The benchmarks' ``--smoke`` mode (a helper, not a benchmark: ``tests/test_benchmarks.py``
runs every ``benchmarks/*.py`` except the ``_``-prefixed ones).

``--smoke`` runs a benchmark end to end in seconds at tiny sizes (32 px, a handful of
images, 1-2 epochs, a few generated images per score, at most :data:`SMOKE_WORKERS` Dask
workers) to prove it still runs; its numbers mean nothing. Nothing it writes goes to the
repository: :func:`parse_args` points paperlib's ``data/``, ``runs/``, ``figures/`` and
real-feature cache at ``--out DIR`` (default: a temporary folder removed at exit), and
benchmarks that need data build tiny stand-in sets there (:func:`tiny_sets`) instead of
reading ``data/``. Explicit options still win over the smoke defaults.
"""
from __future__ import annotations

import argparse
import atexit
import shutil
import tempfile
from pathlib import Path

#: Dask workers a smoke run starts at most (the test machine has 2 shared cores).
SMOKE_WORKERS = 2
#: Images per tiny stand-in set.
SMOKE_IMAGES = 16


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--smoke`` and ``--out`` to a benchmark's parser."""
    parser.add_argument("--smoke", action="store_true",
                        help="run end to end in seconds at tiny sizes (proves the script runs; "
                             "numbers mean nothing); outputs go to --out, never to the "
                             "repository's data/, runs/ or figures/")
    parser.add_argument("--out", type=Path, default=None,
                        help="with --smoke: folder for everything it writes (default: a "
                             "temporary folder removed at exit)")


def parse_args(parser: argparse.ArgumentParser, argv, **smoke_defaults) -> argparse.Namespace:
    """Parse ``argv``; with ``--smoke``, parse again with ``smoke_defaults`` as the defaults
    (options given explicitly keep their values) and redirect paperlib's outputs
    (:func:`redirect`), setting ``args.out`` to the folder used."""
    add_args(parser)
    args = parser.parse_args(argv)
    if not args.smoke:
        if args.out is not None:
            parser.error("--out is only used with --smoke")
        return args
    parser.set_defaults(**smoke_defaults)
    args = parser.parse_args(argv)
    args.out = redirect(args.out)
    return args


def redirect(out: Path | None = None) -> Path:
    """Point paperlib's data, runs, figures and real-feature cache folders at ``out`` (in
    this process; pass ``cache_dir`` to Dask workers explicitly). ``None``: a fresh
    temporary folder, removed at exit. Returns the folder."""
    from paperlib import config
    from paperlib.metrics import features

    if out is None:
        out = Path(tempfile.mkdtemp(prefix="paperlib-bench-smoke-"))
        atexit.register(shutil.rmtree, out, ignore_errors=True)
        note = " (removed at exit; --out DIR keeps them)"
    else:
        note = ""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    config.DATA_DIR = out / "data"
    config.RUNS_DIR = out / "runs"
    config.FIGURES_DIR = out / "figures"
    features.DEFAULT_CACHE_DIR = config.RUNS_DIR / "metric_cache"
    for where in (config.data_dir("smoke"), config.runs_dir("smoke")):
        if out not in where.parents:   # paperlib's layout changed under us: stop, write nothing
            raise SystemExit(f"smoke: could not redirect paperlib's outputs to {out} ({where})")
    print(f"smoke mode: outputs under {out}{note}", flush=True)
    return out


def cache_dir() -> Path:
    """The real-feature cache folder in use (pass it to work done on Dask workers)."""
    from paperlib.metrics import features

    return Path(features.DEFAULT_CACHE_DIR)


def tiny_sets(root: Path, names, n: int = SMOKE_IMAGES, res: int = 32,
              seed: int = 0) -> dict[str, Path]:
    """Tiny stand-in sets ``root/<name>`` (names as in ``paperlib.data.sets.SET_NAMES``: emoji,
    shapes, artist_<style>) of ``n`` images at ``res``, built by paperlib's own builders
    (the layout of ``paperlib.data.profile_sets``); returns name -> folder."""
    from paperlib import data

    out = {}
    for name in names:
        folder = Path(root) / name
        if name == "emoji":
            data.build_emoji_set(folder, seed=seed, res=res, n_per_class=max(1, n // 2))
        elif name == "shapes":
            data.build_shape_set(folder, n=n, res=res, seed=seed)
        elif name.startswith("artist_"):
            data.build_artist_set(folder, name[len("artist_"):], n=n, res=res, seed=seed)
        else:
            raise ValueError(f"unknown set {name!r}")
        out[name] = folder
    return out
