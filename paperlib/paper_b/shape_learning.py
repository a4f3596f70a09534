"""Paper B's shape learning: the stages (artist alone, shapes mixed in, shape pre-training then
fine-tuning; on request a class-conditional StyleGAN2 on artist and shape labels), their
budgets in kimg and epochs, the cached training runs side by side, and the fine-tuning /
retraining rounds the curation loop uses."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

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
from ..engine.runs import (
    METRIC_NOISE,
    RunDir,
    RunResult,
    list_checkpoints,
    load_run,
    snapshot,
)
from ..models import get_model
from .curation import run_curation_loop

#: Stages of notebook 01: the artist set alone (paper B's "1st experiment"), shape learning
#: by mixing shapes into the training set, the longer-training control (the artist set alone
#: for as many images as the mix), and shape pre-training then fine-tuning.
STAGES = ("alone", "mix", "longer", "finetune")

#: Stages trained only when asked for (not in :data:`STAGES`, the default): ``"cond"``, the
#: deciding arm of the shape-learning claim -- a class-conditional model (StyleGAN2's
#: ``sg_cond``) on the mix's images labelled ``artist`` / ``shapes``
#: (:func:`build_cond_set`), sampled in the ``artist`` class.
EXTRA_STAGES = ("cond",)

#: The labelled folder's classes: the artist's (sampled) and the shapes'.
COND_CLASSES = ("artist", "shapes")

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
    """Epochs per stage, from ``epochs`` (E) of the artist set alone (the 1st result);
    ``cond`` (the mix's images, labelled) gets the mix's.

    ``budget="artist"`` (default): every stage shows each artist image as often as the 1st
    result, shapes on top (mix E; ``longer`` ``E * n_mix / n_artist``; pre-training
    ``E * (n_mix - n_artist) / n_shapes``, fine-tuning E). ``"images"``: every stage shows
    ``E * n_artist`` images. ``"epochs"``: E epochs per stage's own set. Rounded, at least 1.
    (why "artist": docs/DECISIONS.md, "Paper B: shape learning")
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
    out["cond"] = out["mix"]   # the mix's images, labelled: as many epochs as the mix
    return {k: max(1, int(round(v))) for k, v in out.items()}


def build_cond_set(out, artist_dir, shapes_dir, n_shapes: int, res: int, seed: int = 0) -> dict:
    """The ``cond`` stage's labelled training folder ``out``: class sub-folders ``artist/``
    (every image of ``artist_dir``) and ``shapes/`` (``n_shapes`` of ``shapes_dir``: the
    images the mix stage draws with the same ``seed``), copies at ``res`` with a manifest
    naming each copy's source (:func:`paperlib.data.build_mixed_set`, ``labelled``).
    Returns the manifest; an identical folder already there is kept."""
    return build_mixed_set(out, {"artist": (artist_dir, None),
                                 "shapes": (shapes_dir, n_shapes)},
                           res=res, seed=seed, labelled=True)


def stage_images(ep: dict, n_artist: int, n_mix: int, n_shapes: int) -> dict[str, dict]:
    """Images shown per stage of :func:`stage_epochs`'s ``ep``: ``{stage: {"total",
    "artist", "shapes"}}`` (what each stage's budget means; notebook 01 prints it)."""
    k = n_mix - n_artist
    return {"alone": {"total": ep["alone"] * n_artist, "artist": ep["alone"] * n_artist,
                      "shapes": 0},
            **{st: {"total": ep[st] * n_mix, "artist": ep[st] * n_artist,
                    "shapes": ep[st] * k} for st in ("mix", "cond")},
            "longer": {"total": ep["longer"] * n_artist, "artist": ep["longer"] * n_artist,
                       "shapes": 0},
            "finetune": {"total": ep["pretrain"] * n_shapes + ep["finetune"] * n_artist,
                         "artist": ep["finetune"] * n_artist,
                         "shapes": ep["pretrain"] * n_shapes}}


def at_epoch(res: RunResult, epoch: int) -> RunResult:
    """``res`` as it stood at ``epoch`` (same run folder, log rows up to it; the engine is
    deterministic, so an extended run read there is the shorter run). Raises
    ``RuntimeError`` when the run has no checkpoint at ``epoch``."""
    if res.epochs_done <= epoch:   # not extended yet (or diverged before it): as it is
        return res
    ckpts = dict(list_checkpoints(res.run_dir))
    if epoch not in ckpts:
        raise RuntimeError(f"{res.run_dir} has no checkpoint at epoch {epoch} (has "
                           f"{sorted(ckpts)}): the 1st result cannot be read from it")
    return RunResult(res.run_dir, "finished", int(epoch),
                     [r for r in res.rows if int(r.get("epoch", 0)) <= epoch])


def first_result_run(res: RunResult, epoch: int, root: Any) -> RunResult:
    """The 1st result as a run folder of its own, for code that starts from a run's latest
    checkpoint (notebook 05's curation loop and control on the 1st result): ``res`` (the
    longer control's run) as it stood at ``epoch`` (:func:`paperlib.engine.runs.snapshot`),
    under ``root/snapshots``; kept once written."""
    path = Path(root) / "snapshots" / f"{Path(res.run_dir).name}-e{int(epoch)}"
    return snapshot(res.run_dir, int(epoch), path)


def stage_kimg(profile: Any, model: str) -> float:
    """Images shown (thousands) in paper B's artist-alone stage: the profile's StyleGAN2
    ``kimg`` (:func:`paperlib.engine.profile_sizes`), or its ``shape_kimg`` for the DCGAN."""

    prof = get_profile(profile)
    return profile_sizes(prof, model)["kimg"] if model == "stylegan2" else prof.shape_kimg


@dataclass(frozen=True)
class StageJob:
    """One training run of paper B's shape learning (``stage``, artist ``name``, ``seed``,
    ``cfg`` on ``data_dir`` under ``root``); ``extended``: continued by "longer";
    ``returned``: returned by :func:`shape_learning_many`. Build with :meth:`from_profile`."""

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
        """The job of ``stage`` (:data:`STAGES`, :data:`EXTRA_STAGES` or "pretrain") from
        the profile's config of ``model``, ``epochs`` epochs, ``augment``, from ``init_from``
        when given (``"cond"``: class-conditional, sampling the ``artist`` class). Raises
        ``ValueError`` for an unknown stage or ``"cond"`` with a model without ``sg_cond``."""
        if stage not in (*STAGES, *EXTRA_STAGES, "pretrain"):
            raise ValueError(f"unknown stage {stage!r}; valid: "
                             f"{(*STAGES, *EXTRA_STAGES, 'pretrain')}")
        kw = {} if init_from is None else {"init_from": str(init_from)}
        if stage == "cond":
            _check_cond_model(model)
            kw.update(sg_cond=True, sg_cond_class=COND_CLASSES[0])
        cfg = profile_config(profile, model, config, seed, epochs=epochs, augment=augment, **kw)
        return cls(name, seed, stage, cfg, Path(data_dir), Path(root), **flags)

    @property
    def label(self) -> str:
        return f"{self.name} seed {self.seed}: {self.stage}"

    @property
    def first_wave(self) -> bool:
        """Trained in the first wave (the longer extension and the fine-tuning need it)."""
        return self.stage in ("alone", "mix", "pretrain", "cond")

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


def _check_cond_model(model: str) -> None:
    if "sg_cond" not in get_model(model).option_names:
        raise ValueError(f"stage 'cond' needs a class-conditional model (one with the "
                         f"sg_cond option: stylegan2), got {model!r}")


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
    """Paper B's shape learning as cached runs under ``root`` for every artist
    (``{name: folder}``) and seed, trained side by side: :func:`plan_shape_learning` then
    :func:`train_shape_learning`. Returns ``{(name, seed): {stage: RunResult}}``; a second
    call trains nothing. ``plan_only``: return the :class:`StageJob` list it would train.
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
    ``alone`` (the 1st result, :func:`stage_kimg`), ``mix`` (shapes make up ``shape_ratio``,
    built once under ``mixes_dir``), ``longer`` (the ``alone`` run extended: one run for both
    columns), ``finetune`` (a shared ``pretrain`` on shapes, then the artist set from its
    checkpoint) and, when asked for, ``cond`` (the mix's images as a labelled folder,
    :func:`build_cond_set`, beside the mix; as many epochs as the mix: each artist image
    shown as often as in the 1st result under the "artist" budget). Epochs:
    :func:`stage_epochs`. Raises ``ValueError`` for an unknown stage, ``FileNotFoundError``
    for an artist folder without images."""
    prof = get_profile(profile)
    unknown = sorted(set(stages) - set(STAGES) - set(EXTRA_STAGES))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; valid: {(*STAGES, *EXTRA_STAGES)}")
    if "cond" in stages:
        _check_cond_model(model)
    shapes_dir, root = Path(shapes_dir), Path(root)
    n_shapes = len(image_files(shapes_dir))
    needs_mix = bool({"mix", "longer", "finetune"} & set(stages)) and budget == "artist" \
        or "mix" in stages or "cond" in stages
    budgets = {}
    for name, artist_dir in artist_dirs.items():
        budgets[name] = _artist_budget(prof, Path(artist_dir), shapes_dir, n_shapes, stages,
                                       needs_mix, shape_ratio, pretrain_frac, budget,
                                       mixes_dir, model, epochs)
    first, second = [], []
    for name, (artist_dir, ep, mix_dir, cond_dir) in budgets.items():
        for s in seeds:
            def job(stage, data, **kw):
                return StageJob.from_profile(prof, name, s, stage, data, root, ep[stage],
                                             model=model, config=config, augment=augment, **kw)
            if {"alone", "longer"} & set(stages):   # the longer run extends this one
                first.append(job("alone", artist_dir, extended="longer" in stages,
                                 returned="alone" in stages))
            if "mix" in stages:
                first.append(job("mix", mix_dir))
            if "cond" in stages:
                first.append(job("cond", cond_dir))
            if "finetune" in stages:
                first.append(job("pretrain", shapes_dir))
            if "longer" in stages:
                second.append(job("longer", artist_dir))
            if "finetune" in stages:
                start = _pretrain_checkpoint(first[-1].run_dir, ep["pretrain"])
                second.append(job("finetune", artist_dir, init_from=start))
    return first + second


def planned_cost(plan: Sequence[StageJob], profile: Any) -> pd.DataFrame:
    """The cost of :func:`plan_shape_learning`'s ``plan`` before anything trains, one row
    per arm, artist and seed: ``kimg`` the arm shows in all, ``kimg_trained`` what it adds
    (the longer control extends the 1st result's run; a pre-training identical for two
    artists is trained once, the fine-tunings counting it once), the model's measured
    ``s_per_kimg`` on the profile (:attr:`ModelSpec.seconds_per_kimg`, NaN without one),
    ``core_min`` and ``shared`` (what else it serves)."""
    prof = get_profile(profile)
    rows, seen, alone_kimg = [], {}, {}
    for j in plan:
        kimg = j.cfg.epochs * len(image_files(j.data_dir)) / 1000.0
        key = (repr(j.cfg), str(j.data_dir))
        trained, shared = kimg, ""
        if j.stage == "alone":
            alone_kimg[j.name, j.seed] = kimg
            shared = "read at its epochs from the longer control's run" if j.extended else ""
        elif j.stage == "longer":
            trained = kimg - alone_kimg.get((j.name, j.seed), 0.0)
            shared = "extends the 1st result's run (its checkpoint at B is the 1st result)"
        elif j.stage == "pretrain" and key in seen:
            trained, shared = 0.0, f"the pre-training of {seen[key]} (identical run)"
        if j.stage == "pretrain":
            seen.setdefault(key, j.name)
        rate = get_model(j.cfg.model).seconds_per_kimg.get(prof.name, np.nan)
        rows.append({"arm": j.stage, "artist": j.name, "seed": j.seed, "model": j.cfg.model,
                     "kimg": kimg, "kimg_trained": trained, "s_per_kimg": rate,
                     "core_min": trained * rate / 60.0, "shared": shared})
    return pd.DataFrame(rows, columns=["arm", "artist", "seed", "model", "kimg",
                                       "kimg_trained", "s_per_kimg", "core_min", "shared"])


def _artist_budget(prof: Profile, artist_dir: Path, shapes_dir: Path, n_shapes: int,
                   stages: Sequence[str], needs_mix: bool, shape_ratio: float,
                   pretrain_frac: float, budget: str, mixes_dir: Any, model: str,
                   epochs: int | None) -> tuple[Path, dict, Path | None, Path | None]:
    """One artist's ``(folder, epochs per stage, mix folder or None, labelled folder or
    None)`` for :func:`plan_shape_learning` (the mix set is built here when "mix" is a
    stage, the labelled one when "cond" is; "cond" gets the mix's epochs)."""
    n_artist = len(image_files(artist_dir))
    if n_artist == 0:
        raise FileNotFoundError(f"no images in {artist_dir}")
    k = mix_shape_count(n_artist, shape_ratio, n_shapes) if needs_mix else 0
    ep = stage_epochs(int(epochs or epochs_for_kimg(stage_kimg(prof, model), n_artist)),
                      n_artist, n_artist + k, n_shapes, pretrain_frac, budget)
    mix_dir = cond_dir = None
    mixes = Path(mixes_dir) if mixes_dir is not None else data_dir(prof) / "mixes"
    mix_name = (f"{artist_dir.name}-{manifest_hash(artist_dir)[:8]}+shapes-"
                f"{manifest_hash(shapes_dir)[:8]}-r{shape_ratio:.3f}")
    if "mix" in stages:
        mix_dir = mixes / mix_name
        build_mixed_set(mix_dir, {"artist": (artist_dir, None), "shapes": (shapes_dir, k)},
                        res=prof.res, seed=0)
    if "cond" in stages:
        cond_dir = mixes / f"{mix_name}-labelled"
        build_cond_set(cond_dir, artist_dir, shapes_dir, k, res=prof.res, seed=0)
    return artist_dir, ep, mix_dir, cond_dir


def _pretrain_checkpoint(run: RunDir, epoch: int) -> Path | None:
    """The pre-training's checkpoint a fine-tuning starts from: the one at ``epoch``, else
    its latest; None while it has none."""
    return run.checkpoint(epoch, or_latest=True)[1] if run.checkpoints() else None


def train_shape_learning(plan: Sequence[StageJob], scheduler: str | None = None,
                         progress: bool = True) -> dict:
    """Train ``plan`` in two waves (identical runs once): first-wave runs, then extensions
    and fine-tunings. Returns ``{(name, seed): {stage: RunResult}}``, ``alone`` read at its own
    epochs. Raises ``RuntimeError`` when a pre-training diverged or left no checkpoint."""
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
    """Fine-tune a run on ``data_dir`` for ``epochs`` epochs (:func:`finetune_config`) as a
    cached run under ``root``. Raises ``RuntimeError`` when the start run has no checkpoint
    or the new run diverges."""

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

    Round r samples ``n_generate`` images (seed ``gen_seed + r``) from the current model,
    writes the 60/30/10 set with ``human_dir``'s images and fine-tunes for ``epochs`` epochs
    (cached under ``root``). ``human_feats`` defaults to ``features`` of ``human_dir``;
    ``form``: see :func:`paperlib.paper_b.auto_satisfaction_parts`. Returns ``{"log", "models", "runs",
    "gen_seed"}``; :func:`batch_for_round` regenerates a round's batch.
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
