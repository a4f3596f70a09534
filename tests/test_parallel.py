"""paperlib.engine.parallel: scheduler specs, failures, caching, and the same run giving the same
numbers serially, on a LocalCluster and on a Dask scheduler + worker started by hand.

Real dask.distributed and real (tiny) training runs throughout: smoke widths, 32 px, 2 epochs
on 20 random images, one torch thread. The local cluster (2 single-threaded workers) is
shared by the tests of this module and closed at its end.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from paperlib import engine
from paperlib.data import manifest_hash
from paperlib.engine import parallel

DASK = Path(sys.executable).with_name("dask")  # the CLI of the environment running the tests
LOSSES = ("epoch", "kimg", "d_loss", "g_loss", "d_real", "d_fake")


def cfg(seed: int = 0) -> engine.TrainConfig:
    return engine.profile_config("smoke", "dcgan", "paper", seed, epochs=2, batch_size=10, threads=1,
                            device="cpu")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("imgs")
    rng = torch.Generator().manual_seed(0)
    for i in range(20):
        arr = (torch.rand(32, 32, 3, generator=rng) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(folder / f"{i:02d}.png")
    return folder


@pytest.fixture(scope="module", autouse=True)
def _close_clients():
    yield
    engine.close_clients()


@pytest.fixture(scope="module")
def local():
    """The shared 2-worker LocalCluster (train_many(..., n_workers=2) reuses it)."""
    return engine.get_client("local", n_workers=2)


def run_dir(c: engine.TrainConfig, data, root) -> Path:
    return Path(root) / engine.run_name(c, manifest_hash(data))


def executed(path: Path) -> dict:
    return engine.read_status(path)["executed"]


def loss_columns(path: Path) -> list[tuple[str, ...]]:
    """log.csv's loss columns as written (text: equal strings = bit-identical floats)."""
    with open(path / "log.csv", newline="") as f:
        return [tuple(row[k] for k in LOSSES) for row in csv.DictReader(f)]


def final_weights(path: Path) -> dict:
    ckpt = torch.load(engine.list_checkpoints(path)[-1][1], weights_only=True)
    return {f"{part}.{k}": v for part in ("G", "D", "latent") for k, v in ckpt[part].items()}


# ----------------------------------------------------------------------------- scheduler spec
def test_scheduler_spec(monkeypatch):
    monkeypatch.delenv(engine.parallel.SCHEDULER_ENV, raising=False)
    assert engine.scheduler_spec() == "local"
    assert engine.scheduler_spec("serial") == "serial"
    assert engine.scheduler_spec(" Local ") == "local"
    assert engine.scheduler_spec("tcp://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    for bad in ("bogus", "tcp://", "127.0.0.1"):
        with pytest.raises(ValueError, match="unknown scheduler") as err:
            engine.scheduler_spec(bad)
        assert repr(bad) in str(err.value) and "argument" in str(err.value)

    monkeypatch.setenv(engine.parallel.SCHEDULER_ENV, "serial")
    assert engine.scheduler_spec() == "serial"
    assert engine.get_client() is None  # serial: no client, no cluster
    assert engine.scheduler_spec("local") == "local"  # the argument wins over the environment
    monkeypatch.setenv(engine.parallel.SCHEDULER_ENV, "tcp://10.1.2.3:8786")
    assert engine.scheduler_spec() == "tcp://10.1.2.3:8786"
    monkeypatch.setenv(engine.parallel.SCHEDULER_ENV, "  ")
    assert engine.scheduler_spec() == "local"
    monkeypatch.setenv(engine.parallel.SCHEDULER_ENV, "bogus")
    with pytest.raises(ValueError, match=f"'bogus'.*{engine.parallel.SCHEDULER_ENV}"):
        engine.scheduler_spec()


# ----------------------------------------------------------------------------- run_all
@pytest.mark.parametrize("scheduler", ["serial", "local"])
def test_run_all_order_and_failures(scheduler, local):
    import math

    assert engine.run_all(math.sqrt, [16.0, 1.0, 9.0, 4.0], scheduler, n_workers=2,
                     progress=False) == [4.0, 1.0, 3.0, 2.0]
    with pytest.raises(engine.RunsFailed) as err:
        engine.run_all(math.sqrt, [4.0, -1.0, 9.0], scheduler, names=["four", "minus-one", "nine"],
                  n_workers=2, progress=False)
    msg = str(err.value)
    assert "1 of 3" in msg and "minus-one: ValueError" in msg
    assert "four" not in msg and "nine" not in msg


def test_local_workers_keep_the_default_malloc_trim(local):
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_=65536 in its workers (a 3x slower
    StyleGAN2 epoch); the local cluster leaves it out and keeps the other settings."""
    import os

    env = engine.run_all(os.environ.get, ["MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS"], "local",
                    n_workers=2, progress=False)
    assert env[0] is None and env[1] == "1"


def test_failed_run_is_named_and_the_others_finish(tmp_path, data, local):
    root = tmp_path / "runs"
    good = [cfg(1), cfg(3)]
    jobs = [(good[0], data, root), (cfg(2), tmp_path / "no-such-folder", root),
            (good[1], data, root)]
    with pytest.raises(engine.RunsFailed) as err:
        engine.train_many(jobs, scheduler="local", n_workers=2, progress=False)
    msg = str(err.value)
    # raised inside the worker (train_cached reads the missing folder), reported by name
    assert "1 of 3 training runs failed" in msg
    assert "dcgan-paper-seed2: FileNotFoundError" in msg and "no-such-folder" in msg
    assert "seed1" not in msg and "seed3" not in msg
    workers = set(local.scheduler_info()["workers"])
    for c in good:
        status = engine.read_status(run_dir(c, data, root))
        assert status["status"] == "finished" and status["epochs_done"] == 2
        assert status["executed"]["worker"] in workers


def test_second_call_is_cached(tmp_path, data, local):
    root = tmp_path / "runs"
    jobs = [(cfg(0), data, root), (cfg(1), data, root)]
    first = engine.train_many(jobs, scheduler="local", n_workers=2, progress=False)
    assert [r.status for r in first] == ["finished", "finished"]
    assert [r.run_dir for r in first] == [run_dir(c, data, root) for c, _, _ in jobs]

    def snapshot():
        return [(p, p.stat().st_mtime_ns, p.read_bytes())
                for r in first for p in sorted(Path(r.run_dir).rglob("*")) if p.is_file()]

    before = snapshot()
    assert len(before) >= 2 * 5  # config, status, log, samples, checkpoints of each run
    # again on the cluster, then serially: the finished runs are found, nothing is retrained
    assert engine.train_many(jobs, scheduler="local", n_workers=2, progress=False) == first
    assert engine.train_many(jobs, scheduler="serial", progress=False) == first
    assert snapshot() == before
    assert all(executed(r.run_dir)["worker"].startswith("tcp://") for r in first)


def test_gpu_plugin_registers_and_pins_one_gpu_per_worker(local):
    """The local cluster's one-GPU-per-worker plugin (used when CUDA is present) is accepted by
    distributed and gives worker i CUDA_VISIBLE_DEVICES = i mod n_gpus."""
    plugin = parallel._one_gpu_per_worker(1)
    local.register_plugin(plugin)
    try:
        seen = local.run(os.getenv, "CUDA_VISIBLE_DEVICES")
        assert sorted(seen.values()) == ["0", "0"]  # 2 workers sharing 1 GPU
    finally:
        local.unregister_worker_plugin(plugin.name)
        local.run(lambda: os.environ.pop("CUDA_VISIBLE_DEVICES", None))


# ----------------------------------------------------------------------------- where it ran
def _spawn(args, log: Path) -> subprocess.Popen:
    with open(log, "w") as f:  # own process group: the teardown ends the worker's nanny child too
        return subprocess.Popen([str(a) for a in args], stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture
def remote(tmp_path):
    """A 'remote' cluster: `dask scheduler` + `dask worker --nthreads 1` started as separate
    processes on loopback; yields (address, its worker addresses)."""
    from distributed import Client

    sched_file = tmp_path / "scheduler.json"
    procs = []
    try:
        procs.append(_spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                             "--scheduler-file", sched_file, "--no-dashboard"],
                            tmp_path / "scheduler.log"))
        deadline = time.monotonic() + 60
        address = None
        while address is None:
            assert procs[0].poll() is None, (tmp_path / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "dask scheduler did not start in 60 s"
            try:
                address = json.loads(sched_file.read_text())["address"]
            except (FileNotFoundError, ValueError, KeyError):
                time.sleep(0.2)
        procs.append(_spawn([DASK, "worker", "--scheduler-file", sched_file, "--nthreads", "1",
                             "--nworkers", "1", "--no-dashboard"], tmp_path / "worker.log"))
        with Client(scheduler_file=str(sched_file), timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
            workers = set(client.scheduler_info()["workers"])
        yield address, workers
    finally:
        engine.close_clients()  # before the scheduler goes: no reconnect attempts
        for proc in reversed(procs):
            _stop(proc)


def test_same_numbers_serial_local_and_remote(tmp_path, data, local, remote):
    address, remote_workers = remote
    assert address.startswith("tcp://127.0.0.1:")
    c = cfg(5)
    where = {"serial": "serial", "local": "local", "remote": address}
    results = {name: engine.train_many([(c, data, tmp_path / name)], scheduler=spec, n_workers=2,
                                  progress=False)[0]
               for name, spec in where.items()}
    runs = {name: r.run_dir for name, r in results.items()}
    assert {r.status for r in results.values()} == {"finished"}
    assert len({Path(p).name for p in runs.values()}) == 1  # same run, three roots

    logs = {name: loss_columns(p) for name, p in runs.items()}
    assert len(logs["serial"]) == 2
    assert logs["serial"] == logs["local"] == logs["remote"]
    weights = {name: final_weights(p) for name, p in runs.items()}
    for name in ("local", "remote"):
        assert all(torch.equal(weights["serial"][k], weights[name][k]) for k in weights["serial"])

    ex = {name: executed(p) for name, p in runs.items()}
    assert all(e["threads"] == 1 for e in ex.values())
    assert ex["serial"]["worker"] is None and ex["serial"]["pid"] == os.getpid()
    local_workers = set(local.scheduler_info()["workers"])
    assert ex["local"]["worker"] in local_workers and ex["local"]["pid"] != os.getpid()
    assert ex["remote"]["worker"] in remote_workers
    assert ex["remote"]["worker"] not in local_workers
    assert ex["remote"]["pid"] not in (os.getpid(), ex["local"]["pid"])
    # the scheduler the client used lists that worker too
    assert ex["remote"]["worker"] in engine.get_client(address).scheduler_info()["workers"]
