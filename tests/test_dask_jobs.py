"""The Dask path of paperlib.engine.parallel with real work: evaluations (evaluate_many), paper B's
job units (curation loop, control) and a run interrupted on one worker and resumed on the
other -- each giving the numbers a serial call gives.

One real LocalCluster (2 worker processes, 1 thread each) for the module, closed at its end.
The functions under test take a scheduler spec, so they are pointed at that cluster by its
address (``tcp://127.0.0.1:...``, the "existing scheduler" form): this keeps them on these
2 workers whatever the machine's core or GPU count. Tiny real runs throughout: 32 px, smoke
widths, 1-4 epochs, a few dozen images, the real TF-Inception extractor.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import torch

import paperlib.paper_a  # noqa: F401  (registers the emoji-parts IS source, as a notebook does)
from paperlib import data, engine, metrics, paper_b
from paperlib.metrics import features
from paperlib.utils import threads

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

LOSSES = ("epoch", "kimg", "d_loss", "g_loss", "d_real", "d_fake")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(client, scheduler address, sorted worker addresses) of a 2-worker LocalCluster.

    evaluate_many's workers cache real-set features in features.DEFAULT_CACHE_DIR (the job
    has no cache_dir), i.e. the repository's runs/ folder: redirected here to a temporary
    folder, on the workers and in this process."""
    cache = tmp_path_factory.mktemp("metric_cache")

    def redirect(path):
        import pathlib

        import paperlib.metrics

        paperlib.metrics.features.DEFAULT_CACHE_DIR = pathlib.Path(path)

    client = engine.get_client("local", n_workers=2)
    old = features.DEFAULT_CACHE_DIR
    try:
        client.wait_for_workers(2, timeout=120)
        client.run(redirect, str(cache))
        features.DEFAULT_CACHE_DIR = cache
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        yield client, client.scheduler.address, workers
    finally:
        features.DEFAULT_CACHE_DIR = old
        engine.close_clients()


@pytest.fixture(scope="module")
def artist(tmp_path_factory):
    """A 30-image donglein stand-in at 32 px, split 24 train / 6 held out."""
    root = tmp_path_factory.mktemp("artist")
    data.build_artist_set(root / "artist_donglein", "donglein", n=30, res=32, seed=0)
    return data.split_held_out(root / "artist_donglein", 0.2, seed=0, out_root=root)


def dcgan(seed: int = 0, epochs: int = 2) -> engine.TrainConfig:
    return engine.profile_config("smoke", "dcgan", "paper", seed, epochs=epochs, batch_size=8,
                                threads=1, device="cpu")


def loss_columns(run_dir) -> list[tuple[str, ...]]:
    """log.csv's loss columns as written (equal strings = bit-identical floats)."""
    with open(Path(run_dir) / "log.csv", newline="") as f:
        return [tuple(row[k] for k in LOSSES) for row in csv.DictReader(f)]


def log_rows(run_dir) -> list[dict]:
    with open(Path(run_dir) / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


def weights(ckpt) -> dict:
    state = torch.load(ckpt, weights_only=True)
    return {f"{part}.{k}": v for part in ("G", "D", "latent") if part in state
            for k, v in state[part].items()}


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and wa
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def executed(run_dir) -> dict:
    return engine.read_status(run_dir)["executed"]


# ----------------------------------------------------------------------------- evaluations
def test_evaluate_many_on_dask_equals_serial_evaluate_run(cluster, artist, tmp_path):
    client, address, workers = cluster
    runs = [engine.train(dcgan(seed), artist.train, tmp_path / f"run{seed}", progress=False)
            for seed in (0, 1)]
    assert all(r.status == "finished" for r in runs)
    jobs = [{"run_dir": r.run_dir, "data_dir": artist.train, "epochs": epochs, "n_fake": 8,
             "is_source": "none", "seed": 3} for r, epochs in zip(runs, ([1, 2], [2]))]

    # serially, in this process, on one torch thread as a worker has; no cache written
    ex = metrics.get_extractor("cpu")
    ex.progress = False
    with threads.pinned_threads(1):
        serial = [[metrics.evaluate_run(j["run_dir"], j["data_dir"], n_fake=8, epoch=e,
                                        is_source="none", seed=3, extractor=ex,
                                        use_cache=False)
                   for e in j["epochs"]] for j in jobs]
    assert not list((tmp_path / "run0").glob("metrics/*.json"))

    # (the serial call left the real set's features in the shared cache, as evaluate_many
    # asks; the workers generate and embed the fake images themselves)
    assert len(list(features.DEFAULT_CACHE_DIR.glob("real_*.npz"))) == 1
    on_dask = metrics.evaluate_many(jobs, scheduler=address, progress=False)
    assert [[row["epoch"] for row in rows] for rows in on_dask] == [[1, 2], [2]]
    assert on_dask == serial
    row = on_dask[0][0]
    assert row["n_fake"] == 8 and row["n_real"] == artist.n_train and row["is"] is None
    assert 0 < row["fid"] < 1e4 and on_dask[0][0]["fid"] != on_dask[0][1]["fid"]
    # computed on the workers: their evaluation caches are in the run folders, and read back
    # by a serial call they are the same numbers
    assert [len(list((r.run_dir / "metrics").glob("eval_*.json"))) for r in runs] == [2, 1]
    assert metrics.evaluate_run(runs[1].run_dir, artist.train, n_fake=8, epoch=2,
                                is_source="none", seed=3, extractor=ex) == on_dask[1][0]


# ----------------------------------------------------------------------------- paper B's jobs
@pytest.fixture(scope="module")
def start_run(artist, tmp_path_factory):
    """Paper B's model (StyleGAN2, smoke sizes) trained 1 epoch on the training part."""
    cfg = engine.profile_config("smoke", "stylegan2", seed=0, epochs=1, threads=1, device="cpu")
    res = engine.train(cfg, artist.train, tmp_path_factory.mktemp("start") / "sg2",
                      progress=False)
    assert res.status == "finished"
    return res.run_dir


def b_jobs(start_run, artist, root: Path) -> list[dict]:
    """Notebook 05's two jobs for one artist and seed, at toy sizes: a 2-round curation loop
    (automatic rater: the selections file does not exist) and its control."""
    return [
        {"kind": "curation", "name": "artist_donglein", "seed": 0,
         "train_dir": str(artist.train), "res": 32, "selections": str(root / "none.json"),
         "top_k": 2, "start_run": str(start_run),
         "loop_dir": str(root / "curation" / "loop"), "root": str(root), "rounds": 2,
         "size": 10, "n_generate": 12, "epochs": 1},
        {"kind": "control", "name": "artist_donglein", "seed": 0, "start_run": str(start_run),
         "data_dir": str(artist.train), "root": str(root), "epochs": 2},
    ]


def strip_seconds(log: dict) -> dict:
    return {**log, "rounds": [{k: v for k, v in e.items() if k != "seconds"}
                              for e in log["rounds"]]}


def test_paper_b_jobs_on_dask_equal_serial(cluster, artist, start_run, tmp_path):
    client, address, workers = cluster
    serial = paper_b.run_b_jobs(b_jobs(start_run, artist, tmp_path / "serial"), "serial",
                               progress=False)
    on_dask = paper_b.run_b_jobs(b_jobs(start_run, artist, tmp_path / "dask"), address,
                                progress=False)
    (s_loop, s_ctrl), (d_loop, d_ctrl) = serial, on_dask

    # the curation loop: same ratings, same curated sets, same retrained models
    assert d_loop["statuses"] == s_loop["statuses"] == ["finished", "finished"]
    assert d_loop["epochs_done"] == s_loop["epochs_done"] == [1, 1]
    assert strip_seconds(d_loop["log"]) == strip_seconds(s_loop["log"])
    assert [e["rating"] for e in d_loop["log"]["rounds"]] == ["auto", "auto"]
    assert d_loop["models"][0] == s_loop["models"][0] == str(start_run)
    assert len(d_loop["runs"]) == 2 and d_loop["runs"] == d_loop["models"][1:]
    for s_run, d_run in zip(s_loop["runs"], d_loop["runs"]):
        assert Path(d_run).is_relative_to(tmp_path / "dask")
        assert loss_columns(d_run) == loss_columns(s_run)
        assert_same_weights(engine.list_checkpoints(d_run)[-1][1],
                            engine.list_checkpoints(s_run)[-1][1])
        assert executed(d_run)["worker"] in workers and executed(s_run)["worker"] is None
    # round 1 fine-tuned round 0's model, in the same job (one worker, rounds in order)
    cfg1 = json.loads((Path(d_loop["runs"][1]) / "config.json").read_text())["config"]
    assert Path(cfg1["init_from"]).parent.parent == Path(d_loop["runs"][0])
    assert executed(d_loop["runs"][0])["worker"] == executed(d_loop["runs"][1])["worker"]
    for r in range(2):
        a = sorted(p.name for p in (tmp_path / "serial/curation/loop" / f"round_{r}/trainset")
                   .glob("*.png"))
        assert a and a == sorted(p.name for p in
                                 (tmp_path / "dask/curation/loop" / f"round_{r}/trainset")
                                 .glob("*.png"))

    # the control: the start run fine-tuned on the training part
    assert (d_ctrl["status"], d_ctrl["epochs_done"]) == (s_ctrl["status"], s_ctrl["epochs_done"]) \
        == ("finished", 2)
    assert Path(d_ctrl["run_dir"]).name == Path(s_ctrl["run_dir"]).name
    assert loss_columns(d_ctrl["run_dir"]) == loss_columns(s_ctrl["run_dir"])
    assert_same_weights(engine.list_checkpoints(d_ctrl["run_dir"])[-1][1],
                        engine.list_checkpoints(s_ctrl["run_dir"])[-1][1])
    assert executed(d_ctrl["run_dir"])["worker"] in workers

    # a second call finds every run finished: nothing retrained, the same results
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "dask").rglob("*.pt")}
    again = paper_b.run_b_jobs(b_jobs(start_run, artist, tmp_path / "dask"), address,
                              progress=False)
    assert again[1] == d_ctrl and again[0]["runs"] == d_loop["runs"]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "dask").rglob("*.pt")} == before


def test_bad_b_job_is_named_and_the_other_finishes(cluster, artist, start_run, tmp_path):
    client, address, workers = cluster
    good, bad = b_jobs(start_run, artist, tmp_path)[1], {"kind": "bogus", "seed": 7}
    with pytest.raises(engine.RunsFailed) as err:
        paper_b.run_b_jobs([bad, good], address, progress=False)
    msg = str(err.value)
    assert "1 of 2" in msg and "bogus artist seed 7: ValueError: unknown job kind 'bogus'" in msg
    control_runs = list(tmp_path.glob("stylegan2-*"))
    assert len(control_runs) == 1
    status = engine.read_status(control_runs[0])
    assert status["status"] == "finished" and status["executed"]["worker"] in workers


# ----------------------------------------------------------------------------- resume elsewhere
def test_run_interrupted_on_one_worker_resumes_on_the_other(cluster, artist, tmp_path):
    """Epochs 1-2 on worker A, then the same run continued to epoch 4 on worker B
    (client.submit(..., workers=[B])): the log and the weights equal an uninterrupted serial
    run's, the first two epochs are kept (not retrained) and status.json names worker B."""
    client, address, (a, b) = cluster
    pids = client.run(os.getpid)
    root = tmp_path / "dask"

    first = client.submit(engine.train_cached, dcgan(seed=4, epochs=2), str(artist.train),
                          str(root), progress=False, workers=[a], pure=False).result()
    assert (first.status, first.epochs_done) == ("finished", 2)
    ex = executed(first.run_dir)
    assert ex["worker"] == a and ex["pid"] == pids[a] and ex["threads"] == 1
    rows_a = log_rows(first.run_dir)
    ckpt2 = first.run_dir / "checkpoints" / "epoch_0002.pt"
    ckpt2_state = (ckpt2.stat().st_mtime_ns, ckpt2.read_bytes())

    second = client.submit(engine.train_cached, dcgan(seed=4, epochs=4), str(artist.train),
                           str(root), progress=False, workers=[b], pure=False).result()
    assert second.run_dir == first.run_dir                 # the same run folder, continued
    assert (second.status, second.epochs_done) == ("finished", 4)
    ex = executed(second.run_dir)
    assert ex["worker"] == b and ex["pid"] == pids[b] and ex["pid"] != pids[a]
    rows = log_rows(second.run_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert rows[:2] == rows_a             # epochs 1-2 kept as worker A wrote them (seconds too)
    assert (ckpt2.stat().st_mtime_ns, ckpt2.read_bytes()) == ckpt2_state

    full = engine.train_cached(dcgan(seed=4, epochs=4), artist.train, tmp_path / "serial",
                              progress=False)
    assert full.run_dir.name == second.run_dir.name and executed(full.run_dir)["worker"] is None
    assert loss_columns(second.run_dir) == loss_columns(full.run_dir)
    assert [e for e, _ in engine.list_checkpoints(second.run_dir)] == [1, 2, 3, 4]
    for (e, p), (_, q) in zip(engine.list_checkpoints(second.run_dir),
                              engine.list_checkpoints(full.run_dir)):
        assert_same_weights(p, q)


def test_auto_is_source_resolves_on_workers_as_in_the_caller(cluster, tmp_path):
    """An IS source registered by a paper module (paper A's emoji-parts IS) reaches workers
    that never imported that module: ``is_source="auto"`` on an emoji set gives the same
    emoji-parts IS on Dask as serially (it silently fell back to no IS before)."""
    client, address, _ = cluster
    emoji = tmp_path / "emoji"
    data.build_emoji_set(emoji, seed=0, res=32, n_per_class=10)
    run = engine.train(dcgan(0, epochs=1), emoji, tmp_path / "run", progress=False)
    job = {"run_dir": run.run_dir, "data_dir": emoji, "epochs": [1], "n_fake": 8, "seed": 0}
    ex = metrics.get_extractor("cpu")
    ex.progress = False
    with threads.pinned_threads(1):   # serial first: it also caches the part classifier
        serial = metrics.evaluate_run(run.run_dir, emoji, n_fake=8, epoch=1, seed=0,
                                      extractor=ex, use_cache=False)
    assert serial["is_kind"].startswith("emoji-parts")
    (on_dask,), = metrics.evaluate_many([job], scheduler=address, progress=False)
    assert on_dask["is_kind"] == serial["is_kind"] and on_dask["is"] == serial["is"]
