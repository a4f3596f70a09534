"""Evaluation: features (:mod:`.features`, Inception, cached), statistics (:mod:`.stats`:
FID, KID, precision/recall, density/coverage, IS), Inception-Score sources
(:mod:`.is_scorers`), the cached evaluation of a run (:mod:`.evaluate`) and the gate and
verdict statistics (:mod:`.verdicts`). Circle fidelity and the form measure of an artist
set live in :mod:`paperlib.forms`."""

from . import evaluate, features, is_scorers, stats, verdicts
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
