"""Convergence calibration: FID/KID against images shown (kimg), to set training budgets.

    python benchmarks/calibrate.py [--profile cpu] [--epochs-a 200] [--b-runs conventional:200,paper:120]
                                   [--every-kimg 16] [--n-fake 200] [--scheduler ADDRESS]
    python benchmarks/calibrate.py --smoke [--out DIR]   # seconds, tiny sizes

Trains, at the profile's size (resolution, widths, batch), one long run of each paper-A
model with the paper's optimiser (lr 1e-2, seed 0; the proposed model with N = 1, where
the paper's N search starts), the DCGAN with the conventional optimiser, and paper B's
first stage (DCGAN, conventional optimiser, the donglein stand-in artist set alone). All
runs go side by side through :mod:`paperlib.parallel`. Each run's checkpoints about every
``--every-kimg`` kimg are scored with ``--n-fake`` generated images:

* paper A: FID and KID against the whole emoji set (KID is unbiased in the sample count,
  FID is biased upwards at small counts -- compare curves, not absolute values with Table 1);
* paper B: the same against the artist set, plus the mean main-form circularity of the
  generated images (the "draws the round face" gate) and the training images' own.

Writes ``figures/<profile>/calibration.csv`` and ``calibration.png`` and prints, per run,
the best FID and the **plateau**: the first checkpoint after which FID never improves by
more than ``--tol`` (default 10%) -- where more training stops paying. Profile budgets in
``paperlib.config`` are set from these numbers (see its docstring).

``--smoke``: the ``smoke`` profile on tiny stand-in sets (emoji, donglein) built under
``--out`` (or a temporary folder), 2 epochs per run with a checkpoint each, 8 images per
score, at most 2 Dask workers; everything it writes stays there (see
``benchmarks/_smoke.py``).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _smoke  # noqa: E402  (the benchmarks' --smoke helper, next to this file)

from paperlib import config, data, engine, forms, metrics, paper_b, plots

#: ``--smoke``: 2 epochs of the tiny sets (16 images each), a checkpoint every epoch, 8 fakes.
_KIMG_2 = 2 * _smoke.SMOKE_IMAGES / 1000
SMOKE = {"profile": "smoke", "epochs_a": 2,
         "b_runs": f"conventional:{_KIMG_2:g},paper:{_KIMG_2:g}",
         "every_kimg": _smoke.SMOKE_IMAGES / 1000, "n_fake": 8}


def _job(spec: dict) -> list[dict]:
    """Train one calibration run, then score its checkpoints (runs on a worker)."""


    res = engine.train_cached(spec["cfg"], spec["data"], spec["root"], progress=False)
    train_s = sum(r["seconds"] for r in res.rows)  # the run's own training time (cached or not)
    n_images = len(spec["images"]) if "images" in spec else None
    rows = []
    ckpts = [e for e, _ in engine.list_checkpoints(res.run_dir)]
    extractor = metrics.get_extractor()
    extractor.progress = False
    for e in ckpts:
        t1 = time.perf_counter()
        if spec["paper"] == "A":
            ev = metrics.evaluate_run(res.run_dir, spec["data"], n_fake=spec["n_fake"],
                                      epoch=e, is_source="none", extractor=extractor,
                                      cache_dir=spec.get("cache_dir"))
            row = {k: ev[k] for k in ("fid", "kid", "precision", "recall")}
        else:
            ev = paper_b.evaluate_stage(res.run_dir, spec["data"], spec["n_fake"],
                                         spec["inner"], epoch=e, extractor=extractor,
                                         cache_dir=spec.get("cache_dir"))
            row = {k: ev[k] for k in ("fid", "kid", "main_circularity", "fidelity")}
        log = {r["epoch"]: r for r in res.rows}
        rows.append({"run": spec["name"], "paper": spec["paper"], "model": spec["cfg"].model,
                     "config": spec["cfg"].config, "epoch": e, "kimg": log[e]["kimg"], **row,
                     "d_loss": log[e]["d_loss"], "g_loss": log[e]["g_loss"],
                     "eval_s": time.perf_counter() - t1, "train_s_total": train_s,
                     "status": res.status, "n_images": n_images})
    return rows


def plateau(kimg: np.ndarray, fid: np.ndarray, tol: float) -> float:
    """First kimg after which FID never drops below ``(1 - tol)`` times its value there."""
    for i in range(len(fid)):
        if np.nanmin(fid[i:]) >= (1.0 - tol) * fid[i]:
            return float(kimg[i])
    return float(kimg[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="cpu")
    p.add_argument("--epochs-a", type=int, default=200, help="paper-A horizon in epochs")
    p.add_argument("--b-runs", default="conventional:200,paper:120",
                   help="paper-B optimiser configs and their horizons in kimg, CONFIG:KIMG,...")
    p.add_argument("--every-kimg", type=float, default=16, help="checkpoint spacing")
    p.add_argument("--n-fake", type=int, default=200, help="generated images per checkpoint")
    p.add_argument("--tol", type=float, default=0.10, help="plateau tolerance (default 10%%)")
    p.add_argument("--scheduler", default=None, help="serial, local or a scheduler address")
    p.add_argument("--only", default=None, help="A or B: calibrate one paper only")
    p.add_argument("--skip", default="", help="comma-separated run names to leave out, e.g. "
                   "A-dcgan-conventional (the secondary config)")
    args = _smoke.parse_args(p, argv, **SMOKE)

    prof = config.get_profile(args.profile)
    if args.smoke:   # tiny sets under --out, not data/
        sets = _smoke.tiny_sets(config.data_dir(prof), ["emoji", "artist_donglein"], res=prof.res)
    else:
        sets = data.profile_sets(prof)
    # real-feature cache for the workers: the default (runs/metric_cache), or --out's in smoke
    cache_dir = str(_smoke.cache_dir()) if args.smoke else None
    root = config.runs_dir(prof) / "calibration"
    n_emoji = len(data.image_files(sets["emoji"]))
    n_artist = len(data.image_files(sets["artist_donglein"]))
    every_a = max(1, round(args.every_kimg * 1000 / n_emoji))
    every_b = max(1, round(args.every_kimg * 1000 / n_artist))
    base = dict(sample_every=every_a, ckpt_every=every_a, epochs=args.epochs_a)
    specs = []
    # paper B first: its run is the longest, and the others share the second worker
    if args.only in (None, "B"):
        for item in args.b_runs.split(","):
            b_cfg, _, b_kimg = item.strip().partition(":")
            if not b_kimg:
                raise SystemExit(f"--b-runs: {item!r} is not CONFIG:KIMG (e.g. paper:120)")
            cfg = engine.profile_config(prof, "dcgan", b_cfg, 0, sample_every=every_b,
                                       ckpt_every=every_b,
                                       epochs=engine.epochs_for_kimg(float(b_kimg),
                                                                    n_artist))
            specs.append({"name": f"B-donglein-alone-{b_cfg}", "paper": "B", "cfg": cfg,
                          "data": str(sets["artist_donglein"]), "root": str(root),
                          "n_fake": args.n_fake, "cache_dir": cache_dir,
                          "inner": forms.inner_counts_of(sets["artist_donglein"])})
    if args.only in (None, "A"):
        for model, cfg_name, extra in (("dcgan", "paper", {}), ("deligan", "paper", {}),
                                       ("proposed", "paper", {"proposed_N": 1}),
                                       ("dcgan", "conventional", {})):
            cfg = engine.profile_config(prof, model, cfg_name, 0, **base, **extra)
            specs.append({"name": f"A-{model}-{cfg_name}", "paper": "A", "cfg": cfg,
                          "data": str(sets["emoji"]), "root": str(root), "n_fake": args.n_fake,
                          "cache_dir": cache_dir})
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    unknown = skip - {s["name"] for s in specs}
    if unknown:
        raise SystemExit(f"--skip: unknown run name(s) {sorted(unknown)}; "
                         f"valid: {[s['name'] for s in specs]}")
    specs = [s for s in specs if s["name"] not in skip]
    print(f"calibration, profile {prof.name}: {len(specs)} runs on "
          f"{engine.scheduler_spec(args.scheduler)}; paper A {args.epochs_a} epochs of "
          f"{n_emoji} images, paper B {args.b_runs} kimg of {n_artist} images; checkpoints "
          f"every {every_a}/{every_b} epochs, {args.n_fake} fakes each", flush=True)
    t0 = time.perf_counter()
    out = engine.run_all(_job, specs, args.scheduler, names=[s["name"] for s in specs],
                           desc="calibration runs",
                           n_workers=_smoke.SMOKE_WORKERS if args.smoke else None)
    wall = time.perf_counter() - t0
    df = pd.DataFrame([r for rows in out for r in rows])
    fig_dir = config.FIGURES_DIR / prof.name
    fig_dir.mkdir(parents=True, exist_ok=True)
    df.to_csv(fig_dir / "calibration.csv", index=False)

    # the training images' own main-form circularity (paper B's gate reference)
    real_b = paper_b.real_stage_metrics(sets["artist_donglein"], args.n_fake, prof.res,
                                         forms.inner_counts_of(sets["artist_donglein"]))
    summary = []
    for name, g in df.groupby("run", sort=False):
        g = g.sort_values("kimg")
        k, f = g.kimg.to_numpy(), g.fid.to_numpy()
        best = g.loc[g.fid.idxmin()]
        summary.append({"run": name, "best_fid": best.fid, "best_kid": best.kid,
                        "best_kimg": best.kimg,
                        "best_epoch": int(best.epoch), "plateau_kimg": plateau(k, f, args.tol),
                        "final_fid": f[-1], "final_kimg": k[-1],
                        "final_kid": g.kid.iloc[-1],
                        "main_circularity_at_best": best.get("main_circularity", np.nan),
                        "train_s": g.train_s_total.iloc[0]})
    summ = pd.DataFrame(summary)
    plots.save_table(summ, "calibration_summary", prof)
    print(summ.to_string(index=False))
    print(f"paper B training images: mean main circularity "
          f"{real_b['main_circularity']:.3f}, FID floor ({args.n_fake} of them) {real_b['fid']:.1f}")
    # quality gate: each paper-A model's plateau (median over the second half of the horizon),
    # the worst of them, with a 25 % margin for seed-to-seed spread (see report.Gate)
    a = df[df.paper == "A"]
    late = a[a.epoch > a.epoch.max() / 2].groupby("run")[["fid", "kid"]].median()
    if len(late):
        print("paper-A plateaus (median FID/KID over the second half):")
        print(late.to_string())
        print(f"suggested gate at {args.n_fake} images: FID <= {1.25 * late.fid.max():.0f}, "
              f"KID <= {1.25 * late.kid.max():.3f}")
    print(f"wall time {wall:.0f} s")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ["fid", "kid"] + (["main_circularity"] if (df.paper == "B").any() else [])
    fig, axes = plt.subplots(1, len(cols), figsize=(5 * len(cols), 3.8))
    for ax, col in zip(np.atleast_1d(axes), cols):
        for name, g in df.groupby("run", sort=False):
            if g[col].notna().any():
                ax.plot(g.kimg, g[col], marker="o", ms=3, label=name)
        if col == "main_circularity":
            ax.axhline(real_b["main_circularity"], color="k", ls="--", lw=1,
                       label="training images")
        ax.set(xlabel="kimg (thousands of images shown)", ylabel=col.upper() if col != "main_circularity"
               else "mean main circularity", title=f"{col} vs kimg ({args.n_fake} fakes)")
        if col in ("fid", "kid"):
            ax.set_yscale("log")
            ax.axhline(prof.gate_fid if col == "fid" else prof.gate_kid, color="gray", ls="--",
                       lw=1, label=f"gate ({prof.name} profile)")
        ax.axvline(prof.kimg, color="tab:green", ls=":", lw=1, label="paper-A budget")
        ax.axvline(prof.shape_kimg, color="tab:orange", ls=":", lw=1, label="paper-B budget")
        ax.legend(fontsize=7)
    fig.tight_layout()
    plots.save_figure(fig, "calibration", prof)
    return 0 if math.isfinite(wall) else 1


if __name__ == "__main__":
    raise SystemExit(main())
