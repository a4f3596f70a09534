"""paperlib.metrics: statistics against closed forms, the Inception extractor, caches, IS."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from paperlib import data, engine, metrics, paper_a
from paperlib.metrics import features, is_scorers

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


# ----------------------------------------------------------------------------- helpers
def _spd(d, rng, jitter=0.5):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + jitter * np.eye(d)


def _fd_numpy(mu1, s1, mu2, s2):
    """Independent Fréchet distance: symmetric form tr sqrt(S1^1/2 S2 S1^1/2)."""
    r1 = scipy.linalg.sqrtm(s1).real
    mid = scipy.linalg.sqrtm(r1 @ s2 @ r1).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(mid))


# ----------------------------------------------------------------------------- Fréchet / FID
def test_frechet_equal_covariances_is_mean_distance():
    rng = np.random.default_rng(0)
    d = 6
    s = _spd(d, rng)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = float(np.sum((mu1 - mu2) ** 2))
    assert metrics.frechet_distance(mu1, s, mu2, s) == pytest.approx(expected, rel=1e-8, abs=1e-8)
    assert metrics.frechet_distance(mu1, s, mu1, s) == pytest.approx(0.0, abs=1e-8)


def test_frechet_diagonal_closed_form():
    rng = np.random.default_rng(1)
    d = 8
    a, b = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = float(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((mu1 - mu2) ** 2))
    got = metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-9)
    # general covariances: official sqrtm route agrees with the symmetric numpy form
    s1, s2 = _spd(d, rng), _spd(d, rng)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_fd_numpy(mu1, s1, mu2, s2), rel=1e-7)


def test_frechet_singular_covariances_are_handled():
    rng = np.random.default_rng(2)
    d = 12
    x, y = rng.normal(size=(5, d)), rng.normal(size=(5, d)) + 1   # rank-4 covariances
    val = metrics.frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert math.isfinite(val) and val > 0


@pytest.mark.parametrize("n,d", [(300, 16), (40, 64)])   # n > d and rank-deficient n < d
def test_fid_from_features_matches_sqrtm_and_is_symmetric(n, d):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n + 7, d)) * 1.3 + 0.4
    fast = metrics.fid_from_features(x, y)
    slow = metrics.fid_from_features(x, y, method="sqrtm")
    ref = _fd_numpy(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert fast == pytest.approx(slow, rel=1e-6)
    assert fast == pytest.approx(ref, rel=1e-6)
    assert metrics.fid_from_features(y, x) == pytest.approx(fast, rel=1e-9)
    scale = np.trace(np.cov(x, rowvar=False))
    assert abs(metrics.fid_from_features(x, x)) < 1e-8 * scale
    assert abs(metrics.fid_from_features(x, x, method="sqrtm")) < 1e-6 * scale
    assert fast > 0.1 * d


def test_fid_rejects_bad_shapes():
    with pytest.raises(ValueError):
        metrics.fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError):
        metrics.fid_from_features(np.zeros((1, 3)), np.zeros((5, 3)))


# ----------------------------------------------------------------------------- KID
def test_kid_same_distribution_near_zero_and_shift_positive():
    rng = np.random.default_rng(4)
    d = 32
    x1, x2 = rng.normal(size=(400, d)), rng.normal(size=(300, d))
    mean, std = metrics.kid(x1, x2, num_subsets=50, max_subset_size=100, seed=0)
    assert std > 0
    assert abs(mean) < std
    y = rng.normal(size=(300, d)) + 0.5
    mean_s, std_s = metrics.kid(x1, y, num_subsets=50, max_subset_size=100, seed=0)
    assert mean_s > 10 * std_s and mean_s > 10 * abs(mean)
    # deterministic for a seed; subset size is capped by the smaller set
    assert metrics.kid(x1, y, num_subsets=50, max_subset_size=100, seed=0) == (mean_s, std_s)
    m, s = metrics.kid(x1[:20], y[:30], num_subsets=5, seed=1)   # m = 20 < max_subset_size
    assert math.isfinite(m) and m > 0


def test_kid_matches_direct_unbiased_mmd():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 8)), rng.normal(size=(30, 8)) + 0.3
    mean, std = metrics.kid(x, y, num_subsets=3, max_subset_size=1000, seed=0)   # m = n: whole sets
    k = lambda a, b: (a @ b.T / 8 + 1) ** 3   # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m = 30
    direct = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
              - 2 * kxy.mean())
    assert mean == pytest.approx(direct, rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- precision / recall
def test_precision_recall_identical_and_disjoint():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(60, 16))
    assert metrics.precision_recall(x, x.copy(), k=3) == (1.0, 1.0)
    far = rng.normal(size=(50, 16)) + 100.0
    assert metrics.precision_recall(x, far, k=3) == (0.0, 0.0)
    # half of the fakes on the real manifold, half far away; chunking does not matter
    mixed = np.concatenate([x[:25] + 1e-3, far[:25]])
    p, r = metrics.precision_recall(x, mixed, k=3, chunk=7)
    assert p == pytest.approx(0.5)
    assert 0.0 < r < 1.0
    assert (p, r) == metrics.precision_recall(x, mixed, k=3, chunk=1000)


# ----------------------------------------------------------------------------- density / coverage
def _density_coverage_numpy(real, fake, k):
    """Brute force, as the authors' prdc code: strict balls of the k-th real neighbour."""
    d_rr = np.sqrt(((real[:, None, :] - real[None, :, :]) ** 2).sum(-1))
    radii = np.sort(d_rr, axis=1)[:, k]                # index 0 is the point itself
    d_rf = np.sqrt(((real[:, None, :] - fake[None, :, :]) ** 2).sum(-1))
    inside = d_rf < radii[:, None]
    return inside.sum() / (k * fake.shape[0]), (d_rf.min(axis=1) < radii).mean()


def test_density_coverage_identical_far_and_collapsed():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(80, 16))
    density, coverage = metrics.density_coverage(x, x.copy(), k=5)
    assert density == pytest.approx(1.0, abs=1e-12) and coverage == 1.0
    assert metrics.density_coverage(x, rng.normal(size=(60, 16)) + 100.0, k=5) == (0.0, 0.0)
    # every fake on one real point: that region is dense, the rest of the reals uncovered
    collapsed = np.repeat(x[:1] + 1e-6, 50, axis=0)
    density_c, coverage_c = metrics.density_coverage(x, collapsed, k=5)
    assert coverage_c <= 0.15 and coverage_c > 0.0
    ref = _density_coverage_numpy(x, collapsed, 5)
    assert (density_c, coverage_c) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_density_coverage_match_brute_force(k):
    rng = np.random.default_rng(9 + k)
    real = rng.normal(size=(70, 12))
    fake = rng.normal(size=(55, 12)) * 1.2 + 0.3
    expected = _density_coverage_numpy(real, fake, k)
    got = metrics.density_coverage(real, fake, k=k, chunk=13)     # chunking does not matter
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert got == metrics.density_coverage(real, fake, k=k)
    assert 0.0 < got[1] < 1.0 and got[0] > 0.0


def test_density_coverage_reject_bad_input():
    with pytest.raises(ValueError):
        metrics.density_coverage(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="k=5"):
        metrics.density_coverage(np.random.default_rng(0).normal(size=(5, 3)), np.zeros((4, 3)))


# ----------------------------------------------------------------------------- IS
def test_resolve_is_source(monkeypatch, tmp_path):


    monkeypatch.delenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, raising=False)
    emoji, mine = tmp_path / "emoji", tmp_path / "mine"
    data.build_emoji_set(emoji, seed=0, res=32, n_per_class=4)
    mine.mkdir()
    assert metrics.resolve_is_source("auto", emoji) == ("emoji-parts", None)
    assert metrics.resolve_is_source("emoji-parts", emoji) == ("emoji-parts", None)
    src, note = metrics.resolve_is_source("auto", mine)
    assert src == "none" and "no emoji part labels" in note and "\n" not in note
    assert metrics.resolve_is_source("none", emoji)[0] == "none"
    with pytest.raises(ValueError, match="part labels"):
        metrics.resolve_is_source("emoji-parts", mine)
    with pytest.raises(FileNotFoundError, match=metrics.is_scorers.INCEPTION_LOGITS_ENV):
        metrics.resolve_is_source("tf-inception", mine)
    with pytest.raises(ValueError, match="is_source"):
        metrics.resolve_is_source("bogus", mine)
    logits = tmp_path / "logits.pt"
    logits.write_bytes(b"")
    assert metrics.resolve_is_source("auto", mine, logits) == ("tf-inception", None)
    monkeypatch.setenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, str(logits))
    assert metrics.resolve_is_source("tf-inception", mine) == ("tf-inception", None)


def test_inception_score_uniform_confident_and_identical():
    c = 10
    onehot = np.eye(c)[np.arange(200) % c]
    mean, std = metrics.inception_score(onehot, splits=10)
    assert mean == pytest.approx(c, rel=1e-9) and std == pytest.approx(0, abs=1e-9)
    same = np.tile(np.array([[0.7, 0.2, 0.1]]), (50, 1))
    assert metrics.inception_score(same, splits=5)[0] == pytest.approx(1.0, abs=1e-12)
    assert metrics.inception_score(np.full((40, 7), 1 / 7))[0] == pytest.approx(1.0, abs=1e-12)
    # half the classes only -> C / 2
    half = np.eye(c)[np.arange(200) % (c // 2)]
    assert metrics.inception_score(half, splits=4)[0] == pytest.approx(c / 2, rel=1e-9)


def test_tf_inception_score_needs_its_file(monkeypatch, tmp_path):
    monkeypatch.delenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=metrics.is_scorers.INCEPTION_LOGITS_ENV):
        metrics.TFInceptionScorer()
    with pytest.raises(FileNotFoundError, match="logits"):
        is_scorers.is_scorer("tf-inception", tmp_path, 32, "cpu")
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        metrics.TFInceptionScorer(missing)
    # "auto" with the env var naming a missing file is an error too, not a fallback
    monkeypatch.setenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, str(missing))
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        is_scorers.is_scorer("auto", tmp_path, 32, "cpu")
    with pytest.raises(ValueError, match="is_source"):
        is_scorers.is_scorer("bogus", tmp_path, 32, "cpu")


class _TinyLogitsNet(torch.nn.Module):
    """Stand-in with NVlabs' inception-2015-12-05.pt interface (softmax over 1008)."""

    def forward(self, img: torch.Tensor, return_features: bool = False, use_fp16: bool = False,
                no_output_bias: bool = False) -> torch.Tensor:
        m = img.mean(dim=(1, 2, 3))                       # in [0, 255]
        logits = torch.zeros(img.shape[0], 1008)
        idx = (m / 256 * 1008).long().clamp(0, 1007)
        logits[torch.arange(img.shape[0]), idx] = 50.0
        return torch.softmax(logits, dim=1)


def test_tf_inception_score_with_supplied_torchscript(monkeypatch, tmp_path):
    path = tmp_path / "inception_logits.pt"
    torch.jit.script(_TinyLogitsNet()).save(str(path))
    monkeypatch.setenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, str(path))
    scorer, kind = is_scorers.is_scorer("auto", tmp_path, 32, "cpu")
    assert kind == "tf-inception"
    imgs = torch.arange(20, dtype=torch.uint8).mul(12).view(20, 1, 1, 1).expand(20, 3, 8, 8)
    probs = scorer(imgs)
    assert probs.shape == (20, 1008)
    assert metrics.inception_score(probs, splits=1)[0] == pytest.approx(20, rel=1e-6)


# ----------------------------------------------------------------------------- extractor
@pytest.fixture(scope="module")
def extractor():
    return metrics.FeatureExtractor(device="cpu", progress=False)


def _tf1_resize_numpy(img, out):
    """TF1 resize_bilinear(align_corners=False) written out: src = dst * in / out."""
    c, h, w = img.shape

    def axis(n_in):
        src = np.arange(out) * (n_in / out)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, wy = axis(h)
    x0, x1, wx = axis(w)
    top = img[:, y0][:, :, x0] * (1 - wx) + img[:, y0][:, :, x1] * wx
    bot = img[:, y1][:, :, x0] * (1 - wx) + img[:, y1][:, :, x1] * wx
    return top * (1 - wy[:, None]) + bot * wy[:, None]


def test_tf1_resize_matches_written_out_formula():
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, size=(3, 13, 21)).astype(np.float32)
    got = metrics.tf1_bilinear_resize(torch.from_numpy(img)[None], 299)[0].numpy()
    assert got.shape == (3, 299, 299)
    np.testing.assert_allclose(got, _tf1_resize_numpy(img.astype(np.float64), 299), atol=2e-3)


def test_extractor_features_stable_and_batch_invariant(extractor):
    gen = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=gen)
    f_a = extractor(imgs, batch_size=4)
    f_b = extractor(imgs, batch_size=4)
    f_1 = extractor(imgs, batch_size=1)
    assert f_a.shape == (4, features.FEATURE_DIM) and f_a.dtype == np.float64
    assert np.isfinite(f_a).all() and (f_a >= 0).all()      # post-ReLU average pool
    np.testing.assert_array_equal(f_a, f_b)
    np.testing.assert_allclose(f_1, f_a, atol=1e-4)
    # float input in [-1, 1] is quantised to the same uint8 images
    np.testing.assert_allclose(extractor(imgs.float() / 127.5 - 1.0, batch_size=4), f_a, atol=1e-6)
    # the optimised graph matches the TorchScript as shipped
    assert extractor.fast
    with torch.no_grad():
        plain = extractor._plain(extractor.preprocess(imgs)).double().numpy()
    np.testing.assert_allclose(f_a, plain, atol=1e-4)
    assert "tf1-bilinear" in extractor.key and "inception" in extractor.key
    assert metrics.get_extractor("cpu") is metrics.get_extractor("cpu")


def test_extractor_takes_no_logits_network():
    net = torch.jit.load(str(metrics.inception_torchscript_path()), map_location="cpu")
    params = list(net.named_parameters())
    assert params[-1][0].startswith("net.layers.mixed_10.")   # ends at pool3: no logits layer
    assert not any(d in (1000, 1001, 1008) for _, p in params for d in p.shape)
    assert not any("logit" in n or "output" in n for n, _ in params)


# ----------------------------------------------------------------------------- real data and runs
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A real 16-image emoji set and a real 2-epoch DCGAN run on it (tiny widths)."""


    root = tmp_path_factory.mktemp("tiny")
    data.build_emoji_set(root / "emoji", seed=0, res=32, n_per_class=8)
    cfg = engine.make_config(model="dcgan", epochs=2, res=32, ngf=4, ndf=4, batch_size=8,
                            ckpt_every=1, sample_every=1)
    engine.train(cfg, root / "emoji", root / "run", progress=False)
    return root


def test_real_features_cache_is_reused(tmp_path, tiny_run, extractor):
    cache = tmp_path / "cache"
    before = extractor.images_processed
    f1 = metrics.real_features(tiny_run / "emoji", 32, extractor, cache_dir=cache)
    files = list(cache.glob("real_*.npz"))
    assert f1.shape == (16, 2048) and len(files) == 1
    assert extractor.images_processed == before + 16
    mtime = files[0].stat().st_mtime_ns
    f2 = metrics.real_features(tiny_run / "emoji", 32, extractor, cache_dir=cache)
    assert extractor.images_processed == before + 16            # no recompute
    assert files[0].stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(f1, f2)
    assert not list(cache.glob("*.tmp"))


def test_evaluate_run_and_metrics_over_training(tmp_path, tiny_run, extractor, monkeypatch):
    monkeypatch.delenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, raising=False)
    cache = tmp_path / "cache"
    row = metrics.evaluate_run(tiny_run / "run", tiny_run / "emoji", n_fake=16, extractor=extractor,
                         cache_dir=cache)
    assert set(row) == {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage",
                        "is", "is_std", "is_kind", "is_note", "n_real", "n_fake", "epoch"}
    assert set(row) == set(metrics.evaluate.EVAL_KEYS) and row["is_note"] is None
    assert row["epoch"] == 2 and row["n_real"] == 16 and row["n_fake"] == 16
    assert all(math.isfinite(row[k]) for k in ("fid", "kid", "kid_std", "precision", "recall",
                                                "density", "coverage", "is", "is_std"))
    assert row["fid"] > 0 and row["is_kind"].startswith("emoji-parts(classifier acc=")
    rows = metrics.metrics_over_training(tiny_run / "run", tiny_run / "emoji", n_fake=16,
                                   extractor=extractor, cache_dir=cache, progress=False)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[-1]["fid"] == pytest.approx(row["fid"], rel=1e-9)      # deterministic
    # the second evaluation of an unchanged checkpoint comes from run/metrics/, no extraction
    before = extractor.images_processed
    again = metrics.evaluate_run(tiny_run / "run", tiny_run / "emoji", n_fake=16,
                           extractor=extractor, cache_dir=cache)
    assert again == row and extractor.images_processed == before
    fresh = metrics.evaluate_run(tiny_run / "run", tiny_run / "emoji", n_fake=16,
                           extractor=extractor, cache_dir=cache, use_cache=False)
    assert extractor.images_processed == before + 16 and fresh["fid"] == pytest.approx(row["fid"])
    with pytest.raises(ValueError, match="epoch"):
        metrics.metrics_over_training(tiny_run / "run", tiny_run / "emoji", n_fake=8, epochs=[7],
                                is_source="none", extractor=extractor, cache_dir=cache)


def test_auto_is_on_a_non_emoji_set_gives_no_is(tmp_path, tiny_run, extractor, monkeypatch):
    import json



    monkeypatch.delenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, raising=False)
    data.build_shape_set(tmp_path / "shapes", n=12, res=32)
    row = metrics.evaluate_run(tiny_run / "run", tmp_path / "shapes", n_fake=8, extractor=extractor,
                         cache_dir=tmp_path / "cache")
    assert row["is"] is None and row["is_std"] is None and row["is_kind"] == "none"
    assert "no emoji part labels" in row["is_note"]
    assert all(math.isfinite(row[k]) for k in ("fid", "kid", "precision", "recall", "density",
                                                "coverage"))
    assert '"is": null' in json.dumps(row)
    assert metrics.evaluate_run(tiny_run / "run", tmp_path / "shapes", n_fake=8, extractor=extractor,
                          cache_dir=tmp_path / "cache") == row          # from the run's cache
    # an explicit emoji-parts IS on it is an error, raised before any features are computed
    before = extractor.images_processed
    with pytest.raises(ValueError, match="part labels"):
        metrics.evaluate_run(tiny_run / "run", tmp_path / "shapes", n_fake=8, extractor=extractor,
                       is_source="emoji-parts", cache_dir=tmp_path / "cache")
    assert extractor.images_processed == before


def test_cli_evaluate_prints_every_key_finite(tmp_path, tiny_run):
    import json
    import subprocess
    import sys

    out = tmp_path / "eval.json"
    proc = subprocess.run([sys.executable, "-m", "paperlib", "evaluate", "--run",
                           str(tiny_run / "run"), "--data", str(tiny_run / "emoji"),
                           "--json", str(out), "--n-fake", "16"], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    for key in ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "is",
                "is_kind", "n_real", "n_fake"):
        assert key in res and key in proc.stdout
        if key != "is_kind":
            assert math.isfinite(res[key]), key


# ----------------------------------------------------------------------------- part classifier
def test_part_classifier_on_small_emoji_set(monkeypatch, tmp_path):
    data = pytest.importorskip("paperlib.data")
    monkeypatch.delenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, raising=False)
    emoji = tmp_path / "emoji"
    data.build_emoji_set(emoji, seed=0, res=32, n_per_class=100)
    cache = tmp_path / "cache"
    model, acc = paper_a.train_part_classifier(emoji, 32, epochs=40, seed=0, cache_dir=cache)
    assert acc >= 0.25            # joint eyes x mouth over 100 classes: chance is 0.01
    assert len(model.eyes_classes) == len(data.emoji.EMOJI_EYES)
    assert len(list(cache.glob("partclf_*.pt"))) == 1
    model2, acc2 = paper_a.train_part_classifier(emoji, 32, epochs=40, seed=0, cache_dir=cache)
    assert acc2 == acc
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a, b)
    imgs = data.load_folder(emoji, 32).images
    probs = paper_a.part_probs(model, imgs[:50])
    assert probs.shape == (50, len(data.emoji.EMOJI_EYES) * len(data.emoji.EMOJI_MOUTHS))
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    scorer, kind = is_scorers.is_scorer("auto", emoji, 32, "cpu", classifier_epochs=40, cache_dir=cache)
    assert kind == f"emoji-parts(classifier acc={acc:.2f})"
    assert metrics.inception_score(scorer(imgs), splits=10)[0] > 1.5


def test_real_features_subset_is_fixed_and_cached_apart(tmp_path, tiny_run, extractor):
    cache = tmp_path / "cache"
    full = metrics.real_features(tiny_run / "emoji", 32, extractor, cache_dir=cache)
    sub = metrics.real_features(tiny_run / "emoji", 32, extractor, cache_dir=cache, max_images=6)
    again = metrics.real_features(tiny_run / "emoji", 32, extractor, cache_dir=cache, max_images=6)
    assert sub.shape == (6, 2048) and len(list(cache.glob("real_*.npz"))) == 2
    np.testing.assert_array_equal(sub, again)
    # the subset's rows are rows of the full set's features
    assert all(np.abs(full - row).max(axis=1).min() < 1e-9 for row in sub)
