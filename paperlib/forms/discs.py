"""Disc forms: the round colour regions of a flat-colour composition (paper B's
``artist_geometric`` stand-in: planes, discs and rings in a few flat colours). Our measure.

A composition has no main form (its planes run to the frame), so this finder segments the
image into its flat colours instead: smoothing (``smooth_sigma`` px), a palette by mean
shift (:func:`palette`; noise and texture have none), regions (8-connected, holes filled,
not touching the border) of each palette colour's soft coverage, the shape of each region
(:func:`~paperlib.forms.shape.form_shape`) with ``flat`` (share of its core near its
palette colour) and ``arc`` (:func:`arc_coverage`). :func:`disc_score` scores an image by
its best region (``arc * flat``). Numpy + scipy only.
(the pipeline in detail, measurements: docs/DECISIONS.md, "Form measure (more)")
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ..utils.images import to_rgb01
from .fidelity import score_parts
from .fits import fit_circle
from .shape import form_shape, iso_contour

_EIGHT = np.ones((3, 3), dtype=bool)

#: Mean-shift steps of the palette search.
_SHIFT_STEPS = 6


def palette(x: np.ndarray, bandwidth: float = 0.15, min_frac: float = 0.01) -> np.ndarray:
    """The flat colours of an RGB [0, 1] image (mean shift, module docstring): a
    ``(k, 3)`` array, most common first; ``(0, 3)`` when no colour gathers ``min_frac`` of
    the pixels (noise, a texture)."""
    px = x.reshape(-1, 3)
    # quantise first (1/16 steps: a bin's diagonal, 0.11, is under the bandwidth); the
    # modes start from the bins holding a quarter of min_frac's pixels or more
    q, counts = np.unique(np.round(px * 16.0) / 16.0, axis=0, return_counts=True)
    w = counts.astype(np.float64)
    seeds = w >= max(2.0, 0.25 * min_frac * len(px))
    modes, w_modes = q[seeds], w[seeds]
    if len(modes) == 0:
        return np.zeros((0, 3))
    for _ in range(_SHIFT_STEPS):
        d2 = ((modes[:, None, :] - q[None, :, :]) ** 2).sum(-1)
        k = (d2 <= bandwidth * bandwidth) * w[None, :]
        modes = (k @ q) / k.sum(axis=1, keepdims=True)
    w = w_modes
    # merge modes closer than the bandwidth, heaviest seed first
    order = np.argsort(-w)
    centres: list[np.ndarray] = []
    weights: list[float] = []
    for i in order:
        for j, c in enumerate(centres):
            if np.sqrt(((modes[i] - c) ** 2).sum()) < bandwidth:
                weights[j] += w[i]
                break
        else:
            centres.append(modes[i])
            weights.append(w[i])
    if not centres:
        return np.zeros((0, 3))
    # a colour's support: the pixels within the bandwidth of it
    c = np.asarray(centres)
    support = (((c[:, None, :] - q[None, :, :]) ** 2).sum(-1) <= bandwidth * bandwidth) @ \
        np.asarray(counts, dtype=np.float64)
    keep = [j for j in np.argsort(-support, kind="stable") if support[j] >= min_frac * len(px)]
    return c[keep].reshape(-1, 3)


def disc_forms(x: np.ndarray, *, smooth_sigma: float = 0.7, bandwidth: float = 0.15,
               min_frac: float = 0.01, min_r_frac: float = 0.06) -> list[dict]:
    """Every closed colour region of an RGB [0, 1] ``(H, W, 3)`` image: a list of
    :func:`~paperlib.forms.shape.form_shape` dicts plus ``color``, ``flat`` and
    :func:`arc_coverage`'s keys; empty without a palette or a closed region. Raises
    ``ValueError`` for a non-``(H, W, 3)`` array or a bad ``bandwidth`` / ``min_frac``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {x.shape}")
    if not (bandwidth > 0.0 and 0.0 < min_frac < 1.0):
        raise ValueError("bandwidth must be > 0 and min_frac in (0, 1)")
    H, W, _ = x.shape
    xs = ndi.gaussian_filter(x, (smooth_sigma, smooth_sigma, 0), mode="nearest") \
        if smooth_sigma > 0 else x
    pal = palette(xs, bandwidth, min_frac)
    if len(pal) < 2:
        return []          # one flat colour (or none): nothing is drawn on anything
    d = np.sqrt(((xs[:, :, None, :] - pal[None, None, :, :]) ** 2).sum(-1))   # (H, W, k)
    min_area = min_frac * H * W
    forms = []
    for k in range(len(pal)):
        d_other = np.delete(d, k, axis=2).min(axis=2)
        s = d_other / np.maximum(d[:, :, k] + d_other, 1e-12)
        lab, n = ndi.label(s >= 0.5, structure=_EIGHT)
        if n == 0:
            continue
        touches = set(np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])))
        for idx, sl in enumerate(ndi.find_objects(lab), start=1):
            if idx in touches:
                continue
            own = lab == idx
            region = ndi.binary_fill_holes(own)
            if region.sum() < min_area:
                continue
            core = ndi.binary_erosion(own)
            core = core if core.any() else own
            flat = float(np.mean(d[:, :, k][core] <= 0.5 * bandwidth))
            others = (lab > 0) & ~region
            near = ndi.binary_dilation(region, iterations=2)
            sm = np.where(near & ~others, s, 0.0)
            sm[region] = np.maximum(sm[region], 0.5)
            sm[ndi.binary_erosion(region)] = 1.0
            shape = form_shape(sm, contour_area=True)
            _, pts = iso_contour(np.pad(sm, 1), 0.5)
            shape.update(color=[float(v) for v in pal[k]], flat=flat,
                         **arc_coverage(pts - 1.0, region, min_r=min_r_frac * max(H, W),
                                        max_r=0.5 * max(H, W)))
            forms.append(shape)
    return forms


#: RANSAC draws of :func:`arc_coverage` (fixed seed: the measure is deterministic).
_N_DRAWS = 160

#: An edge point lies on the circle within _TOL_PX + _TOL_FRAC * r px.
_TOL_PX, _TOL_FRAC = 0.3, 0.03


def arc_coverage(points: np.ndarray, region: np.ndarray, min_r: float, max_r: float,
                 seed: int = 0) -> dict:
    """How much of a circle a region's edge draws: ``{"arc": share of the circumference,
    "arc_cx", "arc_cy", "arc_r"}``.

    ``points``: the (x, y) crossings of the region's contour (pixel (i, j) at x = j,
    y = i). A circle is fitted robustly (seeded RANSAC, then least squares on the inliers,
    within ``_TOL_PX + _TOL_FRAC r`` px); it must have ``min_r <= r <= max_r`` and hold
    90 % of the region's pixels. ``arc`` is the share of 1.5-px arcs of the circle holding
    an inlier: 1 for a whole disc, 0 without a circle."""
    none = {"arc": 0.0, "arc_cx": float("nan"), "arc_cy": float("nan"), "arc_r": 0.0}
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) < 8:
        return none
    rng = np.random.default_rng(seed)
    tri = np.stack([rng.choice(len(pts), 3, replace=False) for _ in range(_N_DRAWS)])
    (ax, ay), (bx, by), (cx, cy) = (pts[tri[:, i]].T for i in range(3))
    den = 2.0 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    with np.errstate(divide="ignore", invalid="ignore"):
        ux = ((ax * ax + ay * ay) * (by - cy) + (bx * bx + by * by) * (cy - ay)
              + (cx * cx + cy * cy) * (ay - by)) / den
        uy = ((ax * ax + ay * ay) * (cx - bx) + (bx * bx + by * by) * (ax - cx)
              + (cx * cx + cy * cy) * (bx - ax)) / den
    r = np.hypot(ax - ux, ay - uy)
    ok = np.isfinite(r) & (r >= min_r) & (r <= max_r)
    if not ok.any():
        return none
    ux, uy, r = ux[ok], uy[ok], r[ok]
    dist = np.abs(np.hypot(pts[None, :, 0] - ux[:, None], pts[None, :, 1] - uy[:, None])
                  - r[:, None])
    best = int(np.argmax((dist <= _TOL_PX + _TOL_FRAC * r[:, None]).sum(axis=1)))
    fx, fy, fr = float(ux[best]), float(uy[best]), float(r[best])
    for _ in range(2):                       # refine on the inliers
        inl = np.abs(np.hypot(pts[:, 0] - fx, pts[:, 1] - fy) - fr) <= _TOL_PX + _TOL_FRAC * fr
        if inl.sum() < 6:
            break
        gx, gy, gr, _ = fit_circle(pts[inl])
        if not (np.isfinite(gr) and min_r <= gr <= max_r):
            break
        fx, fy, fr = gx, gy, gr
    inl = np.abs(np.hypot(pts[:, 0] - fx, pts[:, 1] - fy) - fr) <= _TOL_PX + _TOL_FRAC * fr
    # pixel (i, j) is the point (j, i): the contour's own coordinates
    yy, xx = np.nonzero(region)
    if np.mean(np.hypot(xx - fx, yy - fy) <= fr + 1.0) < 0.9:
        return none
    n_bins = max(8, round(2.0 * np.pi * fr / 1.5))
    ang = np.arctan2(pts[inl, 1] - fy, pts[inl, 0] - fx)
    bins = np.unique(np.floor((ang + np.pi) / (2.0 * np.pi) * n_bins).astype(int) % n_bins)
    return {"arc": float(len(bins) / n_bins), "arc_cx": fx, "arc_cy": fy, "arc_r": fr}


def disc_score(img: Any) -> float:
    """The ``"discs"`` score of one image (uint8 (H, W, 3), or float [-1, 1] (C, H, W)):
    ``max(arc * flat)`` over its closed colour regions (:func:`disc_forms`), 0 without
    one."""
    forms = disc_forms(to_rgb01(img))
    return float(max((f["arc"] * f["flat"] for f in forms), default=0.0))


def region_circle_score(img: Any) -> float:
    """Circle fidelity's main-form score (:func:`~paperlib.forms.fidelity.score_parts`:
    circularity x axis ratio x circle-fit residual factor) of the roundest closed colour
    region (:func:`disc_forms`), 0 without one. Not the ``"discs"`` score: no arc, no
    flatness."""
    forms = disc_forms(to_rgb01(img))
    return float(max((score_parts(f["circularity"], f["axis_ratio"], f["residual"], 0,
                                  float("nan"), None)[0] for f in forms), default=0.0))
