"""Paper B's experiment set-up and its units of work: the profile's sets, held-out splits and
budgets (:func:`setup`), and the curation loop and its control as jobs run side by side on
Dask (:func:`curation_job`, :func:`control_job`, :func:`run_b_jobs`)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..config import get_profile
from ..data.folders import image_files, load_folder, manifest_hash
from ..data.sets import profile_sets, split_held_out
from ..engine.config import epochs_for_kimg, run_name
from ..engine.parallel import run_all
from ..engine.plan import TrainingPlan, estimate_seconds, pending_kimg
from ..engine.runs import list_checkpoints, read_config
from ..forms import FormMeasure, form_measure_of, inner_counts_of
from ..utils.threads import pinned_threads
from .curation import CURATION_LOG
from .selection_features import pixel_pca_features
from .selections import make_selection_rater, selection_for_round
from .shape_learning import curate_and_retrain, finetune_config, finetune_run, stage_kimg


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
    (:func:`paperlib.paper_b.stage_kimg`) in epochs of the training part."""

    prof = get_profile(profile)
    model = model or prof.b_model
    augment = augment or (prof.b_augment if model == "stylegan2" else "none")
    if artist_folder:
        artist_dirs = {Path(artist_folder).name: Path(artist_folder)}
    else:
        sets = profile_sets(prof)
        artist_dirs = {name: sets[name] for name in (prof.artists if artists is None else artists)}
    splits = {name: split_held_out(d, prof.held_out_frac, seed=0)
              for name, d in artist_dirs.items()}
    train_dirs = {name: sp.train for name, sp in splits.items()}
    n_train = {name: len(image_files(d)) for name, d in train_dirs.items()}
    if epochs is None and len(set(n_train.values())) > 1:
        raise ValueError(f"artist sets of different sizes {n_train}: pass epochs=...")
    epochs = int(epochs or epochs_for_kimg(stage_kimg(prof, model),
                                           next(iter(n_train.values()))))
    n_eval = int(n_eval or min(prof.n_fake, {"smoke": 8, "cpu": 200}.get(prof.name, prof.n_fake)))
    return Setup(model, augment, tuple(seeds or prof.b_seeds), n_eval, artist_dirs, splits,
                 train_dirs, {name: inner_counts_of(d) for name, d in train_dirs.items()},
                 n_train, epochs)


# ----------------------------------------------------------------------------- curation jobs
def curation_job(job: dict) -> dict:
    """One artist and seed of notebook 05's curation loop, as a unit of work a Dask worker
    runs (:func:`curate_many`): selection features fitted on the artist's training part
    (:func:`paperlib.paper_b.pixel_pca_features`, never Inception), the automatic or human
    rater, and :func:`paperlib.paper_b.curate_and_retrain`. Returns its result with the
    run folders as strings. Optional keys: ``form`` (a form measure's kind, instead of the
    one of ``train_dir``'s data, :func:`paperlib.metrics.form_measure_of`), ``progress``
    (show the retraining's progress bar; default off, as on a Dask worker) and ``gen_seed``
    (default 1000). The checks notebook 05 and ``curate`` run on the result:
    :func:`paperlib.paper_b.check_curation`."""

    with pinned_threads(int(job.get("threads", 1))):
        train_dir = job["train_dir"]
        res = int(job["res"])
        human = load_folder(train_dir, res)
        features = pixel_pca_features(human.images)
        human_feats = features(human.images)
        form = form_measure_of(train_dir)   # the artist set's measure (its inner counts)
        if job.get("form") and job["form"] != form.kind:
            form = FormMeasure(job["form"])
        rate = make_selection_rater(job["selections"], features, human_feats,
                                    int(job["top_k"]), form=form)
        out = curate_and_retrain(
            job["start_run"], train_dir, job["loop_dir"], job["root"], features, rate,
            rounds=int(job["rounds"]), size=int(job["size"]), n_generate=int(job["n_generate"]),
            epochs=int(job["epochs"]), human_feats=human_feats, form=form,
            gen_seed=int(job.get("gen_seed", 1000)), progress=bool(job.get("progress", False)))
    return {"log": out["log"], "models": [str(m) for m in out["models"]],
            "runs": [str(r.run_dir) for r in out["runs"]], "gen_seed": out["gen_seed"],
            "statuses": [r.status for r in out["runs"]],
            "epochs_done": [r.epochs_done for r in out["runs"]]}


def control_job(job: dict) -> dict:
    """Notebook 05's control: the start run fine-tuned on the plain training part for
    ``epochs`` epochs (:func:`paperlib.paper_b.finetune_run`), as a worker's unit of work."""

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
    (:func:`paperlib.engine.parallel.run_all`): one job per worker, the rounds within a loop in
    order. Results come back in the order of ``jobs``."""

    names = [f"{j.get('kind')} {j.get('name', 'artist')} seed {j.get('seed')}" for j in jobs]
    return run_all(b_job, list(jobs), scheduler, names=names, desc="curation loops + controls",
                   progress=progress)


def as_paths(result: dict) -> dict:
    """A :func:`curation_job` result with ``models`` as ``Path`` (what
    :func:`paperlib.paper_b.batch_for_round` takes)."""
    return {**result, "models": [Path(m) for m in result["models"]]}


# ----------------------------------------------------------------------------- the plan
def curation_plan(jobs: Sequence[dict], profile: Any, slots: int = 1) -> TrainingPlan:
    """What :func:`run_b_jobs` of notebook 05's ``jobs`` will train, said before it does
    (:class:`paperlib.engine.TrainingPlan`; nothing is trained). A control is cached when its
    run is. A curation loop's round is cached when an earlier run of the loop left its
    curated set and the model fine-tuned on it, and the round's rating is unchanged (the
    loop's log shows the automatic rating and no selection is saved for the round now, or
    the saved selection it used); from the first round that is not, every round counts as
    missing (its set depends on the images the model before it generates, so the plan can
    only say what the saved sets and selections show)."""
    prof = get_profile(profile)
    missing, cached = [], 0
    for j in jobs:
        label = f"{j.get('kind')} {j.get('name', 'artist')} seed {j.get('seed')}"
        if j["kind"] == "control":
            cfg = finetune_config(j["start_run"], int(j["epochs"]))
            k = pending_kimg(cfg, j["data_dir"], j["root"])
            if k > 0:
                missing.append((label, cfg.model, k))
            else:
                cached += 1
            continue
        model, rounds_kimg = Path(j["start_run"]), int(j["epochs"]) * int(j["size"]) / 1000
        name = read_config(model)["config"]["model"]
        log_path = Path(j["loop_dir"]) / CURATION_LOG
        logged = json.loads(log_path.read_text())["rounds"] if log_path.is_file() else []
        for r in range(int(j["rounds"])):
            trainset = Path(j["loop_dir"]) / f"round_{r}" / "trainset"
            cfg = finetune_config(model, int(j["epochs"])) if list_checkpoints(model) else None
            saved = selection_for_round(j.get("selections"), r)
            same_rating = r < len(logged) and (
                sorted(saved) == sorted(logged[r]["top_idx"]) if saved
                else logged[r]["rating"] == "auto")
            if cfg is None or not same_rating or not trainset.is_dir() \
                    or pending_kimg(cfg, trainset, j["root"]) > 0:
                missing += [(f"{label} round {q}", name, rounds_kimg)
                            for q in range(r, int(j["rounds"]))]
                break
            cached += 1
            model = Path(j["root"]) / run_name(cfg, manifest_hash(trainset))
    seconds = estimate_seconds([(m, k) for _, m, k in missing], prof, slots)
    return TrainingPlan(prof.name, missing, cached, seconds if missing else 0.0, int(slots))
