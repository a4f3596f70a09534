"""Evaluation: features (:mod:`.features`, Inception, cached), statistics (:mod:`.stats`:
FID, KID, precision/recall, density/coverage, IS), Inception-Score sources
(:mod:`.is_scorers`), circle fidelity (:mod:`.fidelity`), the form measure of an artist
set (:mod:`.form_measure`), the cached evaluation of a
run (:mod:`.evaluate`) and the gate and verdict statistics (:mod:`.verdicts`)."""

from . import evaluate, features, fidelity, form_measure, is_scorers, stats, verdicts
from .evaluate import (  # noqa: F401
    EVAL_KEYS,
    cached_json,
    cached_run_eval,
    checkpoint_path,
    evaluate_many,
    evaluate_run,
    metrics_over_training,
)
from .features import (  # noqa: F401
    DEFAULT_BATCH,
    DEFAULT_CACHE_DIR,
    FeatureExtractor,
    get_extractor,
    images_to_uint8,
    inception_torchscript_path,
    optimise_inception,
    real_cache_key,
    real_features,
    tf1_bilinear_resize,
)
from .fidelity import (  # noqa: F401
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
from .form_measure import (  # noqa: F401
    FORM_KINDS,
    STYLE_FORMS,
    FormMeasure,
    disc_score,
    form_kind_of,
    form_measure_of,
    form_scores,
    form_summary,
)
from .is_scorers import (  # noqa: F401
    INCEPTION_LOGITS_ENV,
    TFInceptionScorer,
    is_sources,
    labelled_is_sources,
    register_is_source,
    resolve_is_source,
    resolve_tf_logits_path,
)
from .stats import (  # noqa: F401
    density_coverage,
    feature_stats,
    fid_from_features,
    frechet_distance,
    inception_score,
    kid,
    precision_recall,
)
from .verdicts import (  # noqa: F401
    VERDICTS,
    Gate,
    compare_claim,
    fmt_mean_std,
    held_out_floor,
    mean_std,
    real_floor,
    welch_interval,
)
