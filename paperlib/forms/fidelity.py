"""Circle fidelity: how exactly an image draws its round forms. Our measure, not paper B's.

For one image: the main form (:func:`~paperlib.forms.segment.main_form`), the inner forms
inside it (:func:`~paperlib.forms.inner.inner_forms`) and the shape of each
(:func:`~paperlib.forms.shape.form_shape`), scored by :func:`score_parts`, in [0, 1]::

    main_score  = c * e * f           the main form only
    inner_score = a * q               the inner forms only; NaN when n_inner_expected is None
    score       = main_score * inner_score   (= main_score when n_inner_expected is None)
    c = clip(main_circularity, 0, 1)
    e = main_axis_ratio
    f = 1 - clip(main_residual / RESIDUAL_TOL, 0, 1)            RESIDUAL_TOL = 0.25
    a = 1 - min(1, |n_inner_found - n_inner_expected| / max(n_inner_expected, 1))
    q = 0.5 + 0.5 * clip(inner_circularity, 0, 1)
        (q = 1 when n_inner_expected is 0, or when no inner form is found)

All factors are 1 for a perfect anti-aliased circle; report ``main_score`` and
``inner_score`` beside ``score``. One main form is assumed (compositions:
:mod:`paperlib.forms.discs`); a blank image scores 0 and raises nothing.
(measurements and limits: docs/DECISIONS.md, "Form measure")
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..utils.images import iter_images, to_rgb01
from .inner import inner_forms
from .segment import main_form
from .shape import form_shape

#: A circle-fit residual (RMS radial error / radius) at or above this gives factor f = 0.
RESIDUAL_TOL = 0.25


@dataclass
class CircleFidelity:
    """Circle fidelity of one image; scores in [0, 1] (formula: the module docstring).

    ``main_*`` describe the largest foreground form; ``inner_*`` the forms inside it
    (``inner_circularity``: their mean, NaN when there is none). A blank image (no main
    form): ``found_main=False``, ``main_circularity=0``, ``main_axis_ratio=0``,
    ``main_residual=1``, ``main_score=0``, ``score=0``, ``inner_score`` 0 (NaN when
    ``n_inner_expected`` is None).
    """

    main_circularity: float
    main_residual: float
    main_axis_ratio: float
    n_inner_found: int
    n_inner_expected: int | None
    inner_circularity: float
    score: float
    main_score: float = math.nan     # NaN only for results built without it
    inner_score: float = math.nan
    found_main: bool = True
    main_area: float = 0.0
    main_radius: float = 0.0
    #: (x, y) of the fitted circle in continuous image coordinates: pixel (i, j) covers
    #: [j, j+1) x [i, i+1), so a disc drawn centred in the frame has centre (W/2, H/2).
    main_center: tuple[float, float] = (math.nan, math.nan)
    n_inner_other: int = 0        # inner regions too elongated to be round forms
    inner_circularities: list[float] = field(default_factory=list)
    inner_areas: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def score_parts(main_circularity: float, main_axis_ratio: float, main_residual: float,
                n_inner_found: int, inner_circularity: float,
                n_inner_expected: int | None) -> tuple[float, float, float]:
    """``(main_score, inner_score, score)`` from the measured parts (see
    :class:`CircleFidelity`); the single place of the score formula."""
    c = min(max(main_circularity, 0.0), 1.0)
    e = min(max(main_axis_ratio, 0.0), 1.0)
    f = 1.0 - min(max(main_residual / RESIDUAL_TOL, 0.0), 1.0)
    main_score = float(min(max(c * e * f, 0.0), 1.0))
    if n_inner_expected is None:
        return main_score, math.nan, main_score
    a = 1.0 - min(1.0, abs(n_inner_found - n_inner_expected) / max(n_inner_expected, 1))
    q = 1.0
    if n_inner_expected > 0 and n_inner_found > 0:
        q = 0.5 + 0.5 * min(max(inner_circularity, 0.0), 1.0)
    inner_score = float(min(max(a * q, 0.0), 1.0))
    return main_score, inner_score, main_score * inner_score


def circle_fidelity(
    img: Any,
    n_inner_expected: int | None = None,
    *,
    min_contrast: float = 0.1,
    min_main_area: int = 9,
    min_inner_contrast: float = 0.15,
    min_inner_px: int = 4,
    min_inner_frac: float = 0.003,
    max_rim_frac: float = 0.1,
    min_inner_circularity: float = 0.7,
    smooth_sigma: float = 0.7,
) -> CircleFidelity:
    """Circle fidelity of one image (score: the module docstring).

    ``img``: uint8 (H, W, 3), or float [-1, 1] (C, H, W). ``n_inner_expected``: inner
    circles the image should show (None: count left out, ``score == main_score``).
    ``smooth_sigma``: Gaussian (px) used to find and measure the main form (0: none).
    """
    if n_inner_expected is not None:
        n_inner_expected = int(n_inner_expected)
        if n_inner_expected < 0:
            raise ValueError("n_inner_expected must be >= 0")
    x = to_rgb01(img)
    H, W, _ = x.shape
    if H < 3 or W < 3:
        return _blank(n_inner_expected)
    mf = main_form(x, min_contrast, min_main_area, smooth_sigma)
    if mf is None:
        return _blank(n_inner_expected)
    x, filled, s_main, (oy, ox) = mf
    main = form_shape(s_main, contour_area=True)

    inner_circs, inner_areas, n_other = inner_forms(
        x, filled, main["area"], min_inner_contrast, min_inner_px, min_inner_frac,
        max_rim_frac, min_inner_circularity)

    n_found = len(inner_circs)
    inner_circ = float(np.mean(inner_circs)) if inner_circs else math.nan

    main_score, inner_score, score = score_parts(
        main["circularity"], main["axis_ratio"], main["residual"], n_found, inner_circ,
        n_inner_expected)
    return CircleFidelity(
        main_circularity=float(main["circularity"]),
        main_residual=float(main["residual"]),
        main_axis_ratio=float(main["axis_ratio"]),
        n_inner_found=n_found,
        n_inner_expected=n_inner_expected,
        inner_circularity=inner_circ,
        score=score,
        main_score=main_score,
        inner_score=inner_score,
        found_main=True,
        main_area=float(main["area"]),
        main_radius=float(main["r"]),
        main_center=(float(main["cx"]) + ox + 0.5, float(main["cy"]) + oy + 0.5),
        n_inner_other=n_other,
        inner_circularities=[float(v) for v in inner_circs],
        inner_areas=[float(v) for v in inner_areas],
    )


def batch_circle_fidelity(
    images: Any, n_inner_expected: int | Sequence[int | None] | None = None, **kwargs
) -> list[CircleFidelity]:
    """:func:`circle_fidelity` of every image of a batch (4-D array/tensor or a list);
    ``n_inner_expected``: one value for all images or one per image."""
    imgs = iter_images(images)
    if n_inner_expected is None or np.isscalar(n_inner_expected):
        expected: Iterable = [n_inner_expected] * len(imgs)
    else:
        expected = list(n_inner_expected)  # type: ignore[arg-type]
        if len(expected) != len(imgs):
            raise ValueError(
                f"n_inner_expected has {len(expected)} values for {len(imgs)} images"
            )
    return [circle_fidelity(im, ne, **kwargs) for im, ne in zip(imgs, expected)]


def summarize(results: Sequence[CircleFidelity]) -> dict:
    """Means over a list of results: the main-form fields and ``score`` over all images
    (blank ones with their worst values), ``inner_score`` and ``frac_inner_count_ok`` over
    images with an expected count, ``inner_circularity`` over images with an inner form
    (NaN where none), ``frac_found_main`` the share of non-blank images."""
    n = len(results)
    out: dict[str, float] = {"n": n}
    keys = ["score", "main_score", "main_circularity", "main_residual", "main_axis_ratio",
            "n_inner_found"]
    if n == 0:
        out.update({k: math.nan for k in keys})
        out.update(inner_score=math.nan, inner_circularity=math.nan,
                   frac_found_main=math.nan, frac_inner_count_ok=math.nan)
        return out
    for k in keys:
        out[k] = float(np.mean([getattr(r, k) for r in results]))

    def nanmean(values: list[float]) -> float:
        v = [x for x in values if np.isfinite(x)]
        return float(np.mean(v)) if v else math.nan

    out["inner_score"] = nanmean([r.inner_score for r in results])
    out["inner_circularity"] = nanmean([r.inner_circularity for r in results])
    out["frac_found_main"] = float(np.mean([r.found_main for r in results]))
    exp = [r for r in results if r.n_inner_expected is not None]
    out["frac_inner_count_ok"] = (
        float(np.mean([r.n_inner_found == r.n_inner_expected for r in exp])) if exp else math.nan
    )
    return out


def inner_counts_of(data_dir: Any) -> tuple[int, ...] | None:
    """The inner-circle counts a data set's manifest records (``recipe.n_inner_circles``),
    sorted and unique (e.g. ``(2, 4)`` for ``artist_donglein``); None when the folder has
    no manifest or its recipes record no count."""
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
    """A :class:`CircleFidelity` re-scored for another expected inner count (equal to
    ``circle_fidelity(img, n_inner_expected)``, without the cost)."""
    if n_inner_expected is not None:
        n_inner_expected = int(n_inner_expected)
        if n_inner_expected < 0:
            raise ValueError("n_inner_expected must be >= 0")
    if not result.found_main:
        return replace(
            result, n_inner_expected=n_inner_expected, score=0.0, main_score=0.0,
            inner_score=math.nan if n_inner_expected is None else 0.0)
    main_score, inner_score, score = score_parts(
        result.main_circularity, result.main_axis_ratio, result.main_residual,
        result.n_inner_found, result.inner_circularity, n_inner_expected)
    return replace(result, n_inner_expected=n_inner_expected, score=score,
                               main_score=main_score, inner_score=inner_score)


def style_fidelity(images: Any, inner_counts: Sequence[int] | None = None) -> list:
    """Circle fidelity of generated images against a *style*, not a recipe.

    Each image is scored against the count of ``inner_counts`` (e.g. ``(2, 4)``:
    :func:`inner_counts_of`) nearest the count found in it (our choice), which becomes its
    ``n_inner_expected``; so :func:`summarize`'s ``frac_inner_count_ok`` is the share of
    images whose count is one the style has. ``inner_counts=None`` leaves the count out
    (``inner_score`` NaN).
    """
    results = batch_circle_fidelity(images, None)
    if inner_counts is None:
        return results
    counts = [int(c) for c in inner_counts]
    return [rescore(r, nearest_count(r.n_inner_found, counts)) for r in results]


def _blank(n_inner_expected: int | None) -> CircleFidelity:
    return CircleFidelity(
        main_circularity=0.0, main_residual=1.0, main_axis_ratio=0.0, n_inner_found=0,
        n_inner_expected=n_inner_expected, inner_circularity=math.nan, score=0.0,
        main_score=0.0, inner_score=math.nan if n_inner_expected is None else 0.0,
        found_main=False,
    )
