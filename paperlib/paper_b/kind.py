"""Notebook 01's mix arm read on the artist's kind of sample: a face/shape classifier fixed
before any generated sample is seen (:func:`train_kind_classifier`: the artist's training
images against the shape set, on the FID extractor's features), and the mix's Table-1
metrics on only the samples it calls the artist's (:func:`evaluate_kind_subset`, the
:data:`MIX_KIND` row beside the mix's own). Why and how: docs/DECISIONS.md, "Paper B: the
mix's artist-kind samples"."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..data.folders import image_files, manifest_hash
from ..engine.runs import METRIC_NOISE, load_run, metric_noise_key
from ..forms import form_kind_of
from ..metrics.evaluate import cached_run_eval
from ..metrics.features import get_extractor, real_features
from .tables import stage_metrics

#: The stage name of the mix's artist-kind row (notebook 01's tables and figures); it never
#: enters a verdict (:data:`paperlib.paper_b.report.SHAPE_COMPARISONS` does not name it).
MIX_KIND = "mix (artist-kind samples)"
#: The rule, fixed in advance: a sample is the artist's kind when p(artist) >= this.
THRESHOLD = 0.5
#: The smallest artist-kind subset whose FID and KID against the held-out part are
#: computed; below it they are NaN (our choice, fixed in advance).
MIN_SUBSET = 20
#: Inverse L2 strength on the standardised features, scikit-learn's default (``C = 1``).
C = 1.0
#: Share of the shape set's images held out from the classifier to measure its accuracy.
SHAPE_HELD_OUT_FRAC = 0.2
#: At most this many shape images (a fixed random subset, seed 0) give the shape class.
MAX_SHAPES = 2000
#: Bump when the classifier's recipe or :func:`kind_subset_metrics` changes (caches).
KIND_VERSION = 1


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))   # no overflow


@dataclass(frozen=True)
class KindClassifier:
    """Logistic regression of "artist" (1) against "shape" (0) on features standardised by
    ``mean`` and ``scale``: ``p(artist) = sigmoid(((f - mean) / scale) @ weights + bias)``.
    ``held_out``: its accuracy on data it never saw (:func:`train_kind_classifier`)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    held_out: dict = field(default_factory=dict, compare=False)

    def p_artist(self, feats: Any) -> np.ndarray:
        """p(artist) of each feature row (N,)."""
        f = np.asarray(feats, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.mean.shape[0]:
            raise ValueError(f"need (N, {self.mean.shape[0]}) features, got {f.shape}")
        return _sigmoid(((f - self.mean) / self.scale) @ self.weights + self.bias)

    def is_artist(self, feats: Any) -> np.ndarray:
        """The fixed rule: p(artist) >= :data:`THRESHOLD`, a bool per row."""
        return self.p_artist(feats) >= THRESHOLD

    @property
    def key(self) -> str:
        """sha256 (16 hex digits) of the fitted numbers: the classifier's identity in caches."""
        h = hashlib.sha256(f"kind-v{KIND_VERSION}".encode())
        for a in (self.mean, self.scale, self.weights, np.array([self.bias])):
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        return h.hexdigest()[:16]


def fit_kind_classifier(artist_feats: Any, shape_feats: Any, c: float = C) -> KindClassifier:
    """L2-regularised logistic regression, artist rows (1) against shape rows (0), classes
    weighted equally (the mix's 50/50 prior), intercept unpenalised, features standardised
    on these rows: minimises the balanced mean log-loss ``+ |w|^2 / (2 c n)`` (scikit-learn's
    ``LogisticRegression(C=c, class_weight="balanced")``) by L-BFGS from zero. Deterministic.
    ``ValueError`` for an empty class or features of different widths."""
    from scipy.optimize import minimize  # lazy: scipy.optimize loads slowly

    a = np.asarray(artist_feats, dtype=np.float64)
    s = np.asarray(shape_feats, dtype=np.float64)
    if a.ndim != 2 or s.ndim != 2 or a.shape[1] != s.shape[1] or not len(a) or not len(s):
        raise ValueError(f"need non-empty (N, D) features of equal D, got {a.shape}, {s.shape}")
    x = np.concatenate([a, s])
    y = np.concatenate([np.ones(len(a)), -np.ones(len(s))])      # +1 artist, -1 shape
    sw = np.concatenate([np.full(len(a), 0.5 / len(a)), np.full(len(s), 0.5 / len(s))])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[~(scale > 1e-12)] = 1.0                                 # constant features
    z = (x - mean) / scale
    lam = 1.0 / (float(c) * len(x))

    def loss(theta):
        w, b = theta[:-1], theta[-1]
        m = y * (z @ w + b)
        g = -y * _sigmoid(-m) * sw                                   # d loss / d (z @ w + b)
        value = float(sw @ np.logaddexp(0.0, -m) + 0.5 * lam * w @ w)
        return value, np.append(z.T @ g + lam * w, g.sum())

    res = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "gtol": 1e-8})
    return KindClassifier(mean, scale, res.x[:-1].copy(), float(res.x[-1]))


def kind_accuracy(clf: KindClassifier, artist_feats: Any, shape_feats: Any) -> dict:
    """``clf``'s rule on labelled rows: ``n_artist``, ``n_shape``, ``accuracy_artist`` (share
    of artist rows called artist), ``accuracy_shape`` (share of shape rows called shape),
    ``balanced_accuracy`` (their mean) and ``accuracy`` (over all rows)."""
    hit_a = clf.is_artist(artist_feats)
    hit_s = ~clf.is_artist(shape_feats)
    acc_a = float(hit_a.mean()) if len(hit_a) else math.nan
    acc_s = float(hit_s.mean()) if len(hit_s) else math.nan
    return {"n_artist": int(len(hit_a)), "n_shape": int(len(hit_s)),
            "accuracy_artist": acc_a, "accuracy_shape": acc_s,
            "balanced_accuracy": (acc_a + acc_s) / 2.0,
            "accuracy": float(np.concatenate([hit_a, hit_s]).mean())}


def shape_split(n: int, held_out_frac: float = SHAPE_HELD_OUT_FRAC,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)`` sorted row indices of ``n`` shape images: ``round(frac * n)``
    (at least 1, leaving at least 1) held out by a seeded permutation."""
    if n < 2:
        raise ValueError(f"need at least 2 shape images to hold some out, got {n}")
    k = min(n - 1, max(1, int(round(float(held_out_frac) * n))))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def train_kind_classifier(train_dir: Any, held_out_dir: Any, shapes_dir: Any, res: int,
                          extractor: Any = None, cache_dir: Any = None, c: float = C,
                          max_shapes: int | None = MAX_SHAPES,
                          shape_held_out_frac: float = SHAPE_HELD_OUT_FRAC,
                          seed: int = 0) -> KindClassifier:
    """The kind classifier of one artist, from training data only: :func:`fit_kind_classifier`
    of the artist's training part against the shape set's images less a held-out slice
    (:func:`shape_split`; at most ``max_shapes`` of the set), on the extractor's features at
    ``res`` (:func:`paperlib.metrics.real_features`, cached). Its ``held_out`` is
    :func:`kind_accuracy` on the artist's held-out part against that slice, plus
    ``n_train_artist``, ``n_train_shape`` and ``train_accuracy`` (balanced)."""
    extractor = extractor or get_extractor()
    n_shapes = len(image_files(shapes_dir))
    cap = int(max_shapes) if max_shapes and n_shapes > int(max_shapes) else None
    shapes = real_features(shapes_dir, res, extractor, cache_dir=cache_dir, max_images=cap)
    artist = real_features(train_dir, res, extractor, cache_dir=cache_dir)
    held = real_features(held_out_dir, res, extractor, cache_dir=cache_dir)
    tr, ho = shape_split(len(shapes), shape_held_out_frac, seed)
    clf = fit_kind_classifier(artist, shapes[tr], c)
    report = {**kind_accuracy(clf, held, shapes[ho]), "n_train_artist": int(len(artist)),
              "n_train_shape": int(len(tr)),
              "train_accuracy": kind_accuracy(clf, artist, shapes[tr])["balanced_accuracy"]}
    return KindClassifier(clf.mean, clf.scale, clf.weights, clf.bias, report)


def _take(images: Any, idx: np.ndarray) -> Any:
    if isinstance(images, torch.Tensor):
        return images[torch.as_tensor(idx, dtype=torch.long)]
    if hasattr(images, "shape"):
        return images[idx]
    return [images[i] for i in idx]


def kind_subset_metrics(images: Any, feats: Any, real_feats: Any, keep: Any,
                        inner_counts: Sequence[int] | None = None, kid_seed: int = 0,
                        form: str = "face", min_n: int = MIN_SUBSET) -> dict:
    """:func:`paperlib.paper_b.stage_metrics` of the ``keep`` rows of ``images`` /
    ``feats`` (``n``: how many), FID, KID and kid_std NaN below ``min_n`` rows; plus
    ``n_all``, ``kind_share`` (``n / n_all``), ``min_subset`` and ``kind_note`` (why a
    value is NaN, else empty)."""
    keep = np.asarray(keep, dtype=bool)
    f = np.asarray(feats, dtype=np.float64)
    if keep.shape != (len(f),):
        raise ValueError(f"keep has shape {keep.shape}, want ({len(f)},)")
    idx = np.flatnonzero(keep)
    out = stage_metrics(_take(images, idx), f[idx], real_feats, inner_counts,
                        kid_seed=kid_seed, form=form, min_n=int(min_n))
    k = len(idx)
    note = "" if k >= int(min_n) else (
        f"{k} artist-kind sample(s) of {len(f)}, under the minimum {int(min_n)}: FID and "
        "KID not computed" + ("; no form score either" if k == 0 else ""))
    out.update(n_all=int(len(f)), kind_share=k / len(f) if len(f) else math.nan,
               min_subset=int(min_n), kind_note=note)
    return out


def evaluate_kind_subset(run_dir: Any, artist_dir: Any, n: int, clf: KindClassifier,
                         inner_counts: Sequence[int] | None = None, seed: int = 0,
                         extractor: Any = None, epoch: int | None = None,
                         cache_dir: Any = None, use_cache: bool = True,
                         reference_dir: Any = None, min_n: int = MIN_SUBSET) -> dict:
    """:func:`kind_subset_metrics` of the ``n`` images :func:`paperlib.paper_b.evaluate_stage`
    scores (same checkpoint, ``seed`` and noise: the same images), kept where ``clf`` calls
    them the artist's, against ``artist_dir`` or ``reference_dir`` for FID/KID. Cached in
    ``run_dir/eval/`` (keyed as :func:`evaluate_stage` plus the classifier and ``min_n``).
    Adds ``epoch`` and ``run``."""
    form = form_kind_of(artist_dir)

    def compute(epoch: int, extractor) -> dict:
        run = load_run(run_dir, epoch=epoch)
        ref_dir = artist_dir if reference_dir is None else reference_dir
        real_f = real_features(ref_dir, int(run.config.res), extractor, cache_dir=cache_dir)
        images = run.sample(int(n), seed=int(seed), noise=METRIC_NOISE)
        feats = extractor(images)
        return kind_subset_metrics(images, feats, real_f, clf.is_artist(feats), inner_counts,
                                   kid_seed=int(seed), form=form, min_n=min_n)

    return cached_run_eval(run_dir, "paperb_kind", {
        "n": int(n), "seed": int(seed),
        "inner_counts": None if inner_counts is None else [int(c) for c in inner_counts],
        "artist": manifest_hash(artist_dir),
        "reference": None if reference_dir is None else manifest_hash(reference_dir),
        "form": form, "classifier": clf.key, "min_n": int(min_n), **metric_noise_key(run_dir)},
        compute, extractor=extractor, epoch=epoch, use_cache=use_cache, version=KIND_VERSION)


def kind_samples(run: Any, clf: KindClassifier, extractor: Any = None, n: int = 16,
                 pool: int = 64, seed: int = 0) -> torch.Tensor:
    """Up to ``n`` of ``pool`` images sampled (``seed``) from a run (a ``RunResult``, at its
    ``epochs_done``) that ``clf`` calls the artist's, in sampling order (for a figure)."""
    extractor = extractor or get_extractor()
    images = load_run(run.run_dir, epoch=run.epochs_done).sample(int(pool), seed=int(seed))
    keep = np.flatnonzero(clf.is_artist(extractor(images)))[:int(n)]
    return images[torch.as_tensor(keep, dtype=torch.long)]


def with_kind_stage(stages: Sequence[str]) -> tuple:
    """``stages`` with :data:`MIX_KIND` right after ``"mix"`` (unchanged without it): the
    rows and panels notebook 01 reports."""
    return tuple(s for st in stages for s in ((st, MIX_KIND) if st == "mix" else (st,)))


def kind_table(classifiers: Mapping[str, KindClassifier], per_run: pd.DataFrame | None = None
               ) -> pd.DataFrame:
    """Per artist: the classifier's held-out report (``KindClassifier.held_out``) and the
    share of the mix's samples it calls the artist's (``mix_share``: mean over seeds,
    ``mix_share_seeds``; NaN without ``per_run`` or its :data:`MIX_KIND` rows)."""
    rows = []
    for name, clf in classifiers.items():
        shares = [] if per_run is None else per_run[
            (per_run.artist == name) & (per_run.stage == MIX_KIND)].sort_values(
            "seed").kind_share.astype(float).tolist()
        rows.append({"artist": name, **clf.held_out, "threshold": THRESHOLD,
                     "mix_share": float(np.mean(shares)) if shares else math.nan,
                     "mix_share_seeds": "; ".join(f"{x:.3f}" for x in shares),
                     "min_subset": MIN_SUBSET})
    return pd.DataFrame(rows)
