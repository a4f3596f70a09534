"""Notebook 01's fair shape-learning test shares one run between the 1st result and the
longer-training control: the control is the 1st result's run extended, and the 1st result
is read from that run's checkpoint at its own epochs. These tests prove the sharing is
exact for StyleGAN2-ADA at smoke size (no lr schedule, ADA speed, EMA ramp or anything
else depends on the planned total length), and check the stage budgets."""
from __future__ import annotations

import json

import pytest
import torch

from paperlib import config, data, engine
from paperlib.paper_b import at_epoch, shape_learning_many, stage_epochs, stage_images

#: What a checkpoint may differ in: the run's planned length, recorded in its config.
PLANNED = ("/config/epochs",)


def _same(a, b, where="") -> None:
    """Recursive exact equality of two checkpoint objects (tensors bit for bit), but the
    planned length (:data:`PLANNED`)."""
    if where.endswith(PLANNED):
        return
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), (where, sorted(set(a) ^ set(b)))
        for k in a:
            _same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def _ckpt(run_dir, epoch):
    return torch.load(dict(engine.list_checkpoints(run_dir))[epoch], map_location="cpu",
                      weights_only=True)


def _rows(res):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in res.rows]


@pytest.fixture(scope="module")
def artist(tmp_path_factory):
    root = tmp_path_factory.mktemp("budget_sets")
    data.build_artist_set(root / "artist_donglein", "donglein", n=16, res=32, seed=0)
    data.build_shape_set(root / "shapes", n=20, res=32, seed=0)
    return root


@pytest.mark.parametrize("augment", sorted({config.get_profile("smoke").b_augment, "ada",
                                             "ada-bgc"}))
def test_stylegan2_checkpoint_at_B_of_an_extended_run_equals_a_run_trained_to_B(artist,
                                                                                tmp_path,
                                                                                augment):
    """StyleGAN2-ADA (smoke sizes; paper B's augmentation and both ADA kinds): the
    checkpoint at epoch B of a run planned for 2B from the start equals that of a run
    trained to B directly, and a run trained to B then extended to 2B (notebook 01's 1st
    result, then its longer control) equals the uninterrupted 2B run: weights, EMA (its
    ramp counts images seen, not the planned total), optimisers, ADA state (p moves) and
    RNGs alike."""
    prof = config.get_profile("smoke")
    assert prof.ckpt_every == 1      # so the uninterrupted 2B run keeps its epoch-B checkpoint
    B = 2
    cfg = lambda e: engine.profile_config(prof, "stylegan2", "paper", 0, epochs=e,  # noqa: E731
                                          augment=augment, batch_size=4)
    folder = artist / "artist_donglein"
    direct = engine.train_cached(cfg(B), folder, tmp_path / "direct", progress=False)
    planned = engine.train_cached(cfg(2 * B), folder, tmp_path / "planned", progress=False)
    engine.train_cached(cfg(B), folder, tmp_path / "extended", progress=False)
    extended = engine.train_cached(cfg(2 * B), folder, tmp_path / "extended", progress=False)
    assert direct.status == planned.status == extended.status == "finished"
    assert (direct.epochs_done, planned.epochs_done, extended.epochs_done) == (B, 2 * B, 2 * B)
    # the planned length changes nothing up to B
    _same(_ckpt(direct.run_dir, B), _ckpt(planned.run_dir, B), "epoch B")
    assert _rows(direct) == _rows(planned)[:B]
    # extending B -> 2B equals training 2B at once
    _same(_ckpt(extended.run_dir, 2 * B), _ckpt(planned.run_dir, 2 * B), "epoch 2B")
    _same(_ckpt(extended.run_dir, B), _ckpt(direct.run_dir, B), "extended at B")
    assert _rows(extended) == _rows(planned)
    assert 0 < planned.rows[B - 1]["aug_p"] < planned.rows[-1]["aug_p"]   # ADA is adapting
    # the 1st result read from the extended run is that run at B
    first = at_epoch(extended, B)
    assert first.run_dir == extended.run_dir and first.epochs_done == B
    assert _rows(first) == _rows(direct)
    with pytest.raises(RuntimeError, match="no checkpoint at epoch"):
        at_epoch(engine.RunResult(tmp_path / "direct", "finished", 5, []), 3)


def test_stage_budgets_artist_seen_as_often_shapes_on_top():
    # cpu sizes: 320 training images, mix 320 + 320 shapes (ratio 0.5), 1000 shapes, B = 200
    ep = stage_epochs(200, 320, 640, 1000)
    assert ep == {"alone": 200, "mix": 200, "longer": 400, "pretrain": 64, "finetune": 200,
                  "cond": 200}
    im = stage_images(ep, 320, 640, 1000)
    assert im["alone"] == {"total": 64000, "artist": 64000, "shapes": 0}
    # shape learning shows the artist as often as the 1st result, the shapes on top ...
    assert im["mix"] == {"total": 128000, "artist": 64000, "shapes": 64000}
    # ... the control as many images as shape learning, all artist
    assert im["longer"] == {"total": 128000, "artist": 128000, "shapes": 0}
    assert im["finetune"] == {"total": 128000, "artist": 64000, "shapes": 64000}
    # the class-conditional arm: the mix's images, labelled; every arm and the control 2B
    assert im["cond"] == im["mix"]
    # shapes at a quarter of the mix: 107 shapes, the control 1.33 x B
    assert stage_epochs(30, 320, 427, 1000)["longer"] == 40


def test_shape_learning_many_shares_the_1st_result_and_the_longer_control(artist, tmp_path):
    """The 1st result and the longer control are one run folder: ``alone`` is the run at B,
    ``longer`` the same run at 2B; calling again (notebook 05, asking only for the 1st
    result) trains nothing and still returns the run at B."""
    root, mixes = tmp_path / "runs", tmp_path / "mixes"
    kw = dict(shape_ratio=0.5, mixes_dir=mixes, epochs=1, scheduler="serial", progress=False)
    arts = {"artist_donglein": artist / "artist_donglein"}
    runs = shape_learning_many("smoke", arts, artist / "shapes", (0,), root,
                               stages=("alone", "mix", "longer"), **kw)["artist_donglein", 0]
    assert set(runs) == {"alone", "mix", "longer"}
    assert runs["alone"].run_dir == runs["longer"].run_dir != runs["mix"].run_dir
    assert (runs["alone"].epochs_done, runs["mix"].epochs_done, runs["longer"].epochs_done) \
        == (1, 1, 2)
    assert [e for e, _ in engine.list_checkpoints(runs["longer"].run_dir)] == [1, 2]
    assert len(runs["alone"].rows) == 1 and len(runs["longer"].rows) == 2
    cfg = json.loads((runs["mix"].run_dir / "config.json").read_text())
    assert cfg["data"]["n_images"] == 32            # 16 artist + 16 shapes, 1 epoch of it
    log = (runs["longer"].run_dir / "log.csv").stat().st_mtime_ns
    again = shape_learning_many("smoke", arts, artist / "shapes", (0,), root,
                                stages=("alone", "mix"), **kw)["artist_donglein", 0]
    assert set(again) == {"alone", "mix"} and again["alone"].epochs_done == 1
    assert (runs["longer"].run_dir / "log.csv").stat().st_mtime_ns == log
    only = shape_learning_many("smoke", arts, artist / "shapes", (0,), root,
                               stages=("longer",), **kw)["artist_donglein", 0]
    assert set(only) == {"longer"} and only["longer"].epochs_done == 2
