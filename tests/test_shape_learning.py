"""Paper B helpers of notebooks 01 and 05 (in paperlib.paper_b): style-aware circle
fidelity, Table-1 metrics, stage epochs, cached features, and the shape-learning runs plus
the curation loop on real (tiny) training runs."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from paperlib import data, engine
from paperlib.forms import (
    circle_fidelity,
    inner_counts_of,
    nearest_count,
    rescore,
    style_fidelity,
    summarize,
)
from paperlib.paper_b import (
    batch_for_round,
    cached_features,
    curate_and_retrain,
    evaluate_stage,
    finetune_run,
    make_auto_rater,
    mean_pairwise_distance,
    mix_shape_count,
    real_stage_metrics,
    shape_learning_many,
    shape_learning_runs,
    stage_epochs,
    stage_metrics,
)
from paperlib.paper_b.shape_learning import STAGES


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Tiny stand-in sets at 32 px: donglein (24), geometric (8), shapes (30)."""
    root = tmp_path_factory.mktemp("sets")
    data.build_artist_set(root / "artist_donglein", "donglein", n=24, res=32, seed=0)
    data.build_artist_set(root / "artist_geometric", "geometric", n=8, res=32, seed=0)
    data.build_shape_set(root / "shapes", n=30, res=32, seed=0)
    return root


@pytest.fixture(scope="module")
def faces64(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    data.build_artist_set(root / "d", "donglein", n=12, res=64, seed=3)
    return data.load_folder(root / "d", 64).images


class FakeExtractor:
    """Cheap stand-in for the Inception extractor: 4x4 average-pooled pixels (48-D)."""

    key = "fake-avgpool4"

    def __init__(self):
        self.calls = 0
        self.images = 0

    def __call__(self, images, progress=None):
        x = torch.as_tensor(images)
        x = x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x.float()
        self.calls += 1
        self.images += x.shape[0]
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1).double().numpy()


# --------------------------------------------------------------------------- fidelity


def test_rescore_equals_recomputing(faces64):
    imgs = list(faces64) + [torch.full((3, 64, 64), 1.0)]      # + a blank image
    for img in imgs:
        base = circle_fidelity(img, None)
        for k in (None, 0, 1, 2, 3, 4, 7):
            want = circle_fidelity(img, k)
            got = rescore(base, k)
            assert got.n_inner_expected == want.n_inner_expected
            assert got.score == pytest.approx(want.score, abs=1e-12), (k, got, want)
    with pytest.raises(ValueError):
        rescore(circle_fidelity(imgs[0]), -1)


def test_nearest_count():
    assert nearest_count(3, (2, 4)) == 2          # tie -> smaller
    assert nearest_count(5, (2, 4)) == 4
    assert nearest_count(0, (2, 4)) == 2
    assert nearest_count(4, [4]) == 4
    with pytest.raises(ValueError):
        nearest_count(1, ())


def test_inner_counts_of(sets, tmp_path):
    counts = inner_counts_of(sets / "artist_donglein")
    manifest = json.loads((sets / "artist_donglein" / "manifest.json").read_text())
    assert counts == tuple(sorted({e["recipe"]["n_inner_circles"] for e in manifest["images"]}))
    assert set(counts) <= {2, 4}
    assert inner_counts_of(sets / "artist_geometric") is None      # no inner-circle count
    assert inner_counts_of(tmp_path) is None                       # no manifest


def test_style_fidelity_uses_the_nearest_allowed_count(faces64):
    plain = style_fidelity(faces64, None)
    styled = style_fidelity(faces64, (2, 4))
    for p, s in zip(plain, styled):
        assert p.n_inner_expected is None
        assert s.n_inner_expected == nearest_count(p.n_inner_found, (2, 4))
        assert s.score <= p.score + 1e-12               # the count term only lowers it
        if s.n_inner_found in (2, 4):
            assert s.score == pytest.approx(rescore(p, s.n_inner_found).score)
    ok = summarize(styled)["frac_inner_count_ok"]
    assert ok == pytest.approx(np.mean([s.n_inner_found in (2, 4) for s in styled]))
    assert ok >= 0.75          # 64 px stand-in faces: their counts are found


# --------------------------------------------------------------------------- metrics


def test_mean_pairwise_distance():
    assert mean_pairwise_distance([[0, 0], [3, 4], [0, 0]]) == pytest.approx(10 / 3)
    assert mean_pairwise_distance(np.ones((5, 3))) == 0.0
    assert math.isnan(mean_pairwise_distance(np.ones((1, 3))))
    x = np.random.default_rng(0).normal(size=(300, 4))
    full = mean_pairwise_distance(x, max_n=None)
    assert mean_pairwise_distance(x, max_n=100) == pytest.approx(full, rel=0.1)
    assert mean_pairwise_distance(2 * x, max_n=None) == pytest.approx(2 * full)


def test_stage_metrics(faces64):
    rng = np.random.default_rng(0)
    real = rng.normal(size=(40, 6))
    feats = real[:12]
    m = stage_metrics(faces64, feats, real, (2, 4))
    assert set(m) == {"n", "fidelity", "main_score", "inner_score", "main_circularity",
                      "main_circularity_median", "inner_count_ok", "n_inner_found",
                      "found_main", "fid", "kid", "kid_std", "diversity", "form_measure",
                      "form_score", "form_median"}
    assert m["form_measure"] == "face" and m["form_score"] == pytest.approx(m["main_score"])
    assert m["fidelity"] <= m["main_score"] and 0 <= m["inner_score"] <= 1
    assert m["n"] == 12 and 0 < m["fidelity"] <= 1 and m["found_main"] == 1.0
    assert m["diversity"] == pytest.approx(mean_pairwise_distance(feats))
    far = stage_metrics(faces64, feats + 5.0, real, (2, 4))
    assert far["fid"] > m["fid"] + 100 and far["kid"] > m["kid"]
    assert far["fidelity"] == m["fidelity"]
    assert math.isnan(stage_metrics(faces64, feats, real, None)["inner_count_ok"])
    with pytest.raises(ValueError):
        stage_metrics(faces64[:3], feats, real)


def test_mix_shape_count_and_stage_epochs():
    assert mix_shape_count(400, 0.5, 1000) == 400
    assert mix_shape_count(400, 0.2, 1000) == 100
    assert mix_shape_count(70, 0.5, 120) == 70
    assert mix_shape_count(10, 0.0, 0) == 0
    assert mix_shape_count(3, 0.01, 5) == 1
    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError):
            mix_shape_count(400, bad, 1000)
    with pytest.raises(ValueError, match="needs 1200"):
        mix_shape_count(400, 0.75, 1000)
    # the default: the artist seen as often as alone, shapes on top; the control as long
    assert stage_epochs(20, 400, 800, 1000) == {"alone": 20, "mix": 20, "longer": 40,
                                                "pretrain": 8, "finetune": 20, "cond": 20}
    assert stage_epochs(20, 400, 800, 1000, 0.25) == stage_epochs(20, 400, 800, 1000)
    # equal image budgets: 20 epochs x 400 = 8000 images per stage
    assert stage_epochs(20, 400, 800, 1000, budget="images") == {
        "alone": 20, "mix": 10, "longer": 20, "pretrain": 4, "finetune": 10, "cond": 10}
    assert stage_epochs(20, 400, 800, 1000, 0.25, budget="images") == {
        "alone": 20, "mix": 10, "longer": 20, "pretrain": 2, "finetune": 15, "cond": 10}
    assert stage_epochs(20, 400, 800, 1000, budget="epochs") == {
        "alone": 20, "mix": 20, "longer": 20, "pretrain": 10, "finetune": 10, "cond": 20}
    assert min(stage_epochs(1, 70, 140, 120).values()) == 1
    with pytest.raises(ValueError):
        stage_epochs(20, 400, 800, 1000, 1.0)
    with pytest.raises(ValueError):
        stage_epochs(20, 400, 800, 1000, budget="steps")


def test_cached_features(tmp_path, faces64):
    ex = FakeExtractor()
    f = cached_features(ex, tmp_path / "cache")
    a = f(faces64)
    b = f(faces64.clone())
    assert ex.calls == 1 and np.array_equal(a, b)
    assert np.allclose(a, ex(faces64), atol=1e-2)    # uint8 quantisation only
    f(faces64[:5])
    assert ex.calls == 3
    assert len(list((tmp_path / "cache").glob("feats_*.npy"))) == 2


# --------------------------------------------------------------------------- real training


def test_shape_learning_runs_and_curation_end_to_end(sets, tmp_path):
    """Tiny real training (smoke profile: 32 px, ngf 8, 1 epoch): the three stages, the
    cached evaluation, and two curation rounds fine-tuning from the shape-learning model."""
    prof = "smoke"
    root, mixes = tmp_path / "runs", tmp_path / "mixes"
    artist, shapes = sets / "artist_donglein", sets / "shapes"
    kw = dict(shape_ratio=0.5, mixes_dir=mixes, epochs=1, scheduler="serial", progress=False)
    runs = shape_learning_runs(prof, artist, shapes, 0, root, **kw)
    assert set(runs) == set(STAGES) | {"pretrain"}
    for r in runs.values():
        assert r.status == "finished", r
    mix_manifest = json.loads(next(mixes.glob("*/manifest.json")).read_text())
    assert mix_manifest["counts"] == {"artist": 24, "shapes": 24}
    # the 1st result is the longer control's run at its own epochs; fine-tuning sees the
    # artist as long as the 1st result, pre-training the shapes the mix shows (24 of 30)
    assert runs["alone"].run_dir == runs["longer"].run_dir
    assert (runs["alone"].epochs_done, runs["longer"].epochs_done) == (1, 2)
    assert runs["finetune"].epochs_done == runs["pretrain"].epochs_done == 1
    ft_cfg = json.loads((runs["finetune"].run_dir / "config.json").read_text())["config"]
    assert Path(ft_cfg["init_from"]).parent.parent == runs["pretrain"].run_dir
    # the same call again trains nothing; another augment is another run
    mtimes = {k: (r.run_dir / "log.csv").stat().st_mtime_ns for k, r in runs.items()}
    again = shape_learning_runs(prof, artist, shapes, 0, root, stages=("alone", "finetune"), **kw)
    assert {k: (r.run_dir / "log.csv").stat().st_mtime_ns for k, r in again.items()} == \
        {k: mtimes[k] for k in again}
    ada = shape_learning_runs(prof, artist, shapes, 0, root, stages=("alone",),
                              augment="ada", **kw)
    assert ada["alone"].run_dir != runs["alone"].run_dir
    with pytest.raises(ValueError):
        shape_learning_runs(prof, artist, shapes, 0, root, stages=("bogus",))
    # several artists/seeds at once: the same runs (cached); one pre-training per seed,
    # shared by two artist folders of the same size; a copy of the same images is the same run
    twin = tmp_path / "twin"
    shutil.copytree(artist, twin)
    many = shape_learning_many(prof, {"artist_donglein": artist, "twin": twin}, shapes, (0,),
                               root, **kw)
    assert {k: r.run_dir for k, r in many["artist_donglein", 0].items()} == \
        {k: r.run_dir for k, r in runs.items()}
    assert many["twin", 0]["pretrain"].run_dir == runs["pretrain"].run_dir
    assert many["twin", 0]["alone"].run_dir == runs["alone"].run_dir  # keyed by content

    # cached evaluation
    ex = FakeExtractor()
    cache = tmp_path / "metric_cache"
    m = evaluate_stage(runs["mix"].run_dir, artist, 10, (2, 4), extractor=ex, cache_dir=cache)
    assert m["n"] == 10 and m["run"] == runs["mix"].run_dir.name and m["epoch"] == 1
    n_calls = ex.calls
    assert evaluate_stage(runs["mix"].run_dir, artist, 10, (2, 4), extractor=ex,
                          cache_dir=cache) == m
    assert ex.calls == n_calls                       # from run_dir/eval, nothing embedded
    assert evaluate_stage(runs["mix"].run_dir, artist, 12, (2, 4), extractor=ex,
                          cache_dir=cache)["n"] == 12
    real = real_stage_metrics(artist, 10, 32, (2, 4), extractor=ex, cache_dir=cache)
    assert real["n"] == 10 and real["fid"] < m["fid"] and real["fidelity"] > 0.3

    # two curation rounds on real runs
    feats = cached_features(ex, tmp_path / "feats")
    human_feats = feats(data.load_folder(artist, 32).images)
    seen = []
    auto = make_auto_rater(feats, human_feats, top_k=3, inner_counts=(2, 4))

    def rate(images, r, feats=None):
        seen.append(images.clone())
        return auto(images, r, feats=feats)
    rate.accepts_feats = True

    out = curate_and_retrain(runs["mix"].run_dir, artist, tmp_path / "curation", root, feats,
                             rate, rounds=2, size=10, n_generate=20, epochs=1,
                             human_feats=human_feats, inner_counts=(2, 4))
    assert len(out["runs"]) == 2 and len(out["models"]) == 3
    assert out["models"][0] == runs["mix"].run_dir
    for r, res in enumerate(out["runs"]):
        assert res.status == "finished"
        cfg = json.loads((res.run_dir / "config.json").read_text())
        assert Path(cfg["config"]["init_from"]).parent.parent == out["models"][r]
        assert cfg["data"]["n_images"] == 10
        prov = json.loads((tmp_path / "curation" / f"round_{r}" / "trainset" /
                           "provenance.json").read_text())
        assert prov["counts"] == {"generated-similar": 6, "human-similar": 3, "top-copy": 1}
        assert torch.equal(batch_for_round(out, r, 20), seen[r])
    log = json.loads((tmp_path / "curation" / "curation_log.json").read_text())
    assert [e["round"] for e in log["rounds"]] == [0, 1] and log["inner_counts"] == [2, 4]
    # rerun: same images, same curated sets -> the cached runs are reused
    out2 = curate_and_retrain(runs["mix"].run_dir, artist, tmp_path / "curation", root, feats,
                              rate, rounds=2, size=10, n_generate=20, epochs=1,
                              human_feats=human_feats, inner_counts=(2, 4))
    assert out2["models"] == out["models"]
    with pytest.raises(ValueError):
        batch_for_round(out, 3, 5)
    assert engine.list_checkpoints(out["models"][-1])
    # the control: the same start fine-tuned on the plain artist set
    ctrl = finetune_run(runs["mix"].run_dir, artist, root, 2)
    cfg = json.loads((ctrl.run_dir / "config.json").read_text())
    assert ctrl.epochs_done == 2 and cfg["data"]["n_images"] == 24
    assert Path(cfg["config"]["init_from"]).parent.parent == runs["mix"].run_dir
