"""Forms: how exactly an image draws its forms (numpy + scipy image analysis; our measure,
not the papers'). Below ``data`` (which draws form maps with :func:`main_form`); imports
only ``paperlib.utils``.

* :mod:`.segment` -- the main form of an image (one character on a background);
* :mod:`.inner` -- the inner forms inside it (eyes, pupils, cheeks);
* :mod:`.shape` -- the shape of one form (sub-pixel contour, circularity, fits;
  :mod:`.fits`);
* :mod:`.discs` -- the round flat-colour regions of a composition;
* :mod:`.fidelity` -- circle fidelity of an image and its style-aware variant;
* :mod:`.measure` -- the form measure of an artist set (``"face"`` or ``"discs"``).
"""

from . import discs, fidelity, fits, inner, measure, segment, shape
from .discs import arc_coverage, disc_forms, disc_score, palette
from .fidelity import (
    RESIDUAL_TOL,
    CircleFidelity,
    batch_circle_fidelity,
    circle_fidelity,
    inner_counts_of,
    nearest_count,
    rescore,
    score_parts,
    style_fidelity,
    summarize,
)
from .inner import inner_forms
from .measure import (
    FORM_KINDS,
    STYLE_FORMS,
    FormMeasure,
    form_kind_of,
    form_measure_of,
    form_scores,
    form_summary,
)
from .segment import main_form
from .shape import form_shape, iso_contour, soft_map

__all__ = [
    # modules
    "discs", "fidelity", "fits", "inner", "measure", "segment", "shape",
    # the main form and the shape of a form
    "main_form", "inner_forms", "form_shape", "iso_contour", "soft_map",
    # the discs of a composition
    "disc_forms", "disc_score", "palette", "arc_coverage",
    # circle fidelity
    "RESIDUAL_TOL", "CircleFidelity", "circle_fidelity", "batch_circle_fidelity",
    "score_parts", "summarize", "rescore", "nearest_count", "style_fidelity",
    "inner_counts_of",
    # the form measure of a set
    "FORM_KINDS", "STYLE_FORMS", "FormMeasure", "form_kind_of", "form_measure_of",
    "form_scores", "form_summary",
]
