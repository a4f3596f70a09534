"""What cached training runs still have to train, and about how long, said before anything
trains: kimg left per run times its model's measured seconds per kimg, spread over the worker
slots (kimg only without measured rates). ``$PAPERLIB_FORCE`` is not looked at."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..config import get_profile
from ..data.folders import image_files, manifest_hash
from ..models import get_model
from .config import TrainConfig, run_name
from .runs import RunDir


def pending_kimg(cfg: TrainConfig, data_dir: Any, root: Any) -> float:
    """Thousands of images ``train_cached(cfg, data_dir, root)`` still has to show: 0 for a
    cached run (its folder finished ``cfg.epochs`` or diverged), else the epochs left (all of
    them for a missing run) times the images of ``data_dir``."""
    run = RunDir(Path(root) / run_name(cfg, manifest_hash(data_dir)))
    st = run.status if run.is_run() else {"status": "missing", "epochs_done": 0}
    done = int(st.get("epochs_done", 0))
    if st["status"].startswith("diverged") or (st["status"] == "finished"
                                               and done >= cfg.epochs):
        return 0.0
    return max(0, cfg.epochs - done) * len(image_files(data_dir)) / 1000.0


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


@dataclass
class TrainingPlan:
    """:func:`training_plan`'s answer: ``missing`` ``[(label, model, kimg left)]``, the
    number of ``cached`` runs, the estimated wall ``seconds`` (None without measured rates)
    and the ``slots`` they are spread over."""

    profile: str
    missing: list = field(default_factory=list)
    cached: int = 0
    seconds: float | None = None
    slots: int = 1

    @property
    def kimg(self) -> float:
        return float(sum(k for _, _, k in self.missing))

    def summary(self, what: str = "runs") -> str:
        """One paragraph: what is cached, what will train and the estimated time."""
        total = len(self.missing) + self.cached
        if not self.missing:
            return f"{what}: all {total} cached; nothing is trained here."
        names = ", ".join(f"{label} ({k:.1f} kimg)" for label, _, k in self.missing)
        when = ("no measured time for the " + self.profile + " profile" if self.seconds is None
                else f"estimated {_duration(self.seconds)} on {self.slots} worker(s) "
                     f"(measured s/kimg of the reference machine, "
                     f"ModelSpec.seconds_per_kimg)")
        return (f"{what}: {len(self.missing)} of {total} missing or unfinished, trained here "
                f"first: {names}; {self.kimg:.1f} kimg in all, {when}.")


def estimate_seconds(kimg_by_model: list, profile: Any, slots: int = 1) -> float | None:
    """Estimated wall seconds of runs ``[(model, kimg), ...]`` on ``slots`` workers: their
    measured seconds (:attr:`ModelSpec.seconds_per_kimg`) summed and divided by the slots,
    at least the longest run's; None when a model has no measured rate for the profile."""
    name = get_profile(profile).name
    rates = [get_model(m).seconds_per_kimg.get(name) for m, _ in kimg_by_model]
    if None in rates:
        return None
    each = [r * k for r, (_, k) in zip(rates, kimg_by_model)]
    return max([sum(each) / max(1, int(slots)), *each], default=0.0)


def training_plan(jobs: dict | Sequence, profile: Any, slots: int = 1) -> TrainingPlan:
    """The plan of ``jobs`` -- ``{label: (TrainConfig, data_dir, root)}`` (as
    :func:`paperlib.engine.train_many` takes them), or a sequence of jobs with ``label``,
    ``cfg``, ``data_dir`` and ``root`` attributes (e.g. paper B's stage jobs): which are
    missing or unfinished, with their kimg left (:func:`pending_kimg`), and the estimated
    time on ``slots`` workers (:func:`estimate_seconds`). Nothing is trained."""
    prof = get_profile(profile)
    items = (jobs.items() if isinstance(jobs, dict)
             else [(j.label, (j.cfg, j.data_dir, j.root)) for j in jobs])
    missing, cached = [], 0
    for label, (cfg, data_dir, root) in items:
        k = pending_kimg(cfg, data_dir, root)
        if k > 0:
            missing.append((str(label), cfg.model, k))
        else:
            cached += 1
    seconds = estimate_seconds([(m, k) for _, m, k in missing], prof, slots)
    return TrainingPlan(prof.name, missing, cached, seconds if missing else 0.0, int(slots))
