"""``engine.RunDir``: the one owner of a run folder's layout -- its config (one error when
missing), the checkpoint chosen by epoch or the latest (one error), and the one filter that
drops a log row a kill cut short."""
import json

import pytest
import torch

from paperlib import engine


def _run(tmp_path, epochs=(1, 3)):
    run = engine.RunDir(tmp_path / "run")
    run.checkpoints_dir.mkdir(parents=True)
    for e in epochs:
        run.checkpoint_file(e).write_bytes(b"x")
    # what a kill during atomic_write leaves: not a checkpoint
    (run.checkpoints_dir / ".epoch_0002.pt.k3x9q_1a.tmp").write_bytes(b"half")
    return run


def test_checkpoint_is_the_one_named_or_the_latest(tmp_path):
    run = _run(tmp_path)
    assert [e for e, _ in run.checkpoints()] == [1, 3]
    assert run.checkpoint() == (3, run.path / "checkpoints" / "epoch_0003.pt")
    assert run.checkpoint(1) == (1, run.path / "checkpoints" / "epoch_0001.pt")
    assert run.checkpoint(2, or_latest=True)[0] == 3
    with pytest.raises(ValueError, match=r"has no checkpoint for epoch 2; has \[1, 3\]"):
        run.checkpoint(2)
    empty = engine.RunDir(tmp_path / "empty")
    for epoch in (None, 1):
        with pytest.raises(FileNotFoundError, match="no checkpoints in"):
            empty.checkpoint(epoch, or_latest=True)
    run.drop_partial_checkpoints()
    assert not list(run.checkpoints_dir.glob("*.tmp"))


def test_load_run_and_export_share_the_checkpoint_errors(tmp_path):
    run = _run(tmp_path)
    with pytest.raises(ValueError, match="has no checkpoint for epoch 2"):
        engine.load_run(run.path, epoch=2)
    with pytest.raises(FileNotFoundError, match="no checkpoints in"):
        engine.export_generator(tmp_path / "none", tmp_path / "dest")


def test_config_reads_once_with_one_error(tmp_path):
    run = engine.RunDir(tmp_path / "run")
    assert not run.is_run()
    with pytest.raises(FileNotFoundError, match="is not a run folder"):
        run.config
    with pytest.raises(FileNotFoundError, match="is not a run folder"):
        engine.read_config(run.path)
    run.path.mkdir()
    run.write_config({"config": {"model": "dcgan"}, "data": {"n_images": 3}})
    assert run.is_run() and engine.read_config(run.path)["data"] == {"n_images": 3}
    assert engine.list_runs(tmp_path) == [run.path]
    assert [r.path for r in engine.find_runs(tmp_path)] == [run.path]
    assert json.loads(run.config_file.read_text())["config"] == {"model": "dcgan"}


def test_status_of_a_run_killed_before_writing_it(tmp_path):
    run = engine.RunDir(tmp_path)
    assert run.status == {"status": "running", "epochs_done": 0}
    assert engine.read_status(tmp_path) == run.status


def test_log_rows_drop_a_row_cut_short(tmp_path):
    run = engine.RunDir(tmp_path)
    assert run.log_rows() == [] and run.log() == []
    run.log_file.write_text("epoch,d_loss,seconds\r\n1,0.5,2\r\n2,0.25,1\r\n3,0.1\r\n4,,1\r\n")
    assert [r["epoch"] for r in run.log_rows()] == ["1", "2"]
    assert len(run.log_rows(keep_truncated=True)) == 4
    good = engine.RunDir(tmp_path / "good")
    good.path.mkdir()
    good.log_file.write_text("epoch,d_loss\r\n1,0.5\r\n2,0.25\r\n")
    assert engine.read_log(good.path) == [{"epoch": 1, "d_loss": 0.5},
                                          {"epoch": 2, "d_loss": 0.25}]


def test_a_trained_run_reads_back_through_run_dir(tmp_path):
    cfg = engine.make_config(model="dcgan", epochs=2, res=32, ngf=4, ndf=4, nz=16,
                             batch_size=4, sample_every=1, ckpt_every=1, device="cpu")
    images = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    res = engine.train(cfg, images, tmp_path / "r", progress=False)
    run = engine.RunDir(res.run_dir)
    assert run.result().rows == res.rows and run.status["status"] == "finished"
    assert run.train_config(epochs=5).epochs == 5 and run.checkpoint()[0] == 2
    assert run.sample_file(2).is_file()
    run.clear()
    assert not run.is_run() and not run.checkpoints() and not run.log_file.exists()


def test_snapshot_is_the_run_as_it_stood_at_an_epoch(tmp_path):
    """A run trained 3 epochs, snapshotted at 2: the snapshot's latest checkpoint is epoch
    2's (what a fine-tuning or a curation loop starts from), its log and status stop
    there, a second call keeps it, and an epoch without a checkpoint is refused."""
    from paperlib import data
    from paperlib.paper_b import shape_learning

    folder = tmp_path / "imgs"
    data.build_artist_set(folder, "donglein", n=8, res=32, seed=0)
    cfg = engine.make_config(model="dcgan", epochs=3, res=32, ngf=4, ndf=4, batch_size=8,
                             ckpt_every=1, sample_every=3, device="cpu")
    engine.train(cfg, folder, tmp_path / "run", progress=False)
    snap = engine.snapshot(tmp_path / "run", 2, tmp_path / "snap")
    assert (snap.status, snap.epochs_done) == ("finished", 2)
    assert [r["epoch"] for r in snap.rows] == [1, 2]
    assert [e for e, _ in engine.list_checkpoints(tmp_path / "snap")] == [2]
    assert engine.read_config(tmp_path / "snap")["config"]["epochs"] == 2
    a = engine.load_run(tmp_path / "snap").sample(4, seed=0)
    b = engine.load_run(tmp_path / "run", epoch=2).sample(4, seed=0)
    assert torch.equal(a, b)
    assert not torch.equal(a, engine.load_run(tmp_path / "run").sample(4, seed=0))
    ft = shape_learning.finetune_config(tmp_path / "snap", epochs=1)
    assert ft.init_from.endswith("epoch_0002.pt")
    mtime = (tmp_path / "snap" / "config.json").stat().st_mtime_ns
    engine.snapshot(tmp_path / "run", 2, tmp_path / "snap")          # kept as it is
    assert (tmp_path / "snap" / "config.json").stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="no checkpoint for epoch 7"):
        engine.snapshot(tmp_path / "run", 7, tmp_path / "other")
    assert not (tmp_path / "other").exists()
