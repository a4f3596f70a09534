"""Paper B's experiment set-up and its units of work: the profile's sets, held-out splits and
budgets (:func:`setup`), and the curation loop and its control as jobs run side by side on
Dask (:func:`curation_job`, :func:`control_job`, :func:`run_b_jobs`)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ..config import get_profile
from ..data.folders import image_files, load_folder, manifest_hash
from ..data.sets import profile_sets, split_held_out
from ..engine.config import epochs_for_kimg, run_name
from ..engine.parallel import run_all
from ..engine.plan import TrainingPlan, estimate_seconds, pending_kimg
from ..engine.runs import RunDir
from ..forms import FormMeasure, form_measure_of, inner_counts_of
from ..utils.threads import pinned_threads
from .curation import CURATION_LOG, split_counts
from .selection_features import pixel_pca_features
from .selections import (
    make_random_rater,
    make_selection_rater,
    random_top_idx,
    selection_for_round,
)
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
    """Resolve notebook 01/05's parameters (None: the profile's value): ``model``,
    ``augment``, ``seeds``, ``n_eval``, the artist sets (``artist_folder`` replaces the
    stand-ins) each split once (:func:`paperlib.data.split_held_out`), and ``epochs`` of the
    artist-alone stage (:func:`paperlib.paper_b.shape_learning.stage_kimg`)."""

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
class JobInfeasible(ValueError):
    """A job's settings cannot work (the message names the setting, in the caller's words
    when it passed ``names``)."""


def _n_images(folder: Any) -> int:
    return len(image_files(folder))


#: A curation job's raters (:class:`CurationJob`).
RATERS = ("auto", "random")


@dataclass(frozen=True)
class CurationJob:
    """One artist and seed of notebook 05's curation loop (or the ``curate`` command's
    loop), as a unit of work a Dask worker runs (:func:`curation_job`). Build it with
    :meth:`from_profile`, which holds the defaults and the feasibility rules.

    ``rater``: one of :data:`RATERS`: ``"auto"`` (the saved selections, else the automatic
    satisfaction) or ``"random"`` (the random-selection control: the top-rated images drawn
    from ``seed`` and the round; needs a ``seed``, no ``selections``)."""

    kind: ClassVar[str] = "curation"
    start_run: str
    train_dir: str
    loop_dir: str
    root: str
    res: int
    rounds: int
    size: int
    n_generate: int
    top_k: int
    epochs: int
    selections: str | None = None
    name: str = "artist"
    seed: int | None = None
    gen_seed: int = 1000
    form: str | None = None      # a form measure's kind instead of train_dir's
    progress: bool = False       # the retraining's progress bar (off on a Dask worker)
    threads: int = 1
    rater: str = "auto"

    def __post_init__(self):
        if self.rater not in RATERS:
            raise ValueError(f"unknown rater {self.rater!r}; valid: {RATERS}")
        if self.rater == "random" and (self.seed is None or self.selections is not None):
            raise ValueError("the random rater draws from the job's seed: give a seed and no "
                             f"selections (seed {self.seed!r}, selections {self.selections!r})")

    @property
    def label(self) -> str:
        tail = "" if self.rater == "auto" else f" ({self.rater} rater)"
        return f"{self.kind} {self.name} seed {self.seed}{tail}"

    @staticmethod
    def default_top_k(n_generate: int) -> int:
        """Top-rated images per round by default: 5 % of the batch, at least 1."""
        return max(1, int(n_generate) // 20)

    @staticmethod
    def default_epochs(shown: int, size: int) -> int:
        """Fine-tuning epochs per round by default: a quarter of ``shown`` images (those the
        start run was trained on) in epochs of the ``size``-image curated set, at least 1."""
        return max(1, round(shown / 4 / size))

    @classmethod
    def from_profile(cls, profile: Any, start_run: Any, train_dir: Any, root: Any,
                     loop_dir: Any = None, *, rounds: int | None = None,
                     size: int | None = None, n_generate: int | None = None,
                     top_k: int | None = None, epochs: int | None = None,
                     kimg: float | None = None, shown: int | None = None,
                     n_data: int | None = None, selections: Any = None,
                     names: dict | None = None, **extra) -> "CurationJob":
        """The loop fine-tuning ``start_run`` with ``train_dir``'s images under ``root``;
        None fields take the profile's (or :meth:`default_top_k`, :meth:`default_epochs`)
        values. Raises :class:`JobInfeasible` when the 60/30/10 parts need more images than
        there are (``names``: the caller's word for each field)."""
        nm = {"size": "size", "n_generate": "n_generate", "top_k": "top_k",
              "train_dir": "train_dir", **(names or {})}
        prof = get_profile(profile) if profile is not None else None
        saved = RunDir(start_run).config
        n_data = _n_images(train_dir) if n_data is None else int(n_data)
        rounds = rounds or (prof.curation_rounds if prof else 2)
        size = size or (prof.curation_size if prof else n_data)
        n_generate = n_generate or (prof.curation_generate if prof else size)
        top_k = top_k or cls.default_top_k(n_generate)
        n_gen, n_human, _ = split_counts(size)
        if n_human > n_data:
            raise JobInfeasible(f"{nm['size']} {size}: its 30 % part of your images needs "
                                f"{n_human} images but {nm['train_dir']} has {n_data}; pass a "
                                f"smaller {nm['size']}")
        if top_k >= n_generate:
            raise JobInfeasible(f"{nm['top_k']} {top_k} must be below {nm['n_generate']} "
                                f"{n_generate}")
        if n_gen > n_generate - top_k:
            raise JobInfeasible(
                f"{nm['n_generate']} {n_generate}: the 60 % generated part of {nm['size']} "
                f"{size} needs {n_gen} generated images besides the top {top_k}; pass "
                f"{nm['n_generate']} {n_gen + top_k} or more (or a smaller {nm['size']})")
        if epochs is None and kimg is not None:
            epochs = epochs_for_kimg(kimg, size)
        elif epochs is None:
            shown = shown if shown is not None else \
                int(saved["config"]["epochs"]) * int(saved["data"]["n_images"])
            epochs = cls.default_epochs(shown, size)
        if loop_dir is None:   # the random control's loops apart from the automatic ones
            tail = "" if extra.get("rater", "auto") == "auto" else f"-{extra['rater']}"
            loop_dir = (Path(root) / "curation"
                        / f"{Path(start_run).name}-k{top_k}-e{epochs}{tail}")
        return cls(str(start_run), str(train_dir), str(loop_dir), str(root),
                   int(saved["config"]["res"]), int(rounds), int(size), int(n_generate),
                   int(top_k), int(epochs),
                   selections=None if selections is None else str(selections), **extra)


@dataclass(frozen=True)
class ControlJob:
    """Notebook 05's control: a start run fine-tuned on the plain training part, without
    curation (:func:`control_job`). Build it with :meth:`from_profile`."""

    kind: ClassVar[str] = "control"
    start_run: str
    data_dir: str
    root: str
    epochs: int
    name: str = "artist"
    seed: int | None = None
    threads: int = 1

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name} seed {self.seed}"

    @classmethod
    def from_profile(cls, profile: Any, curation: CurationJob | None = None, *,
                     start_run: Any = None, data_dir: Any = None, root: Any = None,
                     epochs: int | None = None, round_epochs: int | None = None,
                     **extra) -> "ControlJob":
        """The control of the loop ``curation``: ``epochs`` default to as many images as the
        loop trains, in epochs of ``data_dir``. Raises :class:`JobInfeasible` when
        ``data_dir`` has no image or ``epochs`` cannot be derived."""
        if curation is not None:
            start_run = curation.start_run if start_run is None else start_run
            data_dir = curation.train_dir if data_dir is None else data_dir
            root = curation.root if root is None else root
            extra = {"name": curation.name, "seed": curation.seed, **extra}
        n = _n_images(data_dir)
        if n == 0:
            raise JobInfeasible(f"data_dir {data_dir} holds no image")
        if epochs is None:
            prof = get_profile(profile)
            rounds, size = ((curation.rounds, curation.size) if curation is not None
                            else (prof.curation_rounds, prof.curation_size))
            round_epochs = curation.epochs if round_epochs is None and curation else round_epochs
            if round_epochs is None:
                raise JobInfeasible("a control needs epochs, round_epochs or its curation job")
            epochs = max(1, round(rounds * round_epochs * size / n))
        return cls(str(start_run), str(data_dir), str(root), int(epochs), **extra)


#: The job classes by ``kind``.
JOB_KINDS = {"curation": CurationJob, "control": ControlJob}


def as_job(job: Any) -> CurationJob | ControlJob:
    """``job`` as its job class: a job as it is, a dict (``kind`` and the fields) converted.
    Raises ``ValueError`` for an unknown kind, ``TypeError`` for an unknown field."""
    if isinstance(job, (CurationJob, ControlJob)):
        return job
    kind = job.get("kind")
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}; valid: {sorted(JOB_KINDS)}")
    return JOB_KINDS[kind](**{k: v for k, v in job.items() if k != "kind"})


def _label(job: Any) -> str:
    if isinstance(job, dict):
        return f"{job.get('kind')} {job.get('name', 'artist')} seed {job.get('seed')}"
    return job.label


def curation_job(job: CurationJob | dict) -> dict:
    """Run one :class:`CurationJob`: pixel-PCA selection features on the training part,
    the automatic, human or random rater and :func:`paperlib.paper_b.curate_and_retrain`. Returns its
    result with run folders as strings (checked by :func:`paperlib.paper_b.check_curation`)."""
    job = as_job({"kind": "curation", **job} if isinstance(job, dict) else job)
    with pinned_threads(int(job.threads)):
        human = load_folder(job.train_dir, int(job.res))
        features = pixel_pca_features(human.images)
        human_feats = features(human.images)
        form = form_measure_of(job.train_dir)   # the artist set's measure (its inner counts)
        if job.form and job.form != form.kind:
            form = FormMeasure(job.form)
        rate = (make_random_rater(int(job.top_k), int(job.seed)) if job.rater == "random"
                else make_selection_rater(job.selections, features, human_feats,
                                          int(job.top_k), form=form))
        out = curate_and_retrain(
            job.start_run, job.train_dir, job.loop_dir, job.root, features, rate,
            rounds=int(job.rounds), size=int(job.size), n_generate=int(job.n_generate),
            epochs=int(job.epochs), human_feats=human_feats, form=form,
            gen_seed=int(job.gen_seed), progress=bool(job.progress))
    return {"log": out["log"], "models": [str(m) for m in out["models"]],
            "runs": [str(r.run_dir) for r in out["runs"]], "gen_seed": out["gen_seed"],
            "statuses": [r.status for r in out["runs"]],
            "epochs_done": [r.epochs_done for r in out["runs"]]}


def control_job(job: ControlJob | dict) -> dict:
    """Run one :class:`ControlJob`: the start run fine-tuned on the plain training part for
    ``epochs`` epochs (:func:`paperlib.paper_b.finetune_run`), as a worker's unit of work."""
    job = as_job({"kind": "control", **job} if isinstance(job, dict) else job)
    with pinned_threads(int(job.threads)):
        res = finetune_run(job.start_run, job.data_dir, job.root, int(job.epochs))
    return {"run_dir": res.run_dir, "status": res.status, "epochs_done": res.epochs_done}


def b_job(job: Any) -> dict:
    """Run one of notebook 05's jobs (a job or its dict, :func:`as_job`) by its kind."""
    job = as_job(job)
    return curation_job(job) if job.kind == "curation" else control_job(job)


def run_b_jobs(jobs: Sequence[Any], scheduler: str | None = None, progress: bool = True
               ) -> list[dict]:
    """Run curation loops and control runs (jobs or their dicts) side by side on the Dask
    scheduler (:func:`paperlib.engine.parallel.run_all`): one job per worker, the rounds
    within a loop in order. Results come back in the order of ``jobs``."""

    names = [_label(j) for j in jobs]
    return run_all(b_job, list(jobs), scheduler, names=names, desc="curation loops + controls",
                   progress=progress)


def as_paths(result: dict) -> dict:
    """A :func:`curation_job` result with ``models`` as ``Path`` (what
    :func:`paperlib.paper_b.batch_for_round` takes)."""
    return {**result, "models": [Path(m) for m in result["models"]]}


# ----------------------------------------------------------------------------- the plan
def curation_plan(jobs: Sequence[Any], profile: Any, slots: int = 1) -> TrainingPlan:
    """What :func:`run_b_jobs` of ``jobs`` will train (:class:`paperlib.engine.TrainingPlan`;
    nothing trains). A loop round counts as cached while its saved set, model and rating are
    unchanged; every later round counts as missing."""
    prof = get_profile(profile)
    missing, cached = [], 0
    for j in map(as_job, jobs):
        if j.kind == "control":
            cfg = finetune_config(j.start_run, int(j.epochs))
            k = pending_kimg(cfg, j.data_dir, j.root)
            if k > 0:
                missing.append((j.label, cfg.model, k))
            else:
                cached += 1
            continue
        m, c = _curation_rounds_plan(j)
        missing += m
        cached += c
    seconds = estimate_seconds([(m, k) for _, m, k in missing], prof, slots)
    return TrainingPlan(prof.name, missing, cached, seconds if missing else 0.0, int(slots))


def _curation_rounds_plan(j: CurationJob) -> tuple[list, int]:
    """:func:`curation_plan` of one curation loop: ``(missing rounds, cached rounds)``."""
    model, rounds_kimg = RunDir(j.start_run), int(j.epochs) * int(j.size) / 1000
    name = model.config["config"]["model"]
    log_path = Path(j.loop_dir) / CURATION_LOG
    logged = json.loads(log_path.read_text())["rounds"] if log_path.is_file() else []
    for r in range(int(j.rounds)):
        trainset = Path(j.loop_dir) / f"round_{r}" / "trainset"
        cfg = finetune_config(model.path, int(j.epochs)) if model.checkpoints() else None
        saved = selection_for_round(j.selections, r)
        if j.rater == "random":
            saved = random_top_idx(int(j.n_generate), int(j.top_k), int(j.seed), r).tolist()
        same_rating = r < len(logged) and (
            sorted(saved) == sorted(logged[r]["top_idx"]) if saved
            else logged[r]["rating"] == "auto")
        if cfg is None or not same_rating or not trainset.is_dir() \
                or pending_kimg(cfg, trainset, j.root) > 0:
            return [(f"{j.label} round {q}", name, rounds_kimg)
                    for q in range(r, int(j.rounds))], r
        model = RunDir(Path(j.root) / run_name(cfg, manifest_hash(trainset)))
    return [], int(j.rounds)
