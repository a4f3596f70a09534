"""Wall time of independent training runs: one after another vs side by side on Dask.

    .venv/bin/python benchmarks/parallel_runs.py [--epochs 12] [--runs 4] [--workers 1,2,...]
                                                 [--data data/cpu/emoji] [--json out.json]
    .venv/bin/python benchmarks/parallel_runs.py --smoke [--out DIR]   # seconds, tiny sizes

Trains ``--runs`` (default 4) ``cpu``-profile paper-A DCGAN runs (config ``paper``, seeds
0, 1, ..., ``--epochs`` epochs each) on the stand-in emoji set twice, into separate temporary
run roots (nothing is cached between the two):

* **serial** -- one run after another, each in a fresh ``python`` process with torch's
  default CPU thread count (``threads`` = what ``torch.get_num_threads()`` gives a fresh
  process, normally the number of cores): what you get without ``paperlib.parallel``;
* **parallel** -- all runs at once through :func:`paperlib.engine.train_many` on the
  default ``LocalCluster``: one single-threaded worker per core (``threads=1`` in each
  run's config), or one per GPU when CUDA is present.

Both timings include process start (the fresh interpreters, resp. starting the cluster and
its workers). Prints both wall times and ``ratio: X.XX`` (serial / parallel; above 1 the
cluster is faster). ``--workers 1,2,4`` also times the cluster with each of those worker
counts and prints one line per count (workers, wall s, speed-up vs serial), showing how
the time scales -- useful on a 16-core or multi-GPU machine (give ``--runs`` at least the
largest worker count, or the extra workers have nothing to do).

Runs differ between the two modes only in their thread count (part of a run's identity;
the losses differ in the last bits). The data set must exist: build it with notebook 00 or
``.venv/bin/python -m paperlib build-data --out data/cpu --res 32``.

``--smoke``: 2 runs of 1 epoch on a tiny stand-in emoji set built under ``--out`` (or a
temporary folder), at most 2 workers; the run roots and ``parallel_runs.json`` go there too
(see ``benchmarks/_smoke.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _smoke  # the benchmarks' --smoke helper, next to this file
import torch

from paperlib import config, engine
from paperlib.data import image_files

PROFILE = "cpu"
MODEL = "dcgan"
OPT_CONFIG = "paper"

#: ``--smoke``: 2 runs of 1 epoch (of a tiny set; see main); ``--workers 2`` prints the
#: per-count table from the default cluster's timing (no extra cluster where that has 2).
SMOKE = {"epochs": 1, "runs": 2, "workers": str(_smoke.SMOKE_WORKERS)}

#: One serial run: a fresh interpreter trains one config (JSON) on a folder into a root.
CHILD = ("import json, sys\n"
         "from paperlib import engine\n"
         "cfg = engine.make_config(**json.loads(sys.argv[1]))\n"
         "res = engine.train_cached(cfg, sys.argv[2], sys.argv[3], progress=False)\n"
         "print(json.dumps({'status': res.status, 'epochs': res.epochs_done}))\n")


def emoji_folder(path: Path | None) -> Path:
    """The emoji set the notebooks train paper A on (``data/cpu/emoji``), or ``path``;
    exits with a clear message when it is missing or empty."""
    folder = Path(path) if path is not None else config.data_dir(PROFILE) / "emoji"
    if not folder.is_dir() or not image_files(folder):
        sys.exit(f"error: no emoji images in {folder}; build the data first "
                 f"(run notebooks/00_dataset_construction.ipynb with profile {PROFILE}, or "
                 f"`.venv/bin/python -m paperlib build-data --out {config.data_dir(PROFILE)} "
                 f"--res {config.get_profile(PROFILE).res}`), or pass --data FOLDER")
    return folder


def configs(seeds, epochs: int, threads: int) -> list[engine.TrainConfig]:
    return [engine.profile_config(PROFILE, MODEL, OPT_CONFIG, seed=s, epochs=epochs,
                                 threads=threads) for s in seeds]


def check(results: list[dict], epochs: int, what: str) -> None:
    bad = [r for r in results if r["status"] != "finished" or r["epochs"] != epochs]
    if bad:
        sys.exit(f"error: {what}: runs did not finish {epochs} epochs: {bad}")


def time_serial(cfgs, data: Path, root: Path) -> float:
    """Each run in a fresh interpreter, one after another; wall seconds."""
    results = []
    t0 = time.perf_counter()
    for cfg in cfgs:
        t_run = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg.to_dict()), str(data),
                              str(root)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"error: serial run seed {cfg.seed} failed:\n{out.stderr[-3000:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  serial seed {cfg.seed}: {time.perf_counter() - t_run:.1f} s", flush=True)
    secs = time.perf_counter() - t0
    check(results, cfgs[0].epochs, "serial")
    return secs


def time_parallel(cfgs, data: Path, root: Path, workers: int) -> float:
    """All runs at once on a fresh LocalCluster of ``workers`` single-threaded workers
    (cluster start included, shutdown not); wall seconds."""
    engine.close_clients()  # a fresh cluster: its start is part of the timing
    t0 = time.perf_counter()
    runs = engine.train_many([(c, data, root) for c in cfgs], scheduler="local",
                               desc=f"{workers} workers", progress=False, n_workers=workers)
    secs = time.perf_counter() - t0
    engine.close_clients()
    check([{"status": r.status, "epochs": r.epochs_done} for r in runs], cfgs[0].epochs,
          f"parallel ({workers} workers)")
    return secs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=12, help="epochs per run (default 12)")
    parser.add_argument("--runs", type=int, default=4,
                        help="runs, seeds 0..runs-1 (default 4)")
    parser.add_argument("--workers", default=None, metavar="N,N,...",
                        help="also time the cluster with each of these worker counts")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"training images (default data/{PROFILE}/emoji)")
    parser.add_argument("--tmp", type=Path, default=None,
                        help="where the temporary run roots go (default: the system's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = _smoke.parse_args(parser, argv, **SMOKE)
    if args.smoke:   # a tiny set, the run roots and the JSON under --out; at most 2 workers
        if args.data is None:
            args.data = _smoke.tiny_sets(config.data_dir(PROFILE), ["emoji"],
                                         res=config.get_profile(PROFILE).res)["emoji"]
        args.tmp = args.tmp or args.out
        args.json = args.json or args.out / "parallel_runs.json"
    if args.epochs < 1 or args.runs < 1:
        parser.error("--epochs and --runs must be positive")
    try:
        counts = sorted({int(w) for w in args.workers.split(",")}) if args.workers else []
    except ValueError:
        parser.error(f"--workers takes comma-separated integers, got {args.workers!r}")
    if any(w < 1 for w in counts):
        parser.error("--workers counts must be positive")

    data = emoji_folder(args.data).resolve()
    n_images = len(image_files(data))
    default_workers, per_gpu = engine.local_workers()
    if args.smoke:
        default_workers = min(default_workers, _smoke.SMOKE_WORKERS)
    serial_threads = torch.get_num_threads()  # torch's default in a fresh process
    seeds = list(range(args.runs))
    prof = config.get_profile(PROFILE)
    device = config.get_device()
    print(f"{args.runs} {MODEL} runs (config {OPT_CONFIG}, seeds {seeds[0]}..{seeds[-1]}), "
          f"{args.epochs} epochs of {n_images} images each ({args.epochs * n_images / 1000:g} "
          f"kimg), {PROFILE} profile ({prof.res} px, widths {prof.ngf}, batch "
          f"{prof.batch_size}); data {data}")
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"device {device}" + (f" ({torch.cuda.device_count()} GPUs)" if per_gpu else ""),
          flush=True)

    if args.tmp is not None:
        args.tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paperlib-parallel-runs-", dir=args.tmp) as tmp:
        tmp = Path(tmp)
        print(f"serial: {args.runs} fresh processes, {serial_threads} torch threads each",
              flush=True)
        serial_s = time_serial(configs(seeds, args.epochs, serial_threads), data,
                               tmp / "serial")
        timings = {}
        for w in [default_workers] + [w for w in counts if w != default_workers]:
            print(f"parallel: LocalCluster, {w} single-threaded workers"
                  + (" (one per GPU)" if per_gpu and w == default_workers else ""), flush=True)
            timings[w] = time_parallel(configs(seeds, args.epochs, 1), data,
                                       tmp / f"parallel-{w}", w)

    parallel_s = timings[default_workers]
    print(f"serial wall time:   {serial_s:.1f} s ({args.runs} runs one after another, "
          f"{serial_threads} threads each)")
    print(f"parallel wall time: {parallel_s:.1f} s (LocalCluster, {default_workers} "
          f"single-threaded workers)")
    print(f"ratio: {serial_s / parallel_s:.2f}")
    if counts:
        print("workers   wall s   speed-up vs serial")
        for w in counts:
            print(f"{w:7d} {timings[w]:8.1f} {serial_s / timings[w]:10.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "runs": args.runs, "epochs": args.epochs, "n_images": n_images, "model": MODEL,
            "config": OPT_CONFIG, "profile": PROFILE, "device": str(device),
            "cpu_count": os.cpu_count(), "serial_threads": serial_threads,
            "serial_s": round(serial_s, 2), "default_workers": default_workers,
            "parallel_s": round(parallel_s, 2), "ratio": round(serial_s / parallel_s, 3),
            "by_workers": [{"workers": w, "wall_s": round(timings[w], 2),
                            "speedup": round(serial_s / timings[w], 3)} for w in counts],
        }, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
