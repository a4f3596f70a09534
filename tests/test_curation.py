"""Paper B's 60/30/10 curation: counts, nearest choice, safe writing, selections, loop,
and the headless "like" gallery."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import data, engine, metrics
from paperlib.paper_b import (
    SelectionMismatchError,
    auto_satisfaction,
    auto_satisfaction_parts,
    image_sha256,
    load_selections,
    make_auto_rater,
    make_selection_rater,
    plan_curated_set,
    run_curation_loop,
    save_selections,
    selection_for_round,
    selections_or_auto,
    split_counts,
    write_curated_set,
)
from paperlib.paper_b.curation import CURATION_LOG, SOURCES
from paperlib.utils.images import to_uint8_hwc

# --------------------------------------------------------------------------- helpers


def discs(n, res=32, seed=0):
    """n float [-1, 1] (n, 3, res, res) images of soft-edged discs of varied radius."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:res, 0:res] + 0.5
    out = np.empty((n, 3, res, res), np.float32)
    for i in range(n):
        r = rng.uniform(0.2, 0.4) * res
        ry = r * rng.uniform(0.6, 1.0)
        d = np.sqrt(((xx - res / 2) / r) ** 2 + ((yy - res / 2) / ry) ** 2)
        cov = np.clip((1.0 - d) * r + 0.5, 0, 1)
        col = rng.uniform(0.0, 0.8, 3)
        img = (1 - cov)[None] * 1.0 + cov[None] * col[:, None, None]
        out[i] = img * 2 - 1
    return torch.from_numpy(out)


def tree_snapshot(root: Path) -> dict:
    snap = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            snap[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mtime_ns)
        else:
            snap[str(p)] = "dir"
    return snap


@pytest.fixture
def human_set(tmp_path):
    """12 human-made images (10 PNG + 2 JPEG) in tmp/human, with 8-D features."""
    folder = tmp_path / "human"
    folder.mkdir()
    imgs = discs(12, seed=7)
    paths = []
    for i in range(12):
        ext = "jpg" if i >= 10 else "png"
        p = folder / f"h{i:02d}.{ext}"
        Image.fromarray(to_uint8_hwc(imgs[i])).save(p)
        paths.append(p)
    feats = np.random.default_rng(1).normal(size=(12, 8))
    return paths, feats


# --------------------------------------------------------------------------- counts


@pytest.mark.parametrize("size,expected", [
    (10, (6, 3, 1)), (7, (4, 2, 1)), (1, (1, 0, 0)), (33, (20, 10, 3)), (400, (240, 120, 40)),
    (2, (1, 1, 0)), (5, (3, 2, 0)), (3, (2, 1, 0)), (15, (9, 5, 1)),
])
def test_split_counts_rounding(size, expected):
    assert split_counts(size) == expected


def test_split_counts_sum_and_ties():
    for size in range(1, 300):
        c = split_counts(size)
        assert sum(c) == size
        assert all(abs(c[k] - size * r) < 1 for k, r in enumerate((0.6, 0.3, 0.1)))
    third = 1 / 3
    assert split_counts(10, (third, third, third)) == (4, 3, 3)   # tie -> earlier category
    assert split_counts(11, (third, third, third)) == (4, 4, 3)
    assert split_counts(5, (0.0, 0.0, 1.0)) == (0, 0, 5)


@pytest.mark.parametrize("bad", [
    dict(size=0), dict(size=-3), dict(size=2.5), dict(size=True),
    dict(size=10, ratios=(0.6, 0.3)), dict(size=10, ratios=(0.7, 0.4, -0.1)),
    dict(size=10, ratios=(0.6, 0.3, 0.2)), dict(size=10, ratios=(float("nan"), 0.5, 0.5)),
])
def test_split_counts_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        split_counts(**bad)


@pytest.mark.parametrize("size", [10, 7, 1, 33, 400])
def test_plan_counts_and_provenance(size):
    rng = np.random.default_rng(size)
    gen = rng.normal(size=(size + 5, 4))
    hum = rng.normal(size=(size, 4))
    top = [3, 0]
    plan = plan_curated_set(gen, hum, top, size)
    want = dict(zip(SOURCES, split_counts(size)))
    assert plan.counts == want and len(plan.entries) == size
    got = {s: sum(e.source == s for e in plan.entries) for s in SOURCES}
    assert got == want
    for e in plan.entries:
        assert e.source in SOURCES and isinstance(e.index, int) and e.distance >= 0
    gen_idx = plan.indices("generated-similar")
    assert not set(gen_idx) & set(top) and len(set(gen_idx)) == len(gen_idx)
    hum_idx = plan.indices("human-similar")
    assert len(set(hum_idx)) == len(hum_idx)
    assert plan.indices("top-copy") == [top[k % 2] for k in range(want["top-copy"])]


def test_plan_chooses_nearest():
    # top-rated generated images sit at (0, 0) and (100, 0); the others at known offsets
    gen = np.array([[0, 0], [100, 0], [1, 0], [100, 5], [50, 0], [0, 2], [100, 0.5],
                    [30, 30], [0, -3], [70, 0]], float)
    hum = np.array([[0, 9], [100, 1], [60, 60], [1.5, 0], [99, 0], [200, 200]], float)
    plan = plan_curated_set(gen, hum, top_idx=[1, 0], size=10)   # 6 / 3 / 1
    gsel = plan.indices("generated-similar")
    assert gsel == [6, 2, 5, 8, 3, 9]          # distances 0.5, 1, 2, 3, 5, 30 (not 7: 42, 4: 50)
    assert [e.distance for e in plan.entries[:6]] == pytest.approx([0.5, 1, 2, 3, 5, 30])
    assert plan.indices("human-similar") == [1, 4, 3]    # distances 1, 1, 1.5 (tie by index)
    assert plan.indices("top-copy") == [1]              # best first
    cos = plan_curated_set(gen + 1.0, hum + 1.0, [1, 0], 10, metric="cosine")
    assert cos.metric == "cosine" and len(cos.entries) == 10


def test_plan_top_copies_cycle():
    rng = np.random.default_rng(0)
    plan = plan_curated_set(rng.normal(size=(60, 3)), rng.normal(size=(30, 3)), [5, 9, 2], 40)
    assert plan.indices("top-copy") == [5, 9, 2, 5]
    plan = plan_curated_set(rng.normal(size=(60, 3)), rng.normal(size=(30, 3)),
                            np.array([5, 9, 2, 7, 1]), 20)
    assert plan.indices("top-copy") == [5, 9]


def test_plan_rejects_bad_input():
    g, h = np.zeros((10, 4)), np.zeros((5, 4))
    cases = [
        dict(top_idx=[], size=5), dict(top_idx=[10], size=5), dict(top_idx=[-1], size=5),
        dict(top_idx=[1, 1], size=5), dict(top_idx=[1.5], size=5), dict(top_idx=[1], size=0),
        dict(top_idx=[1], size=5, ratios=(0.5, 0.5, 0.5)),
        dict(top_idx=[1], size=5, metric="manhattan"),
    ]
    for kw in cases:
        with pytest.raises(ValueError):
            plan_curated_set(g, h, **kw)
    with pytest.raises(ValueError, match="generated-similar"):   # 9 non-top, 12 needed
        plan_curated_set(g, np.zeros((50, 4)), [0], 20)
    with pytest.raises(ValueError, match="human"):               # 5 human, 6 needed
        plan_curated_set(np.zeros((50, 4)), h, [0], 20)
    with pytest.raises(ValueError, match="feature sizes"):
        plan_curated_set(g, np.zeros((5, 3)), [0], 5)
    with pytest.raises(ValueError):
        plan_curated_set(np.zeros(10), h, [0], 5)


# --------------------------------------------------------------------------- writing


def test_write_curated_set_only_under_run_dir(tmp_path, human_set):
    paths, hfeats = human_set
    gen = discs(20, seed=3)
    gfeats = np.random.default_rng(2).normal(size=(20, 8))
    plan = plan_curated_set(gfeats, hfeats, [4, 11], 15)   # 9 / 5 / 1 (4.5 vs 1.5 tie)
    run_dir = tmp_path / "runs" / "curate"
    before = tree_snapshot(tmp_path)
    out = write_curated_set(plan, gen, paths, run_dir, 0)
    after = tree_snapshot(tmp_path)

    assert out == (run_dir / "round_0" / "trainset").resolve()
    # every pre-existing path unchanged (human sources: same bytes and mtime)
    for p, v in before.items():
        assert after[p] == v, p
    new = set(after) - set(before)
    for p in new:
        assert Path(p) == tmp_path / "runs" or Path(p).is_relative_to(run_dir), p
    # no temporary folder left behind
    assert sorted(x.name for x in (run_dir / "round_0").iterdir()) == ["trainset"]

    prov = json.loads((out / "provenance.json").read_text())
    files = prov["files"]
    assert len(files) == plan.size == 15
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f["file"] for f in files)
    assert prov["counts"] == plan.counts and prov["top_idx"] == [4, 11]
    for f, e in zip(files, plan.entries):
        assert (f["source"], f["index"]) == (e.source, e.index)
        assert f["distance"] == pytest.approx(e.distance)
        img = np.asarray(Image.open(out / f["file"]).convert("RGB"))
        if e.source == "human-similar":
            assert Path(f["original_path"]) == paths[e.index].resolve()
            src = paths[e.index]
            if src.suffix == ".png":
                assert (out / f["file"]).read_bytes() == src.read_bytes()
            else:
                assert img.shape == (32, 32, 3)
        else:
            assert f["original_path"] is None
            assert np.array_equal(img, to_uint8_hwc(gen[e.index]))

    # writing the round again replaces the set atomically
    plan2 = plan_curated_set(gfeats, hfeats, [0], 10)
    out2 = write_curated_set(plan2, gen, paths, run_dir, 0)
    assert out2 == out and len(list(out.glob("*.png"))) == 10
    assert sorted(x.name for x in (run_dir / "round_0").iterdir()) == ["trainset"]


def test_write_curated_set_rejects_traversal(tmp_path, human_set):
    paths, hfeats = human_set
    gen = discs(20)
    plan = plan_curated_set(np.random.default_rng(0).normal(size=(20, 8)), hfeats, [1], 10)
    (tmp_path / "runs").mkdir()
    with pytest.raises(ValueError, match=r"\.\."):
        write_curated_set(plan, gen, paths, tmp_path / "runs" / ".." / "escape", 0)
    assert not (tmp_path / "escape").exists()
    outside = tmp_path / "outside"
    outside.mkdir()
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir()
    (run_dir / "round_0").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="outside"):
        write_curated_set(plan, gen, paths, run_dir, 0)
    assert list(outside.iterdir()) == []
    for bad_round in (-1, 1.5, "0"):
        with pytest.raises(ValueError):
            write_curated_set(plan, gen, paths, tmp_path / "runs" / "s", bad_round)
    with pytest.raises(ValueError, match="out of range"):
        write_curated_set(plan, gen, paths[:2], tmp_path / "runs" / "s", 0)


# --------------------------------------------------------------------------- satisfaction


def test_auto_satisfaction_definition():
    train = np.array([[0.0, 0], [2, 0], [0, 2], [2, 2]])      # NN spacing tau = 2
    gen = np.array([[0.0, 0], [2, 1], [10, 0]])
    parts = auto_satisfaction_parts(None, gen, train)
    assert parts["tau"] == pytest.approx(2.0)
    assert parts["realism"] == pytest.approx([1.0, 0.5 ** 0.5, 2.0 ** -4])
    assert parts["satisfaction"] == pytest.approx(parts["realism"])
    imgs = discs(3)
    sat = auto_satisfaction(imgs, gen, train)
    fid = auto_satisfaction_parts(imgs, gen, train)["fidelity"]
    assert sat == pytest.approx(np.sqrt(fid * parts["realism"]))
    assert np.all((sat >= 0) & (sat <= 1))
    with pytest.raises(ValueError):
        auto_satisfaction(imgs[:2], gen, train)
    with pytest.raises(ValueError):
        auto_satisfaction(None, gen, np.zeros((0, 2)))


# --------------------------------------------------------------------------- selections


def test_selections_round_trip_and_hash_check(tmp_path):
    imgs = discs(6)
    path = tmp_path / "sel" / "selections.json"
    save_selections(path, 0, [4, 1, 4], images=imgs)
    save_selections(path, 1, [2], {"n_shown": 6, "note": "second round"})
    data = load_selections(path)
    assert data["version"] == 1 and set(data["rounds"]) == {"0", "1"}
    r0 = data["rounds"]["0"]
    assert r0["selected"] == [1, 4] and r0["n_shown"] == 6
    assert r0["image_hashes"] == [image_sha256(im) for im in imgs]
    assert image_sha256(imgs[0]) == image_sha256(to_uint8_hwc(imgs[0]))
    assert data["rounds"]["1"]["note"] == "second round"
    assert selection_for_round(path, 0, imgs) == [1, 4]
    assert selection_for_round(path, 5, imgs) is None
    assert selection_for_round(tmp_path / "missing.json", 0, imgs) is None

    other = imgs.clone()
    other[3] = -other[3]
    with pytest.raises(SelectionMismatchError, match="1 of 6"):
        selection_for_round(path, 0, other)
    with pytest.raises(SelectionMismatchError, match="6 images"):
        selection_for_round(path, 0, imgs[:5])

    scores = np.array([0.1, 0.2, 0.9, 0.3, 0.8, 0.5])
    idx, how = selections_or_auto(path, 0, imgs, scores, top_k=2)
    assert how == "human" and idx.tolist() == [4, 1]           # ranked by auto score
    idx, how = selections_or_auto(path, 7, imgs, scores, top_k=2)
    assert how == "auto" and idx.tolist() == [2, 4]
    with pytest.raises(SelectionMismatchError):
        selections_or_auto(path, 0, other, scores, top_k=2)
    with pytest.warns(UserWarning, match="automatic"):
        idx, how = selections_or_auto(path, 0, other, scores, top_k=3, on_mismatch="warn")
    assert how == "auto" and idx.tolist() == [2, 4, 5]

    with pytest.raises(ValueError):
        save_selections(path, 0, [6], images=imgs)
    with pytest.raises(ValueError):
        save_selections(path, 0, [1])                     # no n_shown
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 2, "rounds": {}}))
    with pytest.raises(ValueError):
        load_selections(bad)


# --------------------------------------------------------------------------- loop


def test_run_curation_loop_two_rounds(tmp_path, human_set):
    paths, _ = human_set
    rng = np.random.default_rng(0)
    proj = rng.normal(size=(3 * 8 * 8, 6))

    n_feature_calls = [0]

    def features(images):
        n_feature_calls[0] += 1
        x = torch.as_tensor(np.asarray(images)).float()
        pooled = torch.nn.functional.avg_pool2d(x, 4).flatten(1).numpy()
        return pooled @ proj

    human_imgs = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    hfeats = features(torch.from_numpy(human_imgs).permute(0, 3, 1, 2).float() / 127.5 - 1)
    calls = {"gen": 0, "retrain": []}

    def generate(n):
        calls["gen"] += 1
        return discs(n, seed=100 + calls["gen"])

    def retrain(trainset_dir, round_idx):
        calls["retrain"].append((Path(trainset_dir), round_idx))

    run_dir = tmp_path / "runs" / "loop"
    rate = make_auto_rater(features, hfeats, top_k=3)
    log = run_curation_loop(generate, retrain, features, rate, hfeats, paths, run_dir,
                            rounds=2, size=20, n_generate=30)
    on_disk = json.loads((run_dir / CURATION_LOG).read_text())
    assert on_disk["rounds"] == json.loads(json.dumps(log["rounds"]))
    assert len(on_disk["rounds"]) == 2 and "final" in on_disk
    assert calls["gen"] == 3
    assert n_feature_calls[0] == 1 + 3        # human set once, then once per generated batch
    assert [r for _, r in calls["retrain"]] == [0, 1]
    for r, entry in enumerate(on_disk["rounds"]):
        assert entry["counts"] == {"generated-similar": 12, "human-similar": 6, "top-copy": 2}
        assert entry["n_top"] == 3 and entry["rating"] == "callable"
        assert 0 <= entry["mean_satisfaction"] <= 1
        assert entry["top_mean_satisfaction"] >= entry["mean_satisfaction"]
        ts = run_dir / f"round_{r}" / "trainset"
        assert calls["retrain"][r][0] == ts.resolve()
        assert len(list(ts.glob("*.png"))) == 20
        prov = json.loads((ts / "provenance.json").read_text())
        assert [f["source"] for f in prov["files"]].count("top-copy") == 2

    # a rater that reports how it rated (human selection from the file, else auto)
    sel = tmp_path / "selections.json"
    imgs0 = discs(30, seed=201)              # what generate() returns in round 0 below
    save_selections(sel, 0, [0, 5], images=imgs0)
    calls["gen"] = 100
    rate2 = make_selection_rater(sel, features, hfeats, top_k=4)
    log2 = run_curation_loop(generate, retrain, features, rate2, hfeats, paths,
                             tmp_path / "runs" / "loop2", rounds=2, size=10, n_generate=30,
                             evaluate_final=False)
    assert [r["rating"] for r in log2["rounds"]] == ["human", "auto"]
    assert sorted(log2["rounds"][0]["top_idx"]) == [0, 5]
    assert log2["rounds"][1]["n_top"] == 4 and "final" not in log2

    with pytest.raises(ValueError):
        run_curation_loop(generate, retrain, features, rate, hfeats, paths[:3], run_dir,
                          rounds=1, size=10, n_generate=30)


# --------------------------------------------------------------------------- gallery


def test_selection_gallery_headless(tmp_path):
    import ipywidgets as W

    from paperlib.paper_b import selection_gallery
    from paperlib.paper_b import selections_or_auto as sel_or_auto_w

    imgs = discs(10)
    path = tmp_path / "selections.json"
    g = selection_gallery(imgs, path, round_idx=2, n_cols=4)
    assert isinstance(g, W.Widget)
    assert len(g.image_widgets) == 10 and len(g.toggles) == 10
    assert all(isinstance(w, W.Image) and w.value[:8] == b"\x89PNG\r\n\x1a\n"
               for w in g.image_widgets)
    g.toggles[3].value = True
    g.toggles[7].value = True
    assert g.selected() == [3, 7]
    g.save_button.click()
    assert g.last_error is None
    data = load_selections(path)
    assert data["rounds"]["2"]["selected"] == [3, 7]
    assert data["rounds"]["2"]["image_hashes"] == [image_sha256(im) for im in imgs]
    # a new gallery for the same round and images shows the saved likes
    g2 = selection_gallery(imgs, path, round_idx=2)
    assert g2.selected() == [3, 7]
    # a gallery on other images does not pre-load a mismatched selection
    g3 = selection_gallery(discs(10, seed=9), path, round_idx=2)
    assert g3.selected() == [] and "other images" in g3.status.value
    idx, how = sel_or_auto_w(path, 2, imgs, np.arange(10.0), top_k=3)
    assert how == "human" and idx.tolist() == [7, 3]


# --------------------------------------------------------------------------- style counts


def test_auto_satisfaction_with_inner_counts():
    """inner_counts scores each image against the allowed inner count nearest its own."""
    from paperlib.forms import circle_fidelity, nearest_count, rescore

    imgs = discs(5, seed=4)
    rng = np.random.default_rng(0)
    train, gen = rng.normal(size=(6, 3)), rng.normal(size=(5, 3))
    parts = auto_satisfaction_parts(imgs, gen, train, inner_counts=(2, 4))
    want = []
    for img in imgs:
        r = circle_fidelity(img)
        want.append(rescore(r, nearest_count(r.n_inner_found, (2, 4))).score)
    assert parts["fidelity"] == pytest.approx(want)
    assert auto_satisfaction(imgs, gen, train, inner_counts=(0,)) == pytest.approx(
        auto_satisfaction(imgs, gen, train, 0))
    with pytest.raises(ValueError, match="not both"):
        auto_satisfaction(imgs, gen, train, 2, inner_counts=(2, 4))
    rate = make_auto_rater(lambda x: gen, train, top_k=2, inner_counts=(0,))
    assert list(rate(imgs, 0)) == list(make_auto_rater(lambda x: gen, train, 2, 0)(imgs, 0))


def test_equal_satisfaction_is_broken_by_realism(tmp_path):
    """A batch whose circle fidelity is 0 everywhere has satisfaction 0 everywhere: the
    raters then prefer the more realistic images (not the first indices)."""
    blank = torch.ones(6, 3, 16, 16)                     # white images: fidelity 0
    train = np.array([[0.0, 0.0], [1.0, 0.0]])
    gen = np.array([[9.0, 0], [5.0, 0], [0.2, 0], [7.0, 0], [0.1, 0], [3.0, 0]])
    parts = auto_satisfaction_parts(blank, gen, train)
    assert np.all(parts["satisfaction"] == 0) and np.all(np.diff(parts["realism"][[4, 2]]) < 0)
    rate = make_auto_rater(lambda x: gen, train, top_k=3)
    assert list(rate(blank, 0)) == [4, 2, 5]
    sel = make_selection_rater(tmp_path / "none.json", lambda x: gen, train, top_k=3)
    idx, how = sel(blank, 0)
    assert how == "auto" and idx.tolist() == [4, 2, 5]
    with pytest.raises(ValueError, match="tie_break"):
        selections_or_auto(tmp_path / "none.json", 0, blank, np.zeros(6), 2, tie_break=[1.0])


# --------------------------------------------------------------------------- held-out, selection


class RecordingExtractor:
    """A cheap stand-in for the Inception extractor (4x4 average-pooled pixels, 48-D) that
    records the sha256 of every image it embeds, call by call."""

    key = "test-avgpool4"

    def __init__(self):
        self.seen: list[set[str]] = []

    def __call__(self, images, progress=None):
        from paperlib.metrics import images_to_uint8

        u8 = images_to_uint8(images)
        self.seen.append({hashlib.sha256(x.numpy().tobytes()).hexdigest() for x in u8})
        return torch.nn.functional.adaptive_avg_pool2d(u8.float() / 127.5 - 1, 4) \
            .flatten(1).double().numpy()


@pytest.fixture(scope="module")
def artist_split(tmp_path_factory):
    """A 30-image donglein stand-in at 32 px split 21 train / 9 held out."""

    root = tmp_path_factory.mktemp("split")
    data.build_artist_set(root / "artist_donglein", "donglein", n=30, res=32, seed=0)
    return data.split_held_out(root / "artist_donglein", 0.3, seed=0)


def test_pixel_pca_features_shape_determinism_and_copies(artist_split):

    from paperlib.paper_b import PixelPCAFeatures, feature_distances, pixel_pca_features

    train = data.load_folder(artist_split.train, 32).images
    held = data.load_folder(artist_split.held_out, 32).images
    f = pixel_pca_features(train, dim=8, res=16)
    assert isinstance(f, PixelPCAFeatures) and f.dim == 8
    a = f(train)
    assert a.shape == (21, 8) and a.dtype == np.float64
    # deterministic: a refit gives the same key and features; so does the reversed order
    g = pixel_pca_features(train, dim=8, res=16)
    assert g.key == f.key and np.array_equal(g(train), a)
    assert np.allclose(pixel_pca_features(train.flip(0), dim=8)(train), a, atol=1e-8)
    # the key names the fitting set: fitting on other images is another feature space
    assert pixel_pca_features(held, dim=8).key != f.key
    # an exact copy (also one of a held-out image) is its own nearest neighbour
    both = torch.cat([train, held])
    fb = f(both)
    assert (feature_distances(fb, fb).argmin(axis=1) == np.arange(len(both))).all()
    assert np.allclose(f(both[[3, 25]]), fb[[3, 25]])
    # dim is capped by what the fitting set can give; bad inputs are named
    assert pixel_pca_features(train[:5], dim=32).dim == 4
    for bad in (train[:1], train[:1].repeat(4, 1, 1, 1), train[:, :1], torch.zeros(3, 32, 32)):
        with pytest.raises(ValueError):
            pixel_pca_features(bad)
    with pytest.raises(ValueError, match="dim"):
        pixel_pca_features(train, dim=0)


def test_curation_selection_with_pixel_pca_never_uses_inception(artist_split, tmp_path,
                                                                monkeypatch):
    """Selection features, cached and rated as notebook 05 does, with the Inception
    extractor made unavailable: nothing in the selection path asks for it."""

    from paperlib.paper_b import cached_features, pixel_pca_features

    def no_inception(*a, **k):
        raise AssertionError("selection asked for the Inception extractor")

    # every Inception feature goes through the extractor's __call__ (and get_extractor)
    monkeypatch.setattr(metrics.features.FeatureExtractor, "__call__", no_inception)
    monkeypatch.setattr(metrics.features, "get_extractor", no_inception)
    train = data.load_folder(artist_split.train, 32).images
    pca = pixel_pca_features(train)
    features = cached_features(pca, tmp_path / "feats")
    human = features(train)
    assert np.allclose(human, pca(train))        # PNG pixels are exact uint8
    batch = torch.cat([train[[4, 9]], torch.rand(6, 3, 32, 32) * 2 - 1])
    parts = auto_satisfaction_parts(batch, features(batch), human, inner_counts=(2, 4))
    assert np.allclose(parts["nn_dist"][:2], 0, atol=1e-6)   # float32 pooling only
    assert (parts["realism"][:2] > parts["realism"][2:].max()).all()
    top = make_auto_rater(features, human, top_k=2, inner_counts=(2, 4))(batch, 0)
    assert sorted(top.tolist()) == [0, 1]     # the training copies beat noise


def test_held_out_floor_scores_training_part_against_disjoint_held_out_part(artist_split,
                                                                           tmp_path):
    from paperlib.paper_b import held_out_floor_metrics, real_stage_metrics

    ex = RecordingExtractor()
    floor = held_out_floor_metrics(artist_split.train, artist_split.held_out, 12, 32, (2, 4),
                                   seed=0, extractor=ex, cache_dir=tmp_path / "cache")
    assert len(ex.seen) == 2
    train_seen, held_seen = ex.seen
    assert (len(train_seen), len(held_seen)) == (21, 9) and not train_seen & held_seen
    assert floor["n"] == 12 and floor["n_reference"] == 9 and floor["epoch"] is None
    assert floor["run"] == "training data (held-out floor)"
    assert np.isfinite(floor["fid"]) and floor["fid"] > 0 and floor["fidelity"] > 0.3
    # the same call again is the same numbers, from the feature cache
    assert held_out_floor_metrics(artist_split.train, artist_split.held_out, 12, 32, (2, 4),
                                  seed=0, extractor=ex, cache_dir=tmp_path / "cache") == floor
    assert len(ex.seen) == 2
    # the old in-sample floor scores a subset against the set holding it: lower
    inside = real_stage_metrics(artist_split.train, 12, 32, (2, 4), extractor=ex,
                                cache_dir=tmp_path / "cache")
    assert inside["fid"] < floor["fid"]


def test_evaluate_stage_scores_against_reference_dir(artist_split, tmp_path):

    from paperlib.metrics import fid_from_features, real_features
    from paperlib.paper_b import evaluate_stage

    cfg = engine.make_config(model="dcgan", epochs=1, res=32, ngf=8, ndf=8, batch_size=7,
                            device="cpu")
    run = engine.train(cfg, artist_split.train, tmp_path / "run", progress=False)
    assert run.status == "finished"
    ex, cache = RecordingExtractor(), tmp_path / "cache"
    source = artist_split.source
    m_all = evaluate_stage(run.run_dir, source, 10, (2, 4), extractor=ex, cache_dir=cache)
    m_held = evaluate_stage(run.run_dir, source, 10, (2, 4), extractor=ex, cache_dir=cache,
                            reference_dir=artist_split.held_out)
    assert len(list((run.run_dir / "eval").glob("paperb_*.json"))) == 2   # two cache keys
    gen = ex(engine.load_run(run.run_dir).sample(10, seed=0))
    held_f = real_features(artist_split.held_out, 32, ex, cache_dir=cache)
    all_f = real_features(source, 32, ex, cache_dir=cache)
    assert math.isclose(m_held["fid"], fid_from_features(held_f, gen), rel_tol=1e-9)
    assert math.isclose(m_all["fid"], fid_from_features(all_f, gen), rel_tol=1e-9)
    assert m_held["fid"] != m_all["fid"]
    # cached: the same call embeds nothing
    n = len(ex.seen)
    assert evaluate_stage(run.run_dir, source, 10, (2, 4), extractor=ex, cache_dir=cache,
                          reference_dir=artist_split.held_out) == m_held
    assert len(ex.seen) == n
