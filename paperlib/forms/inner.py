"""The inner forms of a main form: eyes, pupils, cheeks, highlights (numpy + scipy only).

Candidates are the pixels inside the main form (eroded by 1 px) farther than
``min_contrast`` from its median colour; an outline or rim shading is cut away. Each
region, holes filled (an eye with its pupil is one form), is one form, or several when it
is not round (circularity below ``split_below``) and splits at its seeds (touching forms).
Specks (under ``max(min_px, min_frac * main area)`` px) are ignored; forms with
circularity below ``min_circularity`` or too thin (mouth lines, strokes) are counted
apart; the rest are the inner *round* forms, measured by
:func:`~paperlib.forms.shape.form_shape`. (details: docs/DECISIONS.md, "Form measure (more)")
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .shape import form_shape, soft_map

_EIGHT = np.ones((3, 3), dtype=bool)

#: Seed depths (px from the form's edge) tried, in order, to split touching forms.
_SEED_DEPTHS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0)


def inner_forms(x, filled, main_area, min_contrast, min_px, min_frac, max_rim_frac,
                min_circularity, split_below=0.8) -> tuple[list[float], list[float], int]:
    """Inner forms of a main form.

    Takes the RGB [0, 1] image ``x`` and the main form's filled mask ``filled`` (as
    :func:`~paperlib.forms.segment.main_form` returns them) and its area. Returns
    ``(circularities, areas, n_other)``: the circularities and areas of the round inner
    forms and the count of the others.
    """
    interior = ndi.binary_erosion(filled)
    if interior.sum() < 4:
        return [], [], 0
    face = np.median(x[interior], axis=0)
    g = np.sqrt(((x - face) ** 2).sum(axis=-1))
    cand = interior & (g > min_contrast)
    if not cand.any():
        return [], [], 0
    min_area = max(min_px, min_frac * main_area)
    regions = _candidate_regions(cand, interior, max_rim_frac)
    all_regions = np.zeros(g.shape, dtype=bool)
    for reg in regions:
        all_regions |= reg
    forms: list[tuple[np.ndarray, dict]] = []
    for reg in regions:
        forms += _forms_of_region(reg, g, filled, all_regions, min_area, split_below)

    circs, areas, n_other = [], [], 0
    for P, sh in forms:
        if sh["circularity"] >= min_circularity and sh["thick"]:
            circs.append(sh["circularity"])
            areas.append(sh["area"])
        else:
            n_other += 1          # a mouth line, a stroke: not a round form
    return circs, areas, n_other


def _candidate_regions(cand: np.ndarray, interior: np.ndarray,
                       max_rim_frac: float) -> list[np.ndarray]:
    """The candidate regions of ``cand``; an outline / rim shading (a region along much of
    the rim) is cut away with the rim band, keeping what sticks out of it (an eye touching
    the outline)."""
    rim = interior & ~ndi.binary_erosion(interior)
    band = interior & ~ndi.binary_erosion(interior, iterations=2)
    band_near = ndi.binary_dilation(band)
    n_rim = max(int(rim.sum()), 1)
    regions: list[np.ndarray] = []
    lab, _ = ndi.label(cand, structure=_EIGHT)
    for idx, sl in enumerate(ndi.find_objects(lab), start=1):
        comp = np.zeros(cand.shape, dtype=bool)
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
    return regions


def _measure(mask: np.ndarray, others: np.ndarray, g: np.ndarray, filled: np.ndarray) -> dict:
    """:func:`form_shape` (no fits) of one inner form ``mask``, measured in a window around
    it on the colour distance ``g``, plus ``thick`` (some pixel has its four neighbours
    inside)."""
    H, W = g.shape
    ys, xs = np.nonzero(mask)
    y0, y1 = max(ys.min() - 3, 0), min(ys.max() + 4, H)
    x0, x1 = max(xs.min() - 3, 0), min(xs.max() + 4, W)
    m = mask[y0:y1, x0:x1]
    sm = soft_map(g[y0:y1, x0:x1], m, others[y0:y1, x0:x1] & ~m,
                  allowed=filled[y0:y1, x0:x1])
    sh = form_shape(sm, fit=False)
    sh["thick"] = bool(ndi.binary_erosion(m).any())
    return sh


def _forms_of_region(reg, g, filled, all_regions, min_area,
                     split_below) -> list[tuple[np.ndarray, dict]]:
    """The forms of one region, holes filled, as ``(mask, shape)`` pairs: one form, or
    touching forms split at their seeds when it is not round; specks left out."""
    F = ndi.binary_fill_holes(reg)
    if F.sum() < min_area:
        return []
    sh = _measure(F, all_regions, g, filled)
    parts = [(F, sh)]
    if sh["circularity"] < split_below:
        split = _split_at_seeds(F, g, filled, all_regions, min_area)
        if split is not None:
            parts = split
    return [(P, psh) for P, psh in parts if psh["area"] >= min_area]


def _split_at_seeds(F, g, filled, all_regions, min_area):
    """``F`` split at its seeds -- its parts more than t px from its edge, for the first t
    of :data:`_SEED_DEPTHS` giving other than one piece -- every pixel going to its nearest
    seed: a list of ``(mask, shape)`` of the parts of at least ``min_area`` pixels; None
    when there are fewer than two seeds (a stroke's seed is one line: never split)."""
    dt = ndi.distance_transform_edt(F)
    n_parts, plab = 0, None
    for t in _SEED_DEPTHS:
        plab, n_parts = ndi.label(dt > t, structure=_EIGHT)
        if n_parts != 1:
            break
    if n_parts < 2:
        return None
    _, (iy, ix) = ndi.distance_transform_edt(plab == 0, return_indices=True)
    owner = np.where(F, plab[iy, ix], 0)
    parts = []
    for j in range(1, n_parts + 1):
        P = owner == j
        if P.sum() >= min_area:
            parts.append((P, _measure(P, all_regions & ~P | (F & ~P), g, filled)))
    return parts
