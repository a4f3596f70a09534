"""Paper B's training-data production ("curation") loop: the 60/30/10 rule.

Paper B retrains on generated images similar to the most satisfying ones (60 %), human-made
training images similar to them (30 %) and copies of the most satisfying ones (10 %). It
gives no similarity, satisfaction or rounding rule; ours are :func:`auto_satisfaction`,
:func:`split_counts` and :func:`plan_curated_set`. Selection works in the caller's
``features`` (never Inception); FID/KID/diversity are measured apart, on the held-out part.
(design notes: docs/DECISIONS.md, "Paper B: curation loop")
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

from ..data.folders import decode_image
from ..forms import FormMeasure, batch_circle_fidelity, form_scores, style_fidelity
from ..utils.images import to_uint8_hwc
from ..utils.io import atomic_copy, atomic_save_image, atomic_write_json
from .selection_features import as_features, feature_distances, image_at, min_distances, n_images

#: Provenance labels, in the order of the ratios.
SOURCES = ("generated-similar", "human-similar", "top-copy")


PROVENANCE = "provenance.json"

#: The raters' names, carried into the curation log (``rater``) and the tables: the
#: automatic satisfaction, a seeded random choice (the control) and a person's selection.
RATER_LABELS = {"auto": "auto: fidelity × realism", "random": "random", "human": "human"}


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

    ``realism = 2 ** (-nn_dist / tau)``: ``nn_dist`` the Euclidean distance to the nearest
    training feature, ``tau`` the median nearest-neighbour distance within the training set.
    Fidelity is the circle-fidelity score against ``n_inner_expected``, or against the nearest
    of ``inner_counts`` (:func:`style_fidelity`), or ``form``'s per-image factor (give at
    most one); ``gen_images=None`` sets it to 1. Raises ``ValueError`` for bad inputs.
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
    """Headless satisfaction in [0, 1] per generated image (higher = better):
    ``fidelity ** weight * realism ** (1 - weight)`` (:func:`auto_satisfaction_parts`)."""
    return auto_satisfaction_parts(gen_images, gen_feats, train_feats, n_inner_expected,
                                   weight, inner_counts=inner_counts, form=form)["satisfaction"]


def split_counts(size: int, ratios: Sequence[float] = (0.6, 0.3, 0.1)) -> tuple[int, ...]:
    """Exact per-category counts for ``size``: ``floor(size * r_k)`` (rounded to 9 decimals
    first), the remainder one each to the largest fractional parts, ties to the earlier."""
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

    ``gen_feats`` (M, D), ``human_feats`` (H, D); ``top_idx``: top-rated generated indices,
    best first. Similar parts are nearest to any top-rated image first (ties by index),
    without replacement, never the top-rated themselves; top copies cycle through
    ``top_idx``. Raises ``ValueError`` for bad sizes/ratios/indices or too few candidates.
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
    """Write the planned set to ``run_dir/round_{round_idx}/trainset/`` (PNGs named
    ``{k:05d}_{gen|human|top}_{index:05d}.png`` plus ``provenance.json``); return that path.

    Nothing is written outside ``run_dir`` (``..`` and escaping symlinks are refused); human
    sources are only read. The set is built in a temporary folder and renamed into place.
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
            if src.suffix.lower() == ".png":   # as it is: the loader converts it the same
                atomic_copy(src, folder / name)
            else:   # the loader's decoding (pil_to_rgb: alpha on white, 16-bit, CMYK)
                atomic_save_image(folder / name, decode_image(src), format="PNG")
        else:
            arr = to_uint8_hwc(image_at(gen_images, e.index))
            atomic_save_image(folder / name, Image.fromarray(arr, mode="RGB"), format="PNG")
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
    """Paper B's loop, ``rounds`` times: ``generate(n_generate)``, rate (``rate(images, r)``
    -> top-rated indices best first, or ``(top_idx, how)``; with ``rate.accepts_feats`` also
    ``feats=``; ``rate.rater`` names it in the log, :data:`RATER_LABELS`), plan and write
    the 60/30/10 set, then ``retrain(trainset_dir, r)``.

    ``features(images)``: (N, D) in the space of ``human_feats``. Each round's summary is
    appended to ``run_dir/curation_log.json``; ``evaluate_final`` logs one more batch as
    ``final``. ``inner_counts``/``form``: see :func:`auto_satisfaction_parts`. Returns the log.
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
                   len(hf), str(getattr(rate, "rater", "callable")))
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
             form: FormMeasure | None, n_human: int, rater: str) -> dict:
    """:func:`run_curation_loop`'s log before its first round."""
    return {
        "version": 1, "rater": rater, "size": int(size), "n_generate": int(n_generate),
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
    """The ``provenance.json`` of a curated training set (:func:`write_curated_set`)."""
    path = Path(trainset_dir) / PROVENANCE
    if not path.is_file():
        raise FileNotFoundError(f"{trainset_dir} has no {PROVENANCE}")
    return json.loads(path.read_text())
