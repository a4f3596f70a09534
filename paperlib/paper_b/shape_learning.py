"""Paper B's shape learning: the stages (artist alone, shapes mixed in, shape pre-training then
fine-tuning), their budgets in kimg and epochs, the cached training runs side by side, and
the fine-tuning / retraining rounds the curation loop uses."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..config import Profile, data_dir, get_profile
from ..data.folders import image_files, load_folder, manifest_hash
from ..data.sets import build_mixed_set
from ..engine.config import (
    TrainConfig,
    epochs_for_kimg,
    make_config,
    profile_config,
    profile_sizes,
    run_name,
)
from ..engine.loop import train_cached
from ..engine.parallel import train_many
from ..engine.runs import METRIC_NOISE, RunDir, RunResult, list_checkpoints, load_run
from .curation import run_curation_loop

#: Stages of notebook 01: the artist set alone (paper B's "1st experiment"), shape learning
#: by mixing shapes into the training set, the longer-training control (the artist set alone
#: for as many images as the mix), and shape pre-training then fine-tuning.
STAGES = ("alone", "mix", "longer", "finetune")

#: Image budgets of :func:`stage_epochs`: "artist" (every stage shows each artist image as
#: often as the 1st result; the default), "images" (every stage shows as many images in
#: total) and "epochs" (as many epochs on each stage's own set).
BUDGETS = ("artist", "images", "epochs")


def mix_shape_count(n_artist: int, shape_ratio: float, n_available: int) -> int:
    """How many shape images to mix into ``n_artist`` artist images so that shapes make up
    ``shape_ratio`` of the mix (all artist images are kept): ``round(n_artist * ratio /
    (1 - ratio))``, at least 1 for a ratio > 0. Raises ``ValueError`` when the shape set
    has fewer images than that or the ratio is outside [0, 1)."""
    if isinstance(shape_ratio, bool) or not 0.0 <= float(shape_ratio) < 1.0:
        raise ValueError(f"shape_ratio must be in [0, 1), got {shape_ratio!r}")
    if n_artist < 1:
        raise ValueError(f"n_artist must be >= 1, got {n_artist}")
    if shape_ratio == 0:
        return 0
    k = max(1, int(round(n_artist * shape_ratio / (1.0 - shape_ratio))))
    if k > n_available:
        raise ValueError(f"shape_ratio {shape_ratio} with {n_artist} artist images needs {k} "
                         f"shape images; the shape set has {n_available}")
    return k


def stage_epochs(epochs: int, n_artist: int, n_mix: int, n_shapes: int,
                 pretrain_frac: float = 0.5, budget: str = "artist") -> dict[str, int]:
    """Epochs per stage, from ``epochs`` (E) of the artist set alone (the 1st result).

    ``budget="artist"`` (default, our choice; paper B *added* many circles to the training
    data, it did not take artist images away): every stage shows each artist image as often
    as the 1st result does, and the shapes come on top, so shape learning trains longer.
    mix: E epochs of the mix set (E x n_mix images); ``longer``, the control: the artist
    set alone for as many images as the mix, ``E * n_mix / n_artist`` epochs; pre-training:
    the shape images the mix shows, ``E * (n_mix - n_artist) / n_shapes`` epochs of the
    shape set, then fine-tuning E epochs on the artist set (``pretrain_frac`` unused).

    ``budget="images"``: every stage sees as many training images as E epochs of the artist
    alone (the mix sees the artist less often): mix ``E * n_artist / n_mix``; pre-training
    ``frac * E * n_artist / n_shapes`` on the shapes, fine-tuning ``(1 - frac) * E``;
    ``longer`` is E. ``budget="epochs"``: E epochs on each stage's own set; pre-training
    ``frac * E``, fine-tuning the rest; ``longer`` is E. Every value is rounded, at least 1.
    """
    if not 0.0 < float(pretrain_frac) < 1.0:
        raise ValueError(f"pretrain_frac must be in (0, 1), got {pretrain_frac!r}")
    if budget == "artist":
        out = {"alone": epochs, "mix": epochs, "longer": epochs * n_mix / n_artist,
               "pretrain": epochs * (n_mix - n_artist) / n_shapes, "finetune": epochs}
    elif budget == "images":
        total = epochs * n_artist
        out = {"alone": epochs, "mix": total / n_mix, "longer": epochs,
               "pretrain": pretrain_frac * total / n_shapes,
               "finetune": (1.0 - pretrain_frac) * epochs}
    elif budget == "epochs":
        out = {"alone": epochs, "mix": epochs, "longer": epochs,
               "pretrain": pretrain_frac * epochs, "finetune": (1.0 - pretrain_frac) * epochs}
    else:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    return {k: max(1, int(round(v))) for k, v in out.items()}


def stage_images(ep: dict, n_artist: int, n_mix: int, n_shapes: int) -> dict[str, dict]:
    """Images shown per stage of :func:`stage_epochs`'s ``ep``: ``{stage: {"total",
    "artist", "shapes"}}`` (what each stage's budget means; notebook 01 prints it)."""
    k = n_mix - n_artist
    return {"alone": {"total": ep["alone"] * n_artist, "artist": ep["alone"] * n_artist,
                      "shapes": 0},
            "mix": {"total": ep["mix"] * n_mix, "artist": ep["mix"] * n_artist,
                    "shapes": ep["mix"] * k},
            "longer": {"total": ep["longer"] * n_artist, "artist": ep["longer"] * n_artist,
                       "shapes": 0},
            "finetune": {"total": ep["pretrain"] * n_shapes + ep["finetune"] * n_artist,
                         "artist": ep["finetune"] * n_artist,
                         "shapes": ep["pretrain"] * n_shapes}}


def at_epoch(res: RunResult, epoch: int) -> RunResult:
    """``res`` as it stood at ``epoch``: the same run folder, ``epochs_done`` ``epoch`` and
    the log's rows up to it. The 1st result is the longer-training control's run at the 1st
    result's epochs (same seed, same data: the engine is deterministic and an extended run
    equals an uninterrupted one). Raises ``RuntimeError`` when the run has no checkpoint at
    ``epoch``."""
    if res.epochs_done <= epoch:   # not extended yet (or diverged before it): as it is
        return res
    ckpts = dict(list_checkpoints(res.run_dir))
    if epoch not in ckpts:
        raise RuntimeError(f"{res.run_dir} has no checkpoint at epoch {epoch} (has "
                           f"{sorted(ckpts)}): the 1st result cannot be read from it")
    return RunResult(res.run_dir, "finished", int(epoch),
                     [r for r in res.rows if int(r.get("epoch", 0)) <= epoch])


def stage_kimg(profile: Any, model: str) -> float:
    """Images shown (thousands) in paper B's artist-alone stage: the profile's StyleGAN2
    ``kimg`` (:func:`paperlib.engine.profile_sizes`) for StyleGAN2, its ``shape_kimg`` for the
    DCGAN fast option (both from the convergence calibration)."""

    prof = get_profile(profile)
    return profile_sizes(prof, model)["kimg"] if model == "stylegan2" else prof.shape_kimg


@dataclass(frozen=True)
class StageJob:
    """One training run of paper B's shape learning: ``stage`` of artist ``name`` and
    ``seed``, ``cfg`` trained on ``data_dir`` as a cached run under ``root``. ``extended``:
    an "alone" run the plan's "longer" job continues (a plan counts it there);
    ``returned``: whether :func:`shape_learning_many` returns it (False for the "alone" run
    trained only for the longer one). Build it with :meth:`from_profile`."""

    name: str
    seed: int
    stage: str
    cfg: TrainConfig
    data_dir: Path
    root: Path
    extended: bool = False
    returned: bool = True

    @classmethod
    def from_profile(cls, profile: Any, name: str, seed: int, stage: str, data_dir: Any,
                     root: Any, epochs: int, *, model: str = "dcgan", config: str = "paper",
                     augment: str = "none", init_from: Any = None, **flags) -> "StageJob":
        """The job of ``stage`` (:data:`STAGES` or "pretrain"): the profile's config of
        ``model`` (:func:`paperlib.engine.profile_config`) for ``epochs`` epochs with
        ``augment``, fine-tuned from the checkpoint ``init_from`` when given. ``flags``:
        ``extended``, ``returned``. Raises ``ValueError`` for an unknown stage."""
        if stage not in (*STAGES, "pretrain"):
            raise ValueError(f"unknown stage {stage!r}; valid: {(*STAGES, 'pretrain')}")
        kw = {} if init_from is None else {"init_from": str(init_from)}
        cfg = profile_config(profile, model, config, seed, epochs=epochs, augment=augment, **kw)
        return cls(name, seed, stage, cfg, Path(data_dir), Path(root), **flags)

    @property
    def label(self) -> str:
        return f"{self.name} seed {self.seed}: {self.stage}"

    @property
    def first_wave(self) -> bool:
        """Trained in the first wave (the longer extension and the fine-tuning need it)."""
        return self.stage in ("alone", "mix", "pretrain")

    @property
    def run_dir(self) -> RunDir:
        """The run folder it trains (or trained)."""
        return RunDir(self.root / run_name(self.cfg, manifest_hash(self.data_dir)))

    def starting_from(self, checkpoint: Any) -> "StageJob":
        """This job fine-tuned from ``checkpoint`` (``init_from``)."""
        if self.cfg.init_from == str(checkpoint):
            return self
        return replace(self, cfg=make_config(**{**self.cfg.to_dict(),
                                                "init_from": str(checkpoint)}))


def shape_learning_runs(profile: Any, artist_dir: Any, shapes_dir: Any, seed: int,
                        root: Any, stages: Sequence[str] = STAGES, **kwargs) -> dict:
    """One artist and seed of :func:`shape_learning_many`: stage -> ``RunResult``."""
    name = Path(artist_dir).name
    return shape_learning_many(profile, {name: artist_dir}, shapes_dir, (seed,), root,
                               stages=stages, **kwargs)[name, seed]


def shape_learning_many(profile: Any, artist_dirs: dict, shapes_dir: Any,
                        seeds: Sequence[int], root: Any, stages: Sequence[str] = STAGES,
                        scheduler: str | None = None, progress: bool = True,
                        plan_only: bool = False, **options) -> dict | list:
    """Paper B's shape learning as cached training runs under ``root``, for every artist
    (``{name: folder}``) and seed, trained side by side (:mod:`paperlib.engine.parallel`):
    :func:`plan_shape_learning` (``options``: its settings), then
    :func:`train_shape_learning`. Returns ``{(name, seed): {stage: RunResult}}`` for the
    requested ``stages`` (``finetune`` also returns its ``pretrain``; ``alone`` is read at
    its own epochs, :func:`at_epoch`). Same arguments -> same runs, so calling this again
    (notebook 05 does) trains nothing.

    ``plan_only``: train nothing; return the plan's jobs this call would train (a list of
    :class:`StageJob`, for :func:`paperlib.engine.training_plan`): the ``longer`` run
    stands for the ``alone`` run it extends; a fine-tuning whose pre-training is not
    trained yet has no start checkpoint, so it counts as missing.
    """
    plan = plan_shape_learning(profile, artist_dirs, shapes_dir, seeds, root, stages, **options)
    if plan_only:   # the runs it would train, nothing trained
        return [j for j in plan if not j.extended]
    out: dict = {(name, s): {} for name in artist_dirs for s in seeds}
    for key, runs in train_shape_learning(plan, scheduler, progress).items():
        out[key].update(runs)
    return out


def plan_shape_learning(profile: Any, artist_dirs: dict, shapes_dir: Any,
                        seeds: Sequence[int], root: Any, stages: Sequence[str] = STAGES,
                        shape_ratio: float = 0.5, pretrain_frac: float = 0.5,
                        budget: str = "artist", augment: str = "none", mixes_dir: Any = None,
                        model: str = "dcgan", config: str = "paper",
                        epochs: int | None = None) -> list[StageJob]:
    """The runs of paper B's shape learning, first wave first (per artist and seed):

    * ``alone``: the artist set alone, ``epochs`` epochs (default: the profile's StyleGAN2
      ``kimg`` / its ``shape_kimg`` images shown, :func:`stage_kimg`), the 1st result.
    * ``mix``: the artist set with shape images added so they make up ``shape_ratio``
      of the set (:func:`mix_shape_count`; built here once with
      :func:`paperlib.data.build_mixed_set` under ``mixes_dir``, default
      ``data/<profile>/mixes/``, mix seed 0 for every training seed).
    * ``longer``: the control, the artist set alone for as many images as the mix: the
      1st result's run extended (same config and data but ``epochs``, so the same cached
      run folder): ``alone`` trains first, ``longer`` continues it, and ``alone`` is that
      run at its own epochs (see tests/test_shape_learning_budget.py). So the two columns
      cost one run.
    * ``finetune``: pre-training on the shape set (``pretrain``; one run per seed, shared
      by every artist with the same budget), then fine-tuning on the artist set from the
      pre-training's checkpoint at its epochs (``init_from``; set here when that run
      exists, else when it has trained).

    Epochs per stage: :func:`stage_epochs` (``budget``, default "artist": each artist image
    is shown as often as in the 1st result, the shapes on top). ``augment`` (none |
    diffaugment | ada) applies to every run. Raises ``ValueError`` for an unknown stage,
    ``FileNotFoundError`` for an artist folder without images."""
    prof = get_profile(profile)
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; valid: {STAGES}")
    shapes_dir, root = Path(shapes_dir), Path(root)
    n_shapes = len(image_files(shapes_dir))
    needs_mix = bool({"mix", "longer", "finetune"} & set(stages)) and budget == "artist" \
        or "mix" in stages
    budgets = {}
    for name, artist_dir in artist_dirs.items():
        budgets[name] = _artist_budget(prof, Path(artist_dir), shapes_dir, n_shapes, stages,
                                       needs_mix, shape_ratio, pretrain_frac, budget,
                                       mixes_dir, model, epochs)
    first, second = [], []
    for name, (artist_dir, ep, mix_dir) in budgets.items():
        for s in seeds:
            def job(stage, data, **kw):
                return StageJob.from_profile(prof, name, s, stage, data, root, ep[stage],
                                             model=model, config=config, augment=augment, **kw)
            if {"alone", "longer"} & set(stages):   # the longer run extends this one
                first.append(job("alone", artist_dir, extended="longer" in stages,
                                 returned="alone" in stages))
            if "mix" in stages:
                first.append(job("mix", mix_dir))
            if "finetune" in stages:
                first.append(job("pretrain", shapes_dir))
            if "longer" in stages:
                second.append(job("longer", artist_dir))
            if "finetune" in stages:
                start = _pretrain_checkpoint(first[-1].run_dir, ep["pretrain"])
                second.append(job("finetune", artist_dir, init_from=start))
    return first + second


def _artist_budget(prof: Profile, artist_dir: Path, shapes_dir: Path, n_shapes: int,
                   stages: Sequence[str], needs_mix: bool, shape_ratio: float,
                   pretrain_frac: float, budget: str, mixes_dir: Any, model: str,
                   epochs: int | None) -> tuple[Path, dict, Path | None]:
    """One artist's ``(folder, epochs per stage, mix folder or None)`` for
    :func:`plan_shape_learning` (the mix set is built here when "mix" is a stage)."""
    n_artist = len(image_files(artist_dir))
    if n_artist == 0:
        raise FileNotFoundError(f"no images in {artist_dir}")
    k = mix_shape_count(n_artist, shape_ratio, n_shapes) if needs_mix else 0
    ep = stage_epochs(int(epochs or epochs_for_kimg(stage_kimg(prof, model), n_artist)),
                      n_artist, n_artist + k, n_shapes, pretrain_frac, budget)
    mix_dir = None
    if "mix" in stages:
        mixes = Path(mixes_dir) if mixes_dir is not None else data_dir(prof) / "mixes"
        mix_dir = mixes / (f"{artist_dir.name}-{manifest_hash(artist_dir)[:8]}+shapes-"
                           f"{manifest_hash(shapes_dir)[:8]}-r{shape_ratio:.3f}")
        build_mixed_set(mix_dir, {"artist": (artist_dir, None), "shapes": (shapes_dir, k)},
                        res=prof.res, seed=0)
    return artist_dir, ep, mix_dir


def _pretrain_checkpoint(run: RunDir, epoch: int) -> Path | None:
    """The pre-training's checkpoint a fine-tuning starts from: the one at ``epoch``, else
    its latest; None while it has none."""
    return run.checkpoint(epoch, or_latest=True)[1] if run.checkpoints() else None


def train_shape_learning(plan: Sequence[StageJob], scheduler: str | None = None,
                         progress: bool = True) -> dict:
    """Train :func:`plan_shape_learning`'s ``plan`` in two waves (identical runs once): the
    first-wave runs at once, then the longer-training extensions and the fine-tunings
    (each from its pre-training's checkpoint). Returns ``{(name, seed): {stage:
    RunResult}}`` of the returned jobs, ``alone`` read at its own epochs (:func:`at_epoch`).
    Raises ``RuntimeError`` when a pre-training diverged or left no checkpoint."""
    out: dict = {}
    first = [j for j in plan if j.first_wave]
    for j, res in zip(first, _train_unique(first, scheduler, "shape learning", progress)):
        out.setdefault((j.name, j.seed), {})[j.stage] = res
    pretrain = {(j.name, j.seed): j.cfg.epochs for j in first if j.stage == "pretrain"}
    second = []
    for j in plan:
        if j.stage == "finetune":
            pre = out[j.name, j.seed]["pretrain"]
            start = _pretrain_checkpoint(RunDir(pre.run_dir), pretrain[j.name, j.seed])
            if pre.diverged or start is None:
                raise RuntimeError(f"shape pre-training {pre.run_dir} ended '{pre.status}'")
            j = j.starting_from(start)
        if not j.first_wave:
            second.append(j)
    if second:
        for j, res in zip(second, _train_unique(
                second, scheduler, "shape learning: longer control + fine-tuning", progress)):
            out.setdefault((j.name, j.seed), {})[j.stage] = res
    for j in first:
        if j.stage == "alone":   # the 1st result: the (possibly extended) run at its epochs
            if j.returned:
                out[j.name, j.seed]["alone"] = at_epoch(out[j.name, j.seed]["alone"],
                                                        j.cfg.epochs)
            else:
                out[j.name, j.seed].pop("alone", None)
    return out


def _train_unique(jobs: Sequence[StageJob], scheduler: str | None, desc: str,
                  progress: bool) -> list:
    """``train_many`` of ``jobs``, identical ones (a shared pre-training) once; results in
    the order of ``jobs``."""
    def key(j: StageJob) -> tuple:
        return repr(j.cfg), str(j.data_dir)
    unique = list({key(j): (j.cfg, j.data_dir, j.root) for j in jobs}.values())
    done = dict(zip([(repr(c), str(d)) for c, d, _ in unique],
                    train_many(unique, scheduler, desc=desc, progress=progress)))
    return [done[key(j)] for j in jobs]


def finetune_config(start_run: Any, epochs: int) -> Any:
    """The config :func:`finetune_run` trains: the start run's, ``epochs`` epochs, from its
    last checkpoint (``init_from``). Raises ``RuntimeError`` when it has no checkpoint."""
    run = RunDir(start_run)
    ckpts = run.checkpoints()
    if not ckpts:
        raise RuntimeError(f"{run.path} has no checkpoint to fine-tune from")
    return run.train_config(epochs=int(epochs), init_from=str(ckpts[-1][1]),
                            inject_nan_at_epoch=None)


def finetune_run(start_run: Any, data_dir: Any, root: Any, epochs: int,
                 progress: bool = False) -> Any:
    """Fine-tune a run on ``data_dir`` for ``epochs`` epochs: the start run's config with
    ``init_from`` its last checkpoint, as a cached run under ``root`` (``train_cached``).
    Used for every curation round, and for notebook 05's control (the same extra training
    on the artist set without curation). Raises ``RuntimeError`` when the start run has no
    checkpoint or the new run diverges."""

    cfg = finetune_config(start_run, epochs)
    res = train_cached(cfg, data_dir, root, progress=progress)
    if res.diverged:
        raise RuntimeError(f"fine-tuning {res.run_dir} {res.status}")
    return res


def curate_and_retrain(start_run: Any, human_dir: Any, run_dir: Any, root: Any,
                       features: Callable[[Any], np.ndarray], rate: Callable, *,
                       rounds: int, size: int, n_generate: int, epochs: int,
                       human_feats: Any = None, inner_counts: Sequence[int] | None = None,
                       form: Any = None,
                       gen_seed: int = 1000, ratios: Sequence[float] = (0.6, 0.3, 0.1),
                       progress: bool = False) -> dict:
    """:func:`run_curation_loop` on real training runs (notebook 05).

    Round r generates ``n_generate`` images from the current model (``start_run`` for
    round 0, else round r-1's run; sampling seed ``gen_seed + r``; noise inputs random, as
    for metrics: :data:`paperlib.engine.runs.METRIC_NOISE`), rates them, writes the
    60/30/10 set under ``run_dir/round_r/trainset`` and fine-tunes the current model on it
    for ``epochs`` epochs (``init_from`` its last checkpoint, the start run's config
    otherwise; a cached run under ``root``, keyed by the curated images). ``human_dir`` is
    the human-made training set (the artist set); ``human_feats`` its features in the
    order of ``paperlib.data.load_folder`` (computed with ``features`` when None).
    ``form``: the artist set's form measure for the logged fidelity
    (:func:`paperlib.forms.form_measure_of`; instead of ``inner_counts``).

    Returns ``{"log", "models" (start run + one run folder per round), "runs"
    (RunResult per round), "gen_seed"}``; :func:`batch_for_round` regenerates any round's
    batch (e.g. for the selection gallery).
    """

    start_run = Path(start_run)
    saved = RunDir(start_run).config["config"]
    human = load_folder(human_dir, int(saved["res"]))
    hf = features(human.images) if human_feats is None else human_feats
    models: list[Path] = [start_run]
    runs: list = []

    def generate(n: int) -> Any:
        return load_run(models[-1]).sample(n, seed=gen_seed + len(runs), noise=METRIC_NOISE)

    def retrain(trainset: Path, r: int) -> None:
        res = finetune_run(models[-1], trainset, root, epochs, progress=progress)
        runs.append(res)
        models.append(Path(res.run_dir))

    log = run_curation_loop(generate, retrain, features, rate, hf, human.paths, run_dir,
                            rounds=rounds, size=size, n_generate=n_generate, ratios=ratios,
                            evaluate_final=False, inner_counts=inner_counts, form=form)
    return {"log": log, "models": models, "runs": runs, "gen_seed": int(gen_seed)}


def batch_for_round(result: dict, round_idx: int, n: int) -> Any:
    """The batch round ``round_idx`` of :func:`curate_and_retrain` generated (the same
    images, regenerated from the model that round started from)."""

    models = result["models"]
    if not 0 <= round_idx < len(models):
        raise ValueError(f"round {round_idx} out of range (0..{len(models) - 1})")
    return load_run(models[round_idx]).sample(int(n), seed=result["gen_seed"] + round_idx,
                                              noise=METRIC_NOISE)
