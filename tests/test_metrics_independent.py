"""paperlib.metrics.stats against independent implementations on random features:
precision/recall/density/coverage against the authors' ``prdc`` package (Naeem et al. 2020),
FID against ``scipy.linalg.sqrtm`` of the covariance product (the official formula written
out), KID against the unbiased polynomial-kernel MMD^2 written out here.

Why ``prdc`` stays a test oracle instead of replacing stats.py (docs/DECISIONS.md,
"Metrics"): it agrees exactly on continuous features (below), but it holds the whole
N x M and N x N distance matrices at once (stats.py works in row chunks), needs
scikit-learn, prints on every call, takes one k for all four measures (we use k=3 for
precision/recall as Kynkäänniemi et al., k=5 for density/coverage as Naeem et al.), and its
precision/recall balls are strict (``d < r``) where the NVlabs code we follow counts the
boundary (``d <= r``): they differ on tied distances (duplicated or quantised features).
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from prdc import compute_prdc

from paperlib.metrics import stats


def _features(rng, n, d, shift=0.0, scale=1.0, kind="normal"):
    if kind == "normal":
        x = rng.normal(size=(n, d))
    elif kind == "exponential":
        x = rng.exponential(size=(n, d))
    else:                                                   # correlated
        x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    return x * scale + shift


# ----------------------------------------------------------------------------- prdc
@pytest.mark.parametrize("n_real,n_fake,d,k,seed", [
    (200, 150, 16, 3, 0), (150, 200, 64, 5, 1), (300, 300, 8, 1, 2), (120, 90, 32, 10, 3)])
def test_prdc_package_agrees(n_real, n_fake, d, k, seed, capsys):
    rng = np.random.default_rng(seed)
    real = _features(rng, n_real, d)
    fake = _features(rng, n_fake, d, shift=0.3, scale=1.2)
    theirs = compute_prdc(real, fake, nearest_k=k)
    p, r = stats.precision_recall(real, fake, k=k, chunk=37)
    density, coverage = stats.density_coverage(real, fake, k=k, chunk=37)
    assert (p, r) == (pytest.approx(theirs["precision"], abs=1e-12),
                      pytest.approx(theirs["recall"], abs=1e-12))
    assert (density, coverage) == (pytest.approx(theirs["density"], rel=1e-12),
                                   pytest.approx(theirs["coverage"], abs=1e-12))
    assert 0 < p < 1 and r > 0 and coverage > 0 and density > 0   # not degenerate


def test_prdc_package_differs_only_on_ties(capsys):
    # every real point twice: with k=1 each ball has radius 0, and a fake on a real point
    # sits on the boundary -- inside for precision/recall (NVlabs' d <= r, ours), outside
    # for prdc (d < r); density/coverage are strict in both
    rng = np.random.default_rng(4)
    x = rng.integers(-3, 4, size=(40, 8)).astype(float)   # exact distances: ties are ties
    real = np.concatenate([x, x])
    theirs = compute_prdc(real, real.copy(), nearest_k=1)
    assert stats.precision_recall(real, real.copy(), k=1) == (1.0, 1.0)
    assert (theirs["precision"], theirs["recall"]) == (0.0, 0.0)
    assert stats.density_coverage(real, real.copy(), k=1) == (theirs["density"],
                                                              theirs["coverage"]) == (0.0, 0.0)


# ----------------------------------------------------------------------------- FID
def _fid_sqrtm(f1, f2):
    """The official formula, written out: |mu1-mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))."""
    mu1, mu2 = f1.mean(axis=0), f2.mean(axis=0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2)
                 - 2 * np.trace(covmean).real)


@pytest.mark.parametrize("n1,n2,d,kind", [
    (500, 400, 32, "normal"), (300, 350, 16, "exponential"), (400, 400, 24, "correlated"),
    (2000, 1500, 64, "normal")])
def test_fid_matches_scipy_sqrtm(n1, n2, d, kind):
    rng = np.random.default_rng(d + n1)
    f1 = _features(rng, n1, d, kind=kind)
    f2 = _features(rng, n2, d, shift=0.2, scale=1.1, kind=kind)
    expected = _fid_sqrtm(f1, f2)
    assert stats.fid_from_features(f1, f2) == pytest.approx(expected, rel=1e-7)
    assert stats.fid_from_features(f1, f2, method="sqrtm") == pytest.approx(expected, rel=1e-9)
    assert expected > 0.01 * d


def test_fid_of_gaussians_approaches_the_population_value():
    # N(0, I) vs N(m, s^2 I): FID = |m|^2 + d (1 - s)^2; sampling bias is O(d^2 / n)
    rng = np.random.default_rng(7)
    d, n, m, s = 8, 20000, 0.5, 1.5
    f1 = rng.normal(size=(n, d))
    f2 = rng.normal(size=(n, d)) * s + m
    expected = d * m * m + d * (1 - s) ** 2
    assert stats.fid_from_features(f1, f2) == pytest.approx(expected, rel=0.02)


# ----------------------------------------------------------------------------- KID
def _mmd2_unbiased(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, every pair of the two sets."""
    d = x.shape[1]

    def k(a, b):
        return (a @ b.T / d + 1.0) ** 3

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    n1, n2 = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (n1 * (n1 - 1))
                 + (kyy.sum() - np.trace(kyy)) / (n2 * (n2 - 1)) - 2 * kxy.mean())


@pytest.mark.parametrize("n,d", [(50, 8), (200, 64), (2100, 8)])   # 2100: no shared Gram
def test_kid_whole_sets_match_direct_mmd(n, d):
    rng = np.random.default_rng(n + d)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d)) * 1.1 + 0.2
    mean, std = stats.kid(x, y, num_subsets=2, max_subset_size=n)
    assert mean == pytest.approx(_mmd2_unbiased(x, y), rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9 * abs(mean))


def test_kid_subsets_average_to_the_whole_set_statistic():
    # E over random subsets of the subset U-statistic = the whole sets' U-statistic
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(300, 16)), rng.normal(size=(200, 16)) + 0.15
    s = 2000
    mean, std = stats.kid(x, y, num_subsets=s, max_subset_size=50, seed=3)
    assert std > 0
    assert abs(mean - _mmd2_unbiased(x, y)) < 4 * std / np.sqrt(s)
