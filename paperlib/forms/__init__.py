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
from .discs import disc_forms, disc_score, region_circle_score
from .fidelity import (
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
from .measure import (
    FormMeasure,
    form_kind_of,
    form_measure_of,
    form_scores,
    form_summary,
    independent_form_scores,
)
from .segment import main_form
from .shape import form_shape

__all__ = [
    "discs",
    "fidelity",
    "fits",
    "inner",
    "measure",
    "segment",
    "shape",
    "CircleFidelity",
    "FormMeasure",
    "batch_circle_fidelity",
    "circle_fidelity",
    "disc_forms",
    "disc_score",
    "form_kind_of",
    "form_measure_of",
    "form_scores",
    "form_shape",
    "form_summary",
    "independent_form_scores",
    "inner_counts_of",
    "main_form",
    "nearest_count",
    "region_circle_score",
    "rescore",
    "score_parts",
    "style_fidelity",
    "summarize",
]
