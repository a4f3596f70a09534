"""Circle fidelity: how exactly a generated image draws its round forms (paper B).

Paper B's "shape learning" claim is qualitative: the GAN first failed to draw the round
face of the artist's character, learned it after training on many circles, but "small
inner circles and interior detail stayed inexact". This module turns that into numbers.
It is our measure, not the paper's.

Pipeline for one image (numpy + scipy only; a few ms for a 64 px face):

1. **Main form** -- built to survive the way GAN output is degraded (per-pixel colour
   noise, faint outlines broken into pieces, partly drawn forms):

   * the background colour is the per-channel median of the 1-pixel image border;
   * the image is smoothed with a Gaussian of ``smooth_sigma`` px (0.7: per-pixel noise
     is averaged away, the outline of a form is not) and every pixel's Euclidean RGB
     distance to the background (RGB in [0, 1]) is thresholded with Otsu's method (never
     below ``min_contrast``);
   * *pieces*: the largest 8-connected foreground component and every component at least
     10 % of its size, of which the cluster (pieces linked across gaps of up to a fifth
     of their half-size) holding the most foreground -- the pieces of a broken outline
     and the eyes inside it;
   * the pieces are filled together: their holes; then every pixel that sees them in at
     least 7 of the 8 compass directions; then (twice, the second time from a better
     centre) a *radial fill* from the centroid: along 128 rays, the outermost piece pixel
     is compared with an ellipse fitted (robustly) to all rays' ends -- a ray without any
     piece or reaching less than 0.6 of the ellipse is a gap and takes the radius
     interpolated between its solid neighbours (ratio >= 0.9), a chord; a notch between
     0.6 and 0.9 is bridged in proportion, so the fill changes continuously with the
     depth of a notch. A chord across a missing arc of angle w still departs from the
     circle by ``1 - cos(w / 2)`` of its radius, so the score falls steadily with w; an
     elliptical form matches its ellipse and is not "bridged" rounder. A piece lying
     mostly outside 1.15 times the circle fitted to the filled form is a separate form
     beside it and is left out (never the largest piece); the largest filled component
     is the main form.

   An image with no pixel at least ``min_contrast`` away from the background, whose
   largest piece is smaller than ``min_main_area`` pixels, or whose border is more than
   35 % foreground (no background to tell a form from: pure noise, a texture, a plane
   filling the frame) is *blank*: every score 0 (no exception).
2. **Inner forms.** Inside the main form, eroded by 1 px so its anti-aliased rim is
   ignored, the face colour is the median colour. Pixels whose RGB distance to it exceeds
   ``min_inner_contrast`` form candidate regions (eyes, pupils, cheeks, highlights, ...).
   A region covering more than ``max_rim_frac`` of the rim pixels is an outline or rim
   shading: the 2-px band inside the rim is cut away and only what sticks inward is kept;
   pieces lying mostly along the rim are dropped. Each region, holes filled (an eye with
   its pupil is one form), is one inner form -- unless it is not round (circularity < 0.8)
   and its pixels more than t px from its edge (t = 1.5, 2, 2.5, ..., 5, first t giving
   other than one piece) fall apart into several seeds, in which case every pixel goes to
   its nearest seed and each part is a form (forms that touch, e.g. a cheek next to an
   eye: two discs in a "snowman"; a stroke's seed is one line, so it stays whole). Forms
   smaller than
   ``max(min_inner_px, min_inner_frac * main area)`` pixels are specks and ignored; those
   with circularity below ``min_inner_circularity`` or so thin that no pixel has its four
   neighbours inside (mouth lines, strokes) are counted apart as ``n_inner_other``; the
   rest are the inner *round* forms (``n_inner_found``).
3. **Shape of each form.** A soft coverage map ``s`` in [0, 1] is built for the form (the
   colour distance scaled so that the form's own colour is 1 and its surroundings 0 --
   for an anti-aliased edge between two flat colours this *is* the pixel coverage; the
   form's interior is set to 1 so interior detail does not count). Then

   * perimeter ``P`` = length of the marching-squares iso-contour ``s = 0.5`` with
     linear interpolation along pixel edges -- a sub-pixel polygon, so there is no
     staircase bias (counting boundary pixel edges would overestimate a disc's perimeter
     by 4/pi ~ 27 %); the scale of ``s`` is set by the colour just inside the form's edge
     (its outline if it has one);
   * area ``A``: for the main form the area inside that polygon (so ``4 pi A <= P^2``
     holds exactly, and the blurred tail of a smoothed edge does not count); for inner
     forms ``sum(s)`` (exact for anti-aliased shapes, the pixel count for binary ones);
     the main form's map is built from the smoothed image, the inner forms' from the
     image itself; where the fill bridged a gap (no edge is drawn there) the main form's
     map is at least its filled mask smoothed by 0.5 px, so the contour follows the
     bridge instead of dipping into every gap;
   * ``circularity = 4 pi A / P^2`` (1 for a disc, pi/4 for a square), clipped to [0, 1];
     an anti-aliased disc of radius 12 or 24 px scores about 0.99;
   * ``residual``: an algebraic (Kasa) least-squares circle fit to the contour points; the
     RMS radial distance of the points to the circle divided by its radius;
   * ``axis_ratio``: minor/major semi-axis of a direct least-squares ellipse fit
     (Fitzgibbon / Halir-Flusser) to the same points, falling back to second moments of
     ``s`` when the fit does not return an ellipse.

Scores (in [0, 1], documented in :class:`CircleFidelity`; :func:`score_parts`)::

    main_score  = c * e * f           the main form only
    inner_score = a * q               the inner forms only; NaN when n_inner_expected is None
    score       = main_score * inner_score   (= main_score when n_inner_expected is None)
    c = clip(main_circularity, 0, 1)
    e = main_axis_ratio
    f = 1 - clip(main_residual / RESIDUAL_TOL, 0, 1)            RESIDUAL_TOL = 0.25
    a = 1 - min(1, |n_inner_found - n_inner_expected| / max(n_inner_expected, 1))
    q = 0.5 + 0.5 * clip(inner_circularity, 0, 1)
        (q = 1 when n_inner_expected is 0, or when no inner form is found --
         the count term a already penalises missing inner forms)

All five factors are 1 for a perfect anti-aliased circle and each falls as the form
departs from a circle, so the score falls steadily with eccentricity or radial wobble.
``score`` multiplies the parts, so it cannot say which one failed: a perfect round face
without its two inner circles has ``score`` 0, like noise, but ``main_score`` ~0.97 and
``inner_score`` 0. Report the two parts beside ``score``.
The inner roundness enters softened (``q`` is at least 0.5) because inner circles are
small (a few pixels at 32 px) and their circularity is dominated by pixelation.

Limits (measured on 200 ``artist_donglein`` stand-in recipes, seed 0, whose
``n_inner_circles`` counts pupils and cheeks; an eye -- white disc, outline, pupil -- is
one form here, which keeps the count equal): the inner count agrees on 98.5 % of images at
64 px (mean score 0.97, main_score 0.99) but only on 58 % at 32 px (mean score 0.71,
main_score 0.97), where a cheek of radius ~1 px touching an eye cannot be separated.
Report the training set's own fidelity beside generated images' as the reference
ceiling. The main form (measured on 8 Donglein-like faces per level, ``tests/
test_fidelity.py``): pixel noise of std 0.05 costs ~0.01 of main_score, std 0.2 ~0.3 at
32 px; a wedge of 0.1 of the turn erased costs ~0.06, 0.3 about half; blur up to 2 px
(at 32 px) costs nothing -- a blurred disc is still round -- until the outline of a pale
face fades into the background (sigma 3-4 px: ~0.3). On 64 DCGAN samples of the 32 px
artist-alone runs the main circularity reads ~0.93 (the training images 0.996; the
earlier main-form step read 0.2-0.3 there, breaking on faint, broken outlines). Two forms
closer than ~1 px (after smoothing) are measured as one. The measure assumes one main
form (a character); for compositions of several circles and planes it describes the
largest form only.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

_EIGHT = np.ones((3, 3), dtype=bool)


def _otsu(values: np.ndarray, bins: int = 128) -> float:
    """Otsu's threshold of a 1-D sample (midpoint of the best bin edge)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-12:
        return lo
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    hist = hist.astype(np.float64)
    centers = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mt = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0 = m0 / w0
        mu1 = (mt - m0) / w1
        between = w0 * w1 * (mu0 - mu1) ** 2
    between = np.nan_to_num(between[:-1], nan=-1.0)
    k = int(np.argmax(between))
    return float(edges[k + 1])


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


def _contour(s: np.ndarray, level: float = 0.5, return_area: bool = False):
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


def _fit_circle(points: np.ndarray) -> tuple[float, float, float, float]:
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


def _fit_conic(points: np.ndarray):
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


def _fit_ellipse_ratio(points: np.ndarray) -> float:
    """Minor/major axis ratio of a direct least-squares ellipse fit (Halir & Flusser).

    NaN when the fit is degenerate or not an ellipse.
    """
    fit = _fit_conic(points)
    if fit is None:
        return math.nan
    a, b, c = fit[0][:3]
    lam = np.abs(np.linalg.eigvalsh(np.array([[a, b / 2.0], [b / 2.0, c]])))
    if lam.max() <= 0:
        return math.nan
    return float(math.sqrt(lam.min() / lam.max()))


def _ray_to_conic(fit, ox: float, oy: float, ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """Distance from ``(ox, oy)`` along unit directions ``(ux, uy)`` to the ellipse of
    :func:`_fit_conic` (NaN where a ray does not leave it forward)."""
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
    perim, pts, poly_area = _contour(s, 0.5, return_area=True)
    area = poly_area if contour_area else float(s.sum())
    if area <= 0 or perim <= 0 or len(pts) < 3:
        return dict(area=area, perimeter=perim, circularity=0.0, residual=1.0,
                    axis_ratio=0.0, cx=math.nan, cy=math.nan, r=0.0)
    circ = min(1.0, 4.0 * math.pi * area / (perim * perim))
    if not fit:
        return dict(area=area, perimeter=perim, circularity=circ, residual=math.nan,
                    axis_ratio=math.nan, cx=math.nan, cy=math.nan, r=math.nan)
    cx, cy, r, res = _fit_circle(pts)
    ratio = _fit_ellipse_ratio(pts)
    if not np.isfinite(ratio):
        ratio = _moment_ratio(s)
    return dict(area=area, perimeter=perim, circularity=circ, residual=min(res, 1.0),
                axis_ratio=ratio, cx=cx - 1.0, cy=cy - 1.0, r=r if np.isfinite(r) else 0.0)


def _soft_map(dist: np.ndarray, region: np.ndarray, exclude: np.ndarray,
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


def _inner_forms(x, filled, main_area, min_contrast, min_px, min_frac, max_rim_frac,
                 min_circularity, split_below=0.8) -> tuple[list[float], list[float], int]:
    """Inner forms of a main form: (circularities, areas) of the round ones, count of others.

    See step 2 of the module docstring.
    """
    interior = ndi.binary_erosion(filled)
    if interior.sum() < 4:
        return [], [], 0
    face = np.median(x[interior], axis=0)
    g = np.sqrt(((x - face) ** 2).sum(axis=-1))
    cand = interior & (g > min_contrast)
    if not cand.any():
        return [], [], 0
    H, W = g.shape
    rim = interior & ~ndi.binary_erosion(interior)
    band = interior & ~ndi.binary_erosion(interior, iterations=2)
    band_near = ndi.binary_dilation(band)
    n_rim = max(int(rim.sum()), 1)
    min_area = max(min_px, min_frac * main_area)

    # 1. candidate regions; an outline / rim shading (a region along much of the rim) is cut
    #    away with the rim band, keeping what sticks out of it (an eye touching the outline)
    regions: list[np.ndarray] = []
    lab, _ = ndi.label(cand, structure=_EIGHT)
    for idx, sl in enumerate(ndi.find_objects(lab), start=1):
        comp = np.zeros(g.shape, dtype=bool)
        comp[sl] = lab[sl] == idx
        on_rim = int((rim & comp).sum())
        if on_rim > max_rim_frac * n_rim:
            rest, _ = ndi.label(comp & ~band, structure=_EIGHT)
            for j in range(1, int(rest.max()) + 1):
                sub = rest == j
                # what is left of the outline beyond the band lies along it: drop
                if (sub & band_near).sum() <= 0.5 * sub.sum():
                    regions.append(sub)
        elif not (on_rim and (comp & band).sum() > 0.5 * comp.sum()):
            regions.append(comp)      # else: a fragment of an outline, along the rim

    # 2. each region, holes filled, is one form -- unless it is not round and its deep
    #    pixels fall apart into several seeds: touching forms (a cheek next to an eye)
    #    are then split, every pixel going to its nearest seed
    forms: list[tuple[np.ndarray, dict]] = []
    all_regions = np.zeros(g.shape, dtype=bool)
    for reg in regions:
        all_regions |= reg

    def measure(mask: np.ndarray, others: np.ndarray) -> dict:
        ys, xs = np.nonzero(mask)
        y0, y1 = max(ys.min() - 3, 0), min(ys.max() + 4, H)
        x0, x1 = max(xs.min() - 3, 0), min(xs.max() + 4, W)
        m = mask[y0:y1, x0:x1]
        sm = _soft_map(g[y0:y1, x0:x1], m, others[y0:y1, x0:x1] & ~m,
                       allowed=filled[y0:y1, x0:x1])
        sh = form_shape(sm, fit=False)
        sh["thick"] = bool(ndi.binary_erosion(m).any())
        return sh

    for reg in regions:
        F = ndi.binary_fill_holes(reg)
        if F.sum() < min_area:
            continue
        sh = measure(F, all_regions)
        parts = [(F, sh)]
        if sh["circularity"] < split_below:
            # seeds: the parts of the region more than t px from its edge, for the first t
            # giving other than one piece (a stroke's seed is one line: never split)
            dt = ndi.distance_transform_edt(F)
            n_parts, plab = 0, None
            for t in (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0):
                plab, n_parts = ndi.label(dt > t, structure=_EIGHT)
                if n_parts != 1:
                    break
            if n_parts >= 2:
                _, (iy, ix) = ndi.distance_transform_edt(plab == 0, return_indices=True)
                owner = np.where(F, plab[iy, ix], 0)
                parts = []
                for j in range(1, n_parts + 1):
                    P = owner == j
                    if P.sum() >= min_area:
                        parts.append((P, measure(P, all_regions & ~P | (F & ~P))))
        for P, psh in parts:
            if psh["area"] >= min_area:
                forms.append((P, psh))

    circs, areas, n_other = [], [], 0
    for P, sh in forms:
        if sh["circularity"] >= min_circularity and sh["thick"]:
            circs.append(sh["circularity"])
            areas.append(sh["area"])
        else:
            n_other += 1          # a mouth line, a stroke: not a round form
    return circs, areas, n_other


#: Main-form segmentation constants (step 1 of the module docstring).
_PIECE_FRAC = 0.1        # pieces >= this share of the largest one join the main form


_LINK_FRAC = 0.2         # pieces this share of their half-size apart are one form


_GAP_HI, _GAP_LO = 0.9, 0.6   # ray radius / fitted ellipse's: bridged not / fully


_N_RAYS = 128


_OUTSIDE_FRAC = 1.15     # a piece mostly beyond this share of the radius is apart


_BRIDGE_SIGMA = 0.5      # px: edge of a bridged gap = the filled mask smoothed by this


_MAX_BORDER_FG = 0.35    # more of the image border than this in the foreground: blank


_DIRS8 = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))


def _disk(r: int) -> np.ndarray:
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return xx * xx + yy * yy <= r * r + r


def _enclosed(mask: np.ndarray, min_dirs: int = 7) -> np.ndarray:
    """``mask`` plus the pixels from which a ray hits it in at least ``min_dirs`` of the 8
    compass directions: closes a ring with a narrow gap."""
    H, W = mask.shape
    hits = np.zeros((H, W), dtype=np.int8)
    for dy, dx in _DIRS8:
        seen = np.zeros((H, W), dtype=bool)
        k = 1
        while k * abs(dy) < H and k * abs(dx) < W:
            # seen[p] |= mask[p + k * (dy, dx)]
            src_y = slice(k * dy, H) if dy >= 0 else slice(0, H + k * dy)
            dst_y = slice(0, H - k * dy) if dy >= 0 else slice(-k * dy, H)
            src_x = slice(k * dx, W) if dx >= 0 else slice(0, W + k * dx)
            dst_x = slice(0, W - k * dx) if dx >= 0 else slice(-k * dx, W)
            seen[dst_y, dst_x] |= mask[src_y, src_x]
            k += 1
        hits += seen
    return mask | (hits >= min_dirs)


def _radial_fill(pieces: np.ndarray, main: np.ndarray, n_rays: int = _N_RAYS):
    """``main`` plus the star-shaped region, seen from its centroid, out to the outermost
    pixel of ``pieces`` along each of ``n_rays`` rays -- with the gaps of a partly drawn
    outline bridged (step 1 of the module docstring).

    A ray's radius is compared with an ellipse fitted to all rays' ends (the circle where
    no ellipse fits): a ray with no piece, or reaching less than ``_GAP_LO`` of the
    ellipse, is a gap and takes the radius interpolated between the nearest solid rays
    (ratio >= ``_GAP_HI``) -- a chord; a shallower notch is bridged in proportion.
    Returns the filled mask and the robustly fitted circle ``(cx, cy, r)`` in array
    coordinates (None where the fill was skipped: too few rays hit).
    """
    H, W = main.shape
    area = float(main.sum())
    if area < 4:
        return main, None
    ev = ndi.binary_fill_holes(pieces)
    yy, xx = np.nonzero(main)
    cy, cx = float(yy.mean()), float(xx.mean())
    theta = np.linspace(-math.pi, math.pi, n_rays, endpoint=False)
    t = np.arange(0.0, math.hypot(max(cy, H - cy), max(cx, W - cx)), 0.5)
    ux, uy = np.cos(theta), np.sin(theta)
    py = np.rint(cy + uy[:, None] * t[None, :]).astype(np.intp)
    px = np.rint(cx + ux[:, None] * t[None, :]).astype(np.intp)
    inside = (py >= 0) & (py < H) & (px >= 0) & (px < W)
    hit = np.zeros(py.shape, dtype=bool)
    hit[inside] = ev[py[inside], px[inside]]
    ok = hit.any(axis=1)
    if ok.sum() < 6:
        return main, None
    r = np.where(ok, t[hit.shape[1] - 1 - np.argmax(hit[:, ::-1], axis=1)], 0.0)
    pts = np.stack([cx + ux[ok] * r[ok], cy + uy[ok] * r[ok]], axis=1)
    fx, fy, fr, _ = _fit_circle(pts)
    if not np.isfinite(fr):
        return main, None
    # once more without the outliers (a spike, a notch): a robust circle
    inl = np.abs(np.hypot(pts[:, 0] - fx, pts[:, 1] - fy) - fr) <= 0.1 * fr
    if inl.sum() >= max(6, n_rays // 3):
        fx2, fy2, fr2, _ = _fit_circle(pts[inl])
        if np.isfinite(fr2):
            fx, fy, fr = fx2, fy2, fr2
    # the reference each ray is compared with: an ellipse fitted to the rays' ends (so an
    # elliptical form is not taken for notches), without outliers; else the circle
    ref = np.full(n_rays, np.nan)
    fit = _fit_conic(pts[inl] if inl.sum() >= 6 else pts)
    if fit is not None:
        ref = _ray_to_conic(fit, cx, cy, ux, uy)
    if not np.isfinite(ref).all():
        b = ux * (cx - fx) + uy * (cy - fy)
        ref = -b + np.sqrt(np.maximum(b * b - ((cx - fx) ** 2 + (cy - fy) ** 2 - fr * fr),
                                      0.0))
    ratio = np.where(ok, r / np.maximum(ref, 1e-9), 0.0)
    w = np.clip((_GAP_HI - ratio) / (_GAP_HI - _GAP_LO), 0.0, 1.0)
    solid = w == 0
    if solid.sum() < n_rays // 3:
        return main, None
    ri = np.interp(theta, theta[solid], r[solid], period=2 * math.pi)
    r = np.maximum(r, r + w * (ri - r))
    gy, gx = np.mgrid[0:H, 0:W]
    phi = np.arctan2(gy - cy, gx - cx)
    star = np.hypot(gy - cy, gx - cx) <= np.interp(phi, theta, r, period=2 * math.pi)
    return main | star, (fx, fy, fr)


def _largest(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask, structure=_EIGHT)
    if n <= 1:
        return mask
    return lab == int(np.argmax(np.bincount(lab.ravel())[1:])) + 1


def _fill_pieces(pieces: np.ndarray):
    """The pieces of a form filled together (holes, enclosed pixels, then the radial fill
    twice: a better centre on the second pass). Returns ``(filled, circle)``."""
    filled = _largest(ndi.binary_fill_holes(_enclosed(ndi.binary_fill_holes(pieces))))
    circle = None
    for _ in range(2):
        filled, c = _radial_fill(pieces, filled)
        circle = c if c is not None else circle
    return filled, circle


def _main_form(x: np.ndarray, min_contrast: float, min_main_area: int,
               smooth_sigma: float):
    """The main form of an RGB [0, 1] image (step 1 of the module docstring).

    Returns None for a blank image, else ``(x, filled, s, (oy, ox))`` cropped to a window
    around the form: the image, the form's filled mask, its soft coverage map and the
    window's offset in the image.
    """
    H, W, _ = x.shape
    border = np.concatenate([x[0], x[-1], x[1:-1, 0], x[1:-1, -1]], axis=0)
    bg = np.median(border, axis=0)
    if float(np.sqrt(((x - bg) ** 2).sum(axis=-1)).max()) < min_contrast:
        return None
    xs = ndi.gaussian_filter(x, (smooth_sigma, smooth_sigma, 0), mode="nearest") \
        if smooth_sigma > 0 else x
    d = np.sqrt(((xs - bg) ** 2).sum(axis=-1))
    bg_level = float(np.median(np.concatenate([d[0], d[-1], d[1:-1, 0], d[1:-1, -1]])))
    fg = d > max(_otsu(d.ravel()), min_contrast)
    if np.concatenate([fg[0], fg[-1], fg[1:-1, 0], fg[1:-1, -1]]).mean() > _MAX_BORDER_FG:
        return None          # no background to tell a form from: noise, a texture
    lab, n = ndi.label(fg, structure=_EIGHT)
    if n == 0:
        return None
    sizes = np.bincount(lab.ravel())[1:]
    if sizes.max() < min_main_area:
        return None
    # pieces: the largest component and every one at least _PIECE_FRAC of its size (the
    # pieces of a broken outline, eyes) ...
    big = np.nonzero(sizes >= max(min_main_area, _PIECE_FRAC * sizes.max()))[0] + 1
    comp = np.isin(lab, big)
    # ... of which the cluster (pieces linked across gaps up to _LINK_FRAC of their
    # half-size) holding the most foreground
    rows, cols = np.nonzero(comp.any(axis=1))[0], np.nonzero(comp.any(axis=0))[0]
    half = 0.25 * (rows[-1] - rows[0] + cols[-1] - cols[0] + 2)
    link = max(2, int(round(_LINK_FRAC * half)))
    clab, cn = ndi.label(ndi.binary_dilation(comp, _disk(link)), structure=_EIGHT)
    if cn > 1:
        comp &= clab == int(np.argmax(np.bincount(clab[comp], minlength=cn + 1)[1:])) + 1
        rows, cols = np.nonzero(comp.any(axis=1))[0], np.nonzero(comp.any(axis=0))[0]
    y0, y1 = max(rows[0] - 4, 0), min(rows[-1] + 5, H)
    x0, x1 = max(cols[0] - 4, 0), min(cols[-1] + 5, W)
    x, d, fg, comp = x[y0:y1, x0:x1], d[y0:y1, x0:x1], fg[y0:y1, x0:x1], comp[y0:y1, x0:x1]
    filled, circle = _fill_pieces(comp)
    if circle is not None:
        # a piece lying mostly outside the circle the fill found is a separate form
        # beside the main one (never the largest piece)
        fx, fy, fr = circle
        plab, pn = ndi.label(comp, structure=_EIGHT)
        gy, gx = np.mgrid[0:comp.shape[0], 0:comp.shape[1]]
        out = np.hypot(gx - fx, gy - fy) > _OUTSIDE_FRAC * fr + 1.0
        n_px = np.bincount(plab.ravel(), minlength=pn + 1)
        n_out = np.bincount(plab[out], minlength=pn + 1)
        apart = np.nonzero(n_out[1:] > 0.5 * n_px[1:])[0] + 1
        apart = apart[apart != int(np.argmax(n_px[1:])) + 1]
        if apart.size:
            comp = comp & ~np.isin(plab, apart)
            filled, _ = _fill_pieces(comp)
    filled = _largest(filled)
    others = fg & ~filled
    s = _soft_map(d, filled, others, lo=bg_level)
    # where the fill bridged a gap no edge is drawn: the edge is the filled mask's own
    bridged = filled & ~ndi.binary_fill_holes(comp)
    if bridged.any():
        s_mask = ndi.gaussian_filter(filled.astype(np.float64), _BRIDGE_SIGMA)
        near = ndi.binary_dilation(bridged, _disk(1))
        s = np.where(near, np.maximum(s, s_mask), s)
    return x, filled, s, (y0, x0)
