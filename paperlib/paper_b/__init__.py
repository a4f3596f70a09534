"""Paper B (training-data production): shape learning (:mod:`.shape_learning`), the 60/30/10
curation loop (:mod:`.curation`, selections in :mod:`.selections`, selection features in
:mod:`.features`), Table 1, the gate and the claims (:mod:`.tables`), the conditional route
(:mod:`.conditional`), the Dask job units (:mod:`.jobs`), the checks on a curation loop
(:mod:`.checks`) and the selection gallery (:mod:`.gallery`)."""

from . import (
    checks,
    conditional,
    curation,
    features,
    gallery,
    jobs,
    report,
    selections,
    shape_learning,
    tables,
)
from .checks import (  # noqa: F401
    CurationCheckFailed,
    check_curation,
)
from .conditional import (  # noqa: F401
    CONDITIONAL_COLUMNS,
    conditional_config,
    conditional_per_seed,
    conditional_tables,
    conditional_verdicts,
    evaluate_conditional,
    layout_errors,
    seen_vs_new,
)
from .curation import (  # noqa: F401
    CURATION_LOG,
    PROVENANCE,
    SOURCES,
    CurationEntry,
    CurationPlan,
    auto_satisfaction,
    auto_satisfaction_parts,
    plan_curated_set,
    read_provenance,
    run_curation_loop,
    split_counts,
    write_curated_set,
)
from .features import (  # noqa: F401
    PixelPCAFeatures,
    cached_features,
    feature_distances,
    image_sha256,
    mean_pairwise_distance,
    pixel_pca_features,
)
from .gallery import (  # noqa: F401
    SelectionGallery,
    selection_gallery,
)
from .jobs import (  # noqa: F401
    Setup,
    as_paths,
    b_job,
    control_job,
    curation_job,
    curation_plan,
    run_b_jobs,
    setup,
)
from .report import (  # noqa: F401
    ALONE,
    CURATION_VERDICT_NOTE,
    GATE_STATISTIC,
    LONGER,
    PAPER_B_CURATION,
    PAPER_B_SHAPE,
    REFERENCE,
    SHAPE_CLAIM_METRICS,
    SHAPE_COMPARISONS,
    VERDICT_COLUMNS,
    augment_table,
    curation_composition,
    curation_markdown,
    curation_per_seed,
    curation_rounds,
    curation_table1,
    curation_verdicts,
    explanation_table,
    gain_explained,
    model_family,
    shape_claim,
    shape_learning_markdown,
    shape_learning_per_run,
    shape_learning_verdicts,
    stage_summary,
    with_gate,
)
from .selections import (  # noqa: F401
    SELECTIONS_VERSION,
    SelectionMismatchError,
    load_selections,
    make_auto_rater,
    make_selection_rater,
    save_selections,
    selection_for_round,
    selections_or_auto,
)
from .shape_learning import (  # noqa: F401
    BUDGETS,
    STAGE_TITLES,
    STAGES,
    at_epoch,
    batch_for_round,
    curate_and_retrain,
    finetune_config,
    finetune_run,
    mix_shape_count,
    shape_learning_many,
    shape_learning_runs,
    stage_epochs,
    stage_images,
    stage_kimg,
)
from .tables import (  # noqa: F401
    COLUMNS,
    EVAL_VERSION,
    FORM_GATE,
    check_fid_limit,
    claims,
    draws_form,
    evaluate_stage,
    exact_form_metric,
    fmt,
    held_out_floor_metrics,
    passes_gate,
    real_stage_metrics,
    stage_metrics,
    summary,
    table1,
)
