"""Paper B's training-data production ("curation") loop: the 60/30/10 rule.

Paper B (section III): once generation yields images the artist is highly satisfied with,
select generated images similar to them (60 %) and human-made training images similar to
them (30 %), and copy the most satisfying images (10 %); train again on that set. The paper
gives no similarity measure, no satisfaction measure and no rounding rule; the choices
below are ours.

**Selection is apart from measurement.** The loop selects in one feature space and the
results are measured in another, against images the loop never sees:

* *selection features* (similarity, realism, the human set's features): the caller's
  ``features`` callable; notebook 05 uses :class:`PixelPCAFeatures`
  (:func:`pixel_pca_features`: area-downsampled 16 x 16 RGB pixels projected on the
  first 32 whitened principal components of the artist's **training part**), never
  Inception;
* *measurement* (:func:`evaluate_stage`, :func:`held_out_floor_metrics`): FID, KID and
  diversity in ``paperlib.metrics``' Inception pool features, against the artist's
  **held-out part** (:func:`paperlib.data.split_held_out`), which no model trains on and
  which is not among the loop's human images.

So the loop cannot optimise FID/KID/diversity by ranking in their own features against
their own reference (the circularity the issue names). The satisfaction's fidelity factor
*is* the circle-fidelity measure Table 1 also reports (the artist's judgement of the
form, by design): a gain in fidelity after curation is partly selected for, and only
FID/KID/diversity are measured apart from the selection.

**Similarity.** Images are compared in the selection feature space. The distance of a
candidate to the top-rated set is its *minimum* distance to any top-rated feature;
``metric="euclidean"`` (default) or ``"cosine"`` (1 - cosine similarity).

**Automatic satisfaction** (the headless stand-in for the artist's judgement),
:func:`auto_satisfaction`::

    satisfaction_i = fidelity_i ** w * realism_i ** (1 - w)          (w = 0.5: geometric mean)
    fidelity_i     = circle_fidelity(image_i, n_inner_expected).score     in [0, 1]
                     (given the artist set's form measure ``form``: its per-image factor,
                     paperlib.forms.form_scores -- the measure the gate and Table 1 use)
    realism_i      = 2 ** (-nn_i / tau)                                  in (0, 1]
    nn_i           = min_j || f(gen_i) - f(train_j) ||       (Euclidean, selection features)
    tau            = median over training images j of min_{k != j} || f(train_j) - f(train_k) ||

i.e. realism is 1 on a training image, 1/2 at the typical spacing of the training set
itself and decays geometrically beyond it (tau falls back to the median of ``nn`` when the
training set has a single image). Either factor at 0 makes the satisfaction 0.

**Rounding** (:func:`split_counts`): ``counts_k = floor(size * r_k)``; the remaining
``size - sum(counts)`` units go one each to the categories with the largest fractional
parts ``size * r_k - floor(size * r_k)``, ties to the earlier category (generated, then
human, then top copies). ``size * r_k`` is rounded to 9 decimals first so 0.3 * 10 is 3.
Sizes 10, 7, 1, 33, 400 give (6, 3, 1), (4, 2, 1), (1, 0, 0), (20, 10, 3), (240, 120, 40).

**Plan** (:func:`plan_curated_set`): the generated-similar part never includes the
top-rated images themselves (they are the top-copy part already; letting them in would
count them twice); chosen without replacement, nearest first (ties by index). Human images
likewise. Top copies cycle through ``top_idx`` in the given order (best first) -- with more
top-rated images than copies, the first ones are used.

**Writing** (:func:`write_curated_set`): PNGs plus ``provenance.json`` in
``run_dir/round_{r}/trainset/``, written to a temporary folder inside ``run_dir`` and
renamed into place; nothing is written outside ``run_dir`` and human source files are
only read (copied).

**Human-in-the-loop selections** (:func:`save_selections`, :func:`load_selections`,
:func:`selections_or_auto`; the gallery is :func:`paperlib.paper_b.selection_gallery`)::

    {"version": 1, "rounds": {"0": {"selected": [3, 7], "n_shown": 40,
                                    "image_hashes": ["<sha256>", ...], "saved_at": ...}}}

``image_hashes`` holds the sha256 of every shown image's uint8 pixels. A later (headless)
run reusing the selection must show the same images: a different count or hash raises
:class:`SelectionMismatchError` -- our decision, since silently applying a selection to
other images would build the wrong training set (``on_mismatch="warn"`` falls back to the
automatic rating with a warning instead).

**Loop** (:func:`run_curation_loop`): generate -> rate -> plan -> write -> retrain, per
round, with the training engine passed in as callables; per-round summaries go to
``run_dir/curation_log.json``. :func:`curate_and_retrain` runs it on real training runs.

**Paper B stages** (notebooks 01 and 05; all our choices, stated there):
:func:`shape_learning_runs` trains the artist set alone, shape learning as a mix and as
shape pre-training + fine-tuning, and the longer-training control (:func:`stage_epochs`: by
default each artist image is shown as often as in the 1st result, the shapes on top);
:func:`style_fidelity` scores generated images against the inner-circle counts a style
allows; :func:`stage_metrics` / :func:`evaluate_stage` give Table 1's numbers (circle
fidelity, FID, KID, diversity = :func:`mean_pairwise_distance` of Inception features;
FID/KID against the held-out part via ``reference_dir``), cached per run; the "training
data" row is :func:`held_out_floor_metrics` (training part vs held-out part: the
real-vs-real floor; :func:`real_stage_metrics` is the older in-sample version).
"""
from __future__ import annotations

import json
import math
import operator
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from ..forms import FormMeasure, batch_circle_fidelity, form_scores, style_fidelity
from ..utils.images import to_uint8_hwc
from ..utils.io import atomic_write_json
from .selection_features import as_features, feature_distances, image_at, min_distances, n_images

#: Provenance labels, in the order of the ratios.
SOURCES = ("generated-similar", "human-similar", "top-copy")


PROVENANCE = "provenance.json"


CURATION_LOG = "curation_log.json"


def auto_satisfaction_parts(
    gen_images: Any,
    gen_feats: Any,
    train_feats: Any,
    n_inner_expected: int | None = None,
    weight: float = 0.5,
    *,
    inner_counts: Sequence[int] | None = None,
    form: FormMeasure | None = None,
) -> dict[str, Any]:
    """The pieces of :func:`auto_satisfaction`: ``satisfaction``, ``fidelity``,
    ``realism``, ``nn_dist`` (arrays over generated images) and ``tau`` (float).

    ``gen_images=None`` skips the fidelity factor (``fidelity`` = 1 and satisfaction =
    realism). ``inner_counts`` (instead of ``n_inner_expected``): the inner-circle counts
    the style allows; each image is scored against the one nearest its found count
    (:func:`style_fidelity`). ``form`` (instead of both): the artist set's form measure
    (:func:`paperlib.forms.form_measure_of`), whose per-image ``fidelity`` is the factor.
    """
    if sum(v is not None for v in (inner_counts, n_inner_expected, form)) > 1:
        raise ValueError("give one of n_inner_expected, inner_counts and form, not both")
    if not 0.0 <= weight <= 1.0:
        raise ValueError("weight must be in [0, 1]")
    g = as_features(gen_feats, "gen_feats")
    t = as_features(train_feats, "train_feats")
    if len(t) == 0:
        raise ValueError("train_feats is empty")
    if g.shape[1] != t.shape[1]:
        raise ValueError(f"feature sizes differ: gen {g.shape[1]} vs train {t.shape[1]}")
    nn = min_distances(g, t, "euclidean") if len(g) else np.zeros(0)
    if len(t) >= 2:
        tt = feature_distances(t, t)
        np.fill_diagonal(tt, np.inf)
        tau = float(np.median(tt.min(axis=1)))
    else:
        tau = float(np.median(nn)) if len(nn) else 1.0
    if not np.isfinite(tau) or tau <= 1e-12:
        tau = 1e-12
    realism = np.power(2.0, -nn / tau)
    if gen_images is None:
        fid = np.ones(len(g))
    else:
        if n_images(gen_images) != len(g):
            raise ValueError(
                f"{n_images(gen_images)} images but {len(g)} feature rows"
            )
        if form is not None:
            fid = form_scores(gen_images, form)["fidelity"]
        else:
            results = (style_fidelity(gen_images, inner_counts) if inner_counts is not None
                       else batch_circle_fidelity(gen_images, n_inner_expected))
            fid = np.array([r.score for r in results], dtype=np.float64)
    if gen_images is None:
        sat = realism.copy()
    else:
        sat = np.power(fid, weight) * np.power(realism, 1.0 - weight)
    return dict(satisfaction=sat, fidelity=fid, realism=realism, nn_dist=nn, tau=tau)


def auto_satisfaction(
    gen_images: Any,
    gen_feats: Any,
    train_feats: Any,
    n_inner_expected: int | None = None,
    weight: float = 0.5,
    *,
    inner_counts: Sequence[int] | None = None,
    form: FormMeasure | None = None,
) -> np.ndarray:
    """Headless satisfaction score in [0, 1] per generated image (higher = better).

    ``fidelity ** weight * realism ** (1 - weight)``; see the module docstring for the
    exact definitions of fidelity (circle-fidelity score) and realism (``2 ** (-nn/tau)``).
    ``inner_counts``, ``form``: see :func:`auto_satisfaction_parts`.
    """
    return auto_satisfaction_parts(gen_images, gen_feats, train_feats, n_inner_expected,
                                   weight, inner_counts=inner_counts, form=form)["satisfaction"]


def split_counts(size: int, ratios: Sequence[float] = (0.6, 0.3, 0.1)) -> tuple[int, ...]:
    """Exact per-category counts for ``size`` (largest-remainder rule; see module doc)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ValueError(f"size must be an integer, got {size!r}")
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    r = [float(v) for v in ratios]
    if len(r) != 3:
        raise ValueError(f"ratios must have 3 values (generated, human, top), got {len(r)}")
    if any(not math.isfinite(v) or v < 0 for v in r):
        raise ValueError(f"ratios must be finite and non-negative, got {tuple(ratios)}")
    if abs(sum(r) - 1.0) > 1e-6:
        raise ValueError(f"ratios must sum to 1, got {sum(r):.6g}")
    exact = [round(size * v, 9) for v in r]
    counts = [int(math.floor(e)) for e in exact]
    rem = size - sum(counts)
    order = sorted(range(3), key=lambda k: (-(exact[k] - counts[k]), k))
    for k in order[:rem]:
        counts[k] += 1
    assert sum(counts) == size
    return tuple(counts)


@dataclass
class CurationEntry:
    """One image of a curated set. ``index`` points into its source: the generated batch
    for ``generated-similar`` and ``top-copy``, the human training set for
    ``human-similar``. ``distance`` is the minimum feature distance to the top-rated
    images (0 for top copies)."""

    source: str
    index: int
    distance: float


@dataclass
class CurationPlan:
    """The curated training set, in order: generated-similar, human-similar, top copies."""

    size: int
    ratios: tuple[float, float, float]
    counts: dict[str, int]
    top_idx: list[int]
    metric: str
    entries: list[CurationEntry] = field(default_factory=list)

    def indices(self, source: str) -> list[int]:
        return [e.index for e in self.entries if e.source == source]

    def to_dict(self) -> dict:
        return asdict(self)


def plan_curated_set(
    gen_feats: Any,
    human_feats: Any,
    top_idx: Sequence[int],
    size: int,
    ratios: Sequence[float] = (0.6, 0.3, 0.1),
    metric: str = "euclidean",
) -> CurationPlan:
    """Plan paper B's 60/30/10 training set of ``size`` images.

    ``gen_feats`` (M, D): features of the generated batch; ``human_feats`` (H, D): of the
    human-made training images; ``top_idx``: indices into the generated batch of the
    top-rated images, best first. Raises ``ValueError`` for bad sizes/ratios/indices or
    when there are too few candidates (generated non-top images, human images).
    """
    counts = split_counts(size, ratios)
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"unknown metric {metric!r}; use 'euclidean' or 'cosine'")
    g = as_features(gen_feats, "gen_feats")
    h = as_features(human_feats, "human_feats")
    if h.shape[0] and g.shape[1] != h.shape[1]:
        raise ValueError(f"feature sizes differ: generated {g.shape[1]} vs human {h.shape[1]}")
    try:
        top_list = [operator.index(i) for i in top_idx]
    except TypeError:
        raise ValueError(f"top_idx must be integers, got {list(top_idx)!r}") from None
    if not top_list:
        raise ValueError("top_idx is empty: at least one top-rated image is needed")
    top = np.asarray(top_list, dtype=np.int64)
    if top.min() < 0 or top.max() >= len(g):
        raise ValueError(f"top_idx out of range for {len(g)} generated images: {top.tolist()}")
    if len(np.unique(top)) != len(top):
        raise ValueError(f"top_idx has duplicates: {top.tolist()}")
    n_gen, n_hum, n_top = counts
    top_f = g[top]

    entries: list[CurationEntry] = []
    cand = np.setdiff1d(np.arange(len(g)), top)
    if n_gen > len(cand):
        raise ValueError(
            f"need {n_gen} generated-similar images but only {len(cand)} generated images "
            f"are not top-rated ({len(g)} generated, {len(top)} top-rated): generate more"
        )
    if n_gen:
        dist = min_distances(g[cand], top_f, metric)
        order = np.lexsort((cand, dist))[:n_gen]
        entries += [CurationEntry(SOURCES[0], int(cand[i]), float(dist[i])) for i in order]
    if n_hum > len(h):
        raise ValueError(
            f"need {n_hum} human-similar images but the human training set has {len(h)}"
        )
    if n_hum:
        dist = min_distances(h, top_f, metric)
        order = np.lexsort((np.arange(len(h)), dist))[:n_hum]
        entries += [CurationEntry(SOURCES[1], int(i), float(dist[i])) for i in order]
    entries += [CurationEntry(SOURCES[2], int(top[k % len(top)]), 0.0) for k in range(n_top)]
    return CurationPlan(
        size=int(size), ratios=tuple(float(r) for r in ratios),  # type: ignore[arg-type]
        counts=dict(zip(SOURCES, counts)), top_idx=top.tolist(), metric=metric,
        entries=entries,
    )


def _safe_run_dir(run_dir: Any) -> Path:
    raw = Path(run_dir)
    if ".." in raw.parts:
        raise ValueError(f"run_dir must not contain '..': {run_dir}")
    return raw.expanduser().resolve()


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except ValueError:
        return False


def write_curated_set(
    plan: CurationPlan,
    gen_images: Any,
    human_paths: Sequence[Any],
    run_dir: Any,
    round_idx: int,
) -> Path:
    """Write the planned set to ``run_dir/round_{round_idx}/trainset/``; return that path.

    Files are ``{k:05d}_{gen|human|top}_{index:05d}.png`` (k = position in the plan).
    Generated images (float [-1, 1] CHW tensors/arrays or uint8 HWC) are saved as PNG;
    human images are copied byte for byte when they are PNGs and converted to RGB PNG
    otherwise (sources are only read). ``provenance.json`` lists per file its source,
    index, distance and, for human images, the original path.

    Nothing is written outside ``run_dir``: a ``run_dir`` containing ``..`` is rejected,
    the target is resolved (symlinks included) and must lie inside it. The set is written
    to a temporary folder inside ``run_dir/round_{r}/`` and renamed into place; an
    existing trainset for that round is replaced only after the new one is complete.
    """
    if isinstance(round_idx, bool) or not isinstance(round_idx, (int, np.integer)) \
            or round_idx < 0:
        raise ValueError(f"round_idx must be a non-negative integer, got {round_idx!r}")
    root = _safe_run_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    round_dir = root / f"round_{int(round_idx)}"
    target = round_dir / "trainset"
    for p in (round_dir, target):
        if p.is_symlink() or (p.exists() and not _inside(p, root)):
            raise ValueError(f"{p} points outside run_dir {root}; refusing to write")
    n_gen = n_images(gen_images)
    human_paths = [Path(p) for p in human_paths]
    _check_plan_sources(plan, n_gen, human_paths)

    round_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=round_dir, prefix=".trainset.tmp-"))
    try:
        files = _write_set_files(plan, gen_images, human_paths, tmp)
        prov = {
            "version": 1, "round": int(round_idx), "size": plan.size,
            "ratios": list(plan.ratios), "counts": plan.counts, "metric": plan.metric,
            "top_idx": plan.top_idx, "files": files,
        }
        atomic_write_json(tmp / PROVENANCE, prov)
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=round_dir, prefix=".trainset.old-"))
            os.replace(target, old / "trainset")
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _check_plan_sources(plan: CurationPlan, n_gen: int, human_paths: list[Path]) -> None:
    """Refuse a plan entry of an unknown source or an index out of range, and a missing
    human image (before anything is written)."""
    for e in plan.entries:
        if e.source == "human-similar":
            if not 0 <= e.index < len(human_paths):
                raise ValueError(f"human index {e.index} out of range ({len(human_paths)} paths)")
        elif e.source in SOURCES:
            if not 0 <= e.index < n_gen:
                raise ValueError(f"generated index {e.index} out of range ({n_gen} images)")
        else:
            raise ValueError(f"unknown source {e.source!r}")
    for e in plan.entries:
        if e.source == "human-similar" and not human_paths[e.index].is_file():
            raise FileNotFoundError(f"human image not found: {human_paths[e.index]}")


def _write_set_files(plan: CurationPlan, gen_images: Any, human_paths: list[Path],
                     folder: Path) -> list[dict]:
    """Write the plan's images into ``folder`` (names: :func:`write_curated_set`); return
    their provenance records."""
    short = {"generated-similar": "gen", "human-similar": "human", "top-copy": "top"}
    files = []
    for k, e in enumerate(plan.entries):
        name = f"{k:05d}_{short[e.source]}_{e.index:05d}.png"
        rec: dict[str, Any] = {"file": name, "source": e.source, "index": e.index,
                               "distance": e.distance, "original_path": None}
        if e.source == "human-similar":
            src = human_paths[e.index]
            rec["original_path"] = str(src.resolve())
            if src.suffix.lower() == ".png":
                shutil.copyfile(src, folder / name)
            else:
                with Image.open(src) as im:
                    im.convert("RGB").save(folder / name, format="PNG")
        else:
            arr = to_uint8_hwc(image_at(gen_images, e.index))
            Image.fromarray(arr, mode="RGB").save(folder / name, format="PNG")
        files.append(rec)
    return files


def run_curation_loop(
    generate: Callable[[int], Any],
    retrain: Callable[[Path, int], None],
    features: Callable[[Any], np.ndarray],
    rate: Callable[[Any, int], Any],
    human_feats: Any,
    human_paths: Sequence[Any],
    run_dir: Any,
    rounds: int,
    size: int,
    n_generate: int,
    ratios: Sequence[float] = (0.6, 0.3, 0.1),
    n_inner_expected: int | None = None,
    metric: str = "euclidean",
    evaluate_final: bool = True,
    *,
    inner_counts: Sequence[int] | None = None,
    form: FormMeasure | None = None,
) -> dict:
    """Paper B's loop, ``rounds`` times: generate ``n_generate`` images, rate them
    (``rate(images, r)`` returns the top-rated indices, best first, or a pair
    ``(top_idx, how)`` with ``how`` e.g. ``"human"``/``"auto"``), plan and write the
    60/30/10 set (:func:`plan_curated_set`, :func:`write_curated_set`), then
    ``retrain(trainset_dir, r)``.

    A ``rate`` with a true attribute ``accepts_feats`` (those of :func:`make_auto_rater`
    and :func:`make_selection_rater`) is called as ``rate(images, r, feats=feats)`` so the
    features are not computed twice.

    ``generate(n)`` returns n images (float [-1, 1] (N, 3, H, W) or uint8 (N, H, W, 3));
    ``features(images)`` their (N, D) features, in the same space as ``human_feats``.
    Every round's summary -- sizes per source, mean automatic satisfaction / circle
    fidelity / realism of the generated batch (and of the top-rated) -- is appended to
    ``run_dir/curation_log.json`` as soon as the round ends. With ``evaluate_final`` one
    more batch is generated after the last retrain and its means are logged as ``final``.
    ``inner_counts`` (instead of ``n_inner_expected``): the inner-circle counts the style
    allows, for the logged fidelity (:func:`style_fidelity`); ``form`` (instead): the artist
    set's form measure, whose factor is logged (:func:`auto_satisfaction_parts`). Returns
    the log.
    """
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    root = _safe_run_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    hf = as_features(human_feats, "human_feats")
    if len(human_paths) != len(hf):
        raise ValueError(f"{len(human_paths)} human paths but {len(hf)} human feature rows")
    split_counts(size, ratios)  # validate before any work
    log = _new_log(size, n_generate, ratios, metric, n_inner_expected, inner_counts, form,
                   len(hf))
    log_path = root / CURATION_LOG

    def batch_stats(images: Any, feats: np.ndarray) -> tuple[dict, dict]:
        return _batch_stats(images, feats, hf, n_inner_expected, inner_counts, form)

    for r in range(rounds):
        t0 = time.time()
        images = generate(n_generate)
        if n_images(images) != n_generate:
            raise ValueError(f"generate({n_generate}) returned {n_images(images)} images")
        feats = as_features(features(images), "features(images)")
        parts, stats = batch_stats(images, feats)
        top, how = _rated(rate, images, r, feats)
        plan = plan_curated_set(feats, hf, top, size, ratios, metric)
        trainset = write_curated_set(plan, images, human_paths, root, r)
        retrain(trainset, r)
        log["rounds"].append({
            "round": r, "rating": how, "n_generated": int(n_generate), "n_top": len(top),
            "top_idx": top, "counts": plan.counts, "size": plan.size,
            "trainset": str(trainset.relative_to(root)), **stats,
            "top_mean_satisfaction": float(np.mean(parts["satisfaction"][top])),
            "mean_distance": _mean_distances(plan), "seconds": round(time.time() - t0, 3)})
        atomic_write_json(log_path, log)
    if evaluate_final:
        images = generate(n_generate)
        feats = as_features(features(images), "features(images)")
        _, stats = batch_stats(images, feats)
        log["final"] = {"after_round": rounds - 1, **stats}
        atomic_write_json(log_path, log)
    return log


def _new_log(size: int, n_generate: int, ratios: Sequence[float], metric: str,
             n_inner_expected: int | None, inner_counts: Sequence[int] | None,
             form: FormMeasure | None, n_human: int) -> dict:
    """:func:`run_curation_loop`'s log before its first round."""
    return {
        "version": 1, "size": int(size), "n_generate": int(n_generate),
        "ratios": [float(r) for r in ratios], "metric": metric,
        "n_inner_expected": n_inner_expected,
        "inner_counts": (list(inner_counts) if inner_counts is not None
                         else list(form.inner_counts) if form is not None
                         and form.inner_counts is not None else None),
        "form_measure": None if form is None else form.kind,
        "n_human": n_human,
        "satisfaction": "fidelity**0.5 * realism**0.5, realism = 2**(-nn/tau) "
                        "(paperlib.paper_b.auto_satisfaction)",
        "rounds": [],
    }


def _batch_stats(images: Any, feats: np.ndarray, hf: np.ndarray, n_inner_expected: int | None,
                 inner_counts: Sequence[int] | None, form: FormMeasure | None
                 ) -> tuple[dict, dict]:
    """A batch's automatic satisfaction parts and their logged means."""
    parts = auto_satisfaction_parts(images, feats, hf, n_inner_expected,
                                    inner_counts=inner_counts, form=form)
    return parts, {
        "mean_satisfaction": float(np.mean(parts["satisfaction"])),
        "mean_fidelity": float(np.mean(parts["fidelity"])),
        "mean_realism": float(np.mean(parts["realism"])),
        "mean_nn_dist": float(np.mean(parts["nn_dist"])),
        "tau": parts["tau"],
    }


def _mean_distances(plan: CurationPlan) -> dict:
    """Per source, the mean distance of the plan's entries (None for an empty source)."""
    return {s: (float(np.mean([e.distance for e in plan.entries if e.source == s]))
                if plan.counts[s] else None) for s in SOURCES}


def _rated(rate: Callable, images: Any, r: int, feats: np.ndarray) -> tuple[list[int], str]:
    """``rate``'s top-rated indices of round ``r``'s batch and how they were rated
    ("callable" unless it says)."""
    if getattr(rate, "accepts_feats", False):
        rated = rate(images, r, feats=feats)
    else:
        rated = rate(images, r)
    how = "callable"
    if isinstance(rated, tuple) and len(rated) == 2 and isinstance(rated[1], str):
        rated, how = rated
    return [int(i) for i in np.asarray(rated).ravel()], how


def read_provenance(trainset_dir) -> dict:
    """The ``provenance.json`` a curated training set records (:func:`write_curated_set`):
    where each of its images came from, per source."""
    path = Path(trainset_dir) / PROVENANCE
    if not path.is_file():
        raise FileNotFoundError(f"{trainset_dir} has no {PROVENANCE}")
    return json.loads(path.read_text())
