"""Paper B's conditional route (Pix2pixHD on maps): evaluation on held-out maps (cached), the
layout errors of the painted main circle against its map, and the route's verdicts."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data.folders import image_files, manifest_hash
from ..data.paired import (
    folder_recipes,
    load_pairs,
    recipe_style,
)
from ..engine.config import stage_config
from ..engine.runs import load_run, read_config
from ..forms import batch_circle_fidelity, form_kind_of
from ..metrics.evaluate import cached_run_eval
from ..metrics.features import real_features
from ..metrics.stats import fid_from_features, kid
from ..metrics.verdicts import compare_claim
from ..models.pix2pixhd import FEATURE_MODES, translate
from .tables import (
    EVAL_VERSION,
    check_fid_limit,
    draws_form,
    exact_form_metric,
    fmt,
    stage_metrics,
    summary,
    table1,
)


def _gate_column(per_seed: pd.DataFrame) -> str:
    """The gate's form statistic: ``form_median`` (the artist set's form measure,
    :func:`paperlib.paper_b.stage_metrics`), or ``main_circularity_median`` in tables
    built before the form measure (the face measure's statistic; equal for a face)."""
    return "form_median" if "form_median" in per_seed else "main_circularity_median"


# ----------------------------------------------------------------------------- conditional route
def conditional_config(profile: Any, train_dir: Any, seed: int, map_source: str = "auto",
                       kimg: float | None = None, **overrides) -> tuple[Any, str]:
    """Notebook 01b's Pix2pixHD config for ``train_dir``: the profile's sizes and schedule,
    ``kimg`` (None: the profile's Pix2pixHD ``kimg``) in epochs of the folder, the encoder off
    for maps without instance ids, with a note saying so (empty otherwise):
    :func:`paperlib.engine.stage_config`, as the command line's ``train``."""
    return stage_config(profile, "pix2pixhd", train_dir, kimg=kimg, seed=seed,
                        map_source=map_source, **overrides)


def layout_errors(images: Any, pairs_dir: Any, res: int) -> dict:
    """How exactly ``images`` (in ``pairs_dir``'s order) keep their maps' main circle:
    median centre offset and radius error (shares of the recipe radius) and the share with
    a main form found. NaN without stand-in recipes."""

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
                         use_cache: bool = True, features: str = "clusters") -> dict:
    """The conditional route's Table-1 metrics: the latest checkpoint translates every map of
    ``pairs_dir`` (held-out) once; :func:`paperlib.paper_b.stage_metrics` against its images
    plus :func:`layout_errors`, cached in ``run_dir/eval/``. ``features``: ``"clusters"``
    (pix2pixHD's test time) or ``"gt"`` (upper bound), for runs with the instance encoder."""
    form = form_kind_of(pairs_dir)

    def compute(epoch: int, extractor) -> dict:
        run = load_run(run_dir, epoch=epoch)
        res = int(run.config.res)
        pairs = load_pairs(pairs_dir, res, run.config.map_source,
                           boundary=bool(run.config.p2p_boundary))
        fake = translate(run, pairs, features=feats)
        out = stage_metrics(fake, extractor(fake), real_features(pairs_dir, res, extractor,
                                                                 cache_dir=cache_dir),
                            inner_counts, form=form)
        out.update({f"layout_{k}": v for k, v in layout_errors(fake, pairs_dir, res).items()})
        return {**out, "map_source": pairs.map_source}

    if features not in FEATURE_MODES:
        raise ValueError(f"features must be one of {FEATURE_MODES}, got {features!r}")
    feats = features if read_config(run_dir)["config"].get("p2p_feat") else "clusters"
    key = {"pairs": manifest_hash(pairs_dir),
           "inner": None if inner_counts is None else [int(c) for c in inner_counts],
           "form": form}
    if feats != "clusters":   # (the default leaves existing cache keys as they were)
        key["features"] = feats
    return cached_run_eval(run_dir, "conditional", key, compute, extractor=extractor,
                           use_cache=use_cache, version=EVAL_VERSION)


def conditional_verdicts(per_seed: pd.DataFrame, order: list[str],
                         favoured: str) -> tuple[pd.DataFrame, list[str]]:
    """Notebook 01b's verdicts and report lines.

    ``per_seed``: the floor (``model == "real"``) and per seed each generated column;
    ``order``: generated columns, ``favoured`` first. Per artist and metric (exact-form
    score, higher better; ``fid``, lower better) :func:`paperlib.metrics.compare_claim` of
    ``favoured`` against the others with the gate; without a gate (floor median 0) "not
    testable here". Returns ``(verdicts table, markdown lines)``."""

    baselines = [c for c in order if c != favoured]
    stat = _gate_column(per_seed)
    verdicts, lines = [], []
    for name in dict.fromkeys(per_seed.artist):
        sub = per_seed[per_seed.artist == name]
        fl = sub[sub.model == "real"].iloc[0]
        passed = {c: [bool(x) for x in sub[sub.column == c].draws] for c in order}
        for metric, lower in ((exact_form_metric(sub), False), ("fid", True)):
            values = {c: list(sub[sub.column == c][metric]) for c in order}
            if fl[stat] > 0:
                verdict, reason = compare_claim(values, passed, favoured, baselines,
                                                lower_is_better=lower)
            else:  # no gate, so no model can be shown to have learned: no verdict
                verdict = "not testable here"
                reason = (f"no quality gate: the form finder finds no main form in the "
                          f"artist's own images (median main circularity "
                          f"{fl[stat]:.2f}; it finds the map's main circle "
                          f"in {fl.layout_found:.0%} of the held-out images), so neither "
                          f"circle fidelity nor a learned model can be shown")
            verdicts.append({"artist": name, "claim": f"conditional route better {metric} than "
                             "StyleGAN2's shape learning and 1st result", "metric": metric,
                             "verdict": verdict, "reason": reason,
                             "per seed": " | ".join(f"{c.split(' (')[0]}: " + "; ".join(
                                 f"{x:.3f}" for x in values[c]) for c in order)})
        lines.append(f"- **{name}** (training data: main-form {fmt(fl.main_score)}, inner-form "
                     f"{fmt(fl.inner_score)}, floor FID {fmt(fl.fid, 1)}; layout error of the "
                     f"measure on real images: centre {fmt(fl.layout_centre_err)}, radius "
                     f"{fmt(fl.layout_radius_err)}):")
        extra = [c for c in dict.fromkeys(sub[sub.model != "real"].column) if c not in order]
        for c in [*order, *extra]:   # (extra: e.g. the ground-truth-feature upper bound)
            r = sub[sub.column == c]
            gate = (f"gate {int(r.draws.sum())}/{len(r)}" if r.draws.notna().all()
                    else "gate undefined")
            lines.append(f"    - {c}: {gate}; main-form "
                         f"{fmt(r.main_score.mean())} ± {fmt(r.main_score.std())}, inner-form "
                         f"{fmt(r.inner_score.mean())} ± {fmt(r.inner_score.std())}, FID "
                         f"{fmt(r.fid.mean(), 1)} ± {fmt(r.fid.std(), 1)}"
                         + (f" ({fmt((r.fid - fl.fid).mean(), 1)} over the floor)"
                            if c not in order or c == favoured else "") + ", KID "
                         f"{fmt(r.kid.mean(), 3)}"
                         + (f"; layout centre {fmt(r.layout_centre_err.mean())}, radius "
                            f"{fmt(r.layout_radius_err.mean())}"
                            if c == favoured or c not in order else ""))
    return pd.DataFrame(verdicts), lines


def conditional_tables(per_seed: pd.DataFrame, cols: Sequence[str], *,
                       fid_limit: float = math.inf, fid_margin: float | None = None
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Notebook 01b's tables: ``(per_seed with form_ratio and draws, table over seeds,
    compact summary)``. Gate: the form drawn (:func:`draws_form`) and FID under
    ``fid_limit``, or with ``fid_margin`` ``fid < floor + fid_margin``; None where the floor's
    median form is 0. Adds ``fid_over_floor`` to ``cols``."""
    fid_limit = check_fid_limit(fid_limit)
    per_seed = per_seed.copy()
    floor_fid = per_seed[per_seed.model == "real"].set_index("artist").fid
    per_seed["fid_over_floor"] = per_seed.fid - per_seed.artist.map(floor_fid)
    cols = [*cols, "fid_over_floor"] if "fid_over_floor" not in cols else list(cols)
    stat = _gate_column(per_seed)
    ref = per_seed[per_seed.model == "real"].set_index("artist")[stat]
    per_seed["form_ratio"] = per_seed[stat] / per_seed.artist.map(ref)
    limit = ({a: fl + check_fid_limit(fid_margin) for a, fl in floor_fid.items()}
             if fid_margin is not None else {a: fid_limit for a in floor_fid.index})
    per_seed["draws"] = [draws_form(m, ref[a]) and bool(np.isfinite(f) and f < limit[a])
                         if mod != "real" and ref[a] > 0 else None
                         for a, m, f, mod in zip(per_seed.artist, per_seed[stat], per_seed.fid,
                                                 per_seed.model)]
    table = table1(per_seed[["artist", "column", "seed", *cols]], cols,
                   keys=("artist", "column"))
    gate = {}  # seeds passing; undefined without a main form
    for (a, c), g in per_seed[per_seed.model != "real"].groupby(["artist", "column"]).draws:
        gate[a, c] = f"{int(g.sum())}/{len(g)}" if g.notna().all() else "undefined"
    table.insert(3, "gate", [gate.get((a, c), "") for a, c in zip(table.artist, table.column)])
    shown = ("form_score", "main_score", "inner_score", "fid", "fid_over_floor", "kid",
             "layout_centre_err", "layout_radius_err")
    summary_table = summary(table, [c for c in shown if c in table],
                            keep=("artist", "column", "n_seeds", "gate"))
    return per_seed, table, summary_table


# ----------------------------------------------------------------------------- notebook 01b's tables
#: Notebook 01b's columns: the held-out floor, Pix2pixHD with sampled and with the truth's
#: instance features, and the StyleGAN2 stages it is compared with.
CONDITIONAL_COLUMNS = {"floor": "training data (held-out floor)",
                       "p2p": "conditional (Pix2pixHD)",
                       "p2p_gt": "conditional, ground-truth features (upper bound)",
                       "alone": "1st result (StyleGAN2 alone)",
                       "finetune": "shape learning (StyleGAN2 transfer)",
                       "cond": "shape learning (StyleGAN2 class-conditional)",
                       "mix": "shape learning (StyleGAN2 mix)"}


def conditional_per_seed(splits, seeds, p2p_runs, sg_runs, stages, floor, evaluate_p2p,
                         evaluate_sg, columns=CONDITIONAL_COLUMNS) -> pd.DataFrame:
    """Notebook 01b's rows per artist, column and seed: the floor, then per seed Pix2pixHD
    (``evaluate_p2p``, "clusters" and "gt") and each StyleGAN2 stage (``evaluate_sg``)."""
    rows = []
    for name, sp in splits.items():
        rows.append({"artist": name, "column": columns["floor"], "model": "real", "seed": None,
                     **floor(name, sp)})
        for s in seeds:
            for col, feats in (("p2p", "clusters"), ("p2p_gt", "gt")):
                rows.append({"artist": name, "column": columns[col], "model": "Pix2pixHD",
                             "seed": s, **evaluate_p2p(name, p2p_runs[name, s].run_dir, feats)})
            for stage in stages:
                rows.append({"artist": name, "column": columns[stage], "model": "StyleGAN2-ADA",
                             "seed": s, **evaluate_sg(name, sg_runs[name, s][stage])})
    return pd.DataFrame(rows)


def seen_vs_new(splits, seeds, p2p_runs, per_seed: pd.DataFrame, n_held: dict, res: int,
                map_source: str, extractor, column: str = CONDITIONAL_COLUMNS["p2p"]
                ) -> pd.DataFrame:
    """Notebook 01b's seen maps vs new maps: per artist and seed, FID and KID against the
    held-out images of Pix2pixHD translating ``n_held[artist]`` of its *training* maps, next
    to its held-out-map values (``per_seed``'s ``column`` row), and ``fid_gap`` (new - seen)."""
    rows = []
    for name, sp in splits.items():
        n = n_held[name]
        held_f = real_features(sp.held_out, res, extractor)
        train_pairs = load_pairs(sp.train, res, map_source)
        for s in seeds:
            fake = translate(load_run(p2p_runs[name, s].run_dir), train_pairs[:n])
            fake_f = extractor(fake)
            new = per_seed[(per_seed.artist == name) & (per_seed.column == column)
                           & (per_seed.seed == s)].iloc[0]
            rows.append({"artist": name, "seed": s, "n": n,
                         "fid_seen_maps": fid_from_features(fake_f, held_f),
                         "fid_new_maps": new.fid,
                         "kid_seen_maps": kid(fake_f, held_f)[0], "kid_new_maps": new.kid})
    seen = pd.DataFrame(rows)
    seen["fid_gap"] = seen.fid_new_maps - seen.fid_seen_maps
    return seen
