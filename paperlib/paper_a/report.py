"""Paper A's reported values and the logic behind notebook 06's tables (pandas DataFrames
or markdown). Paper A's Table 1 is normalised in an unstated way, so we compare Proposed /
baseline *ratios* of our FID and IS with the ratios its text states.
(details: docs/DECISIONS.md, "Paper A: reported values")
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import get_profile
from ..data.emoji import build_emoji_heldout
from ..data.folders import MANIFEST, image_files, read_manifest
from ..engine.config import epochs_for_kimg, profile_config, profile_jobs
from ..engine.parallel import n_slots, train_many
from ..engine.plan import training_plan
from ..engine.runs import (
    export_generator,
    list_checkpoints,
    list_runs,
    load_run,
    read_config,
    read_log,
    read_status,
)
from ..metrics.verdicts import compare_claim, fmt_mean_std, mean_std, ratio_verdict
from ..utils.io import atomic_write_json
from .checks import EvaluationCheckFailed
from .instability import (
    D_FAKE_NEAR_ZERO,
    D_WIN_LOSS,
    DECIDING_HORIZON,
    DECIDING_MEASURE,
    G_LOSE_LOSS,
    HORIZONS,
    MEASURES,
    PRIMARY_READING,
    cached_run,
    d_wins,
    first_n,
    instability_onset,
    instability_table,
    measure_state,
    search_n,
    search_n_cached,
)
from .mixture import SPREAD_MIN_RATIO, component_spread

MODELS = ("dcgan", "deligan", "proposed")


#: How tables and verdict reasons name the models.
MODEL_LABELS = {"dcgan": "DCGAN", "deligan": "DeLiGAN", "proposed": "proposed"}


#: Paper A, Table 1 (unstated normalisation).
PAPER_A_TABLE1 = {"fid": {"dcgan": 0.30, "deligan": 0.34, "proposed": 0.24},
                  "is": {"dcgan": 0.12, "deligan": 0.15, "proposed": 0.16}}


#: Paper A's text: Proposed / baseline ratios it reports ("decreased 81% and 71%", ...).
PAPER_A_TEXT_RATIOS = {"fid": {"dcgan": 0.81, "deligan": 0.71},
                       "is": {"dcgan": 1.29, "deligan": 1.06}}


def proposed_ratios(means: dict[str, float]) -> dict[str, float]:
    """``{"dcgan": proposed/dcgan, "deligan": proposed/deligan}`` from per-model means."""
    return {base: means["proposed"] / means[base] if means.get(base) else float("nan")
            for base in ("dcgan", "deligan")}


def stability_verdict(onsets: list, epochs_done: list[int], required_epoch: int,
                      expect_unstable: bool, passed: list[bool] | None = None,
                      baseline_passed: bool | None = None) -> tuple[str, str]:
    """Verdict on a loss-curve claim from per-seed instability onsets (None = no onset):
    ``(verdict, reason)``. ``expect_unstable``: supported when most seeds show an onset,
    else when none does. Runs short of ``required_epoch`` are *not testable here*; with
    ``passed`` (per-seed gate), a model that never learned makes it untestable, unless the
    favoured stable model fails while ``baseline_passed`` (*not supported*)."""
    n = len(onsets)
    short = [e for e in epochs_done if e < required_epoch]
    if not n or short:
        return "not testable here", (f"runs shorter than the claim's epoch {required_epoch} "
                                     f"(reached {min(epochs_done) if epochs_done else 0})")
    if passed is not None and not (passed and all(passed)):   # no gate result: not passed
        if not expect_unstable and baseline_passed:
            return "not supported", "below the quality gate while the baseline passes"
        return "not testable here", (f"{n - sum(passed)}/{n} runs below the quality gate"
                                     if passed else "no quality-gate result for the runs")
    unstable = sum(o is not None for o in onsets)
    detail = f"{unstable}/{n} seeds unstable" + (
        f" (onsets at epochs {sorted(o for o in onsets if o is not None)})" if unstable else "")
    if expect_unstable:
        return ("supported" if unstable * 2 > n else "not supported"), detail
    return ("supported" if unstable == 0 else "not supported"), detail


def contrast_verdict(onsets_proposed: dict, onsets_baseline: dict, horizon: int,
                     seeds=None, observed_proposed: dict | None = None,
                     observed_baseline: dict | None = None,
                     names: tuple[str, str] = ("proposed", "baseline")) -> tuple[str, str]:
    """Verdict on "the proposed model stays stable where the baseline becomes unstable" from
    per-seed onsets (``{seed: epoch or None}``; an onset after ``horizon`` is none), paired
    by seed (``seeds``: default all; both arms must hold them). ``observed_*`` (``{seed:
    bool}``, default all True): whether a seed without an onset counts as stable (its run
    reached the horizon, the measure was computed), else unknown. *supported*: proposed
    stable and baseline unstable in every seed; *not supported*: the baseline stable in
    every seed, or the proposed model unstable in at least as many seeds as the baseline
    can be (unstable + unknown); else *not testable here*. Returns ``(verdict, reason)``."""
    seeds = list(onsets_proposed if seeds is None else seeds)
    missing = [s for s in seeds if s not in onsets_proposed or s not in onsets_baseline]
    if missing:
        raise ValueError(f"seeds {missing} missing from an arm: a contrast pairs seeds")

    def states(onsets, observed):
        out = {}
        for s in seeds:
            o = onsets[s]
            out[s] = ("unstable" if o is not None and not pd.isna(o) and o <= horizon else
                      "stable" if (observed or {}).get(s, True) else "unknown")
        return out

    sp, sb = states(onsets_proposed, observed_proposed), states(onsets_baseline,
                                                                observed_baseline)
    n = len(seeds)
    count = {arm: {st: sum(v == st for v in states_.values())
                   for st in ("stable", "unstable", "unknown")}
             for arm, states_ in (("p", sp), ("b", sb))}

    def show(onsets, st, s):
        return str(int(onsets[s])) if st[s] == "unstable" else \
            ("none" if st[s] == "stable" else "unknown")

    unknown = count["p"]["unknown"] + count["b"]["unknown"]
    reason = (f"{names[0]} unstable in {count['p']['unstable']}/{n} seeds, {names[1]} in "
              f"{count['b']['unstable']}/{n} by epoch {horizon}"
              + (f" ({unknown} run(s) unknown: short of the horizon or not measured)"
                 if unknown else "")
              + f"; onsets {names[0]} / {names[1]}: "
              + ", ".join(f"s{s}: {show(onsets_proposed, sp, s)} / "
                          f"{show(onsets_baseline, sb, s)}" for s in seeds))
    if not n:
        return "not testable here", "no seeds"
    if count["p"]["stable"] == n and count["b"]["unstable"] == n:
        return "supported", reason
    if count["b"]["stable"] == n or \
            count["p"]["unstable"] >= count["b"]["unstable"] + count["b"]["unknown"]:
        return "not supported", reason
    return "not testable here", reason


def threshold_variants(d_thresh: float, g_thresh: float, fake_thresh: float,
                       factor: float = 0.5) -> dict[str, dict]:
    """The instability detector's thresholds each moved by ``-factor`` and ``+factor``
    (one at a time): ``{"d_thresh x0.5": {...}, ...}``, for the fragility check."""
    base = {"d_thresh": d_thresh, "g_thresh": g_thresh, "fake_thresh": fake_thresh}
    out = {}
    for name in base:
        for f in (1 - factor, 1 + factor):
            out[f"{name} x{f:g}"] = {**base, name: base[name] * f}
    return out


def lowest(values: dict) -> str:
    """The key with the smallest finite value."""
    finite = {k: v for k, v in values.items() if v is not None and np.isfinite(v)}
    return min(finite, key=finite.get) if finite else "none"


#: The measures whose informativeness notebook 06 checks (besides FID).
INFORMATIVENESS_MEASURES = ("precision", "recall", "density", "coverage", "kid")


# ----------------------------------------------------------------------------- the runs
def reference_runs(profile, data_dir, root, configs=None, seeds=None,
                   scheduler: str | None = None) -> tuple[dict, int]:
    """The runs of notebooks 02-04 for notebook 06: ``({(model, config, seed): RunResult},
    N)``, N the proposed model's (:func:`search_n`). Missing runs are trained here, after a
    printed note."""
    prof = get_profile(profile)
    search = dict(reading=PRIMARY_READING, measure=DECIDING_MEASURE)   # notebook 04's
    if not search_n_cached(prof, data_dir, root, scheduler=scheduler, **search):
        print("paper A: notebook 04's N search is not (all) cached: running it here first "
              "(its runs are cached for the notebooks)")
    N, _ = search_n(prof, data_dir, root, progress=False, scheduler=scheduler, **search)
    model_opts = {m: {} for m in MODELS}
    model_opts["proposed"] = {"proposed_N": N}
    jobs = {(m, c, s): job for m in MODELS
            for (c, s), job in profile_jobs(prof, m, data_dir, root, configs, seeds,
                                            **model_opts[m]).items()}
    missing = [k for k, job in jobs.items() if cached_run(*job) is None]
    if missing:
        print(f"paper A: {len(missing)} of the {len(jobs)} runs of notebooks 02-04 "
              f"{'is' if len(missing) == 1 else 'are'} missing or unfinished "
              f"({', '.join(_label(k) for k in missing)}): training them here, as those "
              "notebooks would (cached for them)")
    else:
        print(f"paper A: all {len(jobs)} runs of notebooks 02-04 (and the N search) are "
              "cached: nothing is trained here")
    return dict(zip(jobs, train_many(jobs.values(), scheduler, desc="paper A runs"))), N


def explorer_runs(profile, data_dir, root, seed: int = 0,
                  scheduler: str | None = None, shipped=None) -> dict:
    """The runs notebook 07's explorer opens: seed ``seed`` of each paper-A model with the
    paper's settings (notebooks 02-04's cached runs); ``{label: run folder}`` of those with a
    checkpoint. Missing runs train here after a printed plan, unless ``shipped`` (a folder of
    :func:`ship_generators`) holds a complete set, which opens instead."""
    prof = get_profile(profile)
    n = len(image_files(data_dir))

    def cfg(model, **kw):
        return profile_config(prof, model, "paper", seed, n_images=n, **kw)

    dcgan, deligan, proposed = MODELS
    jobs = {f"{m} seed {seed}": (cfg(m), data_dir, root) for m in (dcgan, deligan)}
    search = dict(reading=PRIMARY_READING, measure=DECIDING_MEASURE)   # notebook 04's
    searched = search_n_cached(prof, data_dir, root, seed=seed, scheduler=scheduler, **search)
    if searched:
        N, _ = search_n(prof, data_dir, root, seed=seed, progress=False, scheduler=scheduler,
                        **search)
        jobs[f"{proposed} N={N} seed {seed}"] = (cfg(proposed, proposed_N=N), data_dir, root)
    else:
        jobs.update({f"N search: {proposed} N={k} seed {seed}":
                     (cfg(proposed, proposed_N=k), data_dir, root)
                     for k in range(first_n(PRIMARY_READING), prof.n_search_max + 1)})
    plan = training_plan(jobs, prof, n_slots(scheduler))
    ready = shipped_generators(shipped) if shipped is not None else {}
    if plan.missing and ready:
        print(f"{len(plan.missing)} of the explorer's runs are missing here, so it opens the "
              f"{len(ready)} generators shipped in {shipped} (G weights exported from the "
              f"reference run; nothing trains). Run notebooks 02-04 to explore runs of your own.")
        return ready
    print(plan.summary("the explorer's runs (notebooks 02-04's)"))
    N, _ = search_n(prof, data_dir, root, seed=seed, progress=True, scheduler=scheduler,
                    **search)
    wanted = {"DCGAN": cfg(dcgan), "DeLiGAN": cfg(deligan),
              f"Proposed (N={N})": cfg(proposed, proposed_N=N)}
    results = train_many([(c, data_dir, root) for c in wanted.values()], scheduler,
                         desc="the explorer's runs")
    out = {}
    for label, res in zip(wanted, results):
        if not list_checkpoints(res.run_dir):
            print(f"{label}: {res.status} before its first checkpoint; left out")
            continue
        out[label] = res.run_dir
        print(f"{label:16s} {res.run_dir.name} ({res.status}, {res.epochs_done} epochs)")
    return out


#: The index file of a folder of shipped generators (:func:`ship_generators`).
SHIPPED_INDEX = "generators.json"


def ship_generators(run_dirs: dict, dest) -> dict:
    """Export each run's generator (:func:`paperlib.engine.export_generator`) to
    ``dest/<n>``, indexed by label in ``dest/generators.json``, replacing earlier exports.
    Returns ``{label: folder}``."""
    dest = Path(dest)
    if not run_dirs:
        raise ValueError("no runs to ship")
    index = {}
    for i, (label, run_dir) in enumerate(run_dirs.items()):
        export_generator(run_dir, dest / f"{i}")
        index[label] = f"{i}"
    for old in dest.iterdir():   # exports of an earlier, longer set
        if old.is_dir() and old.name not in index.values():
            shutil.rmtree(old)
    atomic_write_json(dest / SHIPPED_INDEX, index)
    return {label: dest / sub for label, sub in index.items()}


def shipped_generators(dest) -> dict:
    """``{label: folder}`` of the generators :func:`ship_generators` wrote to ``dest``;
    ``{}`` when there are none (no index, or one of its folders lacks a checkpoint)."""
    index_path = Path(dest) / SHIPPED_INDEX
    if not index_path.is_file():
        return {}
    index = json.loads(index_path.read_text())
    out = {label: Path(dest) / sub for label, sub in index.items()}
    return out if out and all(list_checkpoints(d) for d in out.values()) else {}


def run_scale(profile, n_images: int) -> str:
    """The runs' scale in words (resolution, widths, batch, epochs = kimg of the set)."""
    prof = get_profile(profile)
    epochs = epochs_for_kimg(prof.kimg, n_images)
    return (f"{prof.res} px, widths {prof.ngf}/{prof.ndf}, batch {prof.batch_size}, {epochs} "
            f"epochs = {epochs * n_images / 1000:.1f} kimg of {n_images} images")


def claims_config(configs) -> str:
    """The config paper A's claims are judged on: ``"paper"`` (lr 1e-2) when run, else the
    first."""
    return "paper" if "paper" in configs else configs[0]


def scored_epochs(checkpoints: dict, configs, first_seed: dict) -> dict:
    """Epochs each run is scored at, ``{(model, config, seed): [epoch, ...]}``: all for
    Fig. 3's run and for the claims' config (:func:`claims_config`; ``fid_rise`` reads the
    whole curve), else the last."""
    claim_cfg = claims_config(configs)
    out = {}
    for (m, c, s), have in checkpoints.items():
        if c == claim_cfg or (c == configs[0] and s == first_seed[c]):
            out[m, c, s] = have
        else:
            out[m, c, s] = have[-1:]
    return out


def heldout_images(data_folder, dest, res: int, seed: int = 1) -> Path | None:
    """The held-out images of the ``overfit`` measure: ``dest`` built by
    :func:`paperlib.data.build_emoji_heldout` when ``data_folder`` is the emoji stand-in set
    (its manifest's kind), else None (no held-out set for other folders)."""
    folder = Path(data_folder)
    if not (folder / MANIFEST).is_file() or \
            read_manifest(folder).get("kind") != "emoji-standin":
        return None
    build_emoji_heldout(dest, folder, seed=seed, res=res)
    return Path(dest)


# ----------------------------------------------------------------------------- Table 1
def _label(key) -> str:
    """``"dcgan paper 0"`` for the run ``(model, config, seed)``."""
    return " ".join(map(str, key))


def is_summary(per_run: pd.DataFrame) -> tuple[str, bool]:
    """``(is_kind, has_is)``: which IS the runs were scored with (that of the first run)
    and whether every run has one."""
    return per_run.is_kind.iloc[0], per_run["is"].notna().all()


def per_run_table(runs: dict, table_scores: list, best: dict, gate, n_images: int
                  ) -> pd.DataFrame:
    """One row per run: Table-1 scores (``table_scores``, in the order of ``runs``), best
    curve point and its ``gate``, instability onset and where it trained."""
    rows = []
    for k, (ev,) in zip(runs, table_scores):
        m, c, s = k
        res = runs[k]
        rows.append({"model": m, "config": c, "seed": s, "status": res.status,
                     "epochs_trained": res.epochs_done, "epoch": ev["epoch"],
                     "kimg": ev["epoch"] * n_images / 1000,
                     "curve_fid": best[k]["fid"], "curve_kid": best[k]["kid"],
                     "gate": gate.passes(best[k]["fid"], best[k]["kid"]),
                     **{key: ev.get(key) for key in ("fid", "kid", "kid_std", "precision",
                                                      "recall", "density", "coverage", "is",
                                                      "is_std", "is_kind", "n_fake", "n_real")},
                     "instability_onset": instability_onset(res.rows),
                     "worker": (read_status(res.run_dir).get("executed") or {}).get("worker"),
                     "run": res.run_dir.name})
    return pd.DataFrame(rows)


def table1(per_run: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 1 (mean ± std over seeds per config and model, gate share, the paper's values)
    and its aggregates: ``(table, agg)``."""
    _, has_is = is_summary(per_run)
    cols = ["fid", "kid", "precision", "recall", "density", "coverage"] + (["is"] if has_is else [])
    cols = [c for c in cols if c in per_run and per_run[c].notna().all()]
    agg = mean_std(per_run.astype({c: float for c in cols}), ["config", "model"], cols)
    gate_share = per_run.groupby(["config", "model"], sort=False).gate.agg(
        lambda g: f"{int(g.sum())}/{len(g)}").values
    table = pd.DataFrame({
        "config": agg.config, "model": agg.model, "runs": agg.n, "passed gate": gate_share,
        **{f"{c.upper() if c in ('fid', 'kid', 'is') else c}": [
            fmt_mean_std(mu, sd, 4 if c == "kid" else 2)
            for mu, sd in zip(agg[f"{c}_mean"], agg[f"{c}_std"])] for c in cols},
        "paper FID": [PAPER_A_TABLE1["fid"][m] for m in agg.model],
        "paper IS": [PAPER_A_TABLE1["is"][m] for m in agg.model],
    })
    return table, agg


def median_seed(per_run: pd.DataFrame, model: str, config: str, metric: str = "fid"):
    """The seed of ``model``'s run on ``config`` whose ``metric`` (a column of
    :func:`per_run_table`, Table 1's values) is the median over its seeds; with an even
    count, the lower-valued of the two middle runs (ties: the lower seed). ``ValueError``
    when there is no such run or a value is not finite."""
    rows = per_run[(per_run.model == model) & (per_run.config == config)]
    if not len(rows):
        raise ValueError(f"no {model} run on the {config} config")
    values = rows[metric].astype(float)
    if not np.isfinite(values).all():
        raise ValueError(f"{model} {config}: non-finite {metric} at seed(s) "
                         f"{rows.seed[~np.isfinite(values)].tolist()}")
    ranked = sorted(zip(values, rows.seed))
    return ranked[(len(ranked) - 1) // 2][1]


def table1_caption(per_run: pd.DataFrame, n_fake: int, scale: str) -> str:
    """Markdown under Table 1: which IS, which features, how many images, the scale."""
    is_kind, _ = is_summary(per_run)
    return (f"IS here is **{is_kind}**; FID/KID/precision/recall/density/coverage on "
            f"TF-Inception pool3 features, {n_fake} generated vs "
            f"{int(per_run.n_real.iloc[0])} real images. Scale: {scale}.")


def ratios_table(agg: pd.DataFrame, configs) -> pd.DataFrame:
    """Proposed / DCGAN and Proposed / DeLiGAN per config and metric (FID, IS where
    ``agg`` has it), beside the paper's (from its text and from its Table 1)."""
    rows = []
    for c in configs:
        sub = agg[agg.config == c].set_index("model")
        for metric in ("fid", "is"):
            if f"{metric}_mean" not in sub:
                continue
            ours = proposed_ratios(sub[f"{metric}_mean"].to_dict())
            for base in ("dcgan", "deligan"):
                rows.append({
                    "config": c, "metric": metric.upper(), "ratio": f"proposed / {base}",
                    "this run": ours[base],
                    "paper (text)": PAPER_A_TEXT_RATIOS[metric][base],
                    "paper (Table 1)": proposed_ratios(PAPER_A_TABLE1[metric])[base]})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the curves
def curve_frame(curves: dict) -> pd.DataFrame:
    """The scored checkpoints, one row each: model, config, seed and the scores."""
    return pd.DataFrame([{"model": m, "config": c, "seed": s, **r}
                         for (m, c, s), rows_k in curves.items() for r in rows_k])


def informativeness(curve_df: pd.DataFrame,
                    measures=INFORMATIVENESS_MEASURES) -> pd.DataFrame:
    """Per measure scored at the checkpoints: how many read exactly 0, its range and its
    Spearman correlation with FID (NaN for a constant measure); measures not scored are
    left out."""
    info = []
    for col in measures:
        if col not in curve_df or curve_df[col].isna().all():
            continue
        v = curve_df[col].astype(float)
        rho = (v.corr(curve_df.fid.astype(float), method="spearman") if v.nunique() > 1
               else np.nan)
        info.append({"measure": col, "checkpoints": len(v), "exactly 0": int((v == 0).sum()),
                     "min": v.min(), "max": v.max(), "Spearman vs FID": rho})
    return pd.DataFrame(info)


# ----------------------------------------------------------------------------- the detector
def detector_candidates(runs: dict, calibration_root, n_images: int) -> dict[str, list]:
    """``{label: log rows}`` of ``runs`` and of the calibration runs under
    ``calibration_root`` on ``n_images`` images; runs without log rows are left out."""
    cands = {_label(k): r.rows for k, r in runs.items()}
    for d in list_runs(calibration_root):
        if read_config(d)["data"]["n_images"] == n_images:
            rows = read_log(d)
            if rows:
                cands[f"calibration run {d.name}"] = rows
    return cands


def detector_demo(cands: dict, runs: dict) -> tuple[pd.DataFrame, list]:
    """``(stab, demo)``: per candidate its onset, D-wins epochs and length, and the runs to
    show: the earliest onset (``"fires"``) and the run of ``runs`` without one whose D wins
    least (``"silent"``); either may be absent."""
    stab = pd.DataFrame([{"run": name, "onset": instability_onset(rows),
                          "d_wins": sum(d_wins(row) for row in rows), "epochs": len(rows)}
                         for name, rows in cands.items()])
    own = [_label(k) for k in runs]
    demo = []
    if len(stab):
        fired = stab.dropna(subset=["onset"]).sort_values("onset")
        silent = stab[stab.onset.isna() & stab.run.isin(own)].sort_values("d_wins")
        if len(fired):
            demo.append(("fires", fired.iloc[0]))
        if len(silent):
            demo.append(("silent", silent.iloc[0]))
    return stab, demo


def detector_note(stab: pd.DataFrame, demo: list, runs: dict) -> str:
    """Two lines under the detector figure: the D-wins epochs of the runs shown, and how
    many of ``runs`` have an onset."""
    own = [_label(k) for k in runs]
    shown = "; ".join(f"detector {w} on {r.run}: {int(r.d_wins)} D-wins epochs of {r.epochs}"
                      for w, r in demo) or "no runs"
    n_onset = int(stab[stab.run.isin(own)].onset.notna().sum()) if len(stab) else 0
    return f"{shown}\nruns of this notebook with an onset: {n_onset}/{len(runs)}"


# ----------------------------------------------------------------------------- baselines
def deligan_spread(runs: dict, config: str, features, per_component: int = 8, seed: int = 0,
                   device=None, model: str = "deligan") -> pd.DataFrame:
    """DeLiGAN's mixture collapse check (:func:`~paperlib.paper_a.component_spread`) on the
    last checkpoint of each of ``model``'s runs on ``config`` in ``runs`` (``{(model,
    config, seed): RunResult}``): one row per seed with model, config, seed, epoch, K,
    per_component, within, between, ratio and passes."""
    rows = []
    for (m, c, s), res in sorted(runs.items(), key=lambda kv: kv[0][2]):
        if (m, c) != (model, config):
            continue
        gan = load_run(res.run_dir, device=device)
        sp = component_spread(gan.latent, gan.G, features, per_component, seed=seed,
                              device=gan.device)
        rows.append({"model": m, "config": c, "seed": s, "epoch": gan.epoch,
                     "K": int(gan.latent.K), "per_component": int(per_component),
                     "within": sp.within, "between": sp.between, "ratio": sp.ratio,
                     "passes": sp.passes})
    return pd.DataFrame(rows, columns=["model", "config", "seed", "epoch", "K",
                                       "per_component", "within", "between", "ratio",
                                       "passes"])


def spread_baselines_ok(spread: pd.DataFrame, min_ratio: float = SPREAD_MIN_RATIO) -> dict:
    """:func:`claims_audit`'s ``baselines_ok`` from a :func:`deligan_spread` table:
    ``{(model, config): (ok, reason)}``, ok when every seed's within/between ratio is at
    least ``min_ratio`` (a NaN fails)."""
    out = {}
    for (m, c), g in spread.groupby(["model", "config"], sort=False):
        fails = int((~(g.ratio.astype(float) >= min_ratio)).sum())
        values = ", ".join(f"s{s}: {r:.2f}" for s, r in zip(g.seed, g.ratio))
        what = f"{MODEL_LABELS.get(m, m)}'s within/between component spread ratio ({values})"
        out[m, c] = ((True, f"{what} >= {min_ratio:g} in all {len(g)} seeds") if not fails
                     else (False, f"{what} under {min_ratio:g} in {fails}/{len(g)} seeds"))
    return out


# ----------------------------------------------------------------------------- claims audit
#: Paper A's loss-curve claims as contrasts with the proposed model: (baseline, the claim).
STABILITY_CONTRASTS = (
    ("dcgan", "DCGAN becomes unstable early (D converges much faster than G, G stops "
              "learning) while the proposed GAN stays stable (Fig. 2a vs 2c)"),
    ("deligan", "DeLiGAN competes until about epoch 90, then becomes unstable, while the "
                "proposed GAN stays stable (Fig. 2b vs 2c)"),
)


#: The claims audit's columns (docs/DECISIONS.md, "Paper A: instability measures and
#: comparative verdicts").
AUDIT_COLUMNS = ("claim", "measure", "horizon", "primary", "verdict", "reason", "ratio",
                 "ratio low", "ratio high", "paper ratio", "fragile", "per seed", "scale")


#: The ``measure`` of the Table-1 rows: the deciding seed-paired ratio, and the earlier
#: difference against no effect (beside it).
RATIO_MEASURE = "ratio, paired by seed"


DIFFERENCE_MEASURE = "difference vs 0 (Welch)"


def _gate_verdict(passed: dict, favoured: str, baseline: str) -> tuple[str, str] | None:
    """The verdict the quality gate forces on a comparison, or None when every run of both
    passes: the favoured model below it while the baseline passes is *not supported*; any
    other failure *not testable here*."""
    ok = {m: bool(passed[m]) and all(passed[m]) for m in (favoured, baseline)}
    if all(ok.values()):
        return None
    fails = "; ".join(f"{m} {len(passed[m]) - sum(passed[m])}/{len(passed[m])} runs below "
                      "the quality gate" for m in (favoured, baseline) if not ok[m])
    if ok[baseline]:
        return "not supported", f"{fails} while {baseline} passes"
    return "not testable here", fails


def claims_audit(runs: dict, per_run: pd.DataFrame, configs, seeds, scale: str,
                 fid_curves: dict | None = None, rv_curves: dict | None = None,
                 horizons=HORIZONS, deciding_horizon: int = DECIDING_HORIZON,
                 deciding_measure: str = DECIDING_MEASURE,
                 baselines_ok: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """Paper A's claims on the claims' config for the ``seeds`` all models have: ``(audit,
    passed)``, one row per claim, measure and horizon (:data:`AUDIT_COLUMNS`). Loss-curve
    claims: :func:`contrast_verdict` of the proposed model with each baseline on every
    measure of :func:`~paperlib.paper_a.instability.instability_table` (``fid_curves``,
    ``rv_curves``: ``{run key: [(epoch, value)]}``) at every horizon, the loss measures
    rechecked with :func:`threshold_variants`; Table-1 claims:
    :func:`paperlib.metrics.ratio_verdict` against the paper's ratio, and
    :func:`paperlib.metrics.compare_claim`. ``primary``: the deciding rows (the deciding
    measure at the deciding horizon; the ratios). ``baselines_ok``: ``{(model, config):
    (ok, reason)}``; every row whose baseline on the claims' config is not ok reads *not
    testable here*, its reason starting ``"baseline collapsed: <reason>"`` (the numbers
    stay); a baseline not in it counts as working."""
    if deciding_horizon not in horizons or deciding_measure not in MEASURES:
        raise ValueError(f"the deciding horizon {deciding_horizon} / measure "
                         f"{deciding_measure!r} is not among {tuple(horizons)} / {MEASURES}")
    is_kind, has_is = is_summary(per_run)
    claim_cfg = claims_config(configs)
    claim_seeds = [s for s in seeds if all((m, claim_cfg, s) in runs for m in MODELS)]
    passed = {m: [bool(per_run[(per_run.model == m) & (per_run.config == claim_cfg)
                               & (per_run.seed == s)].gate.iloc[0]) for s in claim_seeds]
              for m in MODELS}
    scale_txt = f"{scale}; {claim_cfg} config, seeds {claim_seeds}"
    broken = {m: f"baseline collapsed: {why}" for (m, c), (ok, why) in
              (baselines_ok or {}).items() if c == claim_cfg and not ok}
    rows_of = {(m, claim_cfg, s): runs[m, claim_cfg, s].rows for m in MODELS
               for s in claim_seeds}

    def tables(**thresholds):
        t = instability_table(rows_of, fid_curves, rv_curves, horizons, **thresholds)
        return {(r.model, r.horizon, r.seed): r for r in t.itertuples(index=False)}

    def contrast(tab, base, measure, h):
        arms = {}
        for m in ("proposed", base):
            rows_ = [tab[m, h, s] for s in claim_seeds]
            arms[m] = ({s: (None if pd.isna(getattr(r, measure)) else int(getattr(r, measure)))
                        for s, r in zip(claim_seeds, rows_)},
                       {s: measure_state(r._asdict(), measure) != "unknown"
                        for s, r in zip(claim_seeds, rows_)})
        verdict = contrast_verdict(arms["proposed"][0], arms[base][0], h, claim_seeds,
                                   arms["proposed"][1], arms[base][1],
                                   names=("proposed", base))
        return verdict, arms

    base_tab = tables()
    variants = {name: tables(**thr) for name, thr in threshold_variants(
        d_thresh=D_WIN_LOSS, g_thresh=G_LOSE_LOSS, fake_thresh=D_FAKE_NEAR_ZERO).items()}
    order = sorted(((m, h) for m in MEASURES for h in horizons),
                   key=lambda mh: (mh != (deciding_measure, deciding_horizon),
                                   MEASURES.index(mh[0]), mh[1]))
    claims = []
    for base, text in STABILITY_CONTRASTS:
        for measure, h in order:
            (verdict, reason), arms = contrast(base_tab, base, measure, h)
            gated = _forced_verdict(broken, passed, base)
            if gated is not None:
                verdict, reason = gated[0], f"{gated[1]}; {reason}"
            if measure in ("rule", "window"):
                flips = [name for name, tab in variants.items()
                         if _gate_or(gated, contrast(tab, base, measure, h)[0][0]) != verdict]
                fragile = ("fragile: flips with " + ", ".join(flips)) if flips else "robust"
            else:
                fragile = "n/a (no loss thresholds)"
            claims.append(_audit_row(
                text, measure, h, (measure, h) == (deciding_measure, deciding_horizon),
                verdict, reason, fragile=fragile, scale=scale_txt,
                per_seed="onsets " + "; ".join(
                    f"{m}: " + ", ".join(f"s{s}: {o if o is not None else 'none'}"
                                         for s, o in arms[m][0].items())
                    for m in ("proposed", base))))
    claims += _metric_claims(per_run, claim_cfg, claim_seeds, passed, has_is, is_kind,
                             scale_txt, broken)
    audit = pd.DataFrame(claims, columns=list(AUDIT_COLUMNS))
    audit["horizon"] = audit["horizon"].astype("Int64")
    return audit, passed


def _baseline_verdict(broken: dict, baselines) -> tuple[str, str] | None:
    """*not testable here* with the reasons when a baseline of a comparison does not work
    (``broken``: ``{model: "baseline collapsed: ..."}``), else None."""
    why = [broken[b] for b in baselines if b in broken]
    return ("not testable here", "; ".join(why)) if why else None


def _forced_verdict(broken: dict, passed: dict, base: str) -> tuple[str, str] | None:
    """The verdict a collapsed ``base`` (:func:`_baseline_verdict`, first) or the quality
    gate (:func:`_gate_verdict`) forces on comparing the proposed model with it, the reason
    naming both where both apply; None when neither does."""
    broke, gated = _baseline_verdict(broken, (base,)), _gate_verdict(passed, "proposed", base)
    if broke is None:
        return gated
    return broke[0], "; ".join(x[1] for x in (broke, gated) if x is not None)


def _gate_or(gated, verdict: str) -> str:
    return gated[0] if gated is not None else verdict


def _audit_row(claim, measure, horizon, primary, verdict, reason, *, fragile, per_seed,
               scale, ratio=None) -> dict:
    r = ratio
    return {"claim": claim, "measure": measure, "horizon": horizon, "primary": bool(primary),
            "verdict": verdict, "reason": reason,
            "ratio": np.nan if r is None else r.ratio,
            "ratio low": np.nan if r is None else r.low,
            "ratio high": np.nan if r is None else r.high,
            "paper ratio": np.nan if r is None else r.paper_ratio,
            "fragile": fragile, "per seed": per_seed, "scale": scale}


def _metric_claims(per_run, claim_cfg, claim_seeds, passed, has_is, is_kind, scale_txt,
                   broken=None):
    """The Table-1 rows of :func:`claims_audit`: per metric, the ratio against each
    baseline (primary), then the difference against no effect; ``broken``: the baselines
    that do not work (:func:`_baseline_verdict`)."""
    broken = broken or {}
    def value(m, col, s):
        return float(per_run[(per_run.model == m) & (per_run.config == claim_cfg)
                             & (per_run.seed == s)][col].iloc[0])

    def per_seed(m, col, nd):
        return ", ".join(f"s{s}: {value(m, col, s):.{nd}f}" for s in claim_seeds)

    out = []
    metrics = [("fid", True, "lowest FID")] + ([("is", False, "highest IS")] if has_is else [])
    for col, lower, word in metrics:
        nd = 2 if col == "is" else 1
        paper_r = PAPER_A_TEXT_RATIOS[col]
        for base in ("dcgan", "deligan"):
            rv = ratio_verdict({s: value("proposed", col, s) for s in claim_seeds},
                               {s: value(base, col, s) for s in claim_seeds},
                               paper_r[base], higher_is_better=not lower,
                               names=("proposed", base))
            verdict, reason = rv.verdict, rv.reason
            gated = _forced_verdict(broken, passed, base)
            if gated is not None:
                verdict, reason = gated[0], f"{gated[1]}; {reason}"
            out.append(_audit_row(
                ratio_claim(col, base), RATIO_MEASURE, None, True,
                verdict, reason, ratio=rv, fragile="n/a (no detector)", scale=scale_txt,
                per_seed=("ratios " + ", ".join(f"s{s}: {x:.3g}"
                                                for s, x in zip(rv.seeds, rv.ratios))
                          + f"; proposed {per_seed('proposed', col, nd)}; {base} "
                          f"{per_seed(base, col, nd)}")))
        values = {m: [value(m, col, s) for s in claim_seeds] for m in MODELS}
        verdict, reason = compare_claim(values, passed, "proposed", ("dcgan", "deligan"), lower)
        gated = _baseline_verdict(broken, ("dcgan", "deligan"))
        if gated is not None:
            verdict, reason = gated[0], f"{gated[1]}; {reason}"
        out.append(_audit_row(
            f"The proposed GAN has the {word} (paper: proposed/DCGAN {paper_r['dcgan']:.2f}, "
            f"proposed/DeLiGAN {paper_r['deligan']:.2f})", DIFFERENCE_MEASURE, None, False,
            verdict, reason, fragile="n/a (no detector)", scale=scale_txt,
            per_seed="; ".join(f"{m} {per_seed(m, col, nd)}" for m in MODELS)))
    if not has_is:
        out.append(_audit_row("The proposed GAN has the highest IS", RATIO_MEASURE, None, True,
                              "not testable here", f"no IS for this data ({is_kind})",
                              fragile="n/a", per_seed="", scale=scale_txt))
    return out


def paper_words(col: str, base: str) -> str:
    """Paper A's words for a Table-1 ratio: ``FID 'decreased 81%'``."""
    verb = "decreased" if col == "fid" else "increased"
    return f"{col.upper()} '{verb} {PAPER_A_TEXT_RATIOS[col][base]:.0%}'"


def ratio_claim(col: str, base: str) -> str:
    """The ``claim`` of a Table-1 ratio row of :func:`claims_audit`."""
    ratio = PAPER_A_TEXT_RATIOS[col][base]
    return (f"Proposed / {MODEL_LABELS[base]} {col.upper()} is {ratio:.2f} (the paper: "
            f"{paper_words(col, base)})")


def check_instability(table: pd.DataFrame, ckpts: dict, horizons=HORIZONS,
                      rv_computed: bool = True) -> None:
    """Notebook 06's check of :func:`~paperlib.paper_a.instability.instability_table`: one
    row per run of ``ckpts`` (``{(model, config, seed): checkpoint epochs}``) and horizon,
    ``fid_rise`` (and with ``rv_computed`` ``overfit``) read at every checkpoint up to the
    horizon. Raises :class:`~paperlib.paper_a.checks.EvaluationCheckFailed`."""
    for (m, c, s), have in ckpts.items():
        for h in horizons:
            row = table[(table.model == m) & (table.config == c) & (table.seed == s)
                        & (table.horizon == h)]
            n = sum(e <= h for e in have)
            if len(row) != 1:
                raise EvaluationCheckFailed(f"{(m, c, s)}: {len(row)} instability rows at {h}")
            for col, on in (("fid_points", True), ("rv_points", rv_computed)):
                if on and row[col].iloc[0] != n:
                    raise EvaluationCheckFailed(
                        f"{(m, c, s)}: {row[col].iloc[0]} of its {n} checkpoints up to epoch "
                        f"{h} in {col}")


def audit_markdown(audit: pd.DataFrame, passed: dict, gate) -> str:
    """The claims audit as markdown: the gate and how many runs of each model passed it,
    the scale, then the deciding rows (``primary``) and the rows beside them, the ratio
    with its interval in one column."""
    def shown(rows):
        t = rows.drop(columns=["primary", "scale", "ratio", "ratio low", "ratio high"])
        t.insert(t.columns.get_loc("paper ratio"), "ratio [95 % CI]", [
            "" if pd.isna(r.ratio) else
            f"{r.ratio:.3g}" + ("" if pd.isna(r["ratio low"]) else
                                f" [{r['ratio low']:.3g}, {r['ratio high']:.3g}]")
            for _, r in rows.iterrows()])
        t["horizon"] = [("" if pd.isna(h) else f"{int(h)} epochs") for h in rows.horizon]
        t["paper ratio"] = ["" if pd.isna(x) else f"{x:.2f}" for x in rows["paper ratio"]]
        return t.to_markdown(index=False)

    scales = list(dict.fromkeys(audit.scale))
    return (f"**Gate:** {gate.describe()}; passed: "
            + ", ".join(f"{m} {sum(p)}/{len(p)}" for m, p in passed.items())
            + ("\n\n**Scale:** " + "; ".join(scales) if scales else "")
            + "\n\n**Deciding verdicts**\n\n" + shown(audit[audit.primary])
            + "\n\n**Beside them** (other measures and horizons, the difference against "
              "no effect; not deciding)\n\n" + shown(audit[~audit.primary]))
