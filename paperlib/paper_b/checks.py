"""The checks on one curation loop (:func:`paperlib.paper_b.curation_job`'s result) that
notebook 05 asserts, the ``curate`` command runs and the tests call: one code path, so what
the notebook checks is what is tested.

Every check holds for both ratings. A round rated by a person (``rating == "human"``) took
exactly the saved selection of that round (:func:`paperlib.paper_b.selection_for_round`) as
its top-rated images; a round rated automatically took the ``top_k`` best by the automatic
satisfaction, so only there is the top-rated images' mean satisfaction at least the batch's
(a person may like images the automatic score ranks low).
"""
from __future__ import annotations

from pathlib import Path

from ..engine.runs import RunDir
from .curation import CURATION_LOG, SOURCES, read_provenance, split_counts
from .jobs import CurationJob, as_job
from .selections import selection_for_round


class CurationCheckFailed(AssertionError):
    """One of :func:`check_curation`'s checks failed; the message says which."""


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise CurationCheckFailed(msg)


def check_curation(job: CurationJob | dict, result: dict) -> list[str]:
    """Check one curation loop against the job that ran it; return the rating each round
    used (``"human"`` / ``"auto"``). Raises :class:`CurationCheckFailed` naming the first
    failed check.

    ``job``: the :class:`paperlib.paper_b.CurationJob` (or its dict) that ran; ``result``: what it returned (or :func:`as_paths` of it). Checked per
    round: the rating is human or auto; a human round used the saved selection, an auto
    round the ``top_k`` best (top-rated mean satisfaction >= the batch's); the 60/30/10
    counts; the retrained run finished its epochs, started from the previous model, has the
    start run's model and trained on ``size`` images; the curated set's human part comes
    from ``train_dir`` only. And the log file is in ``loop_dir``.
    """
    job = as_job({"kind": "curation", **job} if isinstance(job, dict) else job)
    log, models = result["log"], [Path(m) for m in result["models"]]
    rounds, runs = log["rounds"], [Path(r) for r in result["runs"]]
    n_rounds = int(job.rounds)
    _check(len(rounds) == n_rounds == len(runs) == len(models) - 1,
           f"{len(rounds)} logged rounds, {len(runs)} retrained runs, {len(models)} models "
           f"for {n_rounds} round(s)")
    _check(models[0] == Path(job.start_run),
           f"the loop started from {models[0]}, not {job.start_run}")
    _check(all(s == "finished" for s in result["statuses"]), f"statuses {result['statuses']}")
    _check(all(e == int(job.epochs) for e in result["epochs_done"]),
           f"epochs done {result['epochs_done']}, want {job.epochs} per round")
    start_model = RunDir(models[0]).config["config"]["model"]
    want_counts = dict(zip(SOURCES, split_counts(int(job.size))))
    train_dir = Path(job.train_dir).resolve()
    loop_dir = Path(job.loop_dir)
    ratings = []
    for r, (entry, run_dir) in enumerate(zip(rounds, runs)):
        where = f"round {r}"
        how = entry["rating"]
        _check(how in ("human", "auto"), f"{where}: rating {how!r}")
        top = [int(i) for i in entry["top_idx"]]
        _check(len(top) == entry["n_top"] == len(set(top)) and top
               and all(0 <= i < int(job.n_generate) for i in top),
               f"{where}: top-rated indices {top} (n_top {entry['n_top']})")
        saved = selection_for_round(job.selections, r) if job.selections else None
        if how == "human":
            _check(bool(saved) and sorted(top) == sorted(saved),
                   f"{where}: rated by a person but the top-rated images {sorted(top)} are "
                   f"not the saved selection {saved}")
        else:
            _check(not saved, f"{where}: a selection was saved ({saved}) but the automatic "
                              "rating was used")
            _check(len(top) == int(job.top_k), f"{where}: {len(top)} top-rated, want "
                                               f"top_k {job.top_k}")
            # the automatic rating keeps the best by the automatic score
            _check(entry["top_mean_satisfaction"] >= entry["mean_satisfaction"] - 1e-12,
                   f"{where}: automatic top-rated mean satisfaction "
                   f"{entry['top_mean_satisfaction']} < the batch's {entry['mean_satisfaction']}")
        _check(0.0 <= entry["top_mean_satisfaction"] <= 1.0
               and 0.0 <= entry["mean_satisfaction"] <= 1.0,
               f"{where}: satisfaction outside [0, 1]")
        _check(entry["counts"] == want_counts, f"{where}: counts {entry['counts']}, want "
                                               f"{want_counts}")
        cfg = RunDir(run_dir).config
        _check(Path(cfg["config"]["init_from"]).parent.parent == models[r],
               f"{where}: {run_dir} did not start from {models[r]}")
        _check(cfg["config"]["model"] == start_model,
               f"{where}: model {cfg['config']['model']}, want {start_model}")
        _check(cfg["data"]["n_images"] == int(job.size),
               f"{where}: trained on {cfg['data']['n_images']} images, want {job.size}")
        prov = read_provenance(loop_dir / entry["trainset"])
        originals = [Path(f["original_path"]).parent for f in prov["files"]
                     if f["source"] == "human-similar"]
        # the human part comes from the training images only (never a held-out part)
        _check(all(o == train_dir for o in originals)
               and len(originals) == want_counts["human-similar"],
               f"{where}: human-similar images not all from {train_dir}")
        ratings.append(how)
    _check((loop_dir / CURATION_LOG).is_file(), f"no {CURATION_LOG} in {loop_dir}")
    return ratings
