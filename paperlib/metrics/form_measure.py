"""The form measure of an artist set: one per-image score that the paper-B gate, Table 1 and
the curation loop's automatic rater all use, chosen by the data set, never by a model.

Two measures (:data:`FORM_KINDS`):

* ``"face"`` -- a character on a background (``artist_donglein``, and the default for any
  folder whose images carry no known style): circle fidelity
  (:mod:`paperlib.metrics.fidelity`). Per image, the gate's statistic is the main form's
  circularity, the claims' exact-form score the ``main_score`` and the rater's factor the
  style-fidelity ``score`` (main form x inner forms against the inner counts the style
  allows), as before this module.
* ``"discs"`` -- a flat-colour composition of planes, discs and rings
  (``artist_geometric``), where the main-form finder finds nothing (its planes run to the
  frame; median main circularity 0 on the real images). Per image, the roundest colour
  region (:func:`paperlib.utils.discs.disc_forms`): ``max over regions of arc * flat``,
  with ``arc`` the share of a robustly fitted circle's circumference the region's edge
  draws and ``flat`` the share of its core pixels within half the palette bandwidth of
  its colour. 1 for an image with one whole flat disc; 0 without a closed flat region
  (noise, texture). Gate statistic, exact-form score and rater factor are this number.

Measured (res 32, the cpu profile's 400-image stand-in sets, seed 0;
``tests/test_form_measure.py`` checks the claims on 40-image sets): on ``artist_geometric``
the disc score's median is 1.0 (mean 0.83; 3.7 % of images score 0, where same-coloured
forms merge into one region), while the face measure's median main circularity there is
0 (no main form in 50 % of the images); on ``artist_donglein`` the face measure's median
main circularity is 0.996 (the disc score's median would be 0.97). On 200 images of
uniform noise both measures' medians are 0 (disc score mean 0.006, max 0.24). On the 400
geometric images, additive Gaussian noise of std 0, 0.05, 0.1, 0.15, 0.2, 0.3 (in [0, 1]
units) gives mean disc scores 0.83, 0.81, 0.62, 0.41, 0.28, 0.15; a Gaussian blur of
0, 0.5, 1, 1.5, 2, 3 px gives 0.83, 0.81, 0.73, 0.65, 0.54, 0.33. About 18 ms per image
(one core).

:func:`form_measure_of` (:func:`form_kind_of`) reads a folder's manifest: its images'
labels are stand-in styles, mapped by :data:`STYLE_FORMS`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.discs import disc_forms
from ..utils.images import _iter_images, to_rgb01
from .fidelity import inner_counts_of, style_fidelity

#: The measures: ``"face"`` (circle fidelity of one character) and ``"discs"`` (the
#: roundest flat colour region of a composition).
FORM_KINDS = ("face", "discs")

#: Which measure each stand-in style (its images' manifest label) uses.
STYLE_FORMS = {"donglein": "face", "geometric": "discs"}


@dataclass(frozen=True)
class FormMeasure:
    """A form measure: its ``kind`` (one of :data:`FORM_KINDS`) and, for ``"face"``, the
    inner-circle counts the style allows (:func:`paperlib.metrics.inner_counts_of`; None
    leaves the count out)."""

    kind: str = "face"
    inner_counts: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.kind not in FORM_KINDS:
            raise ValueError(f"unknown form measure {self.kind!r}; choose from {FORM_KINDS}")
        if self.inner_counts is not None:
            counts = tuple(int(c) for c in self.inner_counts)
            if not counts or min(counts) < 0:
                raise ValueError(f"inner_counts must be non-negative counts, got "
                                 f"{self.inner_counts!r}")
            object.__setattr__(self, "inner_counts", counts)


def disc_score(img: Any) -> float:
    """The ``"discs"`` score of one image (uint8 (H, W, 3), or float [-1, 1] (C, H, W)):
    ``max(arc * flat)`` over its closed colour regions, 0 without one (module docstring)."""
    forms = disc_forms(to_rgb01(img))
    return float(max((f["arc"] * f["flat"] for f in forms), default=0.0))


def form_scores(images: Any, measure: FormMeasure) -> dict:
    """Per-image scores of a batch (4-D array/tensor or a list) under ``measure``:
    ``{"form": the gate's statistic per image, "exact": the exact-form score paper B's
    claims compare, "fidelity": the rater's factor per image, "circle": the
    circle-fidelity results (``"face"``) or None}``. For ``"face"``: main circularity,
    ``main_score`` and ``score`` (module docstring); for ``"discs"`` all three are the
    disc score."""
    if not isinstance(measure, FormMeasure):
        raise ValueError(f"measure must be a FormMeasure, got {type(measure).__name__}")
    if measure.kind == "discs":
        s = np.array([disc_score(im) for im in _iter_images(images)], dtype=np.float64)
        return {"form": s, "exact": s, "fidelity": s, "circle": None}
    results = style_fidelity(images, measure.inner_counts)
    return {"form": np.array([r.main_circularity for r in results], dtype=np.float64),
            "exact": np.array([r.main_score for r in results], dtype=np.float64),
            "fidelity": np.array([r.score for r in results], dtype=np.float64),
            "circle": results}


def form_summary(scores: dict) -> dict:
    """``form_score`` (mean exact-form score: what paper B's "more exact form" claims
    compare) and ``form_median`` (median of the gate's statistic) of :func:`form_scores`'
    per-image scores; NaN for none."""
    form = np.asarray(scores["form"], dtype=np.float64)
    if form.size == 0:
        return {"form_score": math.nan, "form_median": math.nan}
    return {"form_score": float(np.mean(scores["exact"])), "form_median": float(np.median(form))}


def form_kind_of(data_dir: Any) -> str:
    """The form measure's kind for an image folder, from its data: the labels of its
    manifest's images (the stand-ins' styles, held-out parts included) mapped by
    :data:`STYLE_FORMS`. A folder without a manifest, with labels of no known style, or
    whose labels map to more than one measure gets ``"face"`` (circle fidelity, the
    measure before this module)."""
    kinds: set = set()
    try:
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))
        kinds = {STYLE_FORMS.get(str(e.get("label"))) for e in manifest["images"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return kinds.pop() if len(kinds) == 1 and None not in kinds else "face"


def form_measure_of(data_dir: Any) -> FormMeasure:
    """The form measure of an image folder: :func:`form_kind_of`, with the inner counts
    its manifest records (:func:`paperlib.metrics.inner_counts_of`) for ``"face"``."""
    kind = form_kind_of(data_dir)
    return FormMeasure(kind, inner_counts_of(data_dir) if kind == "face" else None)
