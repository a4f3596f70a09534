"""Evaluation: features (:mod:`.features`, Inception, cached), statistics (:mod:`.stats`:
FID, KID, precision/recall, density/coverage, IS), Inception-Score sources
(:mod:`.is_scorers`), the cached evaluation of a run (:mod:`.evaluate`) and the gate and
verdict statistics (:mod:`.verdicts`). Circle fidelity and the form measure of an artist
set live in :mod:`paperlib.forms`."""

from . import evaluate, features, is_scorers, stats, verdicts
from .evaluate import evaluate_many, evaluate_run, metrics_over_training
from .features import (
    FeatureExtractor,
    get_extractor,
    images_to_uint8,
    inception_torchscript_path,
    real_features,
    tf1_bilinear_resize,
)
from .is_scorers import TFInceptionScorer, is_sources, resolve_is_source
from .stats import (
    density_coverage,
    fid_from_features,
    frechet_distance,
    inception_score,
    kid,
    memorisation_ratio,
    nearest_distances,
    precision_recall,
)
from .verdicts import (
    EFFECT_VERDICTS,
    LARGER_EFFECT,
    Gate,
    PairedComparison,
    RatioVerdict,
    compare_claim,
    diversity_gap,
    fmt_mean_std,
    held_out_floor,
    mean_std,
    paired_by_seed,
    ratio_verdict,
    welch_interval,
)

__all__ = [
    "evaluate",
    "features",
    "is_scorers",
    "stats",
    "verdicts",
    "EFFECT_VERDICTS",
    "LARGER_EFFECT",
    "FeatureExtractor",
    "Gate",
    "PairedComparison",
    "RatioVerdict",
    "TFInceptionScorer",
    "compare_claim",
    "density_coverage",
    "diversity_gap",
    "evaluate_many",
    "evaluate_run",
    "fid_from_features",
    "fmt_mean_std",
    "frechet_distance",
    "get_extractor",
    "held_out_floor",
    "images_to_uint8",
    "inception_score",
    "inception_torchscript_path",
    "is_sources",
    "kid",
    "mean_std",
    "memorisation_ratio",
    "metrics_over_training",
    "nearest_distances",
    "paired_by_seed",
    "precision_recall",
    "ratio_verdict",
    "real_features",
    "resolve_is_source",
    "tf1_bilinear_resize",
    "welch_interval",
]
