"""Paper B measured apart from selection: held-out split, floor, selection features, gate,
Table 1 and verdicts."""
from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from paperlib import data, engine, forms, metrics, paper_b


@pytest.fixture(scope="module")
def artist(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    data.build_artist_set(root / "artist_donglein", "donglein", n=30, res=32, seed=0)
    return root / "artist_donglein"


def _tree(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_split_is_deterministic_disjoint_complete_and_reused(artist, tmp_path):
    before = _tree(artist)
    sp = data.split_held_out(artist, 0.2, seed=0, out_root=tmp_path)
    assert (sp.n_train, sp.n_held_out) == (24, 6)
    assert _tree(artist) == before                       # the source is only read
    man = {part: json.loads((d / "manifest.json").read_text())
           for part, d in (("train", sp.train), ("held", sp.held_out))}
    src = {part: {e["recipe"]["source_file"] for e in m["images"]} for part, m in man.items()}
    assert not (src["train"] & src["held"])
    assert src["train"] | src["held"] == {p.name for p in data.image_files(artist)}
    # per-image metadata survives (the inner-circle counts the fidelity measure needs)
    assert forms.inner_counts_of(sp.train) == forms.inner_counts_of(artist)
    assert len(data.load_folder(sp.held_out, 32)) == 6
    # reused: same call, same files, nothing rewritten
    mtime = (sp.train / "manifest.json").stat().st_mtime_ns
    again = data.split_held_out(artist, 0.2, seed=0, out_root=tmp_path)
    assert again == sp and (sp.train / "manifest.json").stat().st_mtime_ns == mtime
    # another seed holds out other images
    other = data.split_held_out(artist, 0.2, seed=1, out_root=tmp_path / "s1")
    held1 = {e["recipe"]["source_file"] for e in
             json.loads((other.held_out / "manifest.json").read_text())["images"]}
    assert held1 != src["held"]


def test_split_rebuilds_when_the_source_changes(tmp_path):
    src = tmp_path / "mine"
    data.save_images(torch.rand(10, 3, 16, 16) * 2 - 1, src)
    sp = data.split_held_out(src, 0.3, out_root=tmp_path / "out")
    assert (sp.n_train, sp.n_held_out) == (7, 3)
    data.save_images(torch.rand(2, 3, 16, 16) * 2 - 1, src, prefix="more")
    sp2 = data.split_held_out(src, 0.3, out_root=tmp_path / "out")
    assert sp2.n_train + sp2.n_held_out == 12


@pytest.mark.parametrize("frac", [0, 1, 1.5, -0.1, True])
def test_split_rejects_bad_fraction(artist, tmp_path, frac):
    with pytest.raises(ValueError, match="held_out_frac"):
        data.split_held_out(artist, frac, out_root=tmp_path)


def test_split_rejects_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="at least 2"):
        data.split_held_out(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        data.split_held_out(tmp_path / "nope")


def test_pixel_pca_features_are_independent_deterministic_and_find_copies(artist):
    imgs = data.load_folder(artist, 32).images
    f = paper_b.pixel_pca_features(imgs[:20], dim=8)
    a, b = f(imgs), paper_b.pixel_pca_features(imgs[:20], dim=8)(imgs)
    assert a.shape == (30, 8) and np.array_equal(a, b) and f.key.startswith("pixel-pca-16-8-")
    # whitened on the fitting set: unit variance per component
    assert np.allclose(a[:20].std(axis=0, ddof=1), 1.0, atol=1e-6)
    # nearest neighbour of an exact copy is the image itself
    d = paper_b.feature_distances(f(imgs[25:26]), a)
    assert int(np.argmin(d)) == 25
    # uint8 input reads like the same images in [-1, 1]
    u8 = ((imgs + 1) * 127.5).round().to(torch.uint8)
    assert np.allclose(f(u8), a, atol=0.05)
    with pytest.raises(ValueError):
        paper_b.pixel_pca_features(imgs[:1])


class _MeanPixels:
    """A cheap stand-in feature extractor (Inception is tested in test_metrics) that counts
    its calls."""

    key = "mean-pixels"

    def __init__(self):
        self.calls = 0

    def __call__(self, x, progress=False):
        self.calls += 1
        x = torch.as_tensor(x).float()
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1).numpy().astype(np.float64)


_PROVENANCE = ("source_file", "path", "source_sha256")


def _pixel_hashes(folder):
    from PIL import Image

    out = []
    for p in data.image_files(folder):
        with Image.open(p) as im:
            out.append(hashlib.sha256(np.asarray(im.convert("RGB")).tobytes()).hexdigest())
    return out


def _recipe_hashes(folder):
    images = json.loads((folder / "manifest.json").read_text())["images"]
    return [hashlib.sha256(json.dumps({k: v for k, v in e["recipe"].items()
                                       if k not in _PROVENANCE}, sort_keys=True).encode()
                           ).hexdigest() for e in images]


def test_held_out_floor_uses_disjoint_sets(artist, tmp_path):


    sp = data.split_held_out(artist, 0.2, out_root=tmp_path)
    # identities, not counts: by pixels, by recipe and by the recorded source file hash the
    # training and held-out parts share no image and together are the source set
    for ident in (_pixel_hashes, _recipe_hashes):
        src, tr, ho = ident(artist), ident(sp.train), ident(sp.held_out)
        assert len(set(src)) == len(src) == 30               # identities tell images apart
        assert not set(tr) & set(ho), ident.__name__
        assert sorted(tr + ho) == sorted(src), ident.__name__
    recorded = {part: [e["recipe"]["source_sha256"] for e in json.loads(
        (d / "manifest.json").read_text())["images"]] for part, d in (("tr", sp.train),
                                                                       ("ho", sp.held_out))}
    source_sha = [data.file_sha256(p) for p in data.image_files(artist)]
    assert not set(recorded["tr"]) & set(recorded["ho"])
    assert sorted(recorded["tr"] + recorded["ho"]) == sorted(source_sha)
    # the floor samples the training part (all 24 images with n=100) against the held-out
    # part: its FID is that of the two parts' features
    floor = paper_b.held_out_floor_metrics(sp.train, sp.held_out, 100, 32, (2, 4),
                                            extractor=_MeanPixels(), cache_dir=tmp_path / "cache")
    assert floor["n"] == 24 and floor["n_reference"] == 6
    assert floor["run"].startswith("training data") and floor["fid"] > 0
    f_tr = _MeanPixels()(data.load_folder(sp.train, 32).images)
    f_ho = _MeanPixels()(data.load_folder(sp.held_out, 32).images)
    assert floor["fid"] == pytest.approx(metrics.fid_from_features(f_ho, f_tr), rel=1e-9)
    assert 0.5 < floor["main_score"] <= 1 and np.isfinite(floor["main_circularity_median"])


def test_draws_form_gate():
    assert paper_b.draws_form(0.8, 1.0) and paper_b.draws_form(0.95, 0.98)
    assert not paper_b.draws_form(0.79, 1.0)
    assert not paper_b.draws_form(math.nan, 1.0) and not paper_b.draws_form(0.9, 0.0)


def _per_seed(shift_tech=0.2, draws=True):
    # the training data's row: its diversity (12) is the real data's, which the
    # "more varied" claim measures closeness to
    rows = [{"artist": "a", "column": "training data", "seed": None, "model": "real",
             "main_score": 0.9, "inner_score": 0.8, "diversity": 12.0, "draws": True}]
    rng = np.random.default_rng(0)
    for col, base in (("1st result", 0.5), ("shape learning", 0.6),
                      ("shape learning + technique", 0.6 + shift_tech), ("control", 0.6)):
        for s in range(3):
            rows.append({"artist": "a", "column": col, "seed": s, "model": "m",
                         "main_score": base + 0.01 * rng.standard_normal(),
                         "inner_score": 0.3, "diversity": 10 + base,
                         "draws": draws})
    return pd.DataFrame(rows)


def test_table1_has_mean_sd_and_per_seed_values():
    df = _per_seed()
    t = paper_b.table1(df, ["main_score", "diversity"])
    row = t[t.column == "control"].iloc[0]
    vals = df[df.column == "control"].main_score.to_numpy()
    assert row.n_seeds == 3 and row.model == "m"
    assert math.isclose(row.main_score, vals.mean()) and math.isclose(row.main_score_sd, vals.std(ddof=1))
    assert row.main_score_seeds == "; ".join(f"{v:.4g}" for v in vals)


def test_claims_give_three_way_verdicts():
    out = paper_b.claims(_per_seed(shift_tech=0.2), "a")
    assert list(out.verdict) == ["supported", "supported", "supported"]
    out = paper_b.claims(_per_seed(shift_tech=-0.2), "a")
    assert out.verdict.iloc[1] == "not supported"
    # a column below the gate makes its comparisons untestable
    out = paper_b.claims(_per_seed(draws=False), "a")
    assert set(out.verdict) == {"not testable here"}
    assert set(out.verdict) <= set(metrics.verdicts.VERDICTS)


def test_setup_resolves_the_notebooks_parameters(artist, tmp_path):
    import shutil



    folder = tmp_path / "mine"
    shutil.copytree(artist, folder)
    b = paper_b.setup("smoke", artist_folder=folder)
    assert (b.model, b.augment, b.seeds, b.n_eval) == ("stylegan2", "ada-diffaug", (0,), 8)
    sp = b.splits["mine"]
    assert b.train_dirs["mine"] == sp.train and (sp.n_train, sp.n_held_out) == (24, 6)
    assert b.inner["mine"] == forms.inner_counts_of(artist)
    assert b.epochs == engine.epochs_for_kimg(0.07, 24)
    d = paper_b.setup("smoke", model="dcgan", artist_folder=folder, epochs=3, seeds=(1, 2))
    assert (d.augment, d.epochs, d.seeds) == ("none", 3, (1, 2))


def test_layout_errors_measure_how_far_the_main_circle_moved(artist):
    imgs = data.load_folder(artist, 32).images
    real = paper_b.layout_errors(imgs, artist, 32)
    assert real["found"] == 1.0 and real["centre_err"] < 0.05 and real["radius_err"] < 0.12
    # the same images shifted by 4 px: the centre error grows by about 4 / r
    shifted = paper_b.layout_errors(torch.roll(imgs, 4, dims=-1), artist, 32)
    assert shifted["centre_err"] > real["centre_err"] + 0.2
    with pytest.raises(ValueError, match="maps"):
        paper_b.layout_errors(imgs[:3], artist, 32)


def test_evaluate_conditional_scores_held_out_maps_and_caches(artist, tmp_path):


    split = data.split_held_out(artist, 0.2, seed=0, out_root=tmp_path)
    cfg = engine.make_config(model="pix2pixhd", epochs=1, res=32, batch_size=8, ngf=4, ndf=4,
                            p2p_blocks=1)
    res = engine.train(cfg, split.train, tmp_path / "run", progress=False)

    feats = _MeanPixels()
    m = paper_b.evaluate_conditional(res.run_dir, split.held_out, (2, 4), extractor=feats,
                                    cache_dir=tmp_path / "cache")
    assert m["n"] == split.n_held_out == 6 and m["map_source"] == "recipe"
    assert 0 <= m["layout_found"] <= 1 and math.isfinite(m["fid"])
    assert list((res.run_dir / "eval").glob("conditional_*.json"))
    assert feats.calls == 2            # the translated held-out maps, and the held-out images
    # a cache hit: the same result, and no image goes through the extractor
    again = paper_b.evaluate_conditional(res.run_dir, split.held_out, (2, 4), extractor=feats,
                                        cache_dir=tmp_path / "cache")
    assert again == json.loads(json.dumps(m))
    assert feats.calls == 2
    # without the cache the outputs are extracted again (the reals' features stay cached)
    fresh = paper_b.evaluate_conditional(res.run_dir, split.held_out, (2, 4), extractor=feats,
                                        cache_dir=tmp_path / "cache", use_cache=False)
    assert feats.calls == 3 and fresh == again


def test_summary_formats_mean_and_sd_per_metric():
    per_seed = pd.DataFrame({"artist": ["a"] * 4, "column": ["x", "x", "x", "floor"],
                             "seed": [0, 1, 2, None], "fid": [100.0, 110.0, 120.0, 20.0],
                             "kid": [0.1, 0.2, 0.3, 0.0], "main_score": [0.5, 0.7, math.nan, 0.9]})
    t = paper_b.table1(per_seed, ["fid", "kid", "main_score"])
    s = paper_b.summary(t, ["fid", "kid", "main_score"], keep=("column", "n_seeds"))
    assert list(s.columns) == ["column", "n_seeds", "fid", "kid", "main_score"]
    x, floor = s.iloc[0], s.iloc[1]
    assert x.fid == "110.0 ± 10.0" and x.kid == "0.2000 ± 0.1000"
    assert x.main_score == "0.600 ± 0.141"            # the missing seed is left out
    assert floor.fid == "20.0" and floor.main_score == "0.900"   # one value: no sd
    t.loc[0, "main_score"] = math.nan
    assert paper_b.summary(t, ["main_score"], keep=("column",)).iloc[0].main_score == "n/a"
