"""Paper B's reports: tables and "paper vs this run" markdown of notebooks 01 and 05, built
from per-seed tables (one row per artist, stage/column and seed; the ``"training data"`` row
holds the held-out floor). Nothing here trains or evaluates a model."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics.verdicts import compare_claim, diversity_gap
from .curation import RATER_LABELS, SOURCES, read_provenance
from .kind import MIX_KIND
from .tables import (
    COLUMNS,
    FIRST_CONTROL_COLUMN,
    FIRST_TECH_COLUMN,
    RANDOM_COLUMN,
    check_fid_limit,
    check_limit,
    claims,
    exact_form_metric,
    fmt,
    passes_gate,
    table1,
)

#: The stage (01) or column (05) of the training data's row: the held-out floor.
REFERENCE = "training data"
#: The gate's form statistic (:func:`with_gate`): the median per-image form score.
GATE_STATISTIC = "form_median"
#: Notebook 01's 1st result, the baseline of its shape-learning claims.
ALONE = "alone"
#: The metrics notebook 01's claims compare (higher is better; ``main_score`` stands for
#: the exact-form score, :func:`paperlib.paper_b.exact_form_metric`).
SHAPE_CLAIM_METRICS = ("main_score", "inner_score")
#: Notebook 01's longer-training control: the artist set alone for as many images as shape
#: learning (the 1st result's run, extended).
LONGER = "longer"
#: Notebook 01's arms of shape learning: transfer (shape pre-training, then fine-tuning on
#: the artist) and class-conditional training sampled in the artist's class decide the claim;
#: the unconditional mix (which must draw shapes too) is secondary.
DECIDING_ARMS = ("finetune", "cond")
#: Notebook 01's comparisons, fixed before any result: (stage, baseline, primary). Primary:
#: each deciding arm against the 1st result and against the longer control (shapes or just
#: more training?); the mix and the control against the 1st result, and every comparison
#: on the inner-form score, secondary. Every comparison is paired by seed (the arms share
#: their seeds).
SHAPE_COMPARISONS = (*[(arm, base, True) for arm in DECIDING_ARMS for base in (ALONE, LONGER)],
                     ("mix", ALONE, False), ("mix", LONGER, False), (LONGER, ALONE, False))
#: The columns of notebook 01's verdict table.
VERDICT_COLUMNS = ("artist", "claim", "stage", "baseline", "metric", "primary", "verdict",
                   "reason")

PAPER_B_SHAPE = ("**Paper B (Fig. 1, Table 1):** the 1st experiment (artworks alone) failed to "
                 "draw Donglein's round face; learning many circles as well (shape learning) "
                 "drew it; small inner circles and interior detail stayed inexact. No numbers "
                 "are given.")
PAPER_B_CURATION = ("**Paper B (Table 1, Figs. 2–3):** shape learning gives better results than "
                    "training on the data as it is, and adding the training-data production "
                    "technique (60/30/10 curation and retraining) is better still: more exact "
                    "form and more varied images. The evidence is images and the artists' "
                    "satisfaction; no numbers are given.")
CURATION_VERDICT_NOTE = ("Verdicts (`paper_b.claims` → `metrics.compare_claim`): a column whose "
                         "runs do not all pass the gate (FID against the held-out part under the "
                         "profile's limit, and the form drawn) makes a "
                         "comparison *not testable here*; otherwise the Welch 95 % interval of "
                         "the difference over seeds decides. The numbers are reported as "
                         "measured, whichever way they point.")


#: The form measure's columns (:func:`paperlib.paper_b.stage_metrics`), added to the
#: summaries over seeds wherever the per-seed table has them.
FORM_COLUMNS = ("form_score", "form_median")


def _with_form(cols: Sequence[str], df: pd.DataFrame) -> list:
    """``cols`` plus the :data:`FORM_COLUMNS` ``df`` has and ``cols`` lacks."""
    return [*cols, *[c for c in FORM_COLUMNS if c in df and c not in cols]]


def _artists(df: pd.DataFrame) -> list:
    """The artists of a table, in the order of their first row."""
    return list(dict.fromkeys(df.artist))


# ----------------------------------------------------------------------------- the gate
def with_gate(per_seed: pd.DataFrame, key: str = "stage", *, fid_limit: float,
              kid_limit: float | None = None) -> pd.DataFrame:
    """A copy of ``per_seed`` with the gate's columns ``form_ratio`` (``form_median`` over
    the artist's training-data row), ``fid_ok`` and ``draws``
    (:func:`paperlib.paper_b.passes_gate`). With ``kid_limit`` (opt-in, the profile's
    ``b_gate_kid``) also ``kid_ok``, and ``draws`` is the KID gate
    (:func:`paperlib.paper_b.passes_kid_gate`; FID only reported beside). ``KeyError`` for
    an artist without its training-data row, ``ValueError`` for a bad limit."""
    fid_limit = check_fid_limit(fid_limit)
    score, limit, name = ("fid", fid_limit, "fid_limit") if kid_limit is None else (
        "kid", check_limit(kid_limit, "kid_limit"), "kid_limit")
    out = per_seed.copy()
    ref_median = out[out[key] == REFERENCE].set_index("artist")[GATE_STATISTIC]
    out["form_ratio"] = out[GATE_STATISTIC] / out.artist.map(ref_median)
    out["fid_ok"] = [bool(np.isfinite(f) and f < fid_limit) for f in out.fid]
    if kid_limit is not None:
        out["kid_ok"] = [bool(np.isfinite(k) and k < limit) for k in out.kid]
    out["draws"] = [passes_gate(v, m, ref_median[a], limit, name=name)
                    for a, v, m in zip(out.artist, out[score], out[GATE_STATISTIC])]
    return out


# ----------------------------------------------------------------------------- notebook 01
def stage_summary(per_run: pd.DataFrame, stages: Sequence[str],
                  cols: Sequence[str]) -> pd.DataFrame:
    """Notebook 01's summary over seeds (:func:`paperlib.paper_b.table1` by artist and
    stage) of ``cols`` and ``draws`` for the training data and ``stages``."""
    cols = _with_form(cols, per_run)
    rows = per_run[per_run.stage.isin([REFERENCE, *stages])][["artist", "stage", "seed",
                                                              "draws", *cols]]
    return table1(rows.assign(draws=lambda d: d.draws.astype(int)), [*cols, "draws"],
                  keys=("artist", "stage"))


def augment_table(per_run: pd.DataFrame, augment: str, augments: Sequence[str],
                  augment_seeds: Sequence[int], cols: Sequence[str]) -> pd.DataFrame:
    """Notebook 01's augmentation comparison on the artist-alone stage: ``cols`` over
    ``augment_seeds`` per artist and augmentation (stages ``"alone+<augmentation>"``)."""
    if not augments:
        return pd.DataFrame([{"artist": name, "augment": augment, "note": "comparison not run "
                              "on this profile (secondary, cut for time)"}
                             for name in _artists(per_run)])
    rows = per_run[per_run.stage.isin([ALONE, *[f"{ALONE}+{a}" for a in augments]])
                   & per_run.seed.isin(augment_seeds)]
    return table1(rows.assign(augment=rows.stage.str.split("+").str[1].fillna(augment))
                  [["artist", "augment", "seed", *cols]], cols, keys=("artist", "augment"))


def shape_claim(stage: str, baseline: str = ALONE) -> str:
    """Notebook 01's claim for a stage against a baseline (:data:`SHAPE_COMPARISONS`)."""
    what = {"mix": "shape learning (shapes added)", "finetune":
            "shape learning (pre-training + fine-tuning)", "cond":
            "shape learning (class-conditional, the artist's class)",
            LONGER: "longer training alone"}.get(stage, stage)
    than = {ALONE: "the 1st result", LONGER: "the longer-training control (as many images, "
            "artist only)"}.get(baseline, baseline)
    return f"{what} draws more exact form than {than}"


def shape_learning_verdicts(per_run: pd.DataFrame, stages: Sequence[str]) -> pd.DataFrame:
    """Notebook 01's verdicts: per artist, every :data:`SHAPE_COMPARISONS` pair in
    ``stages`` on each of :data:`SHAPE_CLAIM_METRICS`, judged by
    :func:`paperlib.metrics.compare_claim` with the gate (``draws``), paired by seed.
    Columns :data:`VERDICT_COLUMNS`."""
    rows = []
    for name in _artists(per_run):
        sub = per_run[per_run.artist == name]
        exact = exact_form_metric(sub)
        for st, base, primary in SHAPE_COMPARISONS:
            if st not in stages or base not in stages:
                continue
            for metric in [exact if m == "main_score" else m for m in SHAPE_CLAIM_METRICS]:
                runs = {k: sub[sub.stage == k].sort_values("seed") for k in (base, st)}
                verdict, reason = compare_claim({k: r[metric].tolist() for k, r in runs.items()},
                                                {k: r.draws.tolist() for k, r in runs.items()},
                                                st, [base], lower_is_better=False,
                                                seeds={k: r.seed.tolist()
                                                       for k, r in runs.items()})
                rows.append({"artist": name, "claim": shape_claim(st, base), "stage": st,
                             "baseline": base, "metric": metric,
                             "primary": bool(primary and metric == exact),
                             "verdict": verdict, "reason": reason})
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


def gain_explained(vs_first: str, vs_longer: str) -> str:
    """What the two primary verdicts say together: shape learning against the 1st result
    (``vs_first``) and against the longer-training control (``vs_longer``)."""
    if vs_first == "not testable here":
        return ("not testable here: shape learning vs the 1st result could not be judged (a "
                "column below the gate, or too few seeds to separate them)")
    if vs_first != "supported":
        return "no gain over the 1st result to explain"
    if vs_longer == "supported":
        return ("the gain is not explained by longer training: shape learning also beats the "
                "artist alone trained on as many images")
    if vs_longer == "not testable here":
        return ("cannot tell: shape learning vs the longer-training control is not testable "
                "here (the control below the gate, or too few seeds to separate them)")
    return ("the gain may be explained by longer training: shape learning does not beat the "
            "artist alone trained on as many images")


def explanation_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per artist and shape-learning arm, :func:`gain_explained` of its verdicts on the
    exact-form score against the 1st result and the longer control (columns artist, arm,
    primary, vs_1st_result, vs_longer, reading)."""
    cols = ["artist", "arm", "primary", "vs_1st_result", "vs_longer", "reading"]
    rows = []
    exact = verdicts[verdicts.metric != "inner_score"] if len(verdicts) else verdicts
    for (name, arm), v in (exact.groupby(["artist", "stage"], sort=False) if len(exact)
                           else []):
        by = v.set_index("baseline").verdict
        if arm != LONGER and ALONE in by and LONGER in by:
            rows.append({"artist": name, "arm": arm, "primary": arm in DECIDING_ARMS,
                         "vs_1st_result": by[ALONE], "vs_longer": by[LONGER],
                         "reading": gain_explained(by[ALONE], by[LONGER])})
    return pd.DataFrame(rows, columns=cols)


def shape_learning_markdown(per_run: pd.DataFrame, verdicts: pd.DataFrame,
                            stages: Sequence[str], *, profile: str, model: str, res: int,
                            augment: str, seeds: Sequence[int], n_eval: int) -> str:
    """Notebook 01's "paper vs this run" markdown: the paper's finding, this run's setting,
    then per artist the training data, each stage of ``stages`` (the gate, form, FID, KID,
    diversity against the data's; a :data:`MIX_KIND` stage also its artist-kind count and
    share), each of ``verdicts`` and, per arm
    (:func:`gain_explained`), whether longer training explains a gain."""
    explained = explanation_table(verdicts)
    lines = [PAPER_B_SHAPE, "",
             f"**This run** ({profile} profile, {model} {res} px, augment {augment}, "
             f"{len(seeds)} seeds {list(seeds)}, {n_eval} generated images per evaluation "
             "against the held-out part; mean ± sd over seeds; comparisons paired by seed):",
             ""]
    for name in _artists(per_run):
        sub = per_run[per_run.artist == name]
        ref = sub[sub.stage == REFERENCE].iloc[0]
        lines.append(f"- **{name}** (training data: main-form score {fmt(ref.main_score)}, "
                     f"inner-form score {fmt(ref.inner_score)}, median form score "
                     f"{fmt(ref.form_median)} ({ref.form_measure} measure), diversity "
                     f"{fmt(ref.diversity, 2)}; held-out floor FID {fmt(ref.fid, 1)}, KID "
                     f"{fmt(ref.kid, 4)}):")
        for st in stages:
            r = sub[sub.stage == st]
            gate = (f"KID under the limit in {int(r.kid_ok.sum())}" if "kid_ok" in r else
                    f"FID under the limit in {int(r.fid_ok.sum())}")
            lines.append(f"    - {st}: {_kind_part(r) if st == MIX_KIND else ''}"
                         f"passes the gate in {int(r.draws.sum())}/{len(r)} seeds "
                         f"(median form score {fmt(r.form_ratio.mean(), 2)} of the "
                         f"training data's; {gate}); "
                         + (f"form score {fmt(r.form_score.mean())} ± {fmt(r.form_score.std())}, "
                            if "form_score" in r else "") +
                         f"main-form {fmt(r.main_score.mean())} ± "
                         f"{fmt(r.main_score.std())}, inner-form {fmt(r.inner_score.mean())} ± "
                         f"{fmt(r.inner_score.std())}, FID {fmt(r.fid.mean(), 1)} ± "
                         f"{fmt(r.fid.std(), 1)}, KID {fmt(r.kid.mean(), 4)} ± "
                         f"{fmt(r.kid.std(), 4)}"
                         + (f", diversity {fmt(r.diversity.mean(), 2)} (off the data's by "
                            f"{fmt(r.diversity_gap.mean(), 2)})" if "diversity_gap" in r else ""))
        for _, v in verdicts[verdicts.artist == name].iterrows():
            tag = "primary" if v["primary"] else "secondary"
            lines.append(f"    - *{v['stage']} vs {v['baseline']}, "
                         f"{v['metric'].replace('_', ' ')}* ({tag}): **{v['verdict']}** "
                         f"({v['reason']})")
        for _, e in explained[explained.artist == name].iterrows():
            lines.append(f"    - *{e['arm']}: is it the shapes or just more training?* "
                         f"{e['reading']}.")
    return "\n".join(lines)


def _kind_part(r: pd.DataFrame) -> str:
    """The :data:`MIX_KIND` rows' preface in :func:`shape_learning_markdown`."""
    if "kind_share" not in r or not len(r):
        return ""
    small = (r.n < r.min_subset).any() if "min_subset" in r else False
    return (f"{fmt(r.n.mean(), 1)} of {int(r.n_all.iloc[0])} samples per seed called the "
            f"artist's kind (share {fmt(r.kind_share.mean(), 2)}; secondary, in no verdict"
            + (f"; FID and KID only from {int(r.min_subset.iloc[0])} such samples, NaN below"
               if small else "") + "); ")


def with_diversity_gap(per_run: pd.DataFrame, key: str = "stage") -> pd.DataFrame:
    """A copy of ``per_run`` with ``diversity_gap``: each row's diversity against its
    artist's training-data row (:func:`paperlib.metrics.diversity_gap`; 0 is as varied as
    the real images, lower is better). ``KeyError`` for an artist without that row."""
    out = per_run.copy()
    ref = out[out[key] == REFERENCE].set_index("artist").diversity
    out["diversity_gap"] = [diversity_gap(d, ref[a]) for a, d in zip(out.artist, out.diversity)]
    return out


# ----------------------------------------------------------------------------- notebook 05
def curation_composition(loops: Mapping[Any, Mapping], loop_dirs: Mapping[Any, Any]
                         ) -> pd.DataFrame:
    """Notebook 05's curated sets from their provenance: per artist, seed, round and source
    the ``images``, ``distinct`` count and ``mean_distance`` to the nearest top-rated
    image. ``loops``: ``{(artist, seed): result}``; ``loop_dirs``: their folders."""
    rows = []
    for (name, s), out in loops.items():
        for entry in out["log"]["rounds"]:
            prov = read_provenance(Path(loop_dirs[name, s]) / entry["trainset"])
            for src in SOURCES:
                files = [f for f in prov["files"] if f["source"] == src]
                rows.append({"artist": name, "seed": s, "round": entry["round"], "source": src,
                             "images": len(files),
                             "distinct": len({(f["source"] != "human-similar", f["index"])
                                              for f in files}),
                             "mean_distance": entry["mean_distance"][src]})
    return pd.DataFrame(rows)


def curation_table1(t1: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Paper B's Table 1: :func:`paperlib.paper_b.table1` of ``t1`` over ``cols`` with
    ``draws`` (seeds passing the gate) after ``model``."""
    cols = _with_form(cols, t1)
    out = table1(t1[["artist", "column", "model", "seed", *cols]], cols)
    out.insert(3, "draws", [int(t1[(t1.artist == a) & (t1.column == c)].draws.sum())
                            for a, c in zip(out.artist, out.column)])
    return out


def curation_verdicts(t1: pd.DataFrame, control: bool = True) -> pd.DataFrame:
    """Paper B's claims (:func:`paperlib.paper_b.claims`) for every artist of ``t1``, in
    one table."""
    return pd.concat([claims(t1, name, control=control) for name in _artists(t1)],
                     ignore_index=True)


def curation_markdown(table: pd.DataFrame, verdicts: pd.DataFrame, *, family: str,
                      seeds: Sequence[int], rounds: int, size: int, n_eval: int,
                      ratings: Iterable[str]) -> str:
    """Notebook 05's "paper vs this run" markdown: the claims, this run's setting, then per
    artist the training data, each Table-1 column of ``table`` and each of ``verdicts``."""
    lines = [PAPER_B_CURATION, "",
             f"**This run** ({family}, {len(seeds)} seeds {list(seeds)}, {rounds} curation "
             f"round(s) of {size} images, {n_eval} generated images per evaluation against the "
             "held-out part; ratings used: " + ", ".join(sorted(set(ratings))) + "):", ""]
    for name in _artists(table):
        sub = table[table.artist == name].set_index("column")
        ref = sub.loc[REFERENCE]
        lines.append(f"- **{name}** (training data: main-form {fmt(ref.main_score)}, inner-form "
                     f"{fmt(ref.inner_score)}; held-out floor FID {fmt(ref.fid, 1)}, KID "
                     f"{fmt(ref.kid, 4)}, diversity {fmt(ref.diversity, 1)}):")
        for column in [c for c in (*COLUMNS[1:], RANDOM_COLUMN, FIRST_TECH_COLUMN,
                                   FIRST_CONTROL_COLUMN) if c in sub.index]:
            r = sub.loc[column]
            form = (f"form score {fmt(r.form_score)} ± {fmt(r.form_score_sd)}, "
                    if "form_score" in r else "")
            lines.append(f"    - {column}: gate {int(r.draws)}/{int(r.n_seeds)} seeds; {form}"
                         f"main-form "
                         f"{fmt(r.main_score)} ± {fmt(r.main_score_sd)}, inner-form "
                         f"{fmt(r.inner_score)} ± {fmt(r.inner_score_sd)}, FID {fmt(r.fid, 1)} "
                         f"± {fmt(r.fid_sd, 1)}, KID {fmt(r.kid, 4)}, diversity "
                         f"{fmt(r.diversity, 1)} ± {fmt(r.diversity_sd, 1)}")
        for _, v in verdicts[verdicts.artist == name].iterrows():
            lines.append(f"    - *{v['claim']}* — **{v['verdict']}** ({v['reason']})")
    lines += ["", CURATION_VERDICT_NOTE]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- notebook 05's Table 1
def model_family(model: str, res: int, sg_channels: int, augment: str) -> str:
    """Table 1's ``model`` column for the generated columns: the model family, its size and
    augmentation (``KeyError`` for a model Table 1 does not describe)."""
    return {"stylegan2": f"StyleGAN2-ADA (ours, pure PyTorch, {res} px, {sg_channels} maps, "
                         f"augment {augment})",
            "dcgan": f"DCGAN (paper A's engine, {res} px)"}[model]


def curation_per_seed(splits: Mapping, seeds: Sequence[int], base: Mapping, loops: Mapping,
                      controls: Mapping | None, evaluate, floor, *, family: str,
                      shape_stage: str, pretrain_column: bool,
                      random_loops: Mapping | None = None, first_loops: Mapping | None = None,
                      first_controls: Mapping | None = None) -> pd.DataFrame:
    """Table 1's rows per artist, column and seed, before the gate (:func:`with_gate`):
    the held-out floor (``floor(artist, split)``, ``seed`` None), then per seed each stage
    of ``base`` at its own epochs, the curation loop's last model, -- given ``controls`` --
    the control and -- given ``random_loops`` -- the random-selection loop's last model
    (:data:`paperlib.paper_b.tables.RANDOM_COLUMN`), -- given ``first_loops`` and
    ``first_controls`` -- the 2 x 2's loop and control from the 1st result
    (:data:`~paperlib.paper_b.tables.FIRST_TECH_COLUMN`), via ``evaluate``. ``model`` is
    ``family``."""
    rows = []
    for name, sp in splits.items():
        rows.append({"artist": name, "column": "training data", "seed": None,
                     "model": "held-out real images (floor)", **floor(name, sp)})
        for s in seeds:
            stage_cols = (("1st result", "alone"), ("shape learning", shape_stage),
                          ("longer training", "longer"),
                          *([("shape pre-training + fine-tuning", "finetune")]
                            if pretrain_column else []))
            for column, stage in stage_cols:   # each stage at its own epochs (1st result: B)
                res = base[name, s][stage]
                rows.append({"artist": name, "column": column, "seed": s, "model": family,
                             **evaluate(name, res.run_dir, res.epochs_done)})
            loop_cols = [("shape learning + technique", loops[name, s])]
            if random_loops:
                loop_cols.append((RANDOM_COLUMN, random_loops[name, s]))
            if first_loops:
                loop_cols.append((FIRST_TECH_COLUMN, first_loops[name, s]))
            for column, out in loop_cols:
                rows.append({"artist": name, "column": column, "seed": s, "model": family,
                             **evaluate(name, out["models"][-1])})
            for column, ctl in (("control", controls), (FIRST_CONTROL_COLUMN, first_controls)):
                if ctl:
                    rows.append({"artist": name, "column": column, "seed": s, "model": family,
                                 **evaluate(name, ctl[name, s]["run_dir"])})
    return pd.DataFrame(rows)


def shape_learning_per_run(splits: Mapping, seeds: Sequence[int], stages: Sequence[str],
                           runs: Mapping, aug_runs: Mapping, evaluate, floor,
                           mix_subset=None) -> pd.DataFrame:
    """Notebook 01's rows per artist, stage and seed, before the gate: the floor, then per
    seed each of ``stages`` at its own epochs and each augmentation run at its last
    checkpoint (``evaluate``). ``mix_subset`` (called as ``evaluate``): after each
    ``"mix"`` row, a :data:`~paperlib.paper_b.kind.MIX_KIND` row of its artist-kind
    samples (:func:`paperlib.paper_b.evaluate_kind_subset`)."""
    rows = []
    for name, sp in splits.items():
        rows.append({"artist": name, "stage": "training data", "seed": None, **floor(name, sp)})
        for s in seeds:
            for stage in stages:
                res = runs[name, s][stage]   # evaluated at the stage's own epochs
                rows.append({"artist": name, "stage": stage, "seed": s,
                             **evaluate(name, res.run_dir, res.epochs_done)})
                if stage == "mix" and mix_subset is not None:
                    rows.append({"artist": name, "stage": MIX_KIND, "seed": s,
                                 **mix_subset(name, res.run_dir, res.epochs_done)})
        for (a, aug, s), res in aug_runs.items():
            if a == name:
                rows.append({"artist": name, "stage": f"alone+{aug}", "seed": s,
                             **evaluate(name, res.run_dir)})
    return pd.DataFrame(rows)


def rater_of(result: Mapping) -> str:
    """The rater a curation loop's result names in its log (``rater``;
    :data:`paperlib.paper_b.curation.RATER_LABELS`); older logs: the automatic one's name."""
    return str(result.get("log", {}).get("rater", RATER_LABELS["auto"]))


def curation_rounds(loops: Mapping, controls: Mapping | None, evaluate) -> pd.DataFrame:
    """Notebook 05's rows per artist, seed and round: "start" and each retrained model of
    ``loops`` with the loop's rater (:func:`rater_of`), the round's rating and satisfaction
    means (from the log), then the control; each evaluated at its last checkpoint."""
    rows = []
    for (name, s), out in loops.items():
        for r, model_dir in enumerate(out["models"]):
            entry = out["log"]["rounds"][r] if r < len(out["log"]["rounds"]) else {}
            rows.append({"artist": name, "seed": s, "round": "start" if r == 0 else str(r - 1),
                         "rater": rater_of(out), "rating": entry.get("rating", "-"),
                         "mean_satisfaction": entry.get("mean_satisfaction", np.nan),
                         "top_mean_satisfaction": entry.get("top_mean_satisfaction", np.nan),
                         **evaluate(name, model_dir)})
        if controls:
            rows.append({"artist": name, "seed": s, "round": "control", "rater": "-",
                         "rating": "-",
                         "mean_satisfaction": np.nan, "top_mean_satisfaction": np.nan,
                         **evaluate(name, controls[name, s]["run_dir"])})
    return pd.DataFrame(rows)
