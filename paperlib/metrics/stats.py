"""Statistics of feature sets (after NVlabs' stylegan2-ada ``metrics/``: apart from the
extractor): FID, KID, precision/recall, density/coverage and the Inception Score."""
from __future__ import annotations

import warnings
from typing import Iterable

import numpy as np


# Statistics (pure functions on feature arrays) -----------------------------------------
def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of (N, D) features, float64 (``np.cov`` with N - 1)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) features, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as the official code.

    ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))``. As TTUR / pytorch-fid: a non-finite
    root is recomputed with ``eps`` on both diagonals; a complex one keeps its real part if
    the diagonal's imaginary part is below 1e-3, else is retried with ``eps`` and raises
    ``ValueError`` if that fails too.
    """
    import scipy.linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape} {mu2.shape}, sigma {s1.shape} {s2.shape}")
    diff = mu1 - mu2

    def sqrtm(a):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # scipy's `disp` deprecation / accuracy notes
            try:
                out = scipy.linalg.sqrtm(a, disp=False)[0]
            except TypeError:                  # SciPy without `disp`
                out = scipy.linalg.sqrtm(a)
        return out

    offset = np.eye(s1.shape[0]) * eps
    covmean = sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        covmean = sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            covmean = sqrtm((s1 + offset).dot(s2 + offset))
            if np.iscomplexobj(covmean) and not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
                m = np.max(np.abs(covmean.imag))
                raise ValueError(f"sqrtm of the covariance product has imaginary component {m}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _trace_sqrt_product(f1: np.ndarray, f2: np.ndarray) -> float:
    """``tr sqrtm(S1 S2)`` of the two sample covariances, exactly, without ``sqrtm``.

    The nuclear norm of A B^T (A, B the centred features) over sqrt((n1-1)(n2-1)); when
    both sets exceed the dimension, tr sqrt(S1^1/2 S2 S1^1/2) via ``eigh``.
    """
    a = f1 - f1.mean(axis=0)
    b = f2 - f2.mean(axis=0)
    n1, n2, d = a.shape[0], b.shape[0], a.shape[1]
    if min(n1, n2) <= d:
        s = np.linalg.svd(a @ b.T, compute_uv=False)
        return float(s.sum() / np.sqrt((n1 - 1) * (n2 - 1)))
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = np.linalg.eigvalsh(root1 @ s2 @ root1)
    return float(np.sqrt(np.clip(ev, 0, None)).sum())


def fid_from_features(f1, f2, method: str = "auto") -> float:
    """FID between two (N, D) feature sets (order does not matter).

    ``method="sqrtm"``: :func:`frechet_distance` on the fitted Gaussians (the official
    route). ``"auto"`` (default): same formula, the trace term computed exactly and much
    faster by :func:`_trace_sqrt_product` (timings: docs/DECISIONS.md, "Features and FID").
    """
    f1 = np.asarray(f1, dtype=np.float64)
    f2 = np.asarray(f2, dtype=np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"need (N, D) features of equal D, got {f1.shape} and {f2.shape}")
    if min(f1.shape[0], f2.shape[0]) < 2:
        raise ValueError("FID needs at least 2 samples per set")
    if method == "sqrtm":
        return frechet_distance(*feature_stats(f1), *feature_stats(f2))
    if method != "auto":
        raise ValueError(f"method must be 'auto' or 'sqrtm', got {method!r}")
    mu1, mu2 = f1.mean(axis=0), f2.mean(axis=0)
    tr1 = float(np.sum(np.var(f1, axis=0, ddof=1)))
    tr2 = float(np.sum(np.var(f2, axis=0, ddof=1)))
    diff = mu1 - mu2
    return float(diff.dot(diff) + tr1 + tr2 - 2.0 * _trace_sqrt_product(f1, f2))


def kid(f1, f2, num_subsets: int = 100, max_subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: (mean, std) of the unbiased MMD^2 over subsets.

    Kernel ``k(x, y) = (x.y / d + 1)^3``; each of ``num_subsets`` subsets draws
    m = min(n1, n2, max_subset_size) rows of each set without replacement (``seed``);
    stylegan2-ada's unbiased estimator. Symmetric in (f1, f2) up to the subset draw.
    """
    x_all = np.asarray(f1, dtype=np.float64)
    y_all = np.asarray(f2, dtype=np.float64)
    if x_all.ndim != 2 or y_all.ndim != 2 or x_all.shape[1] != y_all.shape[1]:
        raise ValueError(f"need (N, D) features of equal D, got {x_all.shape} and {y_all.shape}")
    n1, n2, d = x_all.shape[0], y_all.shape[0], x_all.shape[1]
    m = min(n1, n2, int(max_subset_size))
    if m < 2:
        raise ValueError("KID needs at least 2 samples per set")
    rng = np.random.default_rng(seed)
    # Small sets: one Gram matrix over both sets, subsets index into it (same numbers).
    gram = None
    if n1 + n2 <= 4000:
        z = np.concatenate([x_all, y_all])
        gram = (z @ z.T / d + 1.0) ** 3
    vals = np.empty(int(num_subsets), dtype=np.float64)
    for s in range(int(num_subsets)):
        ix = rng.choice(n1, m, replace=False)
        iy = rng.choice(n2, m, replace=False)
        if gram is not None:
            kxx = gram[np.ix_(ix, ix)]
            kyy = gram[np.ix_(iy + n1, iy + n1)]
            kxy = gram[np.ix_(ix, iy + n1)]
        else:
            x, y = x_all[ix], y_all[iy]
            kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        a = kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)
        vals[s] = a / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m)
    return float(vals.mean()), float(vals.std())


def _sq_dists(a: np.ndarray, b: np.ndarray, chunk: int) -> Iterable[tuple[int, np.ndarray]]:
    """Row chunks of the squared Euclidean distance matrix between a and b."""
    bb = np.einsum("ij,ij->i", b, b)
    for i in range(0, a.shape[0], chunk):
        x = a[i:i + chunk]
        d2 = np.einsum("ij,ij->i", x, x)[:, None] + bb[None, :] - 2.0 * (x @ b.T)
        yield i, np.maximum(d2, 0.0)


def _knn_radii(f: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """Squared distance of each row to its k-th nearest other row (self excluded)."""
    n = f.shape[0]
    if n <= k:
        raise ValueError(f"need more than k={k} samples for the k-NN manifold, got {n}")
    out = np.empty(n)
    for i, d2 in _sq_dists(f, f, chunk):
        idx = np.arange(i, i + d2.shape[0])
        d2[np.arange(d2.shape[0]), idx] = 0.0            # self distance exactly 0
        out[i:i + d2.shape[0]] = np.partition(d2, k, axis=1)[:, k]   # k-th after self
    return out


def _coverage(query: np.ndarray, ref: np.ndarray, radii: np.ndarray, chunk: int) -> float:
    """Fraction of query rows inside at least one ref ball (squared radii)."""
    tol = 1e-9 * max(1.0, float(np.max(radii)))
    inside = np.zeros(query.shape[0], dtype=bool)
    for i, d2 in _sq_dists(query, ref, chunk):
        inside[i:i + d2.shape[0]] = (d2 <= radii[None, :] + tol).any(axis=1)
    return float(inside.mean())


def precision_recall(real_f, fake_f, k: int = 3, chunk: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019), k-NN manifolds.

    Each sample's ball has the radius of its k-th nearest neighbour within its own set.
    Precision = share of fakes inside some real ball; recall = share of reals inside some
    fake ball. Distances are computed ``chunk`` rows at a time.
    """
    r = np.asarray(real_f, dtype=np.float64)
    f = np.asarray(fake_f, dtype=np.float64)
    if r.ndim != 2 or f.ndim != 2 or r.shape[1] != f.shape[1]:
        raise ValueError(f"need (N, D) features of equal D, got {r.shape} and {f.shape}")
    precision = _coverage(f, r, _knn_radii(r, k, chunk), chunk)
    recall = _coverage(r, f, _knn_radii(f, k, chunk), chunk)
    return precision, recall


def density_coverage(real_f, fake_f, k: int = 5, chunk: int = 1024) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), k-NN balls around the real samples only.

    Real X_i (N) gets the ball B_i of radius r_i = distance to its k-th nearest other real;
    for fakes Y_1..Y_M, density = sum_j #{i : Y_j in B_i} / (k M) (not bounded by 1) and
    coverage = #{i : some Y_j in B_i} / N in [0, 1]. Membership is strict (``d < r_i``, as
    the authors' ``prdc``; a 1e-9 relative margin on squared radii), so identical sets give
    density 1 and coverage 1. Distances are computed ``chunk`` fake rows at a time.
    """
    r = np.asarray(real_f, dtype=np.float64)
    f = np.asarray(fake_f, dtype=np.float64)
    if r.ndim != 2 or f.ndim != 2 or r.shape[1] != f.shape[1]:
        raise ValueError(f"need (N, D) features of equal D, got {r.shape} and {f.shape}")
    if f.shape[0] < 1:
        raise ValueError("density/coverage need at least one fake sample")
    radii = _knn_radii(r, int(k), chunk) * (1.0 - 1e-9)    # squared, strict-inside margin
    in_balls = 0
    covered = np.zeros(r.shape[0], dtype=bool)
    for _, d2 in _sq_dists(f, r, chunk):                   # rows: fakes, columns: reals
        inside = d2 < radii[None, :]
        in_balls += int(inside.sum())
        covered |= inside.any(axis=0)
    return float(in_balls / (int(k) * f.shape[0])), float(covered.mean())


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """IS = exp(E_x KL(p(y|x) || p(y))) per split; (mean, std) over ``splits`` splits.

    ``probs``: (N, C) class probabilities (rows are renormalised to sum to 1). The splits
    are consecutive blocks, as in the original code; ``splits`` is capped at N.
    """
    from scipy.special import xlogy

    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1:
        raise ValueError(f"need (N, C) probabilities, got shape {p.shape}")
    if (p < 0).any() or not np.isfinite(p).all():
        raise ValueError("probabilities must be finite and non-negative")
    p = p / p.sum(axis=1, keepdims=True)
    n = p.shape[0]
    splits = max(1, min(int(splits), n))
    scores = []
    for k in range(splits):
        part = p[k * n // splits:(k + 1) * n // splits]
        py = part.mean(axis=0, keepdims=True)
        kl = (xlogy(part, part) - xlogy(part, np.broadcast_to(py, part.shape))).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


# Memorisation -----------------------------------------------------------------------------
def nearest_distances(query, reference, chunk: int = 1024) -> np.ndarray:
    """Euclidean distance of each row of ``query`` (N, D) to its nearest row of
    ``reference`` (M, D); ``ValueError`` for empty or mismatched sets."""
    q = np.asarray(query, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if q.ndim != 2 or r.ndim != 2 or q.shape[1] != r.shape[1]:
        raise ValueError(f"need (N, D) features of equal D, got {q.shape} and {r.shape}")
    if len(q) == 0 or len(r) == 0:
        raise ValueError("nearest distances need at least one query and one reference row")
    out = np.empty(len(q))
    for i, d2 in _sq_dists(q, r, chunk):
        out[i:i + d2.shape[0]] = np.sqrt(d2.min(axis=1))
    return out


def memorisation_ratio(gen_f, train_f, held_out_f) -> dict:
    """How close generated images sit to the training set, against new real images:
    ``ratio = median_gen / median_real``, the medians of each set's distance to its nearest
    training row (:func:`nearest_distances`). Below 1: closer to the training images than
    held-out real images are (copying); about 1: as new as real data. Returns ``ratio``,
    ``gen_median``, ``real_median``, ``n_gen``, ``n_real``, ``n_train``."""
    gen_d = nearest_distances(gen_f, train_f)
    real_d = nearest_distances(held_out_f, train_f)
    gen_m, real_m = float(np.median(gen_d)), float(np.median(real_d))
    if not real_m > 0:
        raise ValueError("held-out rows coincide with training rows (median distance 0): "
                         "the held-out part must be disjoint from the training part")
    return {"ratio": gen_m / real_m, "gen_median": gen_m, "real_median": real_m,
            "n_gen": int(len(gen_d)), "n_real": int(len(real_d)),
            "n_train": int(np.asarray(train_f).shape[0])}
