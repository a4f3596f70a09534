"""Paper B's experiment around the curation loop: the gate, Table 1 and the claims' verdicts,
and the curation loops run side by side (notebooks 01 and 05).

* **Gate** (:func:`draws_form`): a model "draws the character" when the median main-form
  circularity of its images is at least ``FORM_GATE`` (80 %, our choice) of the training
  images' median. Paper B's claims are about *exact* form and variety beyond that point,
  so a column whose models do not pass is not evidence either way.
* **Table 1** (:func:`table1`): per artist and column, the mean, standard deviation and
  per-seed values of every metric; the "training data" column is the held-out
  real-vs-real floor (:func:`paperlib.curation.held_out_floor_metrics`).
* **Verdicts** (:func:`claims`): paper B's two claims in the three-way form of
  :mod:`paperlib.report` (supported / not supported / not testable here), from per-seed
  values with Welch intervals (:func:`paperlib.report.compare_claim`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

#: A run draws the character's main form when its median main circularity is at least
#: this share of the training images' (our choice; the issue asks for "close to").
FORM_GATE = 0.8

#: Table 1's columns (paper B: training data | 1st result | shape learning | + technique),
#: and our control.
COLUMNS = ("training data", "1st result", "shape learning", "shape learning + technique",
           "control")


def draws_form(median_circularity: float, reference_median: float,
               gate: float = FORM_GATE) -> bool:
    """The gate: ``median_circularity >= gate * reference_median`` (both finite)."""
    return bool(np.isfinite(median_circularity) and np.isfinite(reference_median)
                and reference_median > 0 and median_circularity >= gate * reference_median)


def table1(per_seed: pd.DataFrame, cols: Sequence[str], keys: Sequence[str] = ("artist", "column")
           ) -> pd.DataFrame:
    """One row per ``keys`` group: ``n_seeds``, ``<col>`` (mean), ``<col>_sd`` (sample sd;
    NaN for one value) and ``<col>_seeds`` (the per-seed values, ``"; "``-joined, in seed
    order) for every metric in ``cols``. Extra non-metric columns that are constant within a
    group (e.g. ``model``) are kept."""
    keys = list(keys)
    rows = []
    for key, g in per_seed.groupby(keys, sort=False):
        g = g.sort_values("seed") if "seed" in g else g
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        for extra in g.columns:
            if extra not in (*keys, *cols, "seed") and g[extra].nunique(dropna=False) == 1:
                row[extra] = g[extra].iloc[0]
        row["n_seeds"] = int(len(g))
        for c in cols:
            v = g[c].astype(float).to_numpy()
            row[c] = float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
            row[f"{c}_sd"] = float(np.nanstd(v, ddof=1)) if np.isfinite(v).sum() > 1 else math.nan
            row[f"{c}_seeds"] = "; ".join("n/a" if not np.isfinite(x) else f"{x:.4g}" for x in v)
        rows.append(row)
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame, cols: Sequence[str], keep: Sequence[str]) -> pd.DataFrame:
    """The README's compact form of a :func:`table1` table: the ``keep`` columns, then each
    of ``cols`` as ``"mean ± sd"`` (4 decimals for KID, 1 for FID and diversity, else 3;
    no ``± sd`` for a single value, ``n/a`` where there is no value)."""
    out = table[list(keep)].copy()
    for c in cols:
        nd = 4 if c == "kid" else 1 if c in ("fid", "diversity") else 3
        out[c] = [fmt(m, nd) + ("" if not np.isfinite(sd) or not np.isfinite(m)
                                else f" ± {sd:.{nd}f}")
                  for m, sd in zip(table[c], table[f"{c}_sd"])]
    return out


def claims(per_seed: pd.DataFrame, artist: str, control: bool = True,
           level: float = 0.95) -> pd.DataFrame:
    """Paper B's claims for one artist, each with a verdict from :data:`report.VERDICTS`.

    ``per_seed`` holds one row per (column, seed) with ``main_score``, ``inner_score``,
    ``diversity`` and the gate flag ``draws``. Claims:

    1. *shape learning draws more exact form than the 1st result* (main-form score);
    2. *+ technique gives more exact form* than shape learning and than the control
       (main-form score; the inner-form score is reported beside it);
    3. *+ technique gives more varied images* than shape learning and than the control
       (diversity: mean pairwise Inception-feature distance, measured apart from the
       selection's features).

    A comparison whose models do not all pass the gate is "not testable here"
    (:func:`paperlib.report.compare_claim`)."""
    from .report import compare_claim

    sub = per_seed[per_seed.artist == artist]

    def col(name, metric):
        return sub[sub.column == name].sort_values("seed")[metric].astype(float).tolist()

    def gate(name):
        return [bool(x) for x in sub[sub.column == name].sort_values("seed")["draws"]]

    tech = "shape learning + technique"
    bases = ["shape learning"] + (["control"] if control else [])
    specs = [("shape learning draws more exact form than the 1st result (Fig. 1, Table 1)",
              "main_score", "shape learning", ["1st result"]),
             ("+ technique: more exact form (Table 1, Figs. 2-3)", "main_score", tech, bases),
             ("+ technique: more varied images (Table 1, Figs. 2-3)", "diversity", tech, bases)]
    rows = []
    for claim, metric, fav, baselines in specs:
        names = [fav, *baselines]
        values = {m: col(m, metric) for m in names}
        verdict, reason = compare_claim(values, {m: gate(m) for m in names}, fav, baselines,
                                        lower_is_better=False, level=level)
        rows.append({"artist": artist, "claim": claim, "metric": metric, "verdict": verdict,
                     "reason": reason,
                     "per seed": " | ".join(f"{m}: " + "; ".join(f"{x:.3f}" for x in values[m])
                                            for m in names)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- set-up
@dataclass
class Setup:
    """What notebooks 01 and 05 share: the model, its augmentation, seeds, evaluation size,
    the artist sets with their held-out splits, and the artist-alone stage's epochs."""

    model: str
    augment: str
    seeds: tuple
    n_eval: int
    artist_dirs: dict
    splits: dict          # name -> data.HeldOutSplit
    train_dirs: dict      # name -> the split's training part (the only part models see)
    inner: dict           # name -> the inner-circle counts the style allows (or None)
    n_train: dict
    epochs: int


def setup(profile: Any, model: str | None = None, augment: str | None = None,
          seeds: Sequence[int] | None = None, artists: Sequence[str] | None = None,
          artist_folder: Any = None, epochs: int | None = None,
          n_eval: int | None = None) -> Setup:
    """Resolve notebook 01/05's parameters (None: the profile's value): ``model`` the
    profile's ``b_model``; ``augment`` ``b_augment`` for StyleGAN2, "none" for the DCGAN;
    ``seeds`` ``b_seeds``; ``n_eval`` 8 on smoke, 200 on cpu, else ``n_fake``; the artist
    sets (``artist_folder`` replaces the stand-ins), each split once
    (:func:`paperlib.data.split_held_out`, the profile's ``held_out_frac``, seed 0); and
    ``epochs``, the artist-alone stage's image budget
    (:func:`paperlib.curation.stage_kimg`) in epochs of the training part."""
    from . import curation, data
    from .config import get_profile
    from .train import epochs_for_kimg

    prof = get_profile(profile)
    model = model or prof.b_model
    augment = augment or (prof.b_augment if model == "stylegan2" else "none")
    if artist_folder:
        artist_dirs = {Path(artist_folder).name: Path(artist_folder)}
    else:
        sets = data.profile_sets(prof)
        artist_dirs = {name: sets[name] for name in (prof.artists if artists is None else artists)}
    splits = {name: data.split_held_out(d, prof.held_out_frac, seed=0)
              for name, d in artist_dirs.items()}
    train_dirs = {name: sp.train for name, sp in splits.items()}
    n_train = {name: len(data.image_files(d)) for name, d in train_dirs.items()}
    if epochs is None and len(set(n_train.values())) > 1:
        raise ValueError(f"artist sets of different sizes {n_train}: pass epochs=...")
    epochs = int(epochs or epochs_for_kimg(curation.stage_kimg(prof, model),
                                           next(iter(n_train.values()))))
    n_eval = int(n_eval or min(prof.n_fake, {"smoke": 8, "cpu": 200}.get(prof.name, prof.n_fake)))
    return Setup(model, augment, tuple(seeds or prof.b_seeds), n_eval, artist_dirs, splits,
                 train_dirs, {name: curation.inner_counts_of(d) for name, d in train_dirs.items()},
                 n_train, epochs)


# ----------------------------------------------------------------------------- curation jobs
def curation_job(job: dict) -> dict:
    """One artist and seed of notebook 05's curation loop, as a unit of work a Dask worker
    runs (:func:`curate_many`): selection features fitted on the artist's training part
    (:func:`paperlib.curation.pixel_pca_features`, never Inception), the automatic or human
    rater, and :func:`paperlib.curation.curate_and_retrain`. Returns its result with the
    run folders as strings."""
    from . import curation
    from .data import load_folder
    from .train import pinned_threads

    with pinned_threads(int(job.get("threads", 1))):
        train_dir = job["train_dir"]
        res = int(job["res"])
        human = load_folder(train_dir, res)
        features = curation.pixel_pca_features(human.images)
        human_feats = features(human.images)
        rate = curation.make_selection_rater(job["selections"], features, human_feats,
                                             int(job["top_k"]), inner_counts=job["inner"])
        out = curation.curate_and_retrain(
            job["start_run"], train_dir, job["loop_dir"], job["root"], features, rate,
            rounds=int(job["rounds"]), size=int(job["size"]), n_generate=int(job["n_generate"]),
            epochs=int(job["epochs"]), human_feats=human_feats, inner_counts=job["inner"])
    return {"log": out["log"], "models": [str(m) for m in out["models"]],
            "runs": [str(r.run_dir) for r in out["runs"]], "gen_seed": out["gen_seed"],
            "statuses": [r.status for r in out["runs"]],
            "epochs_done": [r.epochs_done for r in out["runs"]]}


def control_job(job: dict) -> dict:
    """Notebook 05's control: the start run fine-tuned on the plain training part for
    ``epochs`` epochs (:func:`paperlib.curation.finetune_run`), as a worker's unit of work."""
    from .curation import finetune_run
    from .train import pinned_threads

    with pinned_threads(int(job.get("threads", 1))):
        res = finetune_run(job["start_run"], job["data_dir"], job["root"], int(job["epochs"]))
    return {"run_dir": res.run_dir, "status": res.status, "epochs_done": res.epochs_done}


def b_job(job: dict) -> dict:
    """Dispatch one of notebook 05's jobs: ``kind`` "curation" or "control"."""
    kinds = {"curation": curation_job, "control": control_job}
    if job.get("kind") not in kinds:
        raise ValueError(f"unknown job kind {job.get('kind')!r}; valid: {sorted(kinds)}")
    return kinds[job["kind"]](job)


def run_b_jobs(jobs: Sequence[dict], scheduler: str | None = None, progress: bool = True
               ) -> list[dict]:
    """Run curation loops and control runs side by side on the Dask scheduler
    (:func:`paperlib.parallel.run_all`): one job per worker, the rounds within a loop in
    order. Results come back in the order of ``jobs``."""
    from .parallel import run_all

    names = [f"{j.get('kind')} {j.get('name', 'artist')} seed {j.get('seed')}" for j in jobs]
    return run_all(b_job, list(jobs), scheduler, names=names, desc="curation loops + controls",
                   progress=progress)


def as_paths(result: dict) -> dict:
    """A :func:`curation_job` result with ``models`` as ``Path`` (what
    :func:`paperlib.curation.batch_for_round` takes)."""
    return {**result, "models": [Path(m) for m in result["models"]]}


def fmt(x: Any, nd: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


# ----------------------------------------------------------------------------- conditional route
def layout_errors(images: Any, pairs_dir: Any, res: int) -> dict:
    """How exactly ``images`` (one per image of the paired folder ``pairs_dir``, in its
    order) keep the main circle their maps give: the form finder's main circle
    (:mod:`paperlib.fidelity`) against the recipe's ``main_circle``; median centre offset and
    median absolute radius error, both as a share of the recipe's radius, and the share of
    images with a main form found. NaN without stand-in recipes."""
    from .data import image_files
    from .fidelity import batch_circle_fidelity
    from .paired import folder_recipes, recipe_style

    recipes = folder_recipes(Path(pairs_dir))
    files = [p.relative_to(pairs_dir).as_posix() for p in image_files(pairs_dir)]
    results = batch_circle_fidelity(images, None)
    if len(results) != len(files):
        raise ValueError(f"{len(results)} images for {len(files)} maps in {pairs_dir}")
    centre, radius = [], []
    for f, r in zip(files, results):
        rec, rec_res = recipes.get(f, (None, None))
        if not recipe_style(rec):
            return {"centre_err": math.nan, "radius_err": math.nan, "found": math.nan}
        k = res / float(rec_res or res)
        m = rec["main_circle"]
        if r.found_main:
            centre.append(math.hypot(r.main_center[0] - m["cx"] * k,
                                     r.main_center[1] - m["cy"] * k) / (m["r"] * k))
            radius.append(abs(r.main_radius - m["r"] * k) / (m["r"] * k))
    return {"centre_err": float(np.median(centre)) if centre else math.nan,
            "radius_err": float(np.median(radius)) if radius else math.nan,
            "found": len(centre) / len(files)}


def evaluate_conditional(run_dir: Any, pairs_dir: Any, inner_counts: Sequence[int] | None = None,
                         extractor: Any = None, cache_dir: Any = None,
                         use_cache: bool = True) -> dict:
    """The conditional route's Table-1 metrics: a Pix2pixHD run's latest checkpoint
    translates every map of the paired folder ``pairs_dir`` (the held-out part: maps the
    model never saw) once; :func:`paperlib.curation.stage_metrics` of those outputs against
    that folder's images (FID/KID), plus :func:`layout_errors`. Cached as JSON in
    ``run_dir/eval/`` under the checkpoint's and the folder's identities."""
    from .curation import cached_run_eval, stage_metrics
    from .data import manifest_hash
    from .metrics import real_features
    from .paired import load_pairs
    from .pix2pixhd import translate
    from .train import load_run

    def compute(epoch: int, extractor) -> dict:
        run = load_run(run_dir, epoch=epoch)
        res = int(run.config.res)
        pairs = load_pairs(pairs_dir, res, run.config.map_source)
        fake = translate(run, pairs.maps)
        out = stage_metrics(fake, extractor(fake), real_features(pairs_dir, res, extractor,
                                                                 cache_dir=cache_dir),
                            inner_counts)
        out.update({f"layout_{k}": v for k, v in layout_errors(fake, pairs_dir, res).items()})
        return {**out, "map_source": pairs.map_source}

    return cached_run_eval(run_dir, "conditional", {
        "pairs": manifest_hash(pairs_dir),
        "inner": None if inner_counts is None else [int(c) for c in inner_counts]},
        compute, extractor=extractor, use_cache=use_cache)
