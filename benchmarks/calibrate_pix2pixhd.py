"""Convergence calibration of paper B's conditional route (Pix2pixHD): FID/KID and form
against kimg, on both stand-in artists.

    python benchmarks/calibrate_pix2pixhd.py [--profile cpu] [--kimg 128] [--every 10]
                                             [--n-fake 200] [--scheduler ADDR]
    python benchmarks/calibrate_pix2pixhd.py --smoke [--out DIR]   # seconds, tiny sizes

Trains one Pix2pixHD per stand-in artist (donglein, geometric) at the profile's size
(``p2p_ngf``, ``p2p_ndf``, ``p2p_blocks``, ``p2p_batch``, ``res``; seed 0; one thread) on the
artist's *training part* (recipe maps -> images, :mod:`paperlib.paired`), side by side on
Dask, for ``--kimg`` thousand pairs, with a checkpoint every ``--every`` epochs. Every
checkpoint translates the first ``--n-fake`` training maps and is scored against the
training part: FID and KID (in-sample: a calibration of *when* the model paints, not a
result -- the held-out maps are left for notebook 01b), and the median main-form
circularity (:mod:`paperlib.fidelity`) against the training images' own. Scores are cached
per checkpoint in ``<run>/cal_scores.jsonl`` (an interrupted calibration resumes). Writes
``figures/<profile>/calibration_pix2pixhd.{csv,md,png}``. The profiles' Pix2pixHD ``kimg`` is set
from it (``PROFILE_SIZES`` in ``paperlib.models.pix2pixhd``).

``--smoke``: the ``smoke`` profile on tiny stand-in artist sets built under ``--out`` (or a
temporary folder), 2 epochs with a checkpoint each, 8 maps per score, at most 2 Dask
workers; everything it writes stays there (see ``benchmarks/_smoke.py``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _smoke  # noqa: E402  (the benchmarks' --smoke helper, next to this file)
from calibrate_stylegan2 import score_checkpoints  # noqa: E402

from paperlib import config, data, engine, forms, metrics, plots
from paperlib.data import paired
from paperlib.models import pix2pixhd

ARTISTS = ("artist_donglein", "artist_geometric")
#: ``--smoke``: 2 epochs of each tiny set's training part, a checkpoint each, 8 maps per score.
SMOKE = {"profile": "smoke", "kimg": 2 * 0.8 * _smoke.SMOKE_IMAGES / 1000, "every": 1,
         "n_fake": 8}


def score(run: Path, train_dir: Path, res: int, n_fake: int, extractor) -> pd.DataFrame:
    pairs = paired.load_pairs(train_dir, res)
    k = min(n_fake, len(pairs))
    reals, inputs = pairs.images[:k], pairs[:k]   # (Pairs: the model's boundary, features)
    real_f = metrics.real_features(train_dir, res, extractor)
    ref_circ = float(np.median([r.main_circularity
                                for r in forms.batch_circle_fidelity(reals, None)]))
    done = score_checkpoints(run, lambda epoch: pix2pixhd.translate(engine.load_run(run, epoch), inputs),
                             real_f, len(pairs), extractor)
    df = pd.DataFrame([done[e] for e in sorted(done)])
    df["ref_circ_median"] = ref_circ
    df["form_ratio"] = df.main_circ_median / ref_circ
    return df


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--kimg", type=float, default=128.0,
                    help="training length (default 128: the committed cpu calibration)")
    ap.add_argument("--every", type=int, default=10, help="checkpoint every k epochs")
    ap.add_argument("--n-fake", type=int, default=200)
    ap.add_argument("--scheduler", default=None)
    args = _smoke.parse_args(ap, argv, **SMOKE)
    prof = config.get_profile(args.profile)
    if args.smoke:   # tiny sets under --out, not data/
        sets = _smoke.tiny_sets(config.data_dir(prof), ARTISTS, res=prof.res)
    else:
        sets = data.profile_sets(prof)
    root = config.runs_dir(prof) / "calibration"
    jobs, train_dirs = [], {}
    for name in ARTISTS:
        train_dirs[name] = data.split_held_out(sets[name], prof.held_out_frac, seed=0).train
        n = len(data.image_files(train_dirs[name]))
        cfg = engine.profile_config(prof, "pix2pixhd", epochs=engine.epochs_for_kimg(args.kimg, n),
                                   threads=1, sample_every=args.every, ckpt_every=args.every)
        jobs.append((cfg, train_dirs[name], root))
    results = engine.train_many(jobs, args.scheduler, desc="pix2pixhd calibration",
                                  n_workers=_smoke.SMOKE_WORKERS if args.smoke else None)
    extractor = metrics.get_extractor()
    extractor.progress = False
    frames = []
    for name, res in zip(ARTISTS, results):
        print(f"{res.run_dir}: {res.status}, {res.epochs_done} epochs")
        df = score(Path(res.run_dir), train_dirs[name], prof.res, args.n_fake, extractor)
        df["train_s"] = [round(sum(r["seconds"] for r in res.rows if r["epoch"] <= e), 1)
                         for e in df.epoch]
        df.insert(0, "artist", name.replace("artist_", ""))
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    plots.save_table(df, "calibration_pix2pixhd", prof)

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    for artist, g in df.groupby("artist", sort=False):
        axes[0].plot(g.kimg, g.fid, "o-", ms=3, label=artist)
        axes[1].plot(g.kimg, g.kid, "o-", ms=3, label=artist)
        axes[2].plot(g.kimg, g.form_ratio, "o-", ms=3, label=artist)
    axes[0].set_title(f"FID ({args.n_fake} translated training maps vs the training part)",
                      fontsize=9)
    axes[1].set_title("KID", fontsize=9)
    axes[2].axhline(0.8, color="tab:red", ls="--", lw=1, label="gate (0.8)")
    axes[2].set_title("median main circularity / training images'", fontsize=9)
    p2p = engine.profile_sizes(prof, "pix2pixhd")
    for ax in axes:
        ax.axvline(p2p["kimg"], color="k", ls=":", lw=1)
        ax.set_xlabel("kimg (thousands of pairs shown)")
        ax.legend(fontsize=8)
    fig.suptitle(f"Pix2pixHD calibration ({prof.name} profile: {prof.res} px, ngf {p2p['ngf']}, "
                 f"ndf {p2p['ndf']}, {p2p['p2p_blocks']} blocks, batch {p2p['batch_size']}; "
                 f"dotted: chosen kimg {p2p['kimg']:g})", fontsize=10)
    fig.tight_layout()
    plots.save_figure(fig, "calibration_pix2pixhd", prof)
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
