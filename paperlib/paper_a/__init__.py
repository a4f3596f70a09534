"""Paper A (emoji DCGAN, latent adjustment): the instability detector and the N search
(:mod:`.instability`), the emoji-parts Inception Score (:mod:`.emoji_is`, registered as an
IS source), the paper's values and notebook tables (:mod:`.report`) and the latent explorer
(:mod:`.explorer`)."""

from . import instability, emoji_is, report, explorer
from .instability import (  # noqa: F401
    D_FAKE_NEAR_ZERO,
    D_WIN_LOSS,
    G_LOSE_LOSS,
    INSTABILITY_EPOCHS,
    cached_run,
    d_wins,
    instability_onset,
    is_stable,
    run_summary,
    search_n,
    search_n_cached,
    stability_report,
)
from .emoji_is import (  # noqa: F401
    PartClassifier,
    part_probs,
    train_part_classifier,
)
from .report import (  # noqa: F401
    CLAIM_HORIZON,
    INFORMATIVENESS_MEASURES,
    MODELS,
    PAPER_A_TABLE1,
    PAPER_A_TEXT_RATIOS,
    STABILITY_CLAIMS,
    audit_markdown,
    claims_audit,
    curve_frame,
    detector_candidates,
    detector_demo,
    detector_note,
    explorer_runs,
    informativeness,
    is_summary,
    lowest,
    per_run_table,
    proposed_ratios,
    ratios_table,
    reference_runs,
    run_scale,
    scored_epochs,
    stability_verdict,
    table1,
    table1_caption,
    threshold_variants,
)
from .explorer import (  # noqa: F401
    EXPLORER_MODES,
    INTERP_KINDS,
    LatentExplorer,
    N_DIRECTIONS,
    PCADirections,
    SLIDER_RANGE,
    component_images,
    default_controls,
    interpolate,
    interpolation_strip,
    latent_explorer,
    latent_vector,
    mean_adjustment,
    mu_sweep,
    pca_directions,
    pca_sweep,
    render,
    run_label,
    seed_noise,
)
