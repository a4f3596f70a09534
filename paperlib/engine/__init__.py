"""The training engine: a run's configuration (:mod:`.config`), the loop (:mod:`.loop`), run
folders, checkpoints and loading (:mod:`.runs`), augmentation (:mod:`.augment`; ADA's own
pipeline in :mod:`.ada_pipeline`), runs side by side on Dask (:mod:`.parallel`) and what
cached runs still have to train, with a time estimate (:mod:`.plan`). It
builds a model by name from the registry (:mod:`paperlib.models`) and never names one."""

from . import ada_pipeline, augment, config, loop, parallel, plan, runs
from .ada_pipeline import (  # noqa: F401
    ANISO_STD,
    BGC_OPS,
    BRIGHTNESS_STD,
    CONTRAST_STD,
    HUE_MAX,
    ROTATE_MAX,
    SATURATION_STD,
    SCALE_STD,
    SYM6,
    XFRAC_STD,
    XINT_MAX,
    ada_bgc,
    apply_colour,
    apply_geometric,
    rotate2d,
    rotate3d,
    scale2d,
    scale3d,
    translate2d,
    translate3d,
)
from .augment import (  # noqa: F401
    ADA_BGC_KIMG,
    ADA_INTERVAL,
    ADA_KIMG,
    ADA_TARGET,
    ADAPTIVE_KINDS,
    AUGMENT_KINDS,
    DIFFAUGMENT_OPS,
    Augmenter,
    diff_augment,
    rand_brightness,
    rand_contrast,
    rand_cutout,
    rand_saturation,
    rand_translation,
)
from .config import (  # noqa: F401
    TrainConfig,
    config_defaults,
    epochs_for_kimg,
    make_config,
    profile_config,
    profile_jobs,
    profile_sizes,
    resolve_device,
    run_name,
)
from .loop import (  # noqa: F401
    N_FIXED,
    RunMismatch,
    train,
    train_cached,
    train_epoch,
)
from .parallel import (  # noqa: F401
    SCHEDULER_ENV,
    RunsFailed,
    close_clients,
    get_client,
    local_workers,
    n_slots,
    run_all,
    scheduler_spec,
    train_many,
)
from .plan import (  # noqa: F401
    TrainingPlan,
    estimate_seconds,
    pending_kimg,
    training_plan,
)
from .runs import (  # noqa: F401
    FORCE_ENV,
    METRIC_NOISE,
    NOISE_MODES,
    RunDir,
    RunResult,
    TrainedGAN,
    build_networks,
    build_trainer,
    export_generator,
    find_runs,
    list_checkpoints,
    list_runs,
    load_run,
    metric_noise_key,
    read_config,
    read_log,
    read_status,
    where_executed,
)
