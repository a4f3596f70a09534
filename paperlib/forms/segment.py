"""The main form of an image: the one character drawn on a background (numpy + scipy only).

:func:`main_form` is built to survive GAN output's degradations (per-pixel colour noise,
faint outlines broken into pieces, partly drawn forms): against the background (the
median of the 1-px border), the smoothed image's colour distance is thresholded (Otsu,
never below ``min_contrast``); the largest cluster of foreground pieces is filled
together (holes, enclosed pixels, a radial fill bridging gaps); the largest filled
component is the main form. An image with no pixel ``min_contrast`` from the background,
a largest piece under ``min_main_area`` px, or a border more than 35 % foreground is
*blank*. (the method in detail, measurements: docs/DECISIONS.md, "Form measure (more)")
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from .fits import fit_circle, fit_conic, ray_to_conic
from .shape import soft_map

_EIGHT = np.ones((3, 3), dtype=bool)

#: Main-form segmentation constants (module docstring).
_PIECE_FRAC = 0.1        # pieces >= this share of the largest one join the main form
_LINK_FRAC = 0.2         # pieces this share of their half-size apart are one form
_GAP_HI, _GAP_LO = 0.9, 0.6   # ray radius / fitted ellipse's: bridged not / fully
_N_RAYS = 128
_OUTSIDE_FRAC = 1.15     # a piece mostly beyond this share of the radius is apart
_BRIDGE_SIGMA = 0.5      # px: edge of a bridged gap = the filled mask smoothed by this
_MAX_BORDER_FG = 0.35    # more of the image border than this in the foreground: blank
_DIRS8 = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))


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
    pixel of ``pieces`` along each of ``n_rays`` rays, the gaps of a partly drawn outline
    bridged: a ray reaching less than ``_GAP_LO`` of the ellipse fitted to all rays' ends
    takes the radius interpolated between solid rays (>= ``_GAP_HI``), a shallower notch
    is bridged in proportion. Returns the filled mask and the robust circle
    ``(cx, cy, r)`` in array coordinates (None when too few rays hit: no fill).
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
    fx, fy, fr, _ = fit_circle(pts)
    if not np.isfinite(fr):
        return main, None
    # once more without the outliers (a spike, a notch): a robust circle
    inl = np.abs(np.hypot(pts[:, 0] - fx, pts[:, 1] - fy) - fr) <= 0.1 * fr
    if inl.sum() >= max(6, n_rays // 3):
        fx2, fy2, fr2, _ = fit_circle(pts[inl])
        if np.isfinite(fr2):
            fx, fy, fr = fx2, fy2, fr2
    # the reference each ray is compared with: an ellipse fitted to the rays' ends (so an
    # elliptical form is not taken for notches), without outliers; else the circle
    ref = np.full(n_rays, np.nan)
    fit = fit_conic(pts[inl] if inl.sum() >= 6 else pts)
    if fit is not None:
        ref = ray_to_conic(fit, cx, cy, ux, uy)
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


def main_form(x: np.ndarray, min_contrast: float, min_main_area: int,
              smooth_sigma: float):
    """The main form of an RGB [0, 1] image (module docstring).

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
    s = soft_map(d, filled, others, lo=bg_level)
    # where the fill bridged a gap no edge is drawn: the edge is the filled mask's own
    bridged = filled & ~ndi.binary_fill_holes(comp)
    if bridged.any():
        s_mask = ndi.gaussian_filter(filled.astype(np.float64), _BRIDGE_SIGMA)
        near = ndi.binary_dilation(bridged, _disk(1))
        s = np.where(near, np.maximum(s, s_mask), s)
    return x, filled, s, (y0, x0)
