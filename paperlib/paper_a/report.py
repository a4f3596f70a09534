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
from ..data.folders import image_files
from ..engine.config import epochs_for_kimg, profile_config, profile_jobs
from ..engine.parallel import n_slots, train_many
from ..engine.plan import training_plan
from ..engine.runs import (
    export_generator,
    list_checkpoints,
    list_runs,
    read_config,
    read_log,
    read_status,
)
from ..metrics.verdicts import compare_claim, fmt_mean_std, mean_std
from ..utils.io import atomic_write_json
from .instability import (
    D_FAKE_NEAR_ZERO,
    D_WIN_LOSS,
    G_LOSE_LOSS,
    cached_run,
    d_wins,
    first_n,
    instability_onset,
    search_n,
    search_n_cached,
)

MODELS = ("dcgan", "deligan", "proposed")


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


#: Paper A's Fig. 2 horizon in epochs (past DeLiGAN's onset near epoch 90): the loss-curve
#: claims need runs at least this long.
CLAIM_HORIZON = 150


#: The measures whose informativeness notebook 06 checks (besides FID).
INFORMATIVENESS_MEASURES = ("precision", "recall", "density", "coverage", "kid")


# ----------------------------------------------------------------------------- the runs
def reference_runs(profile, data_dir, root, configs=None, seeds=None,
                   scheduler: str | None = None) -> tuple[dict, int]:
    """The runs of notebooks 02-04 for notebook 06: ``({(model, config, seed): RunResult},
    N)``, N the proposed model's (:func:`search_n`). Missing runs are trained here, after a
    printed note."""
    prof = get_profile(profile)
    if not search_n_cached(prof, data_dir, root, scheduler=scheduler):
        print("paper A: notebook 04's N search is not (all) cached: running it here first "
              "(its runs are cached for the notebooks)")
    N, _ = search_n(prof, data_dir, root, progress=False, scheduler=scheduler)
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
    searched = search_n_cached(prof, data_dir, root, seed=seed, scheduler=scheduler)
    if searched:
        N, _ = search_n(prof, data_dir, root, seed=seed, progress=False, scheduler=scheduler)
        jobs[f"{proposed} N={N} seed {seed}"] = (cfg(proposed, proposed_N=N), data_dir, root)
    else:
        jobs.update({f"N search: {proposed} N={k} seed {seed}":
                     (cfg(proposed, proposed_N=k), data_dir, root)
                     for k in range(first_n(), prof.n_search_max + 1)})
    plan = training_plan(jobs, prof, n_slots(scheduler))
    ready = shipped_generators(shipped) if shipped is not None else {}
    if plan.missing and ready:
        print(f"{len(plan.missing)} of the explorer's runs are missing here, so it opens the "
              f"{len(ready)} generators shipped in {shipped} (G weights exported from the "
              f"reference run; nothing trains). Run notebooks 02-04 to explore runs of your own.")
        return ready
    print(plan.summary("the explorer's runs (notebooks 02-04's)")
          + ("" if searched or not plan.missing else
             " At most: the N search stops at the first stable N."))
    N, _ = search_n(prof, data_dir, root, seed=seed, progress=True, scheduler=scheduler)
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


def scored_epochs(checkpoints: dict, configs, first_seed: dict) -> dict:
    """Epochs each run is scored at, ``{(model, config, seed): [epoch, ...]}``: all for
    Fig. 3's run, the later half for the claims' config, else the last."""
    out = {}
    for (m, c, s), have in checkpoints.items():
        if c == configs[0] and s == first_seed[c]:
            out[m, c, s] = have
        elif c == "paper":
            out[m, c, s] = have[len(have) // 2:]
        else:
            out[m, c, s] = have[-1:]
    return out


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


# ----------------------------------------------------------------------------- claims audit
#: Paper A's loss-curve claims: (model, the claim says it becomes unstable, the claim).
STABILITY_CLAIMS = (
    ("dcgan", True, ("DCGAN is unstable: D converges much faster than G and G stops "
                     "learning (Fig. 2a)")),
    ("deligan", True, "DeLiGAN competes until about epoch 90, then becomes unstable (Fig. 2b)"),
    ("proposed", False, "The proposed GAN trains stably (Fig. 2c)"),
)


def claims_audit(runs: dict, per_run: pd.DataFrame, configs, seeds, scale: str,
                 horizon: int = CLAIM_HORIZON) -> tuple[pd.DataFrame, dict]:
    """Paper A's claims on the claims' config for the ``seeds`` all models have: ``(audit,
    passed)``. Loss-curve claims: :func:`stability_verdict` at ``horizon``, rechecked with
    :func:`threshold_variants`; metric claims: :func:`paperlib.metrics.compare_claim` on
    the Table-1 values."""
    is_kind, has_is = is_summary(per_run)
    claim_cfg = "paper" if "paper" in configs else configs[0]
    claim_seeds = [s for s in seeds if all((m, claim_cfg, s) in runs for m in MODELS)]
    passed = {m: [bool(per_run[(per_run.model == m) & (per_run.config == claim_cfg)
                               & (per_run.seed == s)].gate.iloc[0]) for s in claim_seeds]
              for m in MODELS}
    scale_txt = f"{scale}; {claim_cfg} config, seeds {claim_seeds}"

    def per_seed(m, col, nd=1):
        sub = per_run[(per_run.model == m) & (per_run.config == claim_cfg)].set_index("seed")
        return ", ".join(f"s{s}: {sub.loc[s, col]:.{nd}f}" for s in claim_seeds)

    def stability(m, expect_unstable, **thresholds):
        rows_ = [runs[m, claim_cfg, s].rows for s in claim_seeds]
        onsets = [instability_onset(r, **thresholds) for r in rows_]
        return stability_verdict(onsets, [len(r) for r in rows_], horizon, expect_unstable,
                                 passed=passed[m],
                                 baseline_passed=all(passed["dcgan"]) if m != "dcgan" else None)

    variants = threshold_variants(d_thresh=D_WIN_LOSS, g_thresh=G_LOSE_LOSS,
                                  fake_thresh=D_FAKE_NEAR_ZERO)
    claims = []
    for m, expect, text in STABILITY_CLAIMS:
        verdict, reason = stability(m, expect)
        flips = [name for name, thr in variants.items()
                 if stability(m, expect, **thr)[0] != verdict]
        onsets = [instability_onset(runs[m, claim_cfg, s].rows) for s in claim_seeds]
        claims.append({"claim": text, "verdict": verdict, "reason": reason,
                       "fragile": ("fragile: flips with " + ", ".join(flips)) if flips
                       else "robust",
                       "per seed": "onsets " + ", ".join(f"s{s}: {o if o is not None else 'none'}"
                                                         for s, o in zip(claim_seeds, onsets))
                       + "; best FID " + per_seed(m, "fid"),
                       "scale": scale_txt})
    metric_claims = [("fid", True, "lowest FID")] + (
        [("is", False, "highest IS")] if has_is else [])
    for col, lower, word in metric_claims:
        values = {m: [float(per_run[(per_run.model == m) & (per_run.config == claim_cfg)
                                    & (per_run.seed == s)][col].iloc[0]) for s in claim_seeds]
                  for m in MODELS}
        verdict, reason = compare_claim(values, passed, "proposed", ("dcgan", "deligan"), lower)
        paper_r = PAPER_A_TEXT_RATIOS[col]
        claims.append({"claim": f"The proposed GAN has the {word} (paper: proposed/DCGAN "
                                f"{paper_r['dcgan']:.2f}, proposed/DeLiGAN "
                                f"{paper_r['deligan']:.2f})",
                       "verdict": verdict, "reason": reason, "fragile": "n/a (no detector)",
                       "per seed": "; ".join(f"{m} {per_seed(m, col, 2 if col == 'is' else 1)}"
                                             for m in MODELS),
                       "scale": scale_txt})
    if not has_is:
        claims.append({"claim": "The proposed GAN has the highest IS",
                       "verdict": "not testable here",
                       "reason": f"no IS for this data ({is_kind})", "fragile": "n/a",
                       "per seed": "", "scale": scale_txt})
    return pd.DataFrame(claims), passed


def audit_markdown(audit: pd.DataFrame, passed: dict, gate) -> str:
    """The claims audit as markdown, under the gate and how many runs of each model
    passed it."""
    return (f"**Gate:** {gate.describe()}; passed: "
            + ", ".join(f"{m} {sum(p)}/{len(p)}" for m, p in passed.items())
            + "\n\n" + audit.to_markdown(index=False))
