"""Circle and ellipse fits to contour points (numpy only).

:func:`fit_circle` (Kasa), :func:`fit_conic` (direct least-squares ellipse, Halir &
Flusser), :func:`fit_ellipse_ratio` (its minor/major axis ratio) and :func:`ray_to_conic`
(where rays from a point leave that ellipse).
"""
from __future__ import annotations

import math

import numpy as np


def fit_circle(points: np.ndarray) -> tuple[float, float, float, float]:
    """Kasa algebraic circle fit. Returns (cx, cy, r, rms radial residual / r)."""
    if len(points) < 3:
        return math.nan, math.nan, math.nan, 1.0
    m = points.mean(axis=0)
    p = points - m
    x, y = p[:, 0], p[:, 1]
    A = np.stack([x, y, np.ones_like(x)], axis=1)
    b = -(x * x + y * y)
    sol, *_ = np.linalg.lstsq(A, b, rcond=None)
    D, E, F = sol
    cx, cy = -D / 2.0, -E / 2.0
    r2 = cx * cx + cy * cy - F
    if not np.isfinite(r2) or r2 <= 0:
        return math.nan, math.nan, math.nan, 1.0
    r = math.sqrt(r2)
    d = np.hypot(x - cx, y - cy) - r
    return float(cx + m[0]), float(cy + m[1]), r, float(np.sqrt(np.mean(d * d)) / r)


def fit_conic(points: np.ndarray):
    """Direct least-squares ellipse fit (Halir & Flusser) in normalised coordinates.

    Returns ``(a, b, c, d, e, f), m, scale`` -- the conic ``a x^2 + b x y + c y^2 + d x +
    e y + f = 0`` of the points ``(p - m) / scale``, signed so that ``a + c > 0`` -- or
    None when the fit is degenerate or not an ellipse.
    """
    if len(points) < 6:
        return None
    m = points.mean(axis=0)
    p = points - m
    scale = float(np.sqrt(np.mean(np.sum(p * p, axis=1))))
    if not np.isfinite(scale) or scale <= 0:
        return None
    p = p / scale
    x, y = p[:, 0], p[:, 1]
    D1 = np.stack([x * x, x * y, y * y], axis=1)
    D2 = np.stack([x, y, np.ones_like(x)], axis=1)
    S1, S2, S3 = D1.T @ D1, D1.T @ D2, D2.T @ D2
    try:
        T = -np.linalg.solve(S3, S2.T)
    except np.linalg.LinAlgError:
        return None
    M = S1 + S2 @ T
    M = np.stack([M[2] / 2.0, -M[1], M[0] / 2.0])
    try:
        evals, evecs = np.linalg.eig(M)
    except np.linalg.LinAlgError:
        return None
    evecs = np.real(evecs)
    cond = 4.0 * evecs[0] * evecs[2] - evecs[1] ** 2
    ok = np.nonzero(cond > 0)[0]
    if ok.size == 0:
        return None
    a1 = evecs[:, ok[0]]
    coef = np.concatenate([a1, T @ a1])
    if coef[0] + coef[2] < 0:
        coef = -coef
    return coef, m, scale


def fit_ellipse_ratio(points: np.ndarray) -> float:
    """Minor/major axis ratio of a direct least-squares ellipse fit (Halir & Flusser).

    NaN when the fit is degenerate or not an ellipse.
    """
    fit = fit_conic(points)
    if fit is None:
        return math.nan
    a, b, c = fit[0][:3]
    lam = np.abs(np.linalg.eigvalsh(np.array([[a, b / 2.0], [b / 2.0, c]])))
    if lam.max() <= 0:
        return math.nan
    return float(math.sqrt(lam.min() / lam.max()))


def ray_to_conic(fit, ox: float, oy: float, ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """Distance from ``(ox, oy)`` along unit directions ``(ux, uy)`` to the ellipse of
    :func:`fit_conic` (NaN where a ray does not leave it forward)."""
    (a, b, c, d, e, f), m, scale = fit
    x0, y0 = (ox - m[0]) / scale, (oy - m[1]) / scale
    vx, vy = ux / scale, uy / scale
    A2 = a * vx * vx + b * vx * vy + c * vy * vy
    A1 = 2 * a * x0 * vx + b * (x0 * vy + y0 * vx) + 2 * c * y0 * vy + d * vx + e * vy
    A0 = a * x0 * x0 + b * x0 * y0 + c * y0 * y0 + d * x0 + e * y0 + f
    disc = A1 * A1 - 4 * A2 * A0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-A1 + np.sqrt(disc)) / (2 * A2)
    return np.where((disc >= 0) & (A2 > 0) & (t > 0), t, np.nan)
