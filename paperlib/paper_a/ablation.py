"""Notebook 04's ablation of the proposed model for each reading of Eq. 1 (issue 27, item 2):
the variants' configs, the rule that gives the secondary reading the primary's seeds, the
scores of each run's last checkpoint and the tables. (why: docs/DECISIONS.md, "Paper A: two
readings of Eq. 1")"""
from __future__ import annotations

import math

import pandas as pd

from ..config import get_profile
from ..data.folders import image_files
from ..engine.config import TrainConfig, profile_config
from ..engine.runs import RunDir, RunResult, list_checkpoints
from ..metrics.evaluate import evaluate_many, evaluate_run
from ..metrics.verdicts import fmt_mean_std
from .instability import (
    DECIDING_HORIZON,
    PRIMARY_READING,
    SECONDARY_READING,
    run_summary,
    window_onset,
)

#: The ablation's variants of the proposed model, with the options each sets.
VARIANTS = {"adjustment layer only": {"mean_adjust": False},
            "mean adjustment only": {"adjust": False},
            "both": {}}


#: The plain DCGAN (notebook 02's runs), the ablation's reference row; no reading applies.
BASELINE = "neither (DCGAN)"


#: The ``reading`` of the baseline's rows.
NO_READING = "none"


def variant_config(profile, variant: str, reading: str, N: int, seed: int, n_images: int,
                   primary_N: int, config: str = "paper") -> TrainConfig:
    """The run of ``variant`` (:data:`VARIANTS` or :data:`BASELINE`) for ``reading`` at its
    chosen ``N``. "mean adjustment only" has no adjustment layer, so neither the reading nor
    N changes the model: it is always the primary reading's config at ``primary_N`` (one run
    per seed, shared by both readings). "both" at the primary reading is the main run."""
    if variant == BASELINE:
        return profile_config(profile, "dcgan", config, seed, n_images=n_images)
    if variant not in VARIANTS:
        raise ValueError(f"unknown ablation variant {variant!r}; valid: "
                         f"{', '.join([*VARIANTS, BASELINE])}")
    if variant == "mean adjustment only":
        reading, N = PRIMARY_READING, primary_N
    return profile_config(profile, "proposed", config, seed, n_images=n_images, proposed_N=N,
                          proposed_reading=reading, **VARIANTS[variant])


def ablation_jobs(profile, data_dir, root, chosen: dict, seeds: dict,
                  baseline: bool = True) -> dict:
    """``{(reading, variant, seed): (TrainConfig, data_dir, root)}`` for each reading of
    ``chosen`` (``{reading: N}``, the primary reading's included) and each seed of
    ``seeds[reading]``; with ``baseline``, :data:`BASELINE` rows (reading
    :data:`NO_READING`) on the primary reading's seeds. Shared runs appear under each key
    (``train_many`` trains them once)."""
    prof = get_profile(profile)
    n = len(image_files(data_dir))
    primary_N = chosen[PRIMARY_READING]
    jobs = {}
    if baseline:
        for s in seeds[PRIMARY_READING]:
            jobs[NO_READING, BASELINE, s] = (variant_config(prof, BASELINE, PRIMARY_READING, 0,
                                                            s, n, primary_N), data_dir, root)
    for reading, N in chosen.items():
        for variant in VARIANTS:
            for s in seeds[reading]:
                jobs[reading, variant, s] = (variant_config(prof, variant, reading, N, s, n,
                                                            primary_N), data_dir, root)
    return jobs


def _fid(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.inf
    return value if math.isfinite(value) else math.inf


def secondary_seeds(fid_both: dict, primary_seeds, secondary_seeds,
                    primary: str = PRIMARY_READING, secondary: str = SECONDARY_READING
                    ) -> tuple[tuple[int, ...], str]:
    """The secondary reading's ablation seeds by the rule decided before any result: when
    its "both" has a lower mean FID than the primary's "both" over the seeds both readings
    have, it gets the primary's seeds too (its own first); else only its own.
    ``fid_both``: ``{(reading, seed): FID}`` of the "both" runs; a missing or non-finite FID
    counts as +inf (no score is the worst). Returns ``(seeds, reason)``."""
    own, prim = tuple(secondary_seeds), tuple(primary_seeds)
    shared = [s for s in own if s in prim]
    if not shared:
        return own, f"no seed shared by {primary} and {secondary}: {secondary} keeps {list(own)}"
    means = {r: sum(_fid(fid_both.get((r, s))) for s in shared) / len(shared)
             for r in (primary, secondary)}
    txt = (f"mean FID of \"both\" over seed(s) {shared}: {secondary} {means[secondary]:.2f}, "
           f"{primary} {means[primary]:.2f}")
    if means[secondary] < means[primary]:
        extended = own + tuple(s for s in prim if s not in own)
        if extended == own:
            return own, f"{txt}: {secondary} is better and already has {primary}'s seeds"
        return extended, (f"{txt}: {secondary} is better, so it is also trained on "
                          f"{primary}'s seeds {list(prim)} (seeds {list(extended)})")
    return own, f"{txt}: {secondary} is not better, so it keeps seed(s) {list(own)}"


def scored_epoch(run: RunResult) -> int | None:
    """The checkpoint an ablation run is scored at: its last one (None: no checkpoint)."""
    ckpts = list_checkpoints(run.run_dir)
    return ckpts[-1][0] if ckpts else None


def score_last(runs: dict, data_dir, n_fake: int, scheduler: str | None = None,
               seed: int = 1, **eval_kw) -> dict:
    """``{key: metrics}`` of each run of ``runs`` (RunResults) at its last checkpoint
    (:func:`scored_epoch`; None without one): :func:`paperlib.metrics.evaluate_run` with
    ``n_fake`` images from sample ``seed`` (Table 1's: 1) and ``eval_kw`` (``is_source``,
    ``n_real``, ``is_epochs``); each run folder is scored once (cached), side by side, the
    shared caches filled first in this process."""
    epochs = {k: scored_epoch(r) for k, r in runs.items()}
    dirs = list(dict.fromkeys(str(r.run_dir) for k, r in runs.items() if epochs[k] is not None))
    last = {str(r.run_dir): epochs[k] for k, r in runs.items() if epochs[k] is not None}
    if dirs:
        evaluate_run(dirs[0], data_dir, n_fake=n_fake, epoch=last[dirs[0]], seed=seed,
                     **eval_kw)
    jobs = [dict(run_dir=d, data_dir=data_dir, epochs=[last[d]], n_fake=n_fake, seed=seed,
                 **eval_kw) for d in dirs]
    out = dict(zip(dirs, (rows[0] for rows in evaluate_many(jobs, scheduler,
                                                             desc="ablation scores"))))
    return {k: out.get(str(r.run_dir)) if epochs[k] is not None else None
            for k, r in runs.items()}


def ablation_table(runs: dict, scores: dict) -> pd.DataFrame:
    """One row per ``(reading, variant, seed)`` of ``runs`` (RunResults): its
    :func:`run_summary` with ``N`` (None for the DCGAN), the ``window`` onset at the
    deciding horizon and ``scores[key]`` (an :func:`paperlib.metrics.evaluate_run` dict or
    None: ``fid``, ``kid``, ``is``, ``scored_epoch``; NaN without a score)."""
    rows = []
    for (reading, variant, seed), res in runs.items():
        cfg = RunDir(res.run_dir).config["config"]
        sc = scores.get((reading, variant, seed)) or {}
        summary = run_summary(res)
        rows.append({"reading": reading, "variant": variant, "seed": seed,
                     "model": summary.pop("model"), "config": summary.pop("config"),
                     "N": cfg.get("proposed_N") if cfg["model"] == "proposed" else None,
                     "scored_epoch": sc.get("epoch"),
                     **{m: sc.get(m, math.nan) if sc.get(m) is not None else math.nan
                        for m in ("fid", "kid", "is")},
                     "window_onset": window_onset(res.rows, DECIDING_HORIZON),
                     **{k: v for k, v in summary.items() if k != "seed"}})
    table = pd.DataFrame(rows)
    for col in ("N", "scored_epoch", "window_onset", "instability_onset"):
        if col in table:
            table[col] = table[col].astype("Int64")
    return table


def ablation_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per reading x variant of :func:`ablation_table` (in its order): ``runs``, ``scored``
    (runs with an FID) and FID / KID / IS as ``mean ± sd`` over the scored runs (sample sd,
    0 for one; ``n/a`` with none; IS only where some run has one)."""
    cols = [c for c in ("fid", "kid", "is") if c in table and table[c].notna().any()]
    rows = []
    for (reading, variant), g in table.groupby(["reading", "variant"], sort=False):
        row = {"reading": reading, "variant": variant, "runs": len(g),
               "scored": int(g["fid"].notna().sum()) if "fid" in g else 0}
        for c in cols:
            v = g[c].dropna().astype(float)
            row[c.upper()] = fmt_mean_std(v.mean() if len(v) else math.nan,
                                          v.std(ddof=1) if len(v) > 1 else 0.0,
                                          4 if c == "kid" else 2)
        rows.append(row)
    return pd.DataFrame(rows)
