"""The training engine: a run's configuration (:mod:`.config`), the loop (:mod:`.loop`), run
folders, checkpoints and loading (:mod:`.runs`), augmentation (:mod:`.augment`; ADA's own
pipeline in :mod:`.ada_pipeline`), runs side by side on Dask (:mod:`.parallel`) and what
cached runs still have to train, with a time estimate (:mod:`.plan`). It
builds a model by name from the registry (:mod:`paperlib.models`) and never names one."""

from . import ada_pipeline, augment, config, loop, parallel, plan, runs
from .config import (
    TrainConfig,
    epochs_for_kimg,
    make_config,
    profile_config,
    profile_jobs,
    profile_sizes,
    resolve_device,
    run_name,
)
from .loop import RunMismatch, train, train_cached, train_epoch
from .parallel import (
    RunsFailed,
    close_clients,
    get_client,
    local_workers,
    n_slots,
    run_all,
    scheduler_spec,
    train_many,
)
from .plan import TrainingPlan, estimate_seconds, pending_kimg, training_plan
from .runs import (
    RunDir,
    RunResult,
    TrainedGAN,
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
)

__all__ = [
    "ada_pipeline",
    "augment",
    "config",
    "loop",
    "parallel",
    "plan",
    "runs",
    "RunDir",
    "RunMismatch",
    "RunResult",
    "RunsFailed",
    "TrainConfig",
    "TrainedGAN",
    "TrainingPlan",
    "build_trainer",
    "close_clients",
    "epochs_for_kimg",
    "estimate_seconds",
    "export_generator",
    "find_runs",
    "get_client",
    "list_checkpoints",
    "list_runs",
    "load_run",
    "local_workers",
    "make_config",
    "metric_noise_key",
    "n_slots",
    "pending_kimg",
    "profile_config",
    "profile_jobs",
    "profile_sizes",
    "read_config",
    "read_log",
    "read_status",
    "resolve_device",
    "run_all",
    "run_name",
    "scheduler_spec",
    "train",
    "train_cached",
    "train_epoch",
    "train_many",
    "training_plan",
]
