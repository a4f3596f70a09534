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
:func:`selections_or_auto`; the gallery is :func:`paperlib.widgets.selection_gallery`)::

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
shape pre-training + fine-tuning (:func:`stage_epochs`: equal image budgets by default);
:func:`style_fidelity` scores generated images against the inner-circle counts a style
allows; :func:`stage_metrics` / :func:`evaluate_stage` give Table 1's numbers (circle
fidelity, FID, KID, diversity = :func:`mean_pairwise_distance` of Inception features;
FID/KID against the held-out part via ``reference_dir``), cached per run; the "training
data" row is :func:`held_out_floor_metrics` (training part vs held-out part: the
real-vs-real floor; :func:`real_stage_metrics` is the older in-sample version).
"""
from __future__ import annotations

import hashlib
import json
import math
import operator
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "CurationEntry",
    "CurationPlan",
    "SOURCES",
    "SelectionMismatchError",
    "auto_satisfaction",
    "auto_satisfaction_parts",
    "feature_distances",
    "image_sha256",
    "load_selections",
    "make_auto_rater",
    "make_selection_rater",
    "plan_curated_set",
    "run_curation_loop",
    "save_selections",
    "selection_for_round",
    "selections_or_auto",
    "split_counts",
    "write_curated_set",
    # paper B stages (notebooks 01 and 05)
    "EVAL_VERSION",
    "STAGES",
    "STAGE_TITLES",
    "batch_for_round",
    "cached_features",
    "curate_and_retrain",
    "evaluate_stage",
    "finetune_run",
    "held_out_floor_metrics",
    "inner_counts_of",
    "mean_pairwise_distance",
    "mix_shape_count",
    "nearest_count",
    "PixelPCAFeatures",
    "pixel_pca_features",
    "real_stage_metrics",
    "rescore",
    "shape_learning_many",
    "shape_learning_runs",
    "stage_epochs",
    "stage_metrics",
    "style_fidelity",
]

#: Provenance labels, in the order of the ratios.
SOURCES = ("generated-similar", "human-similar", "top-copy")
SELECTIONS_VERSION = 1
PROVENANCE = "provenance.json"
CURATION_LOG = "curation_log.json"


class SelectionMismatchError(ValueError):
    """Saved selections were made on different images than the ones given now."""


# --------------------------------------------------------------------------- helpers


def _as_feats(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, D), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _n_images(images: Any) -> int:
    if hasattr(images, "shape"):
        return int(images.shape[0])
    return len(images)


def _image_at(images: Any, i: int) -> Any:
    return images[i]


def feature_distances(a: np.ndarray, b: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Pairwise distances (len(a), len(b)); ``euclidean`` or ``cosine`` (1 - cos sim)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if metric == "euclidean":
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.sqrt(np.maximum(d2, 0.0))
    if metric == "cosine":
        na = np.linalg.norm(a, axis=1, keepdims=True)
        nb = np.linalg.norm(b, axis=1, keepdims=True)
        an = np.divide(a, na, out=np.zeros_like(a), where=na > 0)
        bn = np.divide(b, nb, out=np.zeros_like(b), where=nb > 0)
        return np.clip(1.0 - an @ bn.T, 0.0, 2.0)
    raise ValueError(f"unknown metric {metric!r}; use 'euclidean' or 'cosine'")


def _min_dist(cands: np.ndarray, refs: np.ndarray, metric: str, chunk: int = 2048) -> np.ndarray:
    out = np.empty(len(cands))
    for s in range(0, len(cands), chunk):
        out[s:s + chunk] = feature_distances(cands[s:s + chunk], refs, metric).min(axis=1)
    return out


def image_sha256(img: Any) -> str:
    """sha256 of an image's uint8 RGB pixels (shape included).

    A float [-1, 1] tensor and its uint8 rendering hash the same (see
    :func:`paperlib.fidelity.to_uint8_hwc`), so a gallery and a later headless run agree.
    """
    from .fidelity import to_uint8_hwc

    u = to_uint8_hwc(img)
    h = hashlib.sha256(f"{u.shape[0]}x{u.shape[1]}x{u.shape[2]}:".encode())
    h.update(np.ascontiguousarray(u).tobytes())
    return h.hexdigest()


def _atomic_write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, default=_json_default)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_default(o: Any):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# --------------------------------------------------------------------------- satisfaction


def auto_satisfaction_parts(
    gen_images: Any,
    gen_feats: Any,
    train_feats: Any,
    n_inner_expected: int | None = None,
    weight: float = 0.5,
    *,
    inner_counts: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The pieces of :func:`auto_satisfaction`: ``satisfaction``, ``fidelity``,
    ``realism``, ``nn_dist`` (arrays over generated images) and ``tau`` (float).

    ``gen_images=None`` skips the fidelity factor (``fidelity`` = 1 and satisfaction =
    realism). ``inner_counts`` (instead of ``n_inner_expected``): the inner-circle counts
    the style allows; each image is scored against the one nearest its found count
    (:func:`style_fidelity`).
    """
    if inner_counts is not None and n_inner_expected is not None:
        raise ValueError("give n_inner_expected or inner_counts, not both")
    if not 0.0 <= weight <= 1.0:
        raise ValueError("weight must be in [0, 1]")
    g = _as_feats(gen_feats, "gen_feats")
    t = _as_feats(train_feats, "train_feats")
    if len(t) == 0:
        raise ValueError("train_feats is empty")
    if g.shape[1] != t.shape[1]:
        raise ValueError(f"feature sizes differ: gen {g.shape[1]} vs train {t.shape[1]}")
    nn = _min_dist(g, t, "euclidean") if len(g) else np.zeros(0)
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
        if _n_images(gen_images) != len(g):
            raise ValueError(
                f"{_n_images(gen_images)} images but {len(g)} feature rows"
            )
        if inner_counts is not None:
            results = style_fidelity(gen_images, inner_counts)
        else:
            from .fidelity import batch_circle_fidelity

            results = batch_circle_fidelity(gen_images, n_inner_expected)
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
) -> np.ndarray:
    """Headless satisfaction score in [0, 1] per generated image (higher = better).

    ``fidelity ** weight * realism ** (1 - weight)``; see the module docstring for the
    exact definitions of fidelity (circle-fidelity score) and realism (``2 ** (-nn/tau)``).
    ``inner_counts``: see :func:`auto_satisfaction_parts`.
    """
    return auto_satisfaction_parts(gen_images, gen_feats, train_feats, n_inner_expected,
                                   weight, inner_counts=inner_counts)["satisfaction"]


# --------------------------------------------------------------------------- plan


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
    g = _as_feats(gen_feats, "gen_feats")
    h = _as_feats(human_feats, "human_feats")
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
        dist = _min_dist(g[cand], top_f, metric)
        order = np.lexsort((cand, dist))[:n_gen]
        entries += [CurationEntry(SOURCES[0], int(cand[i]), float(dist[i])) for i in order]
    if n_hum > len(h):
        raise ValueError(
            f"need {n_hum} human-similar images but the human training set has {len(h)}"
        )
    if n_hum:
        dist = _min_dist(h, top_f, metric)
        order = np.lexsort((np.arange(len(h)), dist))[:n_hum]
        entries += [CurationEntry(SOURCES[1], int(i), float(dist[i])) for i in order]
    entries += [CurationEntry(SOURCES[2], int(top[k % len(top)]), 0.0) for k in range(n_top)]
    return CurationPlan(
        size=int(size), ratios=tuple(float(r) for r in ratios),  # type: ignore[arg-type]
        counts=dict(zip(SOURCES, counts)), top_idx=top.tolist(), metric=metric,
        entries=entries,
    )


# --------------------------------------------------------------------------- writing


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
    from PIL import Image

    from .fidelity import to_uint8_hwc

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
    n_gen = _n_images(gen_images)
    human_paths = [Path(p) for p in human_paths]
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

    round_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=round_dir, prefix=".trainset.tmp-"))
    short = {"generated-similar": "gen", "human-similar": "human", "top-copy": "top"}
    try:
        files = []
        for k, e in enumerate(plan.entries):
            name = f"{k:05d}_{short[e.source]}_{e.index:05d}.png"
            rec: dict[str, Any] = {"file": name, "source": e.source, "index": e.index,
                                   "distance": e.distance, "original_path": None}
            if e.source == "human-similar":
                src = human_paths[e.index]
                rec["original_path"] = str(src.resolve())
                if src.suffix.lower() == ".png":
                    shutil.copyfile(src, tmp / name)
                else:
                    with Image.open(src) as im:
                        im.convert("RGB").save(tmp / name, format="PNG")
            else:
                arr = to_uint8_hwc(_image_at(gen_images, e.index))
                Image.fromarray(arr, mode="RGB").save(tmp / name, format="PNG")
            files.append(rec)
        prov = {
            "version": 1, "round": int(round_idx), "size": plan.size,
            "ratios": list(plan.ratios), "counts": plan.counts, "metric": plan.metric,
            "top_idx": plan.top_idx, "files": files,
        }
        _atomic_write_json(tmp / PROVENANCE, prov)
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


# --------------------------------------------------------------------------- selections


def _empty_selections() -> dict:
    return {"version": SELECTIONS_VERSION, "rounds": {}}


def load_selections(path: Any) -> dict:
    """Read a selections file: ``{"version": 1, "rounds": {"0": {"selected": [...],
    "n_shown": M, "image_hashes": [...], ...}}}``. Raises FileNotFoundError / ValueError."""
    p = Path(path)
    with open(p) as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get("version") != SELECTIONS_VERSION \
            or not isinstance(data.get("rounds"), dict):
        raise ValueError(f"{p} is not a version-{SELECTIONS_VERSION} selections file")
    for key, entry in data["rounds"].items():
        if not isinstance(entry, dict) or "selected" not in entry or "n_shown" not in entry:
            raise ValueError(f"{p}: round {key!r} lacks 'selected' / 'n_shown'")
    return data


def save_selections(
    path: Any,
    round_idx: int,
    selected_indices: Sequence[int],
    meta: dict | None = None,
    *,
    images: Any = None,
) -> dict:
    """Record a human selection for one round (other rounds in the file are kept).

    ``meta`` may give ``n_shown`` and ``image_hashes`` (sha256 per shown image, see
    :func:`image_sha256`) and any extra keys (kept as they are); or pass ``images`` (the
    shown images) and both are computed. Indices are stored sorted and unique. Writes
    atomically and returns the whole file's content.
    """
    meta = dict(meta or {})
    if images is not None:
        hashes = [image_sha256(_image_at(images, i)) for i in range(_n_images(images))]
        meta.setdefault("image_hashes", hashes)
        meta.setdefault("n_shown", len(hashes))
    if "n_shown" not in meta:
        if "image_hashes" in meta:
            meta["n_shown"] = len(meta["image_hashes"])
        else:
            raise ValueError("give meta['n_shown'] (and 'image_hashes') or images=")
    n_shown = int(meta["n_shown"])
    hashes = meta.get("image_hashes")
    if hashes is not None and len(hashes) != n_shown:
        raise ValueError(f"{len(hashes)} image hashes for n_shown={n_shown}")
    sel = sorted({int(i) for i in selected_indices})
    if any(i < 0 or i >= n_shown for i in sel):
        raise ValueError(f"selected indices out of range for {n_shown} shown images: {sel}")
    p = Path(path)
    data = load_selections(p) if p.exists() else _empty_selections()
    entry = {k: v for k, v in meta.items() if k not in ("selected", "n_shown", "image_hashes")}
    entry.update({"selected": sel, "n_shown": n_shown,
                  "image_hashes": list(hashes) if hashes is not None else None,
                  "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    data["rounds"][str(int(round_idx))] = entry
    _atomic_write_json(p, data)
    return data


def selection_for_round(path: Any, round_idx: int, images: Any = None) -> list[int] | None:
    """The saved selection for ``round_idx`` (sorted indices), or None when the file or
    the round is absent.

    With ``images``, verifies the round was made on these images: same count and, when
    hashes were stored, the same sha256 per image -- else :class:`SelectionMismatchError`
    (our decision: reusing a selection for different images would silently train on the
    wrong set, so it is an error; :func:`selections_or_auto` can turn it
    into a warning and an automatic fallback).
    """
    p = Path(path)
    if not p.exists():
        return None
    entry = load_selections(p)["rounds"].get(str(int(round_idx)))
    if entry is None:
        return None
    if images is not None:
        n = _n_images(images)
        if n != int(entry["n_shown"]):
            raise SelectionMismatchError(
                f"{p}, round {round_idx}: the selection was made on {entry['n_shown']} "
                f"images but {n} are given now"
            )
        stored = entry.get("image_hashes")
        if stored:
            now = [image_sha256(_image_at(images, i)) for i in range(n)]
            bad = [i for i, (a, b) in enumerate(zip(stored, now)) if a != b]
            if bad:
                raise SelectionMismatchError(
                    f"{p}, round {round_idx}: {len(bad)} of {n} images differ from the ones "
                    f"shown when the selection was saved (first: index {bad[0]}); the "
                    f"generator or its seed changed. Re-select, or delete round "
                    f"{round_idx} from the file to use the automatic rating."
                )
    return [int(i) for i in entry["selected"]]


def selections_or_auto(
    selections_path: Any,
    round_idx: int,
    images: Any,
    auto_scores: Any,
    top_k: int,
    on_mismatch: str = "error",
    verbose: bool = True,
    tie_break: Any = None,
) -> tuple[np.ndarray, str]:
    """Top-rated indices for a round: the saved human selection when there is one, else
    the ``top_k`` best by ``auto_scores``. Returns ``(top_idx, how)`` with ``how`` in
    ``{"human", "auto"}`` and (with ``verbose``) prints which one it used.

    The human selection is verified against ``images`` (:func:`selection_for_round`); a
    mismatch raises :class:`SelectionMismatchError` (``on_mismatch="error"``, default) or
    warns and falls back to the automatic rating (``"warn"``). An empty saved selection
    counts as none. Human picks are ordered best first by ``auto_scores`` (ties by index),
    so the top-copy part cycles through the picks the scorer also likes most.
    ``tie_break`` (one value per image, higher first) orders images with equal
    ``auto_scores`` before the index does -- e.g. the realism factor, for a batch in which
    every image has circle fidelity 0 and so satisfaction 0.
    """
    if on_mismatch not in ("error", "warn"):
        raise ValueError("on_mismatch must be 'error' or 'warn'")
    scores = np.asarray(auto_scores, dtype=np.float64).ravel()
    n = _n_images(images)
    if len(scores) != n:
        raise ValueError(f"{len(scores)} auto scores for {n} images")
    tie = (np.zeros(n) if tie_break is None
           else np.asarray(tie_break, dtype=np.float64).ravel())
    if len(tie) != n:
        raise ValueError(f"{len(tie)} tie_break values for {n} images")
    try:
        sel = selection_for_round(selections_path, round_idx, images)
    except SelectionMismatchError as err:
        if on_mismatch == "error":
            raise
        warnings.warn(f"{err} -- using the automatic rating instead", stacklevel=2)
        sel = None
    if sel:
        idx = np.asarray(sel, dtype=np.int64)
        idx = idx[np.lexsort((idx, -tie[idx], -scores[idx]))]
        how = "human"
        msg = f"round {round_idx}: using the saved human selection ({len(idx)} images)"
    else:
        if top_k < 1:
            raise ValueError("top_k must be >= 1")
        idx = np.lexsort((np.arange(n), -tie, -scores))[:top_k].astype(np.int64)
        how = "auto"
        msg = (f"round {round_idx}: no saved selection in {selections_path}; using the "
               f"top {len(idx)} by automatic satisfaction")
    if verbose:
        print(msg)
    return idx, how


def make_selection_rater(
    selections_path: Any,
    features: Callable[[Any], np.ndarray],
    train_feats: Any,
    top_k: int,
    n_inner_expected: int | None = None,
    on_mismatch: str = "error",
    *,
    inner_counts: Sequence[int] | None = None,
) -> Callable[[Any, int], tuple[np.ndarray, str]]:
    """A ``rate(images, round_idx) -> (top_idx, how)`` callable for
    :func:`run_curation_loop`: the saved human selection of that round when present,
    else the automatic top ``top_k`` (:func:`selections_or_auto`; equal satisfaction is
    broken by realism, then index)."""

    def rate(images: Any, round_idx: int, feats: Any = None) -> tuple[np.ndarray, str]:
        f = features(images) if feats is None else feats
        parts = auto_satisfaction_parts(images, f, train_feats, n_inner_expected,
                                        inner_counts=inner_counts)
        return selections_or_auto(selections_path, round_idx, images, parts["satisfaction"],
                                  top_k, on_mismatch=on_mismatch, tie_break=parts["realism"])

    rate.accepts_feats = True  # run_curation_loop passes the batch's features
    return rate


# --------------------------------------------------------------------------- loop


def make_auto_rater(
    features: Callable[[Any], np.ndarray],
    train_feats: Any,
    top_k: int,
    n_inner_expected: int | None = None,
    weight: float = 0.5,
    *,
    inner_counts: Sequence[int] | None = None,
) -> Callable[[Any, int], np.ndarray]:
    """A ``rate(images, round_idx) -> top_idx`` callable: the ``top_k`` images by
    :func:`auto_satisfaction`, best first; equal satisfaction (e.g. 0 for every image of a
    batch whose circle fidelity is 0 throughout) is broken by realism, then by index."""
    if top_k < 1:
        raise ValueError("top_k must be >= 1")

    def rate(images: Any, round_idx: int, feats: Any = None) -> np.ndarray:
        f = features(images) if feats is None else feats
        parts = auto_satisfaction_parts(images, f, train_feats, n_inner_expected, weight,
                                        inner_counts=inner_counts)
        sat = parts["satisfaction"]
        order = np.lexsort((np.arange(len(sat)), -parts["realism"], -sat))
        return order[:top_k]

    rate.accepts_feats = True  # run_curation_loop passes the batch's features
    return rate


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
    allows, for the logged fidelity (:func:`style_fidelity`). Returns the log.
    """
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    root = _safe_run_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    hf = _as_feats(human_feats, "human_feats")
    if len(human_paths) != len(hf):
        raise ValueError(f"{len(human_paths)} human paths but {len(hf)} human feature rows")
    split_counts(size, ratios)  # validate before any work
    log: dict[str, Any] = {
        "version": 1, "size": int(size), "n_generate": int(n_generate),
        "ratios": [float(r) for r in ratios], "metric": metric,
        "n_inner_expected": n_inner_expected,
        "inner_counts": list(inner_counts) if inner_counts is not None else None,
        "n_human": len(hf),
        "satisfaction": "fidelity**0.5 * realism**0.5, realism = 2**(-nn/tau) "
                        "(paperlib.curation.auto_satisfaction)",
        "rounds": [],
    }
    log_path = root / CURATION_LOG

    def batch_stats(images: Any, feats: np.ndarray) -> tuple[dict, dict]:
        parts = auto_satisfaction_parts(images, feats, hf, n_inner_expected,
                                        inner_counts=inner_counts)
        return parts, {
            "mean_satisfaction": float(np.mean(parts["satisfaction"])),
            "mean_fidelity": float(np.mean(parts["fidelity"])),
            "mean_realism": float(np.mean(parts["realism"])),
            "mean_nn_dist": float(np.mean(parts["nn_dist"])),
            "tau": parts["tau"],
        }

    for r in range(rounds):
        t0 = time.time()
        images = generate(n_generate)
        if _n_images(images) != n_generate:
            raise ValueError(f"generate({n_generate}) returned {_n_images(images)} images")
        feats = _as_feats(features(images), "features(images)")
        parts, stats = batch_stats(images, feats)
        if getattr(rate, "accepts_feats", False):
            rated = rate(images, r, feats=feats)
        else:
            rated = rate(images, r)
        how = "callable"
        if isinstance(rated, tuple) and len(rated) == 2 and isinstance(rated[1], str):
            rated, how = rated
        top = [int(i) for i in np.asarray(rated).ravel()]
        plan = plan_curated_set(feats, hf, top, size, ratios, metric)
        trainset = write_curated_set(plan, images, human_paths, root, r)
        retrain(trainset, r)
        entry = {
            "round": r, "rating": how, "n_generated": int(n_generate), "n_top": len(top),
            "top_idx": top, "counts": plan.counts, "size": plan.size,
            "trainset": str(trainset.relative_to(root)),
            **stats,
            "top_mean_satisfaction": float(np.mean(parts["satisfaction"][top])),
            "mean_distance": {
                s: (float(np.mean([e.distance for e in plan.entries if e.source == s]))
                    if plan.counts[s] else None) for s in SOURCES
            },
            "seconds": round(time.time() - t0, 3),
        }
        log["rounds"].append(entry)
        _atomic_write_json(log_path, log)
    if evaluate_final:
        images = generate(n_generate)
        feats = _as_feats(features(images), "features(images)")
        _, stats = batch_stats(images, feats)
        log["final"] = {"after_round": rounds - 1, **stats}
        _atomic_write_json(log_path, log)
    return log


# =========================================================================== paper B stages
# Helpers shared by notebooks 01 (shape learning) and 05 (curation loop, Table 1): the
# style-aware circle fidelity, the per-stage metrics (cached per run), the shape-learning
# training runs and the curation loop on real training runs. Decisions are ours (the paper
# gives no numbers); each is stated where it is made.

#: Stages of notebook 01: the artist set alone (paper B's "1st experiment"), shape learning
#: by mixing shapes into the training set, and by pre-training on shapes then fine-tuning.
STAGES = ("alone", "mix", "finetune")
STAGE_TITLES = {"alone": "artist set alone (1st experiment)",
                "mix": "shape learning: shapes mixed in",
                "finetune": "shape learning: shape pre-training + fine-tuning",
                "pretrain": "shape pre-training only (shapes, no artist images)"}
#: Bump when :func:`stage_metrics` changes (invalidates cached evaluations).
EVAL_VERSION = 2  # 2: form parts, median circularity, reference_dir


def inner_counts_of(data_dir: Any) -> tuple[int, ...] | None:
    """The inner-circle counts a data set's manifest records (``recipe.n_inner_circles``),
    sorted and unique -- e.g. ``(2, 4)`` for the ``artist_donglein`` stand-in (two pupils,
    plus two cheeks on half the faces). None when the folder has no manifest or its recipes
    record no count (the ``artist_geometric`` stand-in, a user's folder)."""
    try:
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))
        counts = {int(e["recipe"]["n_inner_circles"]) for e in manifest["images"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return tuple(sorted(counts)) or None


def nearest_count(found: int, counts: Sequence[int]) -> int:
    """The value of ``counts`` nearest ``found`` (ties: the smaller one)."""
    if not len(counts):
        raise ValueError("counts is empty")
    return int(min(counts, key=lambda c: (abs(int(c) - int(found)), int(c))))


def rescore(result: Any, n_inner_expected: int | None) -> Any:
    """A :class:`paperlib.fidelity.CircleFidelity` re-scored for another expected inner
    count, by the score formula of :mod:`paperlib.fidelity` (:func:`~paperlib.fidelity.
    score_parts`: ``main_score = c * e * f``, ``inner_score = a * q`` or NaN without an
    expected count, ``score`` their product) -- equal to running
    ``circle_fidelity(img, n_inner_expected)`` again, without the cost. ``main_score``
    does not depend on the count; ``inner_score`` and ``score`` are set anew."""
    import dataclasses

    from .fidelity import score_parts

    if n_inner_expected is not None:
        n_inner_expected = int(n_inner_expected)
        if n_inner_expected < 0:
            raise ValueError("n_inner_expected must be >= 0")
    if not result.found_main:
        return dataclasses.replace(
            result, n_inner_expected=n_inner_expected, score=0.0, main_score=0.0,
            inner_score=math.nan if n_inner_expected is None else 0.0)
    main_score, inner_score, score = score_parts(
        result.main_circularity, result.main_axis_ratio, result.main_residual,
        result.n_inner_found, result.inner_circularity, n_inner_expected)
    return dataclasses.replace(result, n_inner_expected=n_inner_expected, score=score,
                               main_score=main_score, inner_score=inner_score)


def style_fidelity(images: Any, inner_counts: Sequence[int] | None = None) -> list:
    """Circle fidelity of generated images against a *style*, not a recipe.

    A generated image has no recipe, so its expected inner count is unknown; the style
    allows a few (``inner_counts``, e.g. ``(2, 4)``: :func:`inner_counts_of`). Each image is
    scored against the allowed count nearest the count found in it (our choice), so a face
    with 2 or 4 inner circles is right and one with 3 or 0 is not; its ``n_inner_expected``
    is that count, so :func:`paperlib.fidelity.summarize`'s ``frac_inner_count_ok`` is the
    share of images whose count is one the style has. ``inner_counts=None``: the count is
    left out of the score (``n_inner_expected=None``, ``inner_score`` NaN). Each result
    reports its parts apart: ``main_score`` (the main form, whatever the count) and
    ``inner_score`` (the inner forms against that count); ``score`` is their product.
    """
    from .fidelity import batch_circle_fidelity

    results = batch_circle_fidelity(images, None)
    if inner_counts is None:
        return results
    counts = [int(c) for c in inner_counts]
    return [rescore(r, nearest_count(r.n_inner_found, counts)) for r in results]


def mean_pairwise_distance(feats: Any, max_n: int | None = 2000, seed: int = 0) -> float:
    """Diversity of a set: the mean Euclidean distance over all pairs i < j of its feature
    rows (Inception pool3 features in the notebooks; our measure). 0 for a collapsed set
    (all rows equal); NaN for fewer than 2 rows. With more than ``max_n`` rows, a seeded
    random subset of ``max_n`` rows is used."""
    f = _as_feats(feats, "feats")
    if len(f) < 2:
        return math.nan
    if max_n is not None and len(f) > max_n:
        f = f[np.sort(np.random.default_rng(seed).choice(len(f), max_n, replace=False))]
    d = feature_distances(f, f)
    iu = np.triu_indices(len(f), k=1)
    return float(d[iu].mean())


def stage_metrics(images: Any, feats: Any, real_feats: Any,
                  inner_counts: Sequence[int] | None = None, kid_seed: int = 0) -> dict:
    """Table-1 metrics of one set of images against the artist's (real) set.

    ``fidelity`` (mean :func:`style_fidelity` score), its parts ``main_score`` (main form)
    and ``inner_score`` (inner forms), ``main_circularity`` (mean) and
    ``main_circularity_median`` (the gate's statistic, :mod:`paperlib.paperb`),
    ``inner_count_ok`` (share of images with an inner count the style has; NaN without
    ``inner_counts``), ``n_inner_found`` (mean), ``found_main`` (share with a main form),
    ``fid`` and ``kid`` / ``kid_std`` (``paperlib.metrics``, features vs ``real_feats``),
    ``diversity`` (:func:`mean_pairwise_distance` of ``feats``) and ``n``.
    """
    from .fidelity import summarize
    from .metrics import fid_from_features, kid

    f = _as_feats(feats, "feats")
    r = _as_feats(real_feats, "real_feats")
    if _n_images(images) != len(f):
        raise ValueError(f"{_n_images(images)} images but {len(f)} feature rows")
    results = style_fidelity(images, inner_counts)
    s = summarize(results)
    kid_mean, kid_std = kid(r, f, seed=kid_seed)
    return {
        "n": int(len(f)), "fidelity": s["score"], "main_score": s["main_score"],
        "inner_score": s["inner_score"], "main_circularity": s["main_circularity"],
        "main_circularity_median": float(np.median([x.main_circularity for x in results]))
        if results else math.nan,
        "inner_count_ok": s["frac_inner_count_ok"], "n_inner_found": s["n_inner_found"],
        "found_main": s["frac_found_main"], "fid": fid_from_features(r, f),
        "kid": float(kid_mean), "kid_std": float(kid_std),
        "diversity": mean_pairwise_distance(f),
    }


def evaluate_stage(run_dir: Any, artist_dir: Any, n: int,
                   inner_counts: Sequence[int] | None = None, seed: int = 0,
                   extractor: Any = None, epoch: int | None = None, cache_dir: Any = None,
                   use_cache: bool = True, reference_dir: Any = None) -> dict:
    """:func:`stage_metrics` of ``n`` images sampled (``seed``) from a training run's
    checkpoint (the latest by default) against the artist set ``artist_dir`` -- or, given
    ``reference_dir`` (notebooks 01/05: the artist's held-out part,
    :func:`paperlib.data.split_held_out`), against that folder for FID/KID.

    The result is cached as JSON in ``run_dir/eval/``, keyed by the checkpoint's sha256, n,
    seed, inner counts, the artist set's and the reference folder's identities
    (:func:`paperlib.data.manifest_hash`) and the feature extractor, so notebook 05 gets
    notebook 01's numbers for free and a held-out evaluation never returns an in-sample
    one. Real-set features come from
    :func:`paperlib.metrics.real_features` (cached there). Adds ``epoch`` and ``run``.
    """
    from .data import manifest_hash
    from .metrics import real_features
    from .train import load_run

    def compute(epoch: int, extractor) -> dict:
        run = load_run(run_dir, epoch=epoch)
        ref_dir = artist_dir if reference_dir is None else reference_dir
        real_f = real_features(ref_dir, int(run.config.res), extractor, cache_dir=cache_dir)
        images = run.sample(int(n), seed=int(seed))
        return stage_metrics(images, extractor(images), real_f, inner_counts, kid_seed=int(seed))

    return cached_run_eval(run_dir, "paperb", {
        "n": int(n), "seed": int(seed),
        "inner_counts": None if inner_counts is None else [int(c) for c in inner_counts],
        "artist": manifest_hash(artist_dir),
        "reference": None if reference_dir is None else manifest_hash(reference_dir)},
        compute, extractor=extractor, epoch=epoch, use_cache=use_cache)


def cached_run_eval(run_dir: Any, prefix: str, key: dict, compute: Any, extractor: Any = None,
                    epoch: int | None = None, use_cache: bool = True) -> dict:
    """``compute(epoch, extractor)`` for a run's checkpoint (the latest by default), cached
    as JSON at ``run_dir/eval/<prefix>_<hash>.json``; the hash covers ``key``, the
    checkpoint's sha256, the feature extractor and :data:`EVAL_VERSION`. Adds ``epoch`` and
    ``run``. An unreadable cache file is recomputed."""
    from .data import file_sha256
    from .metrics import get_extractor
    from .train import list_checkpoints

    run_dir = Path(run_dir)
    ckpts = dict(list_checkpoints(run_dir))
    if not ckpts:
        raise FileNotFoundError(f"no checkpoints in {run_dir / 'checkpoints'}")
    epoch = max(ckpts) if epoch is None else int(epoch)
    if epoch not in ckpts:
        raise ValueError(f"{run_dir} has no checkpoint for epoch {epoch}; has {sorted(ckpts)}")
    extractor = extractor or get_extractor()
    blob = json.dumps({"ckpt": file_sha256(ckpts[epoch]), **key,
                       "extractor": getattr(extractor, "key", type(extractor).__name__),
                       "version": EVAL_VERSION}, sort_keys=True)
    path = run_dir / "eval" / f"{prefix}_{hashlib.sha256(blob.encode()).hexdigest()[:20]}.json"
    if use_cache and path.is_file():
        try:
            return json.loads(path.read_text())
        except ValueError:
            pass
    out = compute(epoch, extractor)
    out.update(epoch=int(epoch), run=run_dir.name)
    _atomic_write_json(path, out)
    return out


def _real_sample_metrics(sample_dir: Any, reference_dir: Any, n: int, res: int,
                         inner_counts: Sequence[int] | None, seed: int, extractor: Any,
                         cache_dir: Any) -> dict:
    """:func:`stage_metrics` of ``n`` real images drawn (``seed``) from ``sample_dir``
    against the features of ``reference_dir`` (the same folder or another)."""
    from .data import load_folder
    from .metrics import get_extractor, real_features

    extractor = extractor or get_extractor()
    sample_f = real_features(sample_dir, int(res), extractor, cache_dir=cache_dir)
    ref_f = real_features(reference_dir, int(res), extractor, cache_dir=cache_dir)
    loaded = load_folder(sample_dir, int(res))
    if len(loaded) != len(sample_f):
        raise ValueError(f"{sample_dir}: {len(loaded)} images but {len(sample_f)} cached features")
    k = min(int(n), len(sample_f))
    idx = np.sort(np.random.default_rng(seed).choice(len(sample_f), k, replace=False))
    out = stage_metrics(loaded.images[idx], sample_f[idx], ref_f, inner_counts, kid_seed=seed)
    out.update(epoch=None, n_reference=int(len(ref_f)))
    return out


def real_stage_metrics(artist_dir: Any, n: int, res: int,
                       inner_counts: Sequence[int] | None = None, seed: int = 0,
                       extractor: Any = None, cache_dir: Any = None) -> dict:
    """The "training data" column: :func:`stage_metrics` of ``n`` images drawn (``seed``)
    from the artist set itself, against the whole set. Its fidelity is the ceiling the
    measure reaches on this set at ``res``; its FID/KID the floor a perfect generator would
    get with ``n`` samples (a subset scored against the set it comes from). That reference
    contains the scored images themselves (an in-sample floor, too low); Table 1 uses
    :func:`held_out_floor_metrics` instead."""
    out = _real_sample_metrics(artist_dir, artist_dir, n, res, inner_counts, seed, extractor,
                               cache_dir)
    out.update(run="training data")
    return out


def held_out_floor_metrics(train_dir: Any, held_out_dir: Any, n: int, res: int,
                           inner_counts: Sequence[int] | None = None, seed: int = 0,
                           extractor: Any = None, cache_dir: Any = None) -> dict:
    """Table 1's "training data" column as a held-out floor: :func:`stage_metrics` of ``n``
    images drawn (``seed``) from the **training part** against the **held-out part** (two
    disjoint sets of real images; :func:`paperlib.data.split_held_out`). Its FID/KID are
    what a generator that reproduced its training data would score against the held-out
    part with ``n`` samples; its form scores are the ceiling of the fidelity measure."""
    out = _real_sample_metrics(train_dir, held_out_dir, n, res, inner_counts, seed, extractor,
                               cache_dir)
    out.update(run="training data (held-out floor)")
    return out


class PixelPCAFeatures:
    """Selection features for the curation loop that are *not* FID's: images area-downsampled
    to ``res`` x ``res`` RGB, flattened, centred and projected on the first ``dim``
    principal components of the **artist's training part** (numpy SVD; each component's
    sign fixed so its largest coefficient is positive), divided by the component's
    standard deviation on that set (whitened: every direction counts alike). ``dim`` is
    capped at ``n - 1`` for ``n`` fitting images and at the directions they vary along.
    Calling it on a tensor (N, 3, H, W) in [-1, 1] (or uint8 in [0, 255], as
    :func:`cached_features` passes) returns float64 (N, dim).

    Why this and not the Inception features: FID, KID and diversity are measured in
    Inception features, so selecting in them would let the selection optimise the metric
    that judges it; pixel PCA is fitted only on the training part (never the held-out
    part), deterministic, needs no download and costs nothing on a CPU. ``key`` (a hash of
    the fitted components) names it in caches."""

    def __init__(self, fit_images: Any, dim: int = 32, res: int = 16):
        if int(dim) < 1 or int(res) < 1:
            raise ValueError(f"dim and res must be >= 1, got dim={dim!r}, res={res!r}")
        x = self._flat(fit_images, res)
        if len(x) < 2:
            raise ValueError("pixel PCA needs at least 2 images to fit")
        self.res = int(res)
        self.mean = x.mean(axis=0)
        _, sv, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        # at most n - 1 components, and none the fitting set does not vary along (whitening
        # would blow rounding noise up to unit variance there)
        rank = int(np.sum(sv > 1e-9 * sv[0])) if sv.size and sv[0] > 0 else 0
        self.dim = int(min(dim, len(x) - 1, rank))
        if self.dim < 1:
            raise ValueError("pixel PCA needs fitting images that differ; these are all equal")
        comps = vt[:self.dim]
        signs = np.sign(comps[np.arange(self.dim), np.abs(comps).argmax(axis=1)])
        self.components = comps * signs[:, None]
        self.scale = sv[:self.dim] / math.sqrt(len(x) - 1) + 1e-12
        h = hashlib.sha256(self.components.tobytes() + self.mean.tobytes())
        self.key = f"pixel-pca-{self.res}-{self.dim}-{h.hexdigest()[:16]}"

    @staticmethod
    def _flat(images: Any, res: int) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        t = (images.detach().cpu() if isinstance(images, torch.Tensor)
             else torch.as_tensor(np.asarray(images)))
        if t.dtype == torch.uint8:
            t = t.float() / 127.5 - 1.0
        t = t.float()
        if t.ndim != 4 or t.shape[1] != 3:
            raise ValueError(f"expected images (N, 3, H, W), got {tuple(t.shape)}")
        return F.adaptive_avg_pool2d(t, res).flatten(1).double().numpy()

    def __call__(self, images: Any) -> np.ndarray:
        return ((self._flat(images, self.res) - self.mean) @ self.components.T) / self.scale


def pixel_pca_features(fit_images: Any, dim: int = 32, res: int = 16) -> PixelPCAFeatures:
    """:class:`PixelPCAFeatures` fitted on ``fit_images`` (the artist's training part)."""
    return PixelPCAFeatures(fit_images, dim, res)


def cached_features(extractor: Callable[[Any], np.ndarray], cache_dir: Any
                    ) -> Callable[[Any], np.ndarray]:
    """Wrap a feature extractor with a disk cache keyed by the images' uint8 pixels (and
    the extractor's ``key``): a rerun of the curation loop embeds nothing twice."""
    cache_dir = Path(cache_dir)
    name = getattr(extractor, "key", type(extractor).__name__)

    def features(images: Any) -> np.ndarray:
        from .metrics import images_to_uint8

        u8 = images_to_uint8(images).contiguous()
        h = hashlib.sha256(f"{name}|{tuple(u8.shape)}|".encode())
        h.update(u8.numpy().tobytes())
        path = cache_dir / f"feats_{h.hexdigest()[:24]}.npy"
        if path.is_file():
            try:
                return np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                pass
        out = np.asarray(extractor(u8), dtype=np.float64)
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".feats.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, out, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return out

    features.extractor = extractor
    return features


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
                 pretrain_frac: float = 0.5, budget: str = "images") -> dict[str, int]:
    """Epochs per stage. ``budget="images"`` (default, our choice): every stage sees the
    same number of training images as ``epochs`` epochs of the artist set alone (as
    StyleGAN2-ADA, paper B's model, counts training length in images, not epochs), so a
    stage is not better merely for training longer: mix ``round(E * n_artist / n_mix)``;
    pre-training ``round(frac * E * n_artist / n_shapes)`` on the shapes, fine-tuning
    ``round((1 - frac) * E)`` on the artist set. ``budget="epochs"``: ``epochs`` epochs on
    each stage's own set; pre-training ``round(frac * E)``, fine-tuning the rest. Every
    value is at least 1."""
    if not 0.0 < float(pretrain_frac) < 1.0:
        raise ValueError(f"pretrain_frac must be in (0, 1), got {pretrain_frac!r}")
    if budget == "images":
        total = epochs * n_artist
        out = {"alone": epochs, "mix": total / n_mix,
               "pretrain": pretrain_frac * total / n_shapes,
               "finetune": (1.0 - pretrain_frac) * epochs}
    elif budget == "epochs":
        out = {"alone": epochs, "mix": epochs, "pretrain": pretrain_frac * epochs,
               "finetune": (1.0 - pretrain_frac) * epochs}
    else:
        raise ValueError(f"budget must be 'images' or 'epochs', got {budget!r}")
    return {k: max(1, int(round(v))) for k, v in out.items()}


def stage_kimg(profile: Any, model: str) -> float:
    """Images shown (thousands) in paper B's artist-alone stage: the profile's ``sg_kimg``
    for StyleGAN2, its ``shape_kimg`` for the DCGAN fast option (both from the convergence
    calibration)."""
    from .config import get_profile

    prof = get_profile(profile)
    return prof.sg_kimg if model == "stylegan2" else prof.shape_kimg


def shape_learning_runs(profile: Any, artist_dir: Any, shapes_dir: Any, seed: int,
                        root: Any, stages: Sequence[str] = STAGES, **kwargs) -> dict:
    """One artist and seed of :func:`shape_learning_many`: stage -> ``RunResult``."""
    name = Path(artist_dir).name
    return shape_learning_many(profile, {name: artist_dir}, shapes_dir, (seed,), root,
                               stages=stages, **kwargs)[name, seed]


def shape_learning_many(profile: Any, artist_dirs: dict, shapes_dir: Any,
                        seeds: Sequence[int], root: Any, stages: Sequence[str] = STAGES,
                        shape_ratio: float = 0.5, pretrain_frac: float = 0.5,
                        budget: str = "images", augment: str = "none", mixes_dir: Any = None,
                        model: str = "dcgan", config: str = "paper",
                        epochs: int | None = None, scheduler: str | None = None,
                        progress: bool = True) -> dict:
    """Paper B's shape learning as cached training runs under ``root``, for every artist
    (``{name: folder}``) and seed, trained side by side (:mod:`paperlib.parallel`); returns
    ``{(name, seed): {stage: RunResult}}`` for the requested ``stages``:

    * ``alone``: the artist set alone, ``epochs`` epochs (default: the profile's
      ``shape_kimg`` images shown, :func:`paperlib.train.epochs_for_kimg`).
    * ``mix``: the artist set with shape images mixed in so they make up ``shape_ratio``
      of the set (:func:`mix_shape_count`; built once with
      :func:`paperlib.data.build_mixed_set` under ``mixes_dir``, default
      ``data/<profile>/mixes/``, mix seed 0 for every training seed).
    * ``finetune``: pre-training on the shape set (also returned as ``pretrain``; one run
      per seed, shared by every artist with the same budget), then fine-tuning on the
      artist set starting from the pre-training's last checkpoint (``init_from``).

    Epochs per stage: :func:`stage_epochs`. ``augment`` (none | diffaugment | ada) applies
    to every requested run. All runs that do not depend on another are submitted at once
    (the fine-tunings once their pre-trainings are done). Same arguments -> same runs, so
    calling this again (notebook 05 does) trains nothing.
    """
    from .config import data_dir, get_profile
    from .data import build_mixed_set, image_files, manifest_hash
    from .parallel import train_many
    from .train import epochs_for_kimg, list_checkpoints, profile_config

    prof = get_profile(profile)
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; valid: {STAGES}")
    shapes_dir, root = Path(shapes_dir), Path(root)
    n_shapes = len(image_files(shapes_dir))
    plans = {}
    for name, artist_dir in artist_dirs.items():
        artist_dir = Path(artist_dir)
        n_artist = len(image_files(artist_dir))
        if n_artist == 0:
            raise FileNotFoundError(f"no images in {artist_dir}")
        k = mix_shape_count(n_artist, shape_ratio, n_shapes) if "mix" in stages else 0
        ep = stage_epochs(int(epochs or epochs_for_kimg(stage_kimg(prof, model), n_artist)), n_artist,
                          n_artist + k, n_shapes, pretrain_frac, budget)
        mix_dir = None
        if "mix" in stages:
            mixes = Path(mixes_dir) if mixes_dir is not None else data_dir(prof) / "mixes"
            mix_dir = mixes / (f"{artist_dir.name}-{manifest_hash(artist_dir)[:8]}+shapes-"
                               f"{manifest_hash(shapes_dir)[:8]}-r{shape_ratio:.3f}")
            build_mixed_set(mix_dir, {"artist": (artist_dir, None), "shapes": (shapes_dir, k)},
                            res=prof.res, seed=0)
        plans[name] = (artist_dir, ep, mix_dir)

    def job(data, n_epochs, seed, **kw):
        cfg = profile_config(prof, model, config, seed, epochs=n_epochs, augment=augment, **kw)
        return (cfg, data, root)

    first: dict = {}  # (name, seed, stage) -> job; identical jobs (a shared pre-training) once
    for name, (artist_dir, ep, mix_dir) in plans.items():
        for s in seeds:
            if "alone" in stages:
                first[name, s, "alone"] = job(artist_dir, ep["alone"], s)
            if "mix" in stages:
                first[name, s, "mix"] = job(mix_dir, ep["mix"], s)
            if "finetune" in stages:
                first[name, s, "pretrain"] = job(shapes_dir, ep["pretrain"], s)
    unique = list({(repr(j[0]), str(j[1])): j for j in first.values()}.values())
    done = dict(zip([(repr(j[0]), str(j[1])) for j in unique],
                    train_many(unique, scheduler, desc="shape learning", progress=progress)))
    out: dict = {(name, s): {} for name in plans for s in seeds}
    for (name, s, stage), j in first.items():
        out[name, s][stage] = done[repr(j[0]), str(j[1])]
    if "finetune" in stages:
        second = {}
        for name, (artist_dir, ep, _) in plans.items():
            for s in seeds:
                pre = out[name, s]["pretrain"]
                ckpts = dict(list_checkpoints(pre.run_dir))
                if pre.diverged or not ckpts:
                    raise RuntimeError(f"shape pre-training {pre.run_dir} ended '{pre.status}'")
                start = ckpts.get(ep["pretrain"], ckpts[max(ckpts)])
                second[name, s] = job(artist_dir, ep["finetune"], s, init_from=str(start))
        for key, res in zip(second, train_many(list(second.values()), scheduler,
                                               desc="shape learning: fine-tuning",
                                               progress=progress)):
            out[key]["finetune"] = res
    return out


def finetune_run(start_run: Any, data_dir: Any, root: Any, epochs: int,
                 progress: bool = False) -> Any:
    """Fine-tune a run on ``data_dir`` for ``epochs`` epochs: the start run's config with
    ``init_from`` its last checkpoint, as a cached run under ``root`` (``train_cached``).
    Used for every curation round, and for notebook 05's control (the same extra training
    on the artist set without curation). Raises ``RuntimeError`` when the start run has no
    checkpoint or the new run diverges."""
    from .train import list_checkpoints, make_config, train_cached

    start_run = Path(start_run)
    ckpts = list_checkpoints(start_run)
    if not ckpts:
        raise RuntimeError(f"{start_run} has no checkpoint to fine-tune from")
    saved = json.loads((start_run / "config.json").read_text())["config"]
    cfg = make_config(**{**saved, "epochs": int(epochs), "init_from": str(ckpts[-1][1]),
                         "device": "auto", "inject_nan_at_epoch": None})
    res = train_cached(cfg, data_dir, root, progress=progress)
    if res.diverged:
        raise RuntimeError(f"fine-tuning {res.run_dir} {res.status}")
    return res


def curate_and_retrain(start_run: Any, human_dir: Any, run_dir: Any, root: Any,
                       features: Callable[[Any], np.ndarray], rate: Callable, *,
                       rounds: int, size: int, n_generate: int, epochs: int,
                       human_feats: Any = None, inner_counts: Sequence[int] | None = None,
                       gen_seed: int = 1000, ratios: Sequence[float] = (0.6, 0.3, 0.1),
                       progress: bool = False) -> dict:
    """:func:`run_curation_loop` on real training runs (notebook 05).

    Round r generates ``n_generate`` images from the current model (``start_run`` for
    round 0, else round r-1's run; sampling seed ``gen_seed + r``), rates them, writes the
    60/30/10 set under ``run_dir/round_r/trainset`` and fine-tunes the current model on it
    for ``epochs`` epochs (``init_from`` its last checkpoint, the start run's config
    otherwise; a cached run under ``root``, keyed by the curated images). ``human_dir`` is
    the human-made training set (the artist set); ``human_feats`` its features in the
    order of ``paperlib.data.load_folder`` (computed with ``features`` when None).

    Returns ``{"log", "models" (start run + one run folder per round), "runs"
    (RunResult per round), "gen_seed"}``; :func:`batch_for_round` regenerates any round's
    batch (e.g. for the selection gallery).
    """
    from .data import load_folder
    from .train import load_run

    start_run = Path(start_run)
    saved = json.loads((start_run / "config.json").read_text())["config"]
    human = load_folder(human_dir, int(saved["res"]))
    hf = features(human.images) if human_feats is None else human_feats
    models: list[Path] = [start_run]
    runs: list = []

    def generate(n: int) -> Any:
        return load_run(models[-1]).sample(n, seed=gen_seed + len(runs))

    def retrain(trainset: Path, r: int) -> None:
        res = finetune_run(models[-1], trainset, root, epochs, progress=progress)
        runs.append(res)
        models.append(Path(res.run_dir))

    log = run_curation_loop(generate, retrain, features, rate, hf, human.paths, run_dir,
                            rounds=rounds, size=size, n_generate=n_generate, ratios=ratios,
                            evaluate_final=False, inner_counts=inner_counts)
    return {"log": log, "models": models, "runs": runs, "gen_seed": int(gen_seed)}


def batch_for_round(result: dict, round_idx: int, n: int) -> Any:
    """The batch round ``round_idx`` of :func:`curate_and_retrain` generated (the same
    images, regenerated from the model that round started from)."""
    from .train import load_run

    models = result["models"]
    if not 0 <= round_idx < len(models):
        raise ValueError(f"round {round_idx} out of range (0..{len(models) - 1})")
    return load_run(models[round_idx]).sample(int(n), seed=result["gen_seed"] + round_idx)
