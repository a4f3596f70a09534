"""Convergence calibration of paper B's StyleGAN2-ADA: FID/KID and form against kimg.

    python benchmarks/calibrate_stylegan2.py [--profile cpu] [--kimg 100] [--every 10]
                                             [--n-fake 200] [--run DIR]
    python benchmarks/calibrate_stylegan2.py --smoke [--out DIR]   # seconds, tiny sizes

Trains one StyleGAN2 at the profile's settings (``sg_channels``, ``sg_nz``, ``sg_batch``,
``sg_lr``, ``sg_r1_gamma``, ``res``; augment ``ada``; seed 0; one thread) on the donglein
stand-in artist set alone -- paper B's 1st experiment -- for ``--kimg`` thousand images, with a checkpoint every
``--every`` epochs, and scores every checkpoint with ``--n-fake`` images of the EMA
generator: FID and KID against the whole artist set (in-sample: a calibration of *when*
the model draws, not a Table-1 number), and the median main-form circularity
(:mod:`paperlib.fidelity`) against the training images' own (the gate of notebooks 01/05).
Scores are cached per checkpoint in ``<run>/cal_scores.jsonl``, so an interrupted
calibration resumes. Writes ``figures/<profile>/calibration_stylegan2.{csv,png}`` and
prints the table. The profiles' StyleGAN2 ``kimg`` is set from it (``PROFILE_SIZES`` in
``paperlib.models.stylegan2``).

``--smoke``: the ``smoke`` profile on a tiny stand-in artist set built under ``--out`` (or a
temporary folder), 2 epochs with a checkpoint each, 8 images per score; everything it
writes stays there (see ``benchmarks/_smoke.py``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _smoke  # noqa: E402  (the benchmarks' --smoke helper, next to this file)

from paperlib import config, data, engine, forms, metrics, plots

#: ``--smoke``: 2 epochs of the tiny set (16 images), a checkpoint each, 8 fakes per score.
SMOKE = {"profile": "smoke", "kimg": 2 * _smoke.SMOKE_IMAGES / 1000, "every": 1, "n_fake": 8}


def score_checkpoints(run: Path, images_at, real_f, n_train: int, extractor) -> dict:
    """Score every checkpoint of ``run``: ``images_at(epoch)`` gives its images; FID/KID
    against ``real_f`` and their median main circularity. Rows are cached in
    ``<run>/cal_scores.jsonl`` (an interrupted calibration resumes); returns epoch -> row.
    (Shared with ``calibrate_pix2pixhd.py``.)"""
    cache, done = run / "cal_scores.jsonl", {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            row = json.loads(line)
            done[row["epoch"]] = row
    for epoch, _ in engine.list_checkpoints(run):
        if epoch in done:
            continue
        fake = images_at(epoch)
        f = extractor(fake)
        circ = [r.main_circularity for r in forms.batch_circle_fidelity(fake, None)]
        row = {"epoch": epoch, "kimg": round(epoch * n_train / 1000, 3),
               "fid": metrics.fid_from_features(real_f, f),
               "kid": float(metrics.kid(real_f, f, seed=0)[0]),
               "main_circ_median": float(np.median(circ))}
        done[epoch] = row
        with open(cache, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(run.name, row, flush=True)
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--kimg", type=float, default=100.0)
    ap.add_argument("--every", type=int, default=10, help="checkpoint every k epochs")
    ap.add_argument("--n-fake", type=int, default=200)
    ap.add_argument("--run", type=Path, default=None,
                    help="run folder (default runs/<profile>/calibration/stylegan2-donglein)")
    args = _smoke.parse_args(ap, argv, **SMOKE)
    prof = config.get_profile(args.profile)
    if args.smoke:   # a tiny set under --out, not data/
        artist = _smoke.tiny_sets(config.data_dir(prof), ["artist_donglein"],
                                  res=prof.res)["artist_donglein"]
    else:
        artist = data.profile_sets(prof)["artist_donglein"]
    n = len(data.image_files(artist))
    run = args.run or config.runs_dir(prof) / "calibration" / "stylegan2-donglein"
    cfg = engine.profile_config(prof, "stylegan2", epochs=engine.epochs_for_kimg(args.kimg, n),
                               augment="ada", threads=1, sample_every=args.every,
                               ckpt_every=args.every, seed=0)
    res = engine.train(cfg, artist, run, progress=True)
    print(f"{run}: {res.status}, {res.epochs_done} epochs")

    extractor = metrics.get_extractor()
    extractor.progress = False
    reals = data.load_folder(artist, prof.res).images
    real_f = metrics.real_features(artist, prof.res, extractor)
    ref_circ = float(np.median([r.main_circularity
                                for r in forms.batch_circle_fidelity(reals, None)]))
    done = score_checkpoints(run, lambda epoch: engine.load_run(run, epoch).sample(args.n_fake, seed=1),
                             real_f, n, extractor)
    df = pd.DataFrame([done[e] for e in sorted(done)])
    df["form_ratio"] = df.main_circ_median / ref_circ
    df["train_s"] = [sum(r["seconds"] for r in res.rows if r["epoch"] <= e) for e in df.epoch]
    plots.save_table(df, "calibration_stylegan2", prof)

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    axes[0].plot(df.kimg, df.fid, "o-")
    axes[0].set_title("FID (200 fakes vs the artist set)")
    axes[1].plot(df.kimg, df.kid, "o-")
    axes[1].set_title("KID")
    axes[2].plot(df.kimg, df.form_ratio, "o-")
    axes[2].axhline(0.8, color="tab:red", ls="--", lw=1, label="gate (0.8)")
    axes[2].set_title("median main circularity / training images'")
    axes[2].legend(fontsize=8)
    sg = engine.profile_sizes(prof, "stylegan2")
    for ax in axes:
        ax.axvline(sg["kimg"], color="k", ls=":", lw=1)
        ax.set_xlabel("kimg (thousands of images shown)")
    fig.suptitle(f"StyleGAN2-ADA calibration, donglein alone ({prof.name} profile: {prof.res} px, "
                 f"{sg['sg_channels']} maps, batch {sg['batch_size']}; dotted: chosen kimg "
                 f"{sg['kimg']:g})", fontsize=10)
    fig.tight_layout()
    plots.save_figure(fig, "calibration_stylegan2", prof)
    print(df.to_string(index=False))
    print(f"training images' median main circularity: {ref_circ:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
