"""StyleGAN2-ADA configurations compared at a fixed number of core-minutes each.

    python benchmarks/calibrate_stylegan2_configs.py [--profile cpu] [--core-min 8]
        [--points 4] [--n-fake 200] [--workers 2] [--configs base,c64,...]
        [--extra CONFIG:SEED,...] [--artist donglein|geometric] [--root DIR]
    python benchmarks/calibrate_stylegan2_configs.py --smoke [--out DIR]   # seconds

Paper B's 1st experiment (the artist alone: donglein's training part, the profile's
``held_out_frac`` split of :func:`paperlib.data.split_held_out`, seed 0, as notebooks 01/05
train it) trained under each configuration of :data:`CONFIGS` -- :data:`BASE` (the ``cpu``
profile's StyleGAN2 before this calibration; ``res`` and ``sg_nz`` from ``--profile``) with
one change each, taken from NVlabs' stylegan2-ada-pytorch: width, batch, R1 gamma, learning
rate, ADA's own ``bgc`` pipeline -- for the same number of core-minutes (``--core-min``,
one thread per run).

Fixed core-minutes, reproducibly: each configuration first trains a short timing run (1
epoch, then resumed to 1 + ``TIMING_EPOCHS``) and its seconds per kimg are the CPU time
of the resumed part (``time.process_time``, so another process on the core does not count)
over its kimg. The real run is then given ``kimg = core-min * 60 / (s/kimg)``, rounded up
to ``--points`` equal checkpoint intervals of whole epochs -- a seeded (seed 0), ordinary
run whose length is recorded in ``<root>/<config>/timing.json``, so a rerun resumes the same
runs. Runs go two at a time (``--workers``; one thread each) in separate processes.

Every checkpoint is scored as notebooks 01/05 score the 1st result
(:func:`paperlib.paper_b.evaluate_stage`): ``--n-fake`` images of the EMA generator with
random noise (seed 0) -- FID and KID against the artist's HELD-OUT part, the main-form
score, and the median main circularity over the training images' own (the form gate's
ratio, 0.8). Writes ``figures/<profile>/calibration_stylegan2_configs.{csv,md,png}``
(FID and form against core-minutes, per configuration) and prints the table; the ``cpu``
profile's ``sg_*`` settings take the best configuration at the budget (``paperlib.config``).

The committed table and figure (``cpu``): ``--core-min 4 --workers 3`` (4 core-minutes:
what one of notebook 01's runs of the previous config cost, 64 kimg at ~4 s/kimg), seed 0,
on a 2-core machine shared with other sessions' jobs (5-11 processes; wall time up to 4x
the CPU time); then ``b16`` continued to a 5th checkpoint (``past_budget``); then
``--extra lr0.005:1,base:1`` (a 2nd seed of the leader and of the old config). FID at 4
core-minutes: lr 0.005 147 / 135 (seeds 0 / 1; 58 kimg), batch 16 155 (47 kimg), base 217
/ 146 (61 kimg), ada-bgc 192, R1 gamma 0.05 204, 64 maps 255 (26 kimg) -- the configs that
update faster (2x lr, or 2x the steps per kimg) learn the most per core-minute, and lr 0.005
beats base at every checkpoint of both seeds. Round 2 (the two faster-update changes
combined, and the lr doubled again; then 2nd seeds of both; on a quiet machine): lr 0.005
+ batch 16 97 / 106 (54 kimg), lr 0.01 93 / 98 and, a 3rd seed, 104 (63 kimg); the ``cpu``
profile took lr 0.01. Regenerate everything from the cached runs with ``--core-min 4
--extra lr0.005:1,base:1,lr0.01:1,lr0.005_b16:1,lr0.01:2`` (and ``--root`` where the runs
are). Caveats:
one seed for four configs (200-image FID moves by +-20 between checkpoints, and base's two
seeds differ by 70); and CPU time on this VM is not free of the other jobs' load -- three
configs with the same network measured 3.9 (base, timed while the machine was quieter),
4.25 and 4.27 s/kimg, so base got ~9 % more kimg than lr 0.005 and R1 0.05.

``--artist geometric``: the same on the geometric stand-in (issue 26: StyleGAN2's 1st
result must pass the gate there too); its form statistic is the disc score, and its tables,
figure and runs get a ``_geometric`` suffix (``form_gate_ratio``: the gate's statistic over
the training images', for either artist).

``--smoke``: the ``smoke`` profile on a tiny stand-in set under ``--out`` (or a temporary
folder), two configurations of a few seconds each, 8 images per score; everything it
writes stays there (see ``benchmarks/_smoke.py``).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _smoke  # noqa: E402  (the benchmarks' --smoke helper, next to this file)

from paperlib import config, data, engine, forms, metrics, plots  # noqa: E402

#: The knobs compared, at the values of the ``cpu`` profile before this calibration (NVlabs'
#: defaults for lr, R1 gamma and EMA): absolute, so the committed table reproduces whatever
#: the profile later takes. ``res`` and ``nz`` come from ``--profile``.
BASE = {"sg_channels": 32, "batch_size": 32, "r1_gamma": None, "sg_lr": None, "augment": "ada"}

#: name -> (changes to :data:`BASE`, what it tests): one setting each, to a value NVlabs'
#: stylegan2-ada-pytorch uses or suggests for small data.
CONFIGS = {
    "base": ({}, "32 maps, batch 32, R1 auto (0.0064 at 32 px), lr 0.0025, ada"),
    "c64": ({"sg_channels": 64}, "width 64 maps (NVlabs' cifar: 512; cost ~ width^2)"),
    "b16": ({"batch_size": 16}, "batch 16 (2x the updates per kimg; R1 auto 0.0128)"),
    "r1_0.05": ({"r1_gamma": 0.05}, "R1 gamma 0.05 (8x auto; NVlabs' cifar: 0.01)"),
    "lr0.005": ({"sg_lr": 0.005}, "learning rate 0.005 (2x NVlabs' 0.0025)"),
    "ada-bgc": ({"augment": "ada-bgc"}, "ADA's own bgc pipeline (NVlabs' ada_kimg 500)"),
    # a second round, after the first chose lr 0.005: the two faster-update changes combined,
    # and the lr doubled again
    "lr0.005_b16": ({"sg_lr": 0.005, "batch_size": 16}, "lr 0.005 and batch 16 together"),
    "lr0.01": ({"sg_lr": 0.01}, "learning rate 0.01 (4x NVlabs')"),
}

#: ``--artist`` -> suffix of the tables, figure and runs folder (donglein: none, as before).
ARTISTS = {"donglein": "", "geometric": "_geometric"}

#: Epochs the timing run measures (after a first, warm-up epoch).
TIMING_EPOCHS = 8

#: ``--smoke``: two configurations (and a 2nd seed of one), 0.05 core-minutes each, 2
#: checkpoints, 8 fakes.
SMOKE = {"profile": "smoke", "core_min": 0.05, "points": 2, "n_fake": 8,
         "configs": "base,lr0.005", "extra": "base:1", "workers": 2}


def config_for(prof, name: str, epochs: int, ckpt_every: int, seed: int = 0):
    """The TrainConfig of configuration ``name`` (:data:`CONFIGS`) at ``epochs``."""
    kw = dict(epochs=epochs, threads=1, sample_every=ckpt_every, ckpt_every=ckpt_every,
              seed=seed)
    return engine.profile_config(prof, "stylegan2", **{**kw, **BASE, **CONFIGS[name][0]})


def measure(prof, name: str, train_dir: Path, root: Path) -> dict:
    """Seconds of one thread's CPU time per kimg of configuration ``name``: a 1-epoch run,
    then resumed to 1 + :data:`TIMING_EPOCHS` epochs, timed (``process_time``) over the
    resumed part. Cached in ``<root>/<name>/timing.json``."""
    out = root / name / "timing.json"
    if out.is_file():
        return json.loads(out.read_text())
    n = len(data.image_files(train_dir))
    run = root / name / "timing_run"
    engine.train(config_for(prof, name, 1, 1), train_dir, run, progress=False, resume=False)
    t0, w0 = time.process_time(), time.perf_counter()
    engine.train(config_for(prof, name, 1 + TIMING_EPOCHS, 1), train_dir, run, progress=False)
    kimg = TIMING_EPOCHS * n / 1000
    row = {"s_per_kimg": (time.process_time() - t0) / kimg,
           "wall_s_per_kimg": (time.perf_counter() - w0) / kimg, "timing_kimg": kimg}
    out.write_text(json.dumps(row, indent=1) + "\n")
    return row


def _ratio(value: float, reference: float) -> float:
    """``value / reference``; NaN when the training images have no such form (a face
    statistic on the geometric set is 0)."""
    return value / reference if reference > 0 else math.nan


def _wait_for_length(path: Path) -> None:
    """Wait until ``path`` (a timing.json) records the run length."""
    while True:
        try:
            if "epochs" in json.loads(path.read_text()):
                return
        except (OSError, ValueError):   # not there yet, or being written
            pass
        time.sleep(5)


def run_config(job: dict) -> list[dict]:
    """One configuration, end to end (a worker process): measure, train for the budget,
    score every checkpoint against the held-out part. Returns one row per checkpoint."""
    import torch

    torch.set_num_threads(1)
    from paperlib.paper_b import evaluate_stage

    prof, name = config.get_profile(job["profile"]), job["name"]
    train_dir, held_dir, root = Path(job["train"]), Path(job["held_out"]), Path(job["root"])
    cache_dir = Path(job["cache_dir"])
    n = len(data.image_files(train_dir))
    if job["seed"] != 0:   # another seed: the length seed 0 measured (queued before it)
        _wait_for_length(root / name / "timing.json")
    timing = measure(prof, name, train_dir, root)
    kimg_budget = job["core_min"] * 60 / timing["s_per_kimg"]
    every = max(1, math.ceil(engine.epochs_for_kimg(kimg_budget, n) / job["points"]))
    if "epochs" not in timing:
        epochs = every * job["points"]
        timing.update(kimg_budget=kimg_budget, epochs=epochs, ckpt_every=every)
        (root / name / "timing.json").write_text(json.dumps(timing, indent=1) + "\n")
    elif not math.isclose(timing["kimg_budget"], kimg_budget, rel_tol=1e-6):
        raise SystemExit(f"{root / name}: runs of another budget ({timing['kimg_budget']:.1f} "
                         f"kimg, not {kimg_budget:.1f}); pass another --root")
    epochs, every = timing["epochs"], timing["ckpt_every"]
    cfg = config_for(prof, name, epochs, every, seed=job["seed"])
    run = root / name / ("run" if job["seed"] == 0 else f"run_s{job['seed']}")
    res = engine.train(cfg, train_dir, run, progress=False)
    if not res.status.startswith("finished") and res.epochs_done < epochs:
        print(f"{name}: {res.status}", flush=True)
    extractor = metrics.get_extractor()
    extractor.progress = False
    reals = data.load_folder(train_dir, prof.res).images
    ref_circ = float(np.median([r.main_circularity
                                for r in forms.batch_circle_fidelity(reals, None)]))
    # the gate's form statistic (main circularity for faces, the disc score for discs)
    gate_measure = forms.FormMeasure(forms.form_kind_of(train_dir), None)
    ref_form = float(np.median(forms.form_scores(reals, gate_measure)["form"]))
    rows = []
    for epoch, _ in engine.list_checkpoints(run):
        m = evaluate_stage(run, train_dir, job["n_fake"], forms.inner_counts_of(train_dir),
                           seed=0, extractor=extractor, epoch=epoch, cache_dir=cache_dir,
                           reference_dir=held_dir)
        train_s = sum(r["seconds"] for r in res.rows if r["epoch"] <= epoch)
        rows.append({"config": name, "seed": job["seed"], "epoch": epoch,
                     "kimg": round(epoch * n / 1000, 2),
                     "core_min": round(epoch * n / 1000 * timing["s_per_kimg"] / 60, 2),
                     "train_wall_s": round(train_s, 1), "fid": m["fid"], "kid": m["kid"],
                     "main_score": m["main_score"],
                     "form_ratio": _ratio(m["main_circularity_median"], ref_circ),
                     "form_median": m["form_median"],
                     "form_gate_ratio": _ratio(m["form_median"], ref_form),
                     "s_per_kimg": timing["s_per_kimg"], "past_budget": epoch > epochs})
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--core-min", type=float, default=8.0,
                    help="CPU minutes of one thread per configuration")
    ap.add_argument("--points", type=int, default=4, help="checkpoints scored per run")
    ap.add_argument("--n-fake", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2, help="runs side by side")
    ap.add_argument("--extra", default="",
                    help="more seeds of some configs, as config:seed pairs (e.g. base:1,b16:1); "
                         "every config trains seed 0")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help=f"comma-separated subset of {', '.join(CONFIGS)}")
    ap.add_argument("--artist", choices=ARTISTS, default="donglein",
                    help="stand-in artist set (geometric: tables and runs get a _geometric "
                         "suffix)")
    ap.add_argument("--root", type=Path, default=None,
                    help="runs folder (default runs/<profile>/calibration/stylegan2-configs"
                         "[-geometric])")
    args = _smoke.parse_args(ap, argv, **SMOKE)
    prof = config.get_profile(args.profile)
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        ap.error(f"unknown configs {unknown}; valid: {', '.join(CONFIGS)}")
    set_name, suffix = f"artist_{args.artist}", ARTISTS[args.artist]
    if args.smoke:   # a tiny set under --out, not data/
        artist = _smoke.tiny_sets(config.data_dir(prof), [set_name], res=prof.res)[set_name]
    else:
        artist = data.profile_sets(prof)[set_name]
    split = data.split_held_out(artist, prof.held_out_frac, seed=0)
    root = (args.root or config.runs_dir(prof) / "calibration"
            / f"stylegan2-configs{suffix.replace('_', '-')}").resolve()
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    from paperlib.metrics import features

    pairs = [(name, 0) for name in names]
    for item in filter(None, (x.strip() for x in args.extra.split(","))):
        name, _, seed = item.partition(":")
        if name not in CONFIGS or not seed.isdigit():
            ap.error(f"--extra wants config:seed pairs, got {item!r}")
        pairs.append((name, int(seed)))
    jobs = [{"profile": prof.name, "name": name, "seed": seed, "train": str(split.train),
             "held_out": str(split.held_out), "root": str(root),
             "cache_dir": str(features.DEFAULT_CACHE_DIR), "core_min": args.core_min,
             "points": args.points, "n_fake": args.n_fake} for name, seed in pairs]
    with ProcessPoolExecutor(max_workers=max(1, min(args.workers, len(jobs))),
                             mp_context=get_context("spawn")) as pool:
        results = list(pool.map(run_config, jobs))
    df = pd.DataFrame([row for rows in results for row in rows])
    plots.save_table(df, f"calibration_stylegan2_configs{suffix}", prof)

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    mean = df.groupby(["config", "epoch"], sort=False).agg(
        core_min=("core_min", "mean"), fid=("fid", "mean"),
        form_gate_ratio=("form_gate_ratio", "mean"), n_seeds=("seed", "nunique"),
        s_per_kimg=("s_per_kimg", "mean")).reset_index()
    for i, (name, g) in enumerate(mean.groupby("config", sort=False)):
        k = int(g.n_seeds.max())
        label = (f"{name} ({g.s_per_kimg.iloc[0]:.1f} s/kimg"
                 + (f", mean of {k} seeds)" if k > 1 else ")"))
        axes[0].plot(g.core_min, g.fid, "o-", color=f"C{i}", label=label)
        axes[1].plot(g.core_min, g.form_gate_ratio, "o-", color=f"C{i}", label=name)
        if k > 1:
            d = df[df.config == name]
            axes[0].plot(d.core_min, d.fid, ".", color=f"C{i}", alpha=0.4)
    axes[0].set_title(f"FID ({args.n_fake} fakes, random noise) vs the held-out part")
    axes[1].axhline(0.8, color="tab:red", ls="--", lw=1)
    axes[1].set_title("median form statistic / training images' (gate 0.8)")
    axes[0].set_ylabel("FID")
    axes[1].set_ylabel("form ratio")
    for ax in axes:
        ax.set_xlabel("core-minutes (one thread's CPU time)")
        ax.axvline(args.core_min, color="k", ls=":", lw=1)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"StyleGAN2-ADA configurations at {args.core_min:g} core-minutes each, "
                 f"{args.artist} alone ({prof.name} profile, {prof.res} px)", fontsize=10)
    fig.tight_layout()
    plots.save_figure(fig, f"calibration_stylegan2_configs{suffix}", prof)
    pd.set_option("display.width", 200)
    print(df.to_string(index=False))
    print("FID (mean over seeds) at each checkpoint, by core-minutes:")
    print(mean.assign(point=mean.groupby("config").cumcount() + 1)
          .pivot(index="config", columns="point", values="fid").round(1).to_string())
    at_budget = df[~df.past_budget].groupby(["config", "epoch"], sort=False).agg(
        core_min=("core_min", "mean"), kimg=("kimg", "mean"), fid=("fid", "mean"),
        kid=("kid", "mean"), form_gate_ratio=("form_gate_ratio", "mean"),
        n_seeds=("seed", "nunique"),
        s_per_kimg=("s_per_kimg", "mean")).reset_index()
    last = at_budget.groupby("config", sort=False).tail(1)
    print("at the budget:\n" + last[["config", "kimg", "core_min", "fid", "kid", "form_gate_ratio",
                                     "n_seeds", "s_per_kimg"]].sort_values("fid")
          .to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
