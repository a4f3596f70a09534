"""Paper B's measurements: per-stage metrics (:func:`stage_metrics`, cached by
:func:`evaluate_stage`), the held-out floor, the gate (:func:`passes_gate`), Table 1
(:func:`table1`) and the claims' verdicts (:func:`claims`).

The gate: FID against the held-out part under ``b_gate_fid`` and the form drawn
(:func:`draws_form`); opt-in, KID under ``b_gate_kid`` instead of FID
(:func:`passes_kid_gate`). A baseline below it makes a claim *not testable here*; the
claimed model below it while its baseline passes makes the claim *not supported*. Outcome
measures the curation rater does not use: :func:`outcome_metrics` (cached:
:func:`evaluate_outcomes`).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data.folders import load_folder, manifest_hash
from ..engine.runs import METRIC_NOISE, load_run, metric_noise_key
from ..forms import (
    FormMeasure,
    form_kind_of,
    form_scores,
    form_summary,
    independent_form_scores,
    summarize,
)
from ..metrics.evaluate import cached_run_eval
from ..metrics.features import get_extractor, real_features
from ..metrics.stats import fid_from_features, kid, memorisation_ratio
from ..metrics.verdicts import compare_claim, diversity_gap, real_floor
from .selection_features import as_features, mean_pairwise_distance, n_images

#: Bump when :func:`stage_metrics` changes (invalidates cached evaluations).
EVAL_VERSION = 3


def stage_metrics(images: Any, feats: Any, real_feats: Any,
                  inner_counts: Sequence[int] | None = None, kid_seed: int = 0,
                  form: str = "face", min_n: int | None = None) -> dict:
    """Table-1 metrics of ``images`` (``feats``) against the artist's ``real_feats``.

    Keys: ``form_measure``, ``form_score``, ``form_median`` (the gate's statistic),
    ``fidelity``, ``main_score``, ``inner_score``, ``main_circularity`` (+ ``_median``),
    ``inner_count_ok`` (NaN without ``inner_counts``), ``n_inner_found``, ``found_main``,
    ``fid``, ``kid``, ``kid_std``, ``diversity`` (:func:`mean_pairwise_distance`) and ``n``.
    ``min_n``: with fewer images, ``fid``, ``kid`` and ``kid_std`` are NaN (not computed;
    without it they need at least 2 images); the form scores cover any number, none too.
    """

    f = as_features(feats, "feats")
    r = as_features(real_feats, "real_feats")
    if n_images(images) != len(f):
        raise ValueError(f"{n_images(images)} images but {len(f)} feature rows")
    measure = FormMeasure(form, None if inner_counts is None else tuple(inner_counts))
    scores = form_scores(images, FormMeasure("face", measure.inner_counts))
    results = scores["circle"]
    if form != "face":
        scores = form_scores(images, measure)
    s = summarize(results)
    if min_n is not None and len(f) < int(min_n):
        kid_mean = kid_std = fid = math.nan
    else:
        kid_mean, kid_std = kid(r, f, seed=kid_seed)
        fid = fid_from_features(r, f)
    return {
        "n": int(len(f)), "fidelity": s["score"], "main_score": s["main_score"],
        "inner_score": s["inner_score"], "main_circularity": s["main_circularity"],
        "main_circularity_median": float(np.median([x.main_circularity for x in results]))
        if results else math.nan,
        "inner_count_ok": s["frac_inner_count_ok"], "n_inner_found": s["n_inner_found"],
        "found_main": s["frac_found_main"], "fid": fid,
        "kid": float(kid_mean), "kid_std": float(kid_std),
        "diversity": mean_pairwise_distance(f), "form_measure": form,
        **form_summary(scores),
    }


def evaluate_stage(run_dir: Any, artist_dir: Any, n: int,
                   inner_counts: Sequence[int] | None = None, seed: int = 0,
                   extractor: Any = None, epoch: int | None = None, cache_dir: Any = None,
                   use_cache: bool = True, reference_dir: Any = None) -> dict:
    """:func:`stage_metrics` of ``n`` images sampled (``seed``) from a run's checkpoint
    (latest by default) against ``artist_dir``, or ``reference_dir`` for FID/KID. Cached in
    ``run_dir/eval/``, keyed by checkpoint sha256, n, seed, inner counts, the sets'
    identities, the feature extractor and the noise mode. Adds ``epoch`` and ``run``.
    """

    def compute(epoch: int, extractor) -> dict:
        run = load_run(run_dir, epoch=epoch)
        ref_dir = artist_dir if reference_dir is None else reference_dir
        real_f = real_features(ref_dir, int(run.config.res), extractor, cache_dir=cache_dir)
        images = run.sample(int(n), seed=int(seed), noise=METRIC_NOISE)
        return stage_metrics(images, extractor(images), real_f, inner_counts, kid_seed=int(seed),
                             form=form)

    form = form_kind_of(artist_dir)

    return cached_run_eval(run_dir, "paperb", {
        "n": int(n), "seed": int(seed),
        "inner_counts": None if inner_counts is None else [int(c) for c in inner_counts],
        "artist": manifest_hash(artist_dir),
        "reference": None if reference_dir is None else manifest_hash(reference_dir),
        "form": form, **metric_noise_key(run_dir)},
        compute, extractor=extractor, epoch=epoch, use_cache=use_cache,
        version=EVAL_VERSION)


def _real_sample_metrics(sample_dir: Any, reference_dir: Any, n: int, res: int,
                         inner_counts: Sequence[int] | None, seed: int, extractor: Any,
                         cache_dir: Any) -> dict:
    """:func:`stage_metrics` of ``n`` real images drawn (``seed``) from ``sample_dir``
    against the features of ``reference_dir`` (the same folder or another)."""

    extractor = extractor or get_extractor()
    loaded = load_folder(sample_dir, int(res))

    def score(idx, sample_f, ref_f) -> dict:
        if len(loaded) != len(sample_f):
            raise ValueError(f"{sample_dir}: {len(loaded)} images but {len(sample_f)} cached "
                             "features")
        return stage_metrics(loaded.images[idx], sample_f[idx], ref_f, inner_counts,
                             kid_seed=seed, form=form_kind_of(sample_dir))

    out = real_floor(sample_dir, res, n, reference_dir, extractor, seed, cache_dir, score)
    n_reference = out.pop("n_reference")
    out.update(epoch=None, n_reference=n_reference)   # the row's key order as before
    return out


def real_stage_metrics(artist_dir: Any, n: int, res: int,
                       inner_counts: Sequence[int] | None = None, seed: int = 0,
                       extractor: Any = None, cache_dir: Any = None) -> dict:
    """:func:`stage_metrics` of ``n`` images drawn (``seed``) from the artist set against
    the whole set: an in-sample floor (too low); Table 1 uses :func:`held_out_floor_metrics`."""
    out = _real_sample_metrics(artist_dir, artist_dir, n, res, inner_counts, seed, extractor,
                               cache_dir)
    out.update(run="training data")
    return out


def held_out_floor_metrics(train_dir: Any, held_out_dir: Any, n: int, res: int,
                           inner_counts: Sequence[int] | None = None, seed: int = 0,
                           extractor: Any = None, cache_dir: Any = None) -> dict:
    """Table 1's "training data" row: :func:`stage_metrics` of ``n`` images (``seed``) of
    the training part against the held-out part (:func:`paperlib.data.split_held_out`)."""
    out = _real_sample_metrics(train_dir, held_out_dir, n, res, inner_counts, seed, extractor,
                               cache_dir)
    out.update(run="training data (held-out floor)")
    return out


#: A run draws the form when its median form score is at least this share of the
#: training images' (our choice).
FORM_GATE = 0.8


#: Table 1's columns: paper B's, plus our controls (longer training, pre-training +
#: fine-tuning, extra training without curation).
COLUMNS = ("training data", "1st result", "shape learning", "longer training",
           "shape pre-training + fine-tuning", "shape learning + technique", "control")

#: The 2 x 2's other row (notebook 05): the technique, and its same-budget control, on the
#: 1st result instead of shape learning.
FIRST_TECH_COLUMN, FIRST_CONTROL_COLUMN = "1st result + technique", "1st result + control"


def draws_form(median_form: float, reference_median: float,
               gate: float = FORM_GATE) -> bool:
    """The form half of the gate: ``median_form >= gate * reference_median`` (both finite,
    the reference positive)."""
    return bool(np.isfinite(median_form) and np.isfinite(reference_median)
                and reference_median > 0 and median_form >= gate * reference_median)


def check_limit(limit: Any, name: str = "fid_limit") -> float:
    """A gate's ``limit`` as a float: a number >= 0, ``math.inf`` for no limit; else
    ``ValueError`` naming ``name`` (None, NaN, a negative number, text)."""
    try:
        value = float(limit)
    except (TypeError, ValueError):
        value = math.nan
    if not value >= 0:
        raise ValueError(f"{name} must be a non-negative number (math.inf for none), got "
                         f"{limit!r}")
    return value


def check_fid_limit(fid_limit: Any) -> float:
    """:func:`check_limit` of an FID limit."""
    return check_limit(fid_limit, "fid_limit")


def passes_gate(fid: float, median_form: float, reference_median: float,
                fid_limit: float, gate: float = FORM_GATE, *, name: str = "fid_limit") -> bool:
    """Paper B's gate: the run's FID against the held-out part is under ``fid_limit`` (the
    profile's ``b_gate_fid``; ``math.inf`` for none) **and** it draws the form
    (:func:`draws_form`). A NaN FID fails; a NaN or negative limit is a ``ValueError``
    naming ``name`` (:func:`passes_kid_gate` passes KID and its limit)."""
    limit = check_limit(fid_limit, name)
    return bool(np.isfinite(fid) and fid < limit
                and draws_form(median_form, reference_median, gate))


def passes_kid_gate(kid_value: float, median_form: float, reference_median: float,
                    kid_limit: float, gate: float = FORM_GATE) -> bool:
    """Paper B's KID gate (opt-in beside :func:`passes_gate`, the same rule on KID): KID
    against the held-out part under ``kid_limit`` (the profile's ``b_gate_kid``; unbiased
    at any n, so no floor is subtracted) **and** the form drawn."""
    return passes_gate(kid_value, median_form, reference_median, kid_limit, gate,
                       name="kid_limit")


#: Bump when :func:`outcome_metrics` changes (invalidates cached outcome evaluations).
OUTCOME_VERSION = 1


def outcome_metrics(images: Any, feats: Any, held_out_feats: Any, train_feats: Any,
                    form: str = "face", kid_seed: int = 0) -> dict:
    """Outcome measures of generated ``images`` (their Inception ``feats``) that the
    curation rater does not use: ``kid``/``kid_std`` against the held-out part (``fid``
    beside), the independent form measure (:func:`paperlib.forms.independent_form_scores`
    of the set's ``form`` kind: ``outcome_form``, ``outcome_form_score`` mean,
    ``outcome_form_median``), memorisation (:func:`paperlib.metrics.stats.memorisation_ratio`
    against ``train_feats``: ``memorisation``, ``nn_train_median``, ``nn_real_median``), and
    ``diversity`` with ``diversity_gap`` to the held-out part's own
    (:func:`paperlib.metrics.verdicts.diversity_gap`); ``n``."""
    f = as_features(feats, "feats")
    h = as_features(held_out_feats, "held_out_feats")
    t = as_features(train_feats, "train_feats")
    if n_images(images) != len(f):
        raise ValueError(f"{n_images(images)} images but {len(f)} feature rows")
    indep = independent_form_scores(images, form)
    kid_mean, kid_std = kid(h, f, seed=kid_seed)
    mem = memorisation_ratio(f, t, h)
    div, real_div = mean_pairwise_distance(f), mean_pairwise_distance(h)
    return {"n": int(len(f)), "kid": float(kid_mean), "kid_std": float(kid_std),
            "fid": fid_from_features(h, f), "outcome_form": indep["kind"],
            "outcome_form_score": float(np.mean(indep["scores"])),
            "outcome_form_median": float(np.median(indep["scores"])),
            "memorisation": mem["ratio"], "nn_train_median": mem["gen_median"],
            "nn_real_median": mem["real_median"], "diversity": div,
            "real_diversity": real_div, "diversity_gap": diversity_gap(div, real_div)}


def evaluate_outcomes(run_dir: Any, train_dir: Any, held_out_dir: Any, n: int, seed: int = 0,
                      extractor: Any = None, epoch: int | None = None, cache_dir: Any = None,
                      use_cache: bool = True) -> dict:
    """:func:`outcome_metrics` of ``n`` images sampled (``seed``) from a run's checkpoint
    (latest by default), against ``held_out_dir`` and ``train_dir`` (the parts of
    :func:`paperlib.data.split_held_out`; form kind: ``train_dir``'s). Cached in
    ``run_dir/eval/outcomes_*.json`` (apart from :func:`evaluate_stage`'s). Adds ``epoch``
    and ``run``."""
    form = form_kind_of(train_dir)

    def compute(epoch: int, extractor) -> dict:
        run = load_run(run_dir, epoch=epoch)
        res = int(run.config.res)
        held_f = real_features(held_out_dir, res, extractor, cache_dir=cache_dir)
        train_f = real_features(train_dir, res, extractor, cache_dir=cache_dir)
        images = run.sample(int(n), seed=int(seed), noise=METRIC_NOISE)
        return outcome_metrics(images, extractor(images), held_f, train_f, form,
                               kid_seed=int(seed))

    return cached_run_eval(run_dir, "outcomes", {
        "n": int(n), "seed": int(seed), "train": manifest_hash(train_dir),
        "held_out": manifest_hash(held_out_dir), "form": form, **metric_noise_key(run_dir)},
        compute, extractor=extractor, epoch=epoch, use_cache=use_cache,
        version=OUTCOME_VERSION)


def table1(per_seed: pd.DataFrame, cols: Sequence[str], keys: Sequence[str] = ("artist", "column")
           ) -> pd.DataFrame:
    """One row per ``keys`` group: ``n_seeds``, ``<col>`` (mean), ``<col>_sd`` (NaN for one
    value) and ``<col>_seeds`` (``"; "``-joined) per metric of ``cols``; group-constant
    extra columns are kept. ``ValueError`` for a metric named ``n`` (its ``n_seeds`` would
    overwrite the seed count)."""
    if "n" in cols:
        raise ValueError("table1 cannot summarise a metric named 'n': its per-seed column "
                         "would overwrite n_seeds")
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
    """Compact form of a :func:`table1` table: ``keep`` columns, then ``cols`` as
    ``"mean ± sd"`` (``n/a`` where there is no value)."""
    out = table[list(keep)].copy()
    for c in cols:
        nd = 4 if c == "kid" else 1 if c in ("fid", "fid_over_floor", "diversity") else 3
        out[c] = [fmt(m, nd) + ("" if not np.isfinite(sd) or not np.isfinite(m)
                                else f" ± {sd:.{nd}f}")
                  for m, sd in zip(table[c], table[f"{c}_sd"])]
    return out


#: Table 1's random-selection control: the loop with a seeded random rater.
RANDOM_COLUMN = "shape learning + random selection"


def exact_form_metric(rows: pd.DataFrame) -> str:
    """The metric the "more exact form" claims compare on ``rows``: ``form_score``, or
    ``main_score`` for the ``"face"`` measure (and older tables)."""
    if "form_measure" in rows and (rows.form_measure.dropna() != "face").any():
        return "form_score"
    return "main_score"


def claims(per_seed: pd.DataFrame, artist: str, control: bool = True,
           level: float = 0.95) -> pd.DataFrame:
    """Paper B's claims for one artist, each with a verdict of
    :data:`paperlib.metrics.verdicts.VERDICTS` (:func:`paperlib.metrics.compare_claim`).

    ``per_seed``: one row per (column, seed) with ``main_score``, ``inner_score``,
    ``diversity`` and ``draws``. Claims: shape learning draws more exact form than the 1st
    result and than the longer control (primary); + technique gives more exact form and
    more varied images than both ("more varied": ``diversity_gap`` to the training-data
    row's diversity is smaller; no such row: NaN, not testable); pre-training + fine-tuning
    beats the 1st result (secondary); with :data:`RANDOM_COLUMN`, the technique's
    selection draws more exact form than random selection; the technique on measures its
    rater does not use (KID against the held-out part, ``outcome_form_score``); the 2 x 2's
    technique on the 1st result against its control (:data:`FIRST_TECH_COLUMN`). Every
    comparison is paired by seed (the columns share their seeds). Claims without their
    columns or metric are left out."""

    sub = per_seed[per_seed.artist == artist]
    ref = sub[sub.column == "training data"].diversity.astype(float) if "diversity" in sub \
        else pd.Series(dtype=float)
    real_div = float(ref.iloc[0]) if len(ref) and np.isfinite(ref.iloc[0]) \
        and ref.iloc[0] > 0 else math.nan

    def col(name, metric):
        rows = sub[sub.column == name].sort_values("seed")
        if metric == "diversity_gap":
            return [math.nan if math.isnan(real_div) else diversity_gap(d, real_div)
                    for d in rows.diversity.astype(float)]
        return rows[metric].astype(float).tolist()

    def gate(name):
        return [bool(x) for x in sub[sub.column == name].sort_values("seed")["draws"]]

    tech = "shape learning + technique"
    bases = ["shape learning"] + (["control"] if control else [])
    exact = exact_form_metric(sub)
    indep = ("rater-independent: ", "(the technique's outcome on measures its rater does "
             "not use)")
    specs = [("shape learning draws more exact form than the 1st result (Fig. 1, Table 1)",
              exact, "shape learning", ["1st result"]),
             ("shape learning draws more exact form than the longer-training control (the "
              "shapes, not just more training)", exact, "shape learning",
              ["longer training"]),
             ("+ technique: more exact form (Table 1, Figs. 2-3)", exact, tech, bases),
             ("+ technique: more varied images (Table 1, Figs. 2-3)", "diversity_gap", tech,
              bases),
             ("shape pre-training + fine-tuning draws more exact form than the 1st result "
              "(secondary)", exact, "shape pre-training + fine-tuning", ["1st result"]),
             ("the technique's selection draws more exact form than random selection (the "
              "same 60/30/10 loop; selecting, not just retraining on own samples)", exact,
              tech, [RANDOM_COLUMN]),
             (f"{indep[0]}+ technique: lower KID against the held-out part {indep[1]}",
              "kid", tech, bases),
             (f"{indep[0]}+ technique: higher independent form score {indep[1]}",
              "outcome_form_score", tech, bases),
             ("2 x 2: the technique on the 1st result draws more exact form than its "
              "same-budget control", exact, FIRST_TECH_COLUMN, [FIRST_CONTROL_COLUMN]),
             (f"2 x 2, {indep[0]}the technique on the 1st result: lower KID against the "
              "held-out part than its same-budget control", "kid", FIRST_TECH_COLUMN,
              [FIRST_CONTROL_COLUMN])]
    present = set(sub.column)
    rows = []
    for claim, metric, fav, baselines in specs:
        names = [fav, *baselines]
        if fav not in present or not set(baselines) & present or metric not in sub \
                and metric != "diversity_gap":
            continue   # (a baseline missing beside present ones counts as below the gate)
        values = {m: col(m, metric) for m in names}
        seeds = {m: sub[sub.column == m].sort_values("seed").seed.tolist() for m in names}
        if metric == "diversity_gap" and math.isnan(real_div):
            verdict, reason = "not testable here", ("no training-data row with a positive "
                                                    "diversity to compare with")
        else:
            verdict, reason = compare_claim(values, {m: gate(m) for m in names}, fav,
                                            baselines, level=level, seeds=seeds,
                                            lower_is_better=metric in ("diversity_gap", "kid"))
        rows.append({"artist": artist, "claim": claim, "metric": metric, "verdict": verdict,
                     "reason": reason,
                     "per seed": " | ".join(f"{m}: " + "; ".join(f"{x:.3f}" for x in values[m])
                                            for m in names)})
    return pd.DataFrame(rows, columns=["artist", "claim", "metric", "verdict", "reason",
                                       "per seed"])


def fmt(x: Any, nd: int = 3) -> str:
    """``x`` with ``nd`` decimals, ``"n/a"`` for None or a non-finite value."""
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"
