"""Human selections for the curation loop: the selections JSON (load, save, per round), and the
raters that turn a selection or the automatic satisfaction into the images the next round
keeps."""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..utils.io import atomic_write_json
from .curation import RATER_LABELS, auto_satisfaction_parts
from .selection_features import image_at, image_sha256, n_images

SELECTIONS_VERSION = 1


class SelectionMismatchError(ValueError):
    """Saved selections were made on different images than the ones given now."""


def _empty_selections() -> dict:
    return {"version": SELECTIONS_VERSION, "rounds": {}}


def load_selections(path: Any) -> dict:
    """Read a selections file: ``{"version": 1, "rounds": {"0": {"selected": [...],
    "n_shown": M, "image_hashes": [...], ...}}}``. Raises FileNotFoundError, or ValueError
    naming the round for a malformed file or round (:func:`check_round_entry`)."""
    p = Path(path)
    with open(p) as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get("version") != SELECTIONS_VERSION \
            or not isinstance(data.get("rounds"), dict):
        raise ValueError(f"{p} is not a version-{SELECTIONS_VERSION} selections file")
    for key, entry in data["rounds"].items():
        check_round_entry(entry, f"{p}: round {key!r}")
        if not key.isdigit():
            raise ValueError(f"{p}: round {key!r}: a round key is its number, e.g. \"0\"")
    return data


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_round_entry(entry: Any, where: str = "selection") -> None:
    """``ValueError`` (starting with ``where``) unless ``entry`` has ``n_shown`` >= 1,
    ``selected`` distinct integer indices in ``0 .. n_shown - 1`` and, when given,
    ``n_shown`` ``image_hashes``."""
    if not isinstance(entry, dict) or "selected" not in entry or "n_shown" not in entry:
        raise ValueError(f"{where} lacks 'selected' / 'n_shown'")
    n, sel = entry["n_shown"], entry["selected"]
    if not _is_int(n) or n < 1:
        raise ValueError(f"{where}: n_shown must be a positive integer, got {n!r}")
    if not isinstance(sel, list) or not all(_is_int(i) for i in sel):
        raise ValueError(f"{where}: 'selected' must be a list of integer image indices, "
                         f"got {sel!r}")
    out = sorted({i for i in sel if not 0 <= i < n})
    if out:
        raise ValueError(f"{where}: selected index(es) {out} out of range: the round showed "
                         f"{n} images, numbered 0 to {n - 1}")
    dups = sorted({i for i in sel if sel.count(i) > 1})
    if dups:
        raise ValueError(f"{where}: index(es) {dups} selected more than once")
    hashes = entry.get("image_hashes")
    if hashes is not None and (not isinstance(hashes, list) or len(hashes) != n):
        raise ValueError(f"{where}: image_hashes must list one hash per shown image "
                         f"({n}), got {len(hashes) if isinstance(hashes, list) else hashes!r}")


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
        hashes = [image_sha256(image_at(images, i)) for i in range(n_images(images))]
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
    atomic_write_json(p, data)
    return data


def selection_for_round(path: Any, round_idx: int, images: Any = None) -> list[int] | None:
    """The saved selection for ``round_idx`` (sorted indices), or None when the file, path or
    round is absent. With ``images``, a different count or sha256 raises
    :class:`SelectionMismatchError`."""
    if path is None:
        return None
    p = Path(path)
    if not p.exists():
        return None
    entry = load_selections(p)["rounds"].get(str(int(round_idx)))
    if entry is None:
        return None
    if images is not None:
        n = n_images(images)
        if n != int(entry["n_shown"]):
            raise SelectionMismatchError(
                f"{p}, round {round_idx}: the selection was made on {entry['n_shown']} "
                f"images but {n} are given now"
            )
        stored = entry.get("image_hashes")
        if stored:
            now = [image_sha256(image_at(images, i)) for i in range(n)]
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
    """Top-rated indices for a round: the saved human selection (verified against
    ``images``), else the ``top_k`` best by ``auto_scores``; returns ``(top_idx, how)``,
    ``how`` "human" or "auto". Picks are ordered by ``auto_scores``, then ``tie_break``
    (higher first), then index. ``on_mismatch="warn"`` falls back to auto with a warning.
    """
    if on_mismatch not in ("error", "warn"):
        raise ValueError("on_mismatch must be 'error' or 'warn'")
    scores = np.asarray(auto_scores, dtype=np.float64).ravel()
    n = n_images(images)
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
        msg = (f"round {round_idx}: no saved selection"
               f"{'' if selections_path is None else f' in {selections_path}'}; using the "
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
    form: Any = None,
) -> Callable[[Any, int], tuple[np.ndarray, str]]:
    """A ``rate(images, round_idx) -> (top_idx, how)`` for
    :func:`paperlib.paper_b.run_curation_loop` (:func:`selections_or_auto`; ties by realism,
    then index). ``form``: see :func:`paperlib.paper_b.auto_satisfaction_parts`."""

    def rate(images: Any, round_idx: int, feats: Any = None) -> tuple[np.ndarray, str]:
        f = features(images) if feats is None else feats
        parts = auto_satisfaction_parts(images, f, train_feats, n_inner_expected,
                                        inner_counts=inner_counts, form=form)
        return selections_or_auto(selections_path, round_idx, images, parts["satisfaction"],
                                  top_k, on_mismatch=on_mismatch, tie_break=parts["realism"])

    rate.accepts_feats = True  # run_curation_loop passes the batch's features
    rate.rater = (f"{RATER_LABELS['human']}, else {RATER_LABELS['auto']}"
                  if selections_path is not None else RATER_LABELS["auto"])
    return rate


def make_auto_rater(
    features: Callable[[Any], np.ndarray],
    train_feats: Any,
    top_k: int,
    n_inner_expected: int | None = None,
    weight: float = 0.5,
    *,
    inner_counts: Sequence[int] | None = None,
    form: Any = None,
) -> Callable[[Any, int], np.ndarray]:
    """A ``rate(images, round_idx) -> top_idx``: the ``top_k`` by
    :func:`paperlib.paper_b.auto_satisfaction`, ties by realism, then index."""
    if top_k < 1:
        raise ValueError("top_k must be >= 1")

    def rate(images: Any, round_idx: int, feats: Any = None) -> np.ndarray:
        f = features(images) if feats is None else feats
        parts = auto_satisfaction_parts(images, f, train_feats, n_inner_expected, weight,
                                        inner_counts=inner_counts, form=form)
        sat = parts["satisfaction"]
        order = np.lexsort((np.arange(len(sat)), -parts["realism"], -sat))
        return order[:top_k]

    rate.accepts_feats = True  # run_curation_loop passes the batch's features
    rate.rater = RATER_LABELS["auto"]
    return rate


def random_top_idx(n: int, top_k: int, seed: int, round_idx: int) -> np.ndarray:
    """``top_k`` distinct indices of ``n`` drawn at random from ``(seed, round_idx)`` (the
    random-selection control's "top-rated" images; the same pair draws the same)."""
    for name, v in (("n", n), ("top_k", top_k), ("seed", seed), ("round_idx", round_idx)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    if not 1 <= top_k <= n:
        raise ValueError(f"top_k must be in 1..{n} (the batch), got {top_k}")
    rng = np.random.default_rng([int(seed), int(round_idx)])
    return rng.choice(int(n), int(top_k), replace=False).astype(np.int64)


def make_random_rater(top_k: int, seed: int) -> Callable[[Any, int], tuple[np.ndarray, str]]:
    """A ``rate(images, round_idx) -> (top_idx, "random")`` for
    :func:`paperlib.paper_b.run_curation_loop`: :func:`random_top_idx` of the batch from
    ``seed`` and the round, in place of any rating (the control that separates selecting
    images from retraining on the model's own samples)."""
    for name, v in (("top_k", top_k), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (name == "top_k"):
            raise ValueError(f"{name} must be a {'positive' if name == 'top_k' else 'non-negative'}"
                             f" integer, got {v!r}")

    def rate(images: Any, round_idx: int) -> tuple[np.ndarray, str]:
        return random_top_idx(n_images(images), int(top_k), int(seed), int(round_idx)), "random"

    rate.rater = RATER_LABELS["random"]
    return rate
