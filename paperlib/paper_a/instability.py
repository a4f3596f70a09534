"""Paper A's instability: the per-epoch "D wins" test, the onset of a streak, the four
instability measures read at a horizon and their table (issue 27), the N search of the
proposed model, and one table row per run."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..config import get_profile
from ..data.folders import image_files, load_folder, manifest_hash
from ..engine.config import TrainConfig, profile_config, run_name
from ..engine.parallel import train_many
from ..engine.runs import RunDir, RunResult, load_run
from ..models.dcgan import check_reading

# ----------------------------------------------------------------------------- instability
#: Paper A's "instability" (D converges much faster than G, G stops learning), per epoch:
#: "D wins" when D's loss is under D_WIN_LOSS AND G is losing (G's loss above G_LOSE_LOSS
#: or mean D(G(z)) under D_FAKE_NEAR_ZERO); an onset is INSTABILITY_EPOCHS such epochs in
#: a row. (why these values: docs/DECISIONS.md, "Paper A: instability detector")
D_WIN_LOSS = 0.1


G_LOSE_LOSS = 4.0


D_FAKE_NEAR_ZERO = 0.02


INSTABILITY_EPOCHS = 5


def d_wins(row: dict, d_thresh: float = D_WIN_LOSS, g_thresh: float = G_LOSE_LOSS,
           fake_thresh: float = D_FAKE_NEAR_ZERO) -> bool:
    """One epoch's log row shows D winning (see the constants above)."""
    return row["d_loss"] < d_thresh and (row["g_loss"] > g_thresh or row["d_fake"] < fake_thresh)


def instability_onset(rows: list[dict], d_thresh: float = D_WIN_LOSS,
                      g_thresh: float = G_LOSE_LOSS, k: int = INSTABILITY_EPOCHS,
                      fake_thresh: float = D_FAKE_NEAR_ZERO) -> int | None:
    """First epoch starting ``k`` consecutive D-wins epochs (:func:`d_wins`), else None."""
    streak = 0
    for i, row in enumerate(rows):
        streak = streak + 1 if d_wins(row, d_thresh, g_thresh, fake_thresh) else 0
        if streak == k:
            return rows[i - k + 1]["epoch"]
    return None


def is_stable(rows: list[dict], past_epoch: int, measure: str = "rule", **thresholds) -> bool:
    """Paper A's N-search test "no instability past epoch 30" (``past_epoch``): the run
    reached ``past_epoch``, every loss is finite, and ``measure`` (:data:`SEARCH_MEASURES`)
    finds no onset in the epochs after ``past_epoch`` (:func:`onset_past`)."""
    if not rows or rows[-1]["epoch"] < past_epoch:
        return False
    if not all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows):
        return False
    return onset_past(rows, past_epoch, measure, **thresholds) is None


# ----------------------------------------------------------------------------- four measures
#: The instability measures (docs/DECISIONS.md, "Paper A: instability measures and
#: comparative verdicts"): each gives an onset epoch, or None, at a horizon.
MEASURES = ("rule", "window", "fid_rise", "overfit")


#: The measure that decides paper A's stability claims (a loss-curve one, as Fig. 2).
DECIDING_MEASURE = "window"


#: The horizons (epochs) every measure is read at; the deciding one is the paper
#: profile's training length.
HORIZONS = (150, 200)


DECIDING_HORIZON = 200


#: ``window``: at least WINDOW_SHARE of WINDOW_EPOCHS consecutive epochs are D-wins epochs.
WINDOW_EPOCHS = 10


WINDOW_SHARE = 0.5


#: ``fid_rise``: the FID stays at least this fraction above its running minimum.
FID_RISE = 0.15


#: ``overfit``: ADA's overfitting heuristic r_v at or above this.
RV_LIMIT = 0.5


def _upto(points, horizon, epoch=lambda p: p["epoch"]):
    return [p for p in points if horizon is None or epoch(p) <= horizon]


def rule_onset(rows: list[dict], horizon: int | None = None, **thresholds) -> int | None:
    """``rule``: :func:`instability_onset` on the log rows up to ``horizon`` (None: all)."""
    return instability_onset(_upto(rows, horizon), **thresholds)


def window_onset(rows: list[dict], horizon: int | None = None, k: int = WINDOW_EPOCHS,
                 share: float = WINDOW_SHARE, **thresholds) -> int | None:
    """``window``: the first window of ``k`` consecutive log rows up to ``horizon`` of which
    at least ``share`` are D-wins epochs (:func:`d_wins` with ``thresholds``); its first
    D-wins epoch, else None."""
    if not 0 < share <= 1 or k < 1:
        raise ValueError(f"need k >= 1 and 0 < share <= 1, got k={k}, share={share}")
    rows = _upto(rows, horizon)
    wins = [d_wins(r, **thresholds) for r in rows]
    need = math.ceil(share * k - 1e-9)
    for i in range(len(rows) - k + 1):
        if sum(wins[i:i + k]) >= need:
            return rows[next(j for j in range(i, i + k) if wins[j])]["epoch"]
    return None


#: The loss-curve measures the N search can judge "no instability past epoch 30" by.
SEARCH_MEASURES = ("rule", "window")


def onset_past(rows: list[dict], past_epoch: int, measure: str = "rule",
               **thresholds) -> int | None:
    """The onset of ``measure`` (``"rule"``: :func:`instability_onset`, so a streak that
    began earlier and goes on past ``past_epoch`` counts; ``"window"``: :func:`window_onset`)
    in the log rows after ``past_epoch``, else None. ``ValueError`` for another measure."""
    check_search_measure(measure)
    after = [r for r in rows if r["epoch"] > past_epoch]
    return (instability_onset if measure == "rule" else window_onset)(after, **thresholds)


def check_search_measure(measure) -> None:
    """Refuse a ``measure`` not in :data:`SEARCH_MEASURES` (``ValueError`` listing them)."""
    if measure not in SEARCH_MEASURES:
        raise ValueError(f"unknown N-search measure {measure!r}; valid measures are: "
                         f"{', '.join(SEARCH_MEASURES)}")


def fid_rise_onset(curve, horizon: int | None = None, rise: float = FID_RISE) -> int | None:
    """``fid_rise``: over ``curve`` (``(epoch, fid)`` pairs) up to ``horizon``, the first
    checkpoint whose FID is at least ``1 + rise`` times the lowest earlier FID and from
    which every later one up to the horizon is too; a non-finite FID counts as above. None
    when there is none."""
    best, onset = math.inf, None
    for epoch, fid in sorted(_upto([(int(e), float(f)) for e, f in curve], horizon,
                                   lambda p: p[0])):
        if not math.isfinite(fid) or (math.isfinite(best) and fid >= (1 + rise) * best):
            onset = epoch if onset is None else onset
        else:
            onset, best = None, min(best, fid)
    return onset


def overfit_onset(rv_curve, horizon: int | None = None, limit: float = RV_LIMIT) -> int | None:
    """``overfit``: the first checkpoint of ``rv_curve`` (``(epoch, r_v)`` pairs) up to
    ``horizon`` with r_v >= ``limit`` (NaN never), else None."""
    for epoch, rv in sorted((int(e), float(v)) for e, v in rv_curve):
        if (horizon is None or epoch <= horizon) and rv >= limit:
            return epoch
    return None


def overfit_rv(d_train, d_heldout, d_fake) -> float:
    """ADA's overfitting heuristic from D's raw outputs on training, held-out and generated
    images: ``(E[D(train)] - E[D(heldout)]) / (E[D(train)] - E[D(fake)])``; NaN when the
    denominator is 0."""
    t, h, f = (float(torch.as_tensor(x, dtype=torch.float64).mean()) for x in
               (d_train, d_heldout, d_fake))
    return (t - h) / (t - f) if t != f else math.nan


@torch.no_grad()
def _d_outputs(D, images: torch.Tensor, device, batch_size: int) -> torch.Tensor:
    return torch.cat([D(images[i:i + batch_size].to(device)).reshape(-1).double().cpu()
                      for i in range(0, len(images), batch_size)])


def checkpoint_rv(gan, train_images: torch.Tensor, heldout_images: torch.Tensor,
                  n_fake: int | None = None, seed: int = 0, batch_size: int = 256) -> dict:
    """r_v (:func:`overfit_rv`) of one checkpoint, ``gan`` a loaded run
    (:func:`paperlib.engine.load_run`, paper A's D(x) -> logits) in eval mode, images in
    [-1, 1]; ``n_fake`` generated images (default: as many as held-out) from latent
    ``seed``. Returns ``{epoch, rv, d_train, d_heldout, d_fake}`` (the mean outputs)."""
    if gan.D is None:
        raise ValueError("the checkpoint has no discriminator (an exported generator)")
    gan.D.eval()
    fake = gan.sample(int(n_fake or len(heldout_images)), seed=seed)
    outs = [_d_outputs(gan.D, x, gan.device, batch_size)
            for x in (train_images, heldout_images, fake)]
    return {"epoch": gan.epoch, "rv": overfit_rv(*outs),
            **{f"d_{n}": float(o.mean()) for n, o in zip(("train", "heldout", "fake"), outs)}}


def rv_curves(run_dirs: dict, epochs: dict, train_dir, heldout_dir, seed: int = 0,
              device=None) -> dict:
    """``{key: [(epoch, r_v), ...]}`` of each run ``run_dirs[key]`` at its checkpoints
    ``epochs[key]`` (:func:`checkpoint_rv`), the train and held-out folders loaded once per
    resolution."""
    loaded, out = {}, {}
    for key, run_dir in run_dirs.items():
        res = RunDir(run_dir).train_config().res
        if res not in loaded:
            loaded[res] = tuple(load_folder(d, res).images for d in (train_dir, heldout_dir))
        out[key] = [(e, checkpoint_rv(load_run(run_dir, e, device), *loaded[res],
                                      seed=seed)["rv"]) for e in epochs[key]]
    return out


def instability_table(runs_rows: dict, fid_curves: dict | None = None,
                      rv_curves: dict | None = None, horizons=HORIZONS,
                      **thresholds) -> pd.DataFrame:
    """One row per run (``runs_rows``: ``{key: log rows}``, a key ``(model, config, seed)``
    or a name) and horizon: ``epochs`` logged, ``reached`` (the log reaches the horizon),
    each measure's onset (``<NA>``: none) and ``fid_points`` / ``rv_points``, the
    checkpoints up to the horizon the curves (``{key: [(epoch, value)]}``) hold (0: the
    measure was not computed). ``thresholds`` go to the D-wins test."""
    recs = []
    for key, rows in runs_rows.items():
        last = max((int(r["epoch"]) for r in rows), default=0)
        fid = (fid_curves or {}).get(key) or []
        rv = (rv_curves or {}).get(key) or []
        ident = (dict(zip(("model", "config", "seed"), key))
                 if isinstance(key, tuple) and len(key) == 3 else {"run": key})
        for h in horizons:
            recs.append({**ident, "horizon": h, "epochs": last, "reached": last >= h,
                         "rule": rule_onset(rows, h, **thresholds),
                         "window": window_onset(rows, h, **thresholds),
                         "fid_rise": fid_rise_onset(fid, h) if fid else None,
                         "overfit": overfit_onset(rv, h) if rv else None,
                         "fid_points": sum(e <= h for e, _ in fid),
                         "rv_points": sum(e <= h for e, _ in rv)})
    table = pd.DataFrame(recs) if recs else pd.DataFrame(
        columns=["horizon", "epochs", "reached", *MEASURES, "fid_points", "rv_points"])
    for m in MEASURES:
        table[m] = table[m].astype("Int64")
    return table


def measure_state(row, measure: str) -> str:
    """``"unstable"`` (an onset by the horizon), ``"stable"`` (none, the run reached the
    horizon and the measure was computed) or ``"unknown"``, from a row of
    :func:`instability_table`."""
    if not pd.isna(row[measure]):
        return "unstable"
    points = {"fid_rise": "fid_points", "overfit": "rv_points"}.get(measure)
    if not row["reached"] or (points is not None and not row[points]):
        return "unknown"
    return "stable"


def run_summary(result: RunResult, **extra) -> dict:
    """One table row for a run: its config, status, instability onset and last epoch."""
    cfg = RunDir(result.run_dir).config["config"]
    last = result.rows[-1] if result.rows else {}
    return {"model": cfg["model"], "config": cfg["config"], "seed": cfg["seed"], **extra,
            "status": result.status, "epochs": result.epochs_done,
            "kimg": last.get("kimg"), "train_s": round(sum(r["seconds"] for r in result.rows), 1),
            "instability_onset": instability_onset(result.rows),
            "d_loss": last.get("d_loss"), "g_loss": last.get("g_loss"),
            "d_real": last.get("d_real"), "d_fake": last.get("d_fake"),
            "run": Path(result.run_dir).name}


def stability_report(summaries: list[dict], group: str = "config") -> str:
    """Markdown lines, one per value of ``group``: how many runs show an instability onset
    (and at which epochs), how many diverged, and the mean last-epoch losses."""
    lines = []
    for value in dict.fromkeys(s[group] for s in summaries):
        rows = [s for s in summaries if s[group] == value]
        onsets = sorted(int(s["instability_onset"]) for s in rows
                        if s["instability_onset"] is not None)
        diverged = sum(s["status"].startswith("diverged") for s in rows)
        finite = [s for s in rows if s["d_loss"] is not None and math.isfinite(s["d_loss"])]
        losses = (f"; last-epoch D loss {np.mean([s['d_loss'] for s in finite]):.3f}, "
                  f"G loss {np.mean([s['g_loss'] for s in finite]):.3f} (mean over runs)"
                  if finite else "")
        lines.append(f"- **{group} {value}**: instability onset in {len(onsets)}/{len(rows)} runs"
                     + (f" (epochs {onsets})" if onsets else "")
                     + f"; {diverged} diverged" + losses)
    return "\n".join(lines)


#: The first N of each reading's N search (:data:`paperlib.models.dcgan.PROPOSED_READINGS`):
#: the linear reading's N = 1 is Linear(n, n), no "expanded" latent, so its search starts at
#: 2; the depth reading's N = 1 is one mapping layer (docs/DECISIONS.md, "Paper A: two
#: readings of Eq. 1").
FIRST_N = {"linear": 2, "depth": 1}


#: The reading of Eq. 1 paper A's claims are judged on, and the one reported beside it
#: (decided before any depth run: docs/DECISIONS.md, "Paper A: two readings of Eq. 1").
PRIMARY_READING = "linear"


SECONDARY_READING = "depth"


def first_n(reading: str = "linear") -> int:
    """The first N of ``reading``'s N search (:data:`FIRST_N`); ``ValueError`` for an
    unknown reading."""
    check_reading(reading)
    return FIRST_N[reading]


def search_n(profile, data_dir, root, config: str = "paper", seed: int = 0,
             progress: bool = True, scheduler: str | None = None,
             reading: str = PRIMARY_READING, measure: str = DECIDING_MEASURE
             ) -> tuple[int, list[dict]]:
    """Paper A's choice of N for the proposed model read as ``reading``: every N from
    first_n(reading) to ``n_search_max`` is trained (the profile's ``kimg``, cached, side by
    side; no early stop), and the smallest N stable past ``stable_epoch`` by ``measure``
    (:func:`is_stable`) is chosen; with none stable, the N whose ``measure`` onset past
    ``stable_epoch`` is latest (a diverged run last).

    Returns (chosen N, one row per N): :func:`run_summary` plus ``reading``,
    ``<m>_onset`` / ``<m>_stable`` for each of :data:`SEARCH_MEASURES` (the onset after
    ``stable_epoch``, None: none), ``stable`` (by ``measure``) and ``chosen``."""
    check_search_measure(measure)
    prof = get_profile(profile)
    ns, jobs = search_jobs(prof, data_dir, root, config, seed, reading)
    results = train_many(jobs, scheduler, desc=f"N search ({reading}) N = {ns}",
                         progress=progress)
    rows = [search_row(res, n, reading, prof.stable_epoch, measure)
            for n, res in zip(ns, results)]
    chosen = choose_n(rows, measure)
    for row in rows:
        row["chosen"] = row["N"] == chosen
    return chosen, rows


def search_row(result: RunResult, n: int, reading: str, past_epoch: int,
               measure: str = DECIDING_MEASURE) -> dict:
    """One N-search row (:func:`search_n`) of a candidate's run."""
    row = run_summary(result, N=n, reading=reading)
    for m in SEARCH_MEASURES:
        row[f"{m}_onset"] = onset_past(result.rows, past_epoch, m)
        row[f"{m}_stable"] = is_stable(result.rows, past_epoch, m)
    row["stable"] = row[f"{measure}_stable"]
    return row


def choose_n(rows: list[dict], measure: str = DECIDING_MEASURE) -> int:
    """The N search's choice from its rows (:func:`search_row`): the smallest N stable by
    ``measure``, else the N whose ``measure`` onset is latest (no onset, e.g. non-finite
    losses: latest; a diverged run: never before another)."""
    check_search_measure(measure)
    if not rows:
        raise ValueError("the N search has no candidates")
    stable = [r["N"] for r in rows if r[f"{measure}_stable"]]
    if stable:
        return min(stable)

    def lateness(r):
        if r["status"].startswith("diverged"):
            return -1
        onset = r[f"{measure}_onset"]
        return math.inf if onset is None else onset

    return max(rows, key=lateness)["N"]


def search_note(reading: str, rows: list[dict], measure: str = DECIDING_MEASURE,
                past_epoch: int | None = None) -> str:
    """One markdown line on ``reading``'s N search (its rows, :func:`search_n`): the chosen
    N, the N where each measure of :data:`SEARCH_MEASURES` fired (an onset) and the runs
    that diverged; "the search is vacuous" when every N passes ``measure``'s test, so the
    first N is chosen by default."""
    chosen = next((r["N"] for r in rows if r.get("chosen")), None) or choose_n(rows, measure)
    past = f" past epoch {past_epoch}" if past_epoch is not None else ""
    parts = []
    for m in SEARCH_MEASURES:
        fired = [r["N"] for r in rows if r[f"{m}_onset"] is not None]
        parts.append(f"`{m}` fired{past} for N = {fired}" if fired else f"`{m}` fired for no N")
    diverged = [r["N"] for r in rows if r["status"].startswith("diverged")]
    if diverged:
        parts.append(f"N = {diverged} diverged")
    failed = [r["N"] for r in rows if not r[f"{measure}_stable"]]
    if not failed:
        verdict = (f"**the search is vacuous**: its test (`{measure}`) failed for no N, so "
                   f"N = {chosen}, the first tried, is chosen by default")
    elif len(failed) == len(rows):
        verdict = (f"no N passes `{measure}`'s test: N = {chosen} is the one whose instability "
                   "started latest")
    else:
        verdict = f"N = {chosen} is the smallest N that passes `{measure}`'s test"
    return (f"- **{reading}** (N = {rows[0]['N']}..{rows[-1]['N']}): {verdict}; "
            + "; ".join(parts) + ".")


def search_jobs(profile, data_dir, root, config: str = "paper", seed: int = 0,
                reading: str = PRIMARY_READING) -> tuple[list[int], list[tuple]]:
    """The N search's candidates: ``(ns, [(TrainConfig, data_dir, root), ...])``, N from
    first_n(reading) to the profile's ``n_search_max``; ``ValueError`` when that is empty."""
    prof = get_profile(profile)
    n_images = len(image_files(data_dir))
    start = first_n(reading)
    if start > prof.n_search_max:
        raise ValueError(f"the {reading} reading's N search starts at N = {start} but the "
                         f"{prof.name} profile's n_search_max is {prof.n_search_max}")
    ns = list(range(start, prof.n_search_max + 1))
    return ns, [(profile_config(prof, "proposed", config, seed, n_images=n_images,
                                proposed_N=n, proposed_reading=reading), data_dir, root)
                for n in ns]


def cached_run(cfg: TrainConfig, data_dir, root) -> RunResult | None:
    """The run ``train_cached(cfg, data_dir, root)`` would return at once -- its folder
    exists and it finished its ``epochs`` or diverged -- else None. Nothing is trained.
    (``$PAPERLIB_FORCE`` is not looked at: under it a cached run may still be redone.)"""
    run = RunDir(Path(root) / run_name(cfg, manifest_hash(data_dir)))
    if not run.is_run():
        return None
    st = run.status
    if not (st["status"].startswith("diverged")
            or (st["status"] == "finished" and st["epochs_done"] >= cfg.epochs)):
        return None
    return run.result()


def search_n_cached(profile, data_dir, root, config: str = "paper", seed: int = 0,
                    scheduler: str | None = None, reading: str = PRIMARY_READING,
                    measure: str = DECIDING_MEASURE) -> bool:
    """Whether :func:`search_n` (same arguments) would train nothing: every candidate N of
    :func:`search_jobs` is cached (:func:`cached_run`). ``scheduler`` and ``measure`` do not
    change which runs it trains."""
    check_search_measure(measure)
    _, jobs = search_jobs(profile, data_dir, root, config, seed, reading)
    return all(cached_run(*job) is not None for job in jobs)
