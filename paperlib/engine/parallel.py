"""Independent training runs side by side, on ``dask.distributed``: submitted all at once
(:func:`run_all`, :func:`train_many`), gathered in the order given. The scheduler (argument,
else ``$PAPERLIB_SCHEDULER``): ``"local"`` (default; a ``LocalCluster``, one single-threaded
worker per core or one per GPU), ``"serial"`` (in this process) or ``"tcp://host:port"`` (an
existing scheduler; docs/RUNNING.md). A run's numbers depend only on its config, never on
where it ran; failed tasks are reported together, each named, after the others finish."""
from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from tqdm.auto import tqdm

from .loop import train_cached
from .runs import FORCE_ENV

SCHEDULER_ENV = "PAPERLIB_SCHEDULER"


_LOCK = threading.Lock()


_CLIENTS: dict[str, Any] = {}


def scheduler_spec(scheduler: str | None = None) -> str:
    """``"serial"``, ``"local"`` or a scheduler address, from the argument or the environment.

    Raises ``ValueError`` for anything else (naming the value and the valid forms)."""
    raw = scheduler if scheduler is not None else os.environ.get(SCHEDULER_ENV, "")
    spec = str(raw).strip() or "local"
    if spec.lower() in ("serial", "local"):
        return spec.lower()
    if "://" in spec and spec.split("://", 1)[1]:
        return spec
    source = "argument" if scheduler is not None else SCHEDULER_ENV
    raise ValueError(f"unknown scheduler {spec!r} (from {source}); "
                     "use 'serial', 'local' or a Dask scheduler address like tcp://127.0.0.1:8786")


def local_workers() -> tuple[int, bool]:
    """(workers, one per GPU?) for the default local cluster: one per GPU when CUDA is
    present, else one per core available to this process."""

    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        return torch.cuda.device_count(), True
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores), False


def _one_gpu_per_worker(n_gpus: int):
    """Worker plugin: worker ``i`` of the local cluster sees only GPU ``i % n_gpus`` (built
    here to keep ``distributed``, whose ``WorkerPlugin`` it derives from, out of the import)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class OneGPUPerWorker(WorkerPlugin):
        name = "paperlib-one-gpu-per-worker"

        def __init__(self, n: int):
            self.n_gpus = int(n)

        def setup(self, worker):
            os.environ["CUDA_VISIBLE_DEVICES"] = str(int(worker.name) % self.n_gpus)

    return OneGPUPerWorker(n_gpus)


def get_client(scheduler: str | None = None, n_workers: int | None = None):
    """A ``distributed.Client`` for ``scheduler`` (see the module docstring); ``None`` for
    ``"serial"``. The local cluster is started once per process and per worker count."""
    spec = scheduler_spec(scheduler)
    if spec == "serial":
        return None
    key = f"{spec}|{n_workers}"
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is not None and client.status == "running":
            return client
        from distributed import Client, LocalCluster

        if spec == "local":
            n_default, per_gpu = local_workers()
            n = int(n_workers or n_default)
            # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536, which makes autograd temporaries
            # page-fault (StyleGAN2 3x slower: docs/DECISIONS.md); keep glibc's default.
            import dask

            environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
            environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
            client = Client(cluster)
            if per_gpu:  # n_default GPUs; more workers than GPUs share them round-robin
                client.register_plugin(_one_gpu_per_worker(n_default))
        else:
            client = Client(spec, timeout="30s")
        _CLIENTS[key] = client
        return client


def close_clients() -> None:
    """Close every client (and local cluster) this process opened."""
    with _LOCK:
        for client in _CLIENTS.values():
            cluster = getattr(client, "cluster", None)
            try:
                client.close()
                if cluster is not None:
                    cluster.close()
            except Exception:  # closing at interpreter exit: nothing left to report to
                pass
        _CLIENTS.clear()


atexit.register(close_clients)


class RunsFailed(RuntimeError):
    """Some submitted tasks raised; the message names each (the others finished)."""


def run_all(fn: Callable, items: Sequence, scheduler: str | None = None,
            names: Sequence[str] | None = None, desc: str = "runs", progress: bool = True,
            n_workers: int | None = None) -> list:
    """``[fn(item) for item in items]``, run side by side on the scheduler, in order. A
    failing call does not stop the others: then :class:`RunsFailed` names every failed item
    (``names`` or ``repr(item)``). ``fn`` must be importable by the workers."""
    items = list(items)
    names = [str(n) for n in names] if names is not None else [repr(i) for i in items]
    client = get_client(scheduler, n_workers)
    bar = tqdm(total=len(items), desc=desc, unit="run", disable=not progress)
    results: list = [None] * len(items)
    errors: list[str] = []
    try:
        if client is None:
            for i, item in enumerate(items):
                try:
                    results[i] = fn(item)
                except Exception as err:  # noqa: BLE001 - collected and re-raised below
                    errors.append(f"{names[i]}: {type(err).__name__}: {err}")
                bar.update()
        else:
            from distributed import as_completed

            # keys unique across calls, processes and hosts sharing a scheduler (a reused key
            # would hand back another call's result)
            batch = uuid.uuid4().hex
            futures = client.map(fn, items, pure=False,
                                 key=[f"{desc}-{i}-{batch}" for i in range(len(items))])
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in as_completed(futures):
                i = index[fut.key]
                try:
                    results[i] = fut.result()
                except Exception as err:  # noqa: BLE001
                    errors.append(f"{names[i]}: {type(err).__name__}: {err}")
                bar.update()
    finally:
        bar.close()
    if errors:
        raise RunsFailed(f"{len(errors)} of {len(items)} {desc} failed:\n  " + "\n  ".join(errors))
    return results


# ----------------------------------------------------------------------------- training runs
def _train_job(job: tuple) -> Any:
    """One cached training run (the unit of work a worker executes)."""

    cfg, data_dir, root, force_token = job
    return train_cached(cfg, data_dir, root, progress=False, force_token=force_token)


def train_many(jobs: Sequence[tuple], scheduler: str | None = None, desc: str = "training runs",
               progress: bool = True, n_workers: int | None = None) -> list:
    """Train ``(TrainConfig, data_dir, root)`` jobs side by side with
    :func:`paperlib.engine.train_cached` (cached, resumable); returns their ``RunResult`` in
    order. Identical jobs (same config, data folder and root) are trained once and share
    the result (two would write one run folder). Each run is named in errors by its model,
    config and seed. ``n_workers`` sizes the local cluster (default: one per core or GPU;
    see :func:`get_client`)."""

    token = os.environ.get(FORCE_ENV) or ""  # reproduce --force reaches remote workers too
    jobs = [(cfg, str(Path(d).resolve()), str(Path(r).resolve()), token) for cfg, d, r in jobs]
    keys = [(json.dumps(c.to_dict(), sort_keys=True, default=str), d, r) for c, d, r, _ in jobs]
    first: dict = {}   # key -> index of its job among the unique ones
    unique: list = []
    for key, job in zip(keys, jobs):
        if key not in first:
            first[key] = len(unique)
            unique.append(job)
    names = [f"{c.model}-{c.config}-seed{c.seed}" for c, _, _, _ in unique]
    results = run_all(_train_job, unique, scheduler, names=names, desc=desc,
                      progress=progress, n_workers=n_workers)
    return [results[first[k]] for k in keys]


def n_slots(scheduler: str | None = None) -> int:
    """How many runs the scheduler executes at once: 1 serially, else its worker threads
    (the local cluster is started if needed)."""
    client = get_client(scheduler)
    if client is None:
        return 1
    return max(1, sum(client.nthreads().values()))
