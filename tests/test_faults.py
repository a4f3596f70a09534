"""No fault loses a run: the run folder's lock (a second writer refused at once, a killed
one's lock taken over), a real ``kill -9`` of ``python -m paperlib train`` resumed to the
uninterrupted run's numbers, a corrupt last checkpoint set aside, and the CLI's exit codes."""
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_cli_more import _main, _write_images
from test_shape_learning_budget import _same

from paperlib import cli, engine
from paperlib.engine import parallel
from paperlib.utils import io

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model", "dcgan", "--res", "32", "--ngf", "8", "--ndf", "8", "--batch-size", "8",
        "--ckpt-every", "1", "--sample-every", "1", "--device", "cpu", "--no-progress"]




@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return _write_images(tmp_path_factory.mktemp("faults") / "photos", 24)


def _argv(photos, out, epochs, *extra):
    return ["train", "--data", str(photos), "--out", str(out), "--epochs", str(epochs),
            *TINY, *extra]


def _spawn(argv) -> subprocess.Popen:
    """``python -m paperlib ARGV`` of this checkout, in a process of its own."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.Popen([sys.executable, "-m", "paperlib", *map(str, argv)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until(done, proc, what, timeout=300):
    deadline = time.monotonic() + timeout
    while not done():
        assert proc.poll() is None, f"exited before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.005)


def _holder(run) -> dict | None:
    try:
        return json.loads(engine.RunDir(run).lock_file.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def _final(run) -> dict:
    return torch.load(engine.RunDir(run).checkpoint()[1], weights_only=True)


# ----------------------------------------------------------------------------- the lock
def test_lock_refuses_a_second_holder_naming_it(tmp_path):
    run = engine.RunDir(tmp_path / "run")
    with run.lock():
        assert _holder(run.path)["pid"] == os.getpid()
        with pytest.raises(engine.RunBusy, match=f"pid {os.getpid()} on "):
            with run.lock():
                pass
    with run.lock():   # released at the end of the block
        pass


def test_second_train_on_a_busy_folder_is_refused_at_once(photos, tmp_path, capsys):
    run = tmp_path / "run"
    proc = _spawn(_argv(photos, run, 10_000))
    try:
        _wait_until(lambda: (_holder(run) or {}).get("pid") == proc.pid, proc, "lock")
        _wait_until(lambda: engine.RunDir(run).checkpoints(), proc, "checkpoint")
        for extra in ([], ["--restart"]):
            t0 = time.monotonic()
            code, _, err = _main(_argv(photos, run, 10_000, *extra), capsys)
            assert code == cli.EXIT_BUSY == 4, err
            assert f"pid {proc.pid}" in err and "in use by another process" in err
            assert time.monotonic() - t0 < 30
        assert engine.RunDir(run).checkpoints()[0][0] == 1   # --restart deleted nothing
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.communicate()


def test_train_many_trains_identical_jobs_once(monkeypatch, tmp_path):
    submitted = []

    def fake_run_all(fn, items, scheduler=None, names=None, **kw):
        submitted.extend(items)
        return [f"result of {c.seed}" for c, *_ in items]

    monkeypatch.setattr(parallel, "run_all", fake_run_all)
    cfg = [engine.make_config(model="dcgan", epochs=1, seed=s) for s in (0, 1)]
    jobs = [(cfg[0], tmp_path / "d", tmp_path / "r"), (cfg[1], tmp_path / "d", tmp_path / "r"),
            (engine.make_config(model="dcgan", epochs=1, seed=0), str(tmp_path / "d"),
             tmp_path / "r" / ".." / "r")]
    assert engine.train_many(jobs, scheduler="serial", progress=False) == [
        "result of 0", "result of 1", "result of 0"]
    assert [c.seed for c, *_ in submitted] == [0, 1]


# ----------------------------------------------------------------------------- kill -9
def test_sigkilled_train_resumes_to_the_uninterrupted_numbers(photos, tmp_path):
    epochs = 8
    ref = _spawn(_argv(photos, tmp_path / "ref", epochs))
    victim = _spawn(_argv(photos, tmp_path / "run", epochs))
    run = engine.RunDir(tmp_path / "run")
    _wait_until(lambda: len(run.checkpoints()) >= 2, victim, "second checkpoint")
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    assert run.status["status"] == "running" and run.checkpoints()[-1][0] < epochs
    assert _holder(run.path)["pid"] == victim.pid   # the dead process's lock, taken over:
    again = _spawn(_argv(photos, run.path, epochs))
    out, err = again.communicate()
    assert again.returncode == 0, err
    assert f"finished ({epochs} epochs)" in out
    out, err = ref.communicate()
    assert ref.returncode == 0, err
    assert [e for e, _ in run.checkpoints()] == list(range(1, epochs + 1))
    rows = _strip(run.log_rows())
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    assert rows == _strip(engine.RunDir(tmp_path / "ref").log_rows())
    _same(_final(tmp_path / "ref"), _final(run.path))


# ----------------------------------------------------------------------------- corrupt
@pytest.mark.parametrize("damage", ["truncated", "short", "garbage"])
def test_corrupt_last_checkpoint_is_set_aside_and_the_one_before_resumed(tmp_path, damage):
    images = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cfg = engine.make_config(model="dcgan", epochs=3, res=32, ngf=4, ndf=4, nz=16,
                             batch_size=8, sample_every=1, ckpt_every=1, device="cpu")
    full = engine.train(engine.make_config(**{**cfg.to_dict(), "epochs": 4}), images,
                        tmp_path / "full", progress=False)
    run = engine.RunDir(tmp_path / "run")
    engine.train(cfg, images, run.path, progress=False)
    last = run.checkpoint_file(3)
    good = last.read_bytes()
    bad = {"truncated": good[:len(good) // 2], "short": good[:5000],   # (torch: EINVAL)
           "garbage": b"this is no checkpoint\n" * 50}[damage]
    last.write_bytes(bad)
    with pytest.warns(engine.CheckpointCorrupt, match=r"epoch_0003\.pt does not load.*"
                                                      r"epoch_0003\.pt\.corrupt"):
        res = engine.train(engine.make_config(**{**cfg.to_dict(), "epochs": 4}), images,
                           run.path, progress=False)
    assert res.status == "finished" and res.epochs_done == 4
    assert (run.checkpoints_dir / "epoch_0003.pt.corrupt").read_bytes() == bad   # kept
    assert [e for e, _ in run.checkpoints()] == [1, 2, 3, 4]
    assert _strip(res.rows) == _strip(full.rows)
    _same(_final(tmp_path / "full"), _final(run.path))


# ----------------------------------------------------------------------------- exit codes
def test_diverged_run_exits_3(photos, tmp_path, capsys, monkeypatch):
    make = cli._train_config
    def with_nan(args):
        cfg, note = make(args)
        return engine.make_config(**{**cfg.to_dict(), "inject_nan_at_epoch": 2}), note

    monkeypatch.setattr(cli, "_train_config", with_nan)
    code, out, err = _main(_argv(photos, tmp_path / "run", 4), capsys)
    assert code == cli.EXIT_DIVERGED == 3, err
    assert "diverged at epoch 2" in out and "diverged at epoch 2" in err
    assert engine.read_status(tmp_path / "run")["status"] == "diverged at epoch 2"


def test_full_disk_exits_5_with_a_message_and_the_rerun_resumes(photos, tmp_path, capsys,
                                                                monkeypatch):
    real = io.atomic_write

    def full_disk(path, write, *args, **kw):
        def fail(f):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, fail if Path(path).suffix == ".pt" else write, *args, **kw)

    monkeypatch.setattr(io, "atomic_write", full_disk)
    run = engine.RunDir(tmp_path / "run")
    code, _, err = _main(_argv(photos, run.path, 2), capsys)
    assert code == cli.EXIT_IO == 5, err
    assert os.strerror(errno.ENOSPC) in err and "epoch_0001.pt" in err and "free" in err
    assert "Traceback" not in err
    assert not list(run.checkpoints_dir.glob("*")) and run.status["status"] == "running"
    monkeypatch.setattr(io, "atomic_write", real)
    code, out, err = _main(_argv(photos, run.path, 2), capsys)
    assert code == 0 and "finished (2 epochs)" in out, err


def test_unreadable_checkpoint_exits_5_and_is_not_set_aside(photos, tmp_path, capsys,
                                                           monkeypatch):
    run = engine.RunDir(tmp_path / "run")
    assert _main(_argv(photos, run.path, 1), capsys)[0] == 0

    def unreadable(path, *args, **kw):   # what open() raises on a mode-000 file (not root)
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(engine.runs, "open", unreadable, raising=False)
    code, _, err = _main(_argv(photos, run.path, 2), capsys)
    assert code == cli.EXIT_IO, err
    assert os.strerror(errno.EACCES) in err and "epoch_0001.pt" in err
    assert "Traceback" not in err and "permissions" in err
    assert [p.name for p in run.checkpoints_dir.iterdir()] == ["epoch_0001.pt"]


def test_value_error_during_training_is_a_failure_not_bad_input(photos, tmp_path, capsys,
                                                                monkeypatch):
    def broken(*args, **kw):
        raise ValueError("boom in the loop")

    monkeypatch.setattr(engine.loop, "train_epoch", broken)
    code, _, err = _main(_argv(photos, tmp_path / "run", 2), capsys)
    assert code == cli.EXIT_FAILED == 1, err
    assert "Traceback" in err and "train failed: ValueError: boom in the loop" in err
    assert "rerun the same command" in err


def test_bad_input_before_work_still_exits_2(photos, tmp_path, capsys):
    code, _, err = _main(_argv(photos, tmp_path / "run", 0), capsys)
    assert code == cli.EXIT_BAD_INPUT == 2 and "--epochs" in err
    assert not (tmp_path / "run").exists()


def test_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    shown = capsys.readouterr().out
    assert "exit status:" in shown
    for code in ("0", "1", "2", "3", "4", "5", "130"):
        assert f"\n  {code} " in shown
