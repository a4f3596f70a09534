"""The form measure of an artist set: one per-image score that paper B's gate, Table 1 and
the curation loop's automatic rater all use, chosen by the data set, never by a model.

Two measures (:data:`FORM_KINDS`):

* ``"face"`` -- a character on a background (``artist_donglein``, and the default for a
  folder of no known style): circle fidelity (:mod:`paperlib.forms.fidelity`). Gate
  statistic: main circularity; exact-form score: ``main_score``; rater's factor: the
  style-fidelity ``score``.
* ``"discs"`` -- a flat-colour composition (``artist_geometric``):
  :func:`~paperlib.forms.discs.disc_score` is all three.

:func:`form_measure_of` (:func:`form_kind_of`) picks it from a folder's manifest labels
via :data:`STYLE_FORMS`. :func:`independent_form_scores` is a second measure per kind,
computed differently from the rater's factor, for outcomes the rater does not grade.
(measurements: docs/DECISIONS.md, "Form measure", "Paper B: outcome measures")
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.images import iter_images
from .discs import disc_score, region_circle_score
from .fidelity import inner_counts_of, style_fidelity

#: The measures: ``"face"`` (circle fidelity of one character) and ``"discs"`` (the
#: roundest flat colour region of a composition).
FORM_KINDS = ("face", "discs")

#: The independent outcome measure of each kind (:func:`independent_form_scores`).
INDEPENDENT_FORMS = {"face": "discs", "discs": "region-circle"}

#: Which measure each stand-in style (its images' manifest label) uses.
STYLE_FORMS = {"donglein": "face", "geometric": "discs"}


@dataclass(frozen=True)
class FormMeasure:
    """A form measure: its ``kind`` (one of :data:`FORM_KINDS`) and, for ``"face"``, the
    inner-circle counts the style allows (:func:`paperlib.forms.fidelity.inner_counts_of`;
    None leaves the count out)."""

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


def form_scores(images: Any, measure: FormMeasure) -> dict:
    """Per-image scores of a batch (4-D array/tensor or a list) under ``measure``:
    ``{"form": gate statistic, "exact": exact-form score, "fidelity": rater's factor,
    "circle": the circle-fidelity results (``"face"``) or None}`` (module docstring)."""
    if not isinstance(measure, FormMeasure):
        raise ValueError(f"measure must be a FormMeasure, got {type(measure).__name__}")
    if measure.kind == "discs":
        s = np.array([disc_score(im) for im in iter_images(images)], dtype=np.float64)
        return {"form": s, "exact": s, "fidelity": s, "circle": None}
    results = style_fidelity(images, measure.inner_counts)
    return {"form": np.array([r.main_circularity for r in results], dtype=np.float64),
            "exact": np.array([r.main_score for r in results], dtype=np.float64),
            "fidelity": np.array([r.score for r in results], dtype=np.float64),
            "circle": results}


def independent_form_scores(images: Any, kind: str) -> dict:
    """A form measure computed differently from the rater's factor of ``kind``
    (:data:`INDEPENDENT_FORMS`): for ``"face"`` the disc score (flat-colour regions, a
    RANSAC circle's arc; not the main-form finder), for ``"discs"`` circle fidelity's
    main-form score of the roundest colour region (no arc, no flatness). Returns
    ``{"kind": that measure's name, "scores": per-image array}``; ``ValueError`` for an
    unknown kind."""
    if kind not in INDEPENDENT_FORMS:
        raise ValueError(f"unknown form measure {kind!r}; choose from {FORM_KINDS}")
    score = disc_score if kind == "face" else region_circle_score
    return {"kind": INDEPENDENT_FORMS[kind],
            "scores": np.array([score(im) for im in iter_images(images)], dtype=np.float64)}


def form_summary(scores: dict) -> dict:
    """``form_score`` (mean exact-form score: what paper B's "more exact form" claims
    compare) and ``form_median`` (median of the gate's statistic) of :func:`form_scores`'
    per-image scores; NaN for none."""
    form = np.asarray(scores["form"], dtype=np.float64)
    if form.size == 0:
        return {"form_score": math.nan, "form_median": math.nan}
    return {"form_score": float(np.mean(scores["exact"])), "form_median": float(np.median(form))}


def form_kind_of(data_dir: Any) -> str:
    """The form measure's kind for an image folder: its manifest labels mapped by
    :data:`STYLE_FORMS`; ``"face"`` without a manifest, for unknown labels, or when the
    labels map to more than one measure."""
    kinds: set = set()
    try:
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))
        kinds = {STYLE_FORMS.get(str(e.get("label"))) for e in manifest["images"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return kinds.pop() if len(kinds) == 1 and None not in kinds else "face"


def form_measure_of(data_dir: Any) -> FormMeasure:
    """The form measure of an image folder: :func:`form_kind_of`, with the inner counts
    its manifest records (:func:`paperlib.forms.fidelity.inner_counts_of`) for ``"face"``."""
    kind = form_kind_of(data_dir)
    return FormMeasure(kind, inner_counts_of(data_dir) if kind == "face" else None)
