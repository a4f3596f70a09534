"""Paper A's instability: the per-epoch "D wins" test, the onset of a streak, the N search
of the proposed model, and one table row per run."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..config import get_profile
from ..data.folders import image_files, manifest_hash
from ..engine.config import TrainConfig, profile_config, run_name
from ..engine.parallel import n_slots, train_many
from ..engine.runs import RunDir, RunResult
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


def is_stable(rows: list[dict], past_epoch: int, **thresholds) -> bool:
    """Paper A's N-search test "no instability past epoch 30" (``past_epoch``): the run
    reached ``past_epoch``, every loss is finite, and the epochs after ``past_epoch`` hold no
    instability onset (a streak that began earlier and goes on past it counts)."""
    if not rows or rows[-1]["epoch"] < past_epoch:
        return False
    if not all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows):
        return False
    return instability_onset([r for r in rows if r["epoch"] > past_epoch], **thresholds) is None


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


def first_n(reading: str = "linear") -> int:
    """The first N of ``reading``'s N search (:data:`FIRST_N`); ``ValueError`` for an
    unknown reading."""
    check_reading(reading)
    return FIRST_N[reading]


def search_n(profile, data_dir, root, config: str = "paper", seed: int = 0,
             progress: bool = True, scheduler: str | None = None,
             reading: str = "linear") -> tuple[int, list[dict]]:
    """Paper A's choice of N for the proposed model read as ``reading``: N = first_n(reading),
    +1, ... up to ``n_search_max``, stopping at the first run stable past ``stable_epoch``
    (:func:`is_stable`), each run the profile's ``kimg`` long and cached. Candidates train
    side by side (N + 1 speculatively). Returns (chosen N, one row per N up to it); with no
    stable N, the N whose instability started latest, its row ``stable: False``.
    """

    prof = get_profile(profile)
    tried = []
    for ns, jobs in _search_batches(prof, data_dir, root, config, seed, scheduler, reading):
        for n, res in zip(ns, train_many(jobs, scheduler, desc=f"N search {ns}",
                                         progress=progress)):
            tried.append(run_summary(res, N=n, stable=is_stable(res.rows, prof.stable_epoch)))
            if tried[-1]["stable"]:
                return n, tried
    latest = max(tried, key=lambda r: (r["instability_onset"] or math.inf)
                 if not r["status"].startswith("diverged") else -1)
    return latest["N"], tried


def _search_batches(prof, data_dir, root, config: str, seed: int, scheduler: str | None,
                    reading: str = "linear"):
    """The N search's candidates in the batches :func:`search_n` trains them in:
    ``(ns, [(TrainConfig, data_dir, root), ...])``, as many per batch as the scheduler has
    worker slots."""
    n_images = len(image_files(data_dir))
    batch = max(1, n_slots(scheduler))
    start = first_n(reading)
    if start > prof.n_search_max:
        raise ValueError(f"the {reading} reading's N search starts at N = {start} but the "
                         f"{prof.name} profile's n_search_max is {prof.n_search_max}")
    for first in range(start, prof.n_search_max + 1, batch):
        ns = list(range(first, min(first + batch, prof.n_search_max + 1)))
        yield ns, [(profile_config(prof, "proposed", config, seed, n_images=n_images,
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
                    scheduler: str | None = None, reading: str = "linear") -> bool:
    """Whether :func:`search_n` (same arguments) would train nothing: every candidate it
    trains, batch by batch up to the one holding the first stable N (or all of them), is
    cached (:func:`cached_run`)."""
    prof = get_profile(profile)
    for _, jobs in _search_batches(prof, data_dir, root, config, seed, scheduler, reading):
        results = [cached_run(*job) for job in jobs]
        if any(r is None for r in results):
            return False
        if any(is_stable(r.rows, prof.stable_epoch) for r in results):
            return True
    return True
