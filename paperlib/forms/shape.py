"""The shape of one form from its soft coverage map ``s`` in [0, 1] (numpy + scipy only).

:func:`form_shape` measures the perimeter ``P`` (length of the sub-pixel iso-contour
``s = 0.5``, :func:`iso_contour`), the area ``A`` (``sum(s)``, or the area inside that
contour), ``circularity = 4 pi A / P^2`` clipped to [0, 1] (1 for a disc, pi/4 for a
square), ``residual`` (RMS radial distance of the contour to its Kasa circle fit, over the
radius) and ``axis_ratio`` (minor/major axis of a direct ellipse fit, else of the second
moments of ``s``). :func:`soft_map` builds ``s`` from a colour distance.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from .fits import fit_circle, fit_ellipse_ratio

# Marching squares. Cell corners: tl=(i,j)=1, tr=(i,j+1)=2, br=(i+1,j+1)=4, bl=(i+1,j)=8.
# Edges: 0 top, 1 right, 2 bottom, 3 left. Per case the (up to) two segments as edge pairs;
# saddles (5, 10) are resolved by the cell-centre value (centre above -> the two "above"
# corners are joined). -1 = no segment.
_SEG_A = np.array([[-1, -1], [0, 3], [0, 1], [3, 1], [1, 2], [-1, -1], [0, 2], [3, 2],
                   [3, 2], [0, 2], [-1, -1], [1, 2], [3, 1], [0, 1], [0, 3], [-1, -1]])


_SADDLE = {  # case -> (segments when centre above, segments when centre below)
    5: (((0, 1), (2, 3)), ((0, 3), (1, 2))),
    10: (((0, 3), (1, 2)), ((0, 1), (2, 3))),
}


def _orient(case: int, e0: int, e1: int) -> tuple[int, int]:
    """The segment (e0, e1) of a cell of ``case`` ordered so that the cell's corners above
    the level lie on its left in image coordinates (x right, y down): the signed areas
    ``(x0 y1 - x1 y0) / 2`` of oriented segments then add up to the area above the level."""
    corners = ((0.0, 0.0, 1), (1.0, 0.0, 2), (1.0, 1.0, 4), (0.0, 1.0, 8))
    mids = ((0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5))
    ends = ((0, 1), (1, 2), (2, 3), (3, 0))      # corner indices of each edge
    shared = set(ends[e0]) & set(ends[e1])
    cx, cy, bit = corners[shared.pop() if shared else 0]
    (ax, ay), (bx, by) = mids[e0], mids[e1]
    cross = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    above = bool(case & bit)
    return (e0, e1) if (cross > 0) == above else (e1, e0)


_SEG_A = np.array([list(_orient(c, *e)) if e[0] >= 0 else [-1, -1]
                   for c, e in enumerate(_SEG_A.tolist())])


_SADDLE = {c: tuple(tuple(_orient(c, e0, e1) for e0, e1 in segs) for segs in pair)
           for c, pair in _SADDLE.items()}


def iso_contour(s: np.ndarray, level: float = 0.5, return_area: bool = False):
    """Length of the iso-contour ``s == level`` and its (unique) crossing points (x, y);
    with ``return_area`` also the area it encloses (of the region ``s >= level``, holes
    subtracted: the shoelace sum over the oriented segments).

    ``s`` must be zero on its border so every contour is closed.
    """
    above = s >= level
    # crossings on horizontal pixel edges (i, j)-(i, j+1): y = i, x = j + t
    a0, a1 = s[:, :-1], s[:, 1:]
    hc = above[:, :-1] != above[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        th = np.where(hc, (level - a0) / (a1 - a0), 0.0)
    # crossings on vertical pixel edges (i, j)-(i+1, j): x = j, y = i + t
    b0, b1 = s[:-1, :], s[1:, :]
    vc = above[:-1, :] != above[1:, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        tv = np.where(vc, (level - b0) / (b1 - b0), 0.0)

    H, W = s.shape
    ii, jj = np.nonzero(hc)
    hx = jj + th[ii, jj]
    pts_h = np.stack([hx, ii.astype(np.float64)], axis=1)
    ii2, jj2 = np.nonzero(vc)
    vy = ii2 + tv[ii2, jj2]
    pts_v = np.stack([jj2.astype(np.float64), vy], axis=1)
    points = np.concatenate([pts_h, pts_v], axis=0)

    # per-cell edge points (cells are (H-1) x (W-1))
    rows = np.arange(H - 1, dtype=np.float64)[:, None]
    cols = np.arange(W - 1, dtype=np.float64)[None, :]
    ex = np.empty((4, H - 1, W - 1))
    ey = np.empty((4, H - 1, W - 1))
    ex[0], ey[0] = cols + th[:-1, :], np.broadcast_to(rows, (H - 1, W - 1))      # top
    ex[2], ey[2] = cols + th[1:, :], np.broadcast_to(rows + 1, (H - 1, W - 1))   # bottom
    ex[3], ey[3] = np.broadcast_to(cols, (H - 1, W - 1)), rows + tv[:, :-1]      # left
    ex[1], ey[1] = np.broadcast_to(cols + 1, (H - 1, W - 1)), rows + tv[:, 1:]   # right

    case = (above[:-1, :-1] * 1 + above[:-1, 1:] * 2 + above[1:, 1:] * 4
            + above[1:, :-1] * 8).astype(np.intp)
    length = area2 = 0.0
    ci, cj = np.nonzero((case != 0) & (case != 15) & (case != 5) & (case != 10))
    if ci.size:
        e = _SEG_A[case[ci, cj]]
        x0, y0 = ex[e[:, 0], ci, cj], ey[e[:, 0], ci, cj]
        x1, y1 = ex[e[:, 1], ci, cj], ey[e[:, 1], ci, cj]
        length += float(np.hypot(x1 - x0, y1 - y0).sum())
        area2 += float((x0 * y1 - x1 * y0).sum())
    for c, (up, down) in _SADDLE.items():
        si, sj = np.nonzero(case == c)
        for i, j in zip(si, sj):
            centre = 0.25 * (s[i, j] + s[i, j + 1] + s[i + 1, j] + s[i + 1, j + 1])
            for e0, e1 in (up if centre >= level else down):
                x0, y0, x1, y1 = ex[e0, i, j], ey[e0, i, j], ex[e1, i, j], ey[e1, i, j]
                length += math.hypot(x1 - x0, y1 - y0)
                area2 += x0 * y1 - x1 * y0
    if return_area:
        return length, points, abs(area2) / 2.0
    return length, points


def _moment_ratio(s: np.ndarray) -> float:
    w = s.sum()
    if w <= 0:
        return 0.0
    yy, xx = np.indices(s.shape)
    mx, my = (s * xx).sum() / w, (s * yy).sum() / w
    cxx = (s * (xx - mx) ** 2).sum() / w
    cyy = (s * (yy - my) ** 2).sum() / w
    cxy = (s * (xx - mx) * (yy - my)).sum() / w
    lam = np.linalg.eigvalsh(np.array([[cxx, cxy], [cxy, cyy]]))
    if lam.max() <= 0:
        return 0.0
    return float(math.sqrt(max(lam.min(), 0.0) / lam.max()))


def form_shape(s: np.ndarray, fit: bool = True, contour_area: bool = False) -> dict:
    """Shape measures of one form given its soft coverage map ``s`` (values in [0, 1]).

    Returns ``area, perimeter, circularity (clipped to [0, 1]), residual, axis_ratio,
    cx, cy, r``. ``s`` is padded with zeros so contours close. ``fit=False`` skips the
    circle and ellipse fits (residual, axis_ratio, cx, cy, r are then NaN). The area is
    ``sum(s)``, or with ``contour_area`` the area inside the ``s = 0.5`` contour (the
    polygon whose length is the perimeter, so ``circularity <= 1`` holds exactly and a
    soft map's blurred tail does not count).
    """
    s = np.pad(np.clip(s, 0.0, 1.0), 1)
    perim, pts, poly_area = iso_contour(s, 0.5, return_area=True)
    area = poly_area if contour_area else float(s.sum())
    if area <= 0 or perim <= 0 or len(pts) < 3:
        return dict(area=area, perimeter=perim, circularity=0.0, residual=1.0,
                    axis_ratio=0.0, cx=math.nan, cy=math.nan, r=0.0)
    circ = min(1.0, 4.0 * math.pi * area / (perim * perim))
    if not fit:
        return dict(area=area, perimeter=perim, circularity=circ, residual=math.nan,
                    axis_ratio=math.nan, cx=math.nan, cy=math.nan, r=math.nan)
    cx, cy, r, res = fit_circle(pts)
    ratio = fit_ellipse_ratio(pts)
    if not np.isfinite(ratio):
        ratio = _moment_ratio(s)
    return dict(area=area, perimeter=perim, circularity=circ, residual=min(res, 1.0),
                axis_ratio=ratio, cx=cx - 1.0, cy=cy - 1.0, r=r if np.isfinite(r) else 0.0)


def soft_map(dist: np.ndarray, region: np.ndarray, exclude: np.ndarray,
              allowed: np.ndarray | None = None, lo: float = 0.0) -> np.ndarray:
    """Coverage-like map of ``region``: ``dist`` scaled so the level just inside the
    region's edge is 1 (the 90th percentile over the 2-px band inside the edge -- the face
    colour, or the outline colour when the form has an outline).

    Only a 2-px neighbourhood of the region counts; ``exclude`` pixels (other forms) are 0;
    the region's interior is 1.
    """
    core = ndi.binary_erosion(region)
    band = region & ~ndi.binary_erosion(region, iterations=2)
    ref = dist[band] if band.any() else dist[region]
    hi = float(np.percentile(ref, 90)) if ref.size else 1.0
    if hi - lo <= 1e-9:
        hi = lo + 1e-9
    s = np.clip((dist - lo) / (hi - lo), 0.0, 1.0)
    near = ndi.binary_dilation(region, iterations=2)
    if allowed is not None:
        near &= allowed
    s = np.where(near & ~exclude, s, 0.0)
    s[core] = 1.0
    return s
