"""Selection features of the curation loop (never Inception: the selection must not optimise
the metric that judges it): whitened pixel PCA fitted on the artist's training part,
feature caches, distances and the diversity measure."""
from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..metrics.features import images_to_uint8
from ..utils.images import to_uint8_hwc
from ..utils.io import atomic_write


def as_features(x: Any, name: str) -> np.ndarray:
    """``x`` as a float64 (N, D) array; ``ValueError`` naming ``name`` otherwise."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, D), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def n_images(images: Any) -> int:
    """The number of images in a batch (tensor, array or sequence)."""
    if hasattr(images, "shape"):
        return int(images.shape[0])
    return len(images)


def image_at(images: Any, i: int) -> Any:
    """Image ``i`` of a batch."""
    return images[i]


def feature_distances(a: np.ndarray, b: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Pairwise distances (len(a), len(b)); ``euclidean`` or ``cosine`` (1 - cos sim)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if metric == "euclidean":
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.sqrt(np.maximum(d2, 0.0))
    if metric == "cosine":
        na = np.linalg.norm(a, axis=1, keepdims=True)
        nb = np.linalg.norm(b, axis=1, keepdims=True)
        an = np.divide(a, na, out=np.zeros_like(a), where=na > 0)
        bn = np.divide(b, nb, out=np.zeros_like(b), where=nb > 0)
        return np.clip(1.0 - an @ bn.T, 0.0, 2.0)
    raise ValueError(f"unknown metric {metric!r}; use 'euclidean' or 'cosine'")


def min_distances(cands: np.ndarray, refs: np.ndarray, metric: str, chunk: int = 2048) -> np.ndarray:
    """Per candidate row, its minimum distance to ``refs`` (computed in chunks)."""
    out = np.empty(len(cands))
    for s in range(0, len(cands), chunk):
        out[s:s + chunk] = feature_distances(cands[s:s + chunk], refs, metric).min(axis=1)
    return out


def image_sha256(img: Any) -> str:
    """sha256 of an image's uint8 RGB pixels (shape included).

    A float [-1, 1] tensor and its uint8 rendering hash the same (see
    :func:`paperlib.utils.images.to_uint8_hwc`), so a gallery and a later headless run agree.
    """

    u = to_uint8_hwc(img)
    h = hashlib.sha256(f"{u.shape[0]}x{u.shape[1]}x{u.shape[2]}:".encode())
    h.update(np.ascontiguousarray(u).tobytes())
    return h.hexdigest()



def mean_pairwise_distance(feats: Any, max_n: int | None = 2000, seed: int = 0) -> float:
    """Diversity of a set: the mean Euclidean distance over all pairs i < j of its feature
    rows (Inception pool3 features in the notebooks; our measure). 0 for a collapsed set
    (all rows equal); NaN for fewer than 2 rows. With more than ``max_n`` rows, a seeded
    random subset of ``max_n`` rows is used."""
    f = as_features(feats, "feats")
    if len(f) < 2:
        return math.nan
    if max_n is not None and len(f) > max_n:
        f = f[np.sort(np.random.default_rng(seed).choice(len(f), max_n, replace=False))]
    d = feature_distances(f, f)
    iu = np.triu_indices(len(f), k=1)
    return float(d[iu].mean())


class PixelPCAFeatures:
    """Selection features for the curation loop that are *not* FID's: images area-downsampled
    to ``res`` x ``res`` RGB, flattened, centred and projected on the first ``dim``
    principal components of the **artist's training part** (numpy SVD; each component's
    sign fixed so its largest coefficient is positive), divided by the component's
    standard deviation on that set (whitened: every direction counts alike). ``dim`` is
    capped at ``n - 1`` for ``n`` fitting images and at the directions they vary along.
    Calling it on a tensor (N, 3, H, W) in [-1, 1] (or uint8 in [0, 255], as
    :func:`cached_features` passes) returns float64 (N, dim).

    Why this and not the Inception features: FID, KID and diversity are measured in
    Inception features, so selecting in them would let the selection optimise the metric
    that judges it; pixel PCA is fitted only on the training part (never the held-out
    part), deterministic, needs no download and costs nothing on a CPU. ``key`` (a hash of
    the fitted components) names it in caches."""

    def __init__(self, fit_images: Any, dim: int = 32, res: int = 16):
        if int(dim) < 1 or int(res) < 1:
            raise ValueError(f"dim and res must be >= 1, got dim={dim!r}, res={res!r}")
        x = self._flat(fit_images, res)
        if len(x) < 2:
            raise ValueError("pixel PCA needs at least 2 images to fit")
        self.res = int(res)
        self.mean = x.mean(axis=0)
        _, sv, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        # at most n - 1 components, and none the fitting set does not vary along (whitening
        # would blow rounding noise up to unit variance there)
        rank = int(np.sum(sv > 1e-9 * sv[0])) if sv.size and sv[0] > 0 else 0
        self.dim = int(min(dim, len(x) - 1, rank))
        if self.dim < 1:
            raise ValueError("pixel PCA needs fitting images that differ; these are all equal")
        comps = vt[:self.dim]
        signs = np.sign(comps[np.arange(self.dim), np.abs(comps).argmax(axis=1)])
        self.components = comps * signs[:, None]
        self.scale = sv[:self.dim] / math.sqrt(len(x) - 1) + 1e-12
        h = hashlib.sha256(self.components.tobytes() + self.mean.tobytes())
        self.key = f"pixel-pca-{self.res}-{self.dim}-{h.hexdigest()[:16]}"

    @staticmethod
    def _flat(images: Any, res: int) -> np.ndarray:

        t = (images.detach().cpu() if isinstance(images, torch.Tensor)
             else torch.as_tensor(np.asarray(images)))
        if t.dtype == torch.uint8:
            t = t.float() / 127.5 - 1.0
        t = t.float()
        if t.ndim != 4 or t.shape[1] != 3:
            raise ValueError(f"expected images (N, 3, H, W), got {tuple(t.shape)}")
        return F.adaptive_avg_pool2d(t, res).flatten(1).double().numpy()

    def __call__(self, images: Any) -> np.ndarray:
        return ((self._flat(images, self.res) - self.mean) @ self.components.T) / self.scale


def pixel_pca_features(fit_images: Any, dim: int = 32, res: int = 16) -> PixelPCAFeatures:
    """:class:`PixelPCAFeatures` fitted on ``fit_images`` (the artist's training part)."""
    return PixelPCAFeatures(fit_images, dim, res)


def cached_features(extractor: Callable[[Any], np.ndarray], cache_dir: Any
                    ) -> Callable[[Any], np.ndarray]:
    """Wrap a feature extractor with a disk cache keyed by the images' uint8 pixels (and
    the extractor's ``key``): a rerun of the curation loop embeds nothing twice."""
    cache_dir = Path(cache_dir)
    name = getattr(extractor, "key", type(extractor).__name__)

    def features(images: Any) -> np.ndarray:

        u8 = images_to_uint8(images).contiguous()
        h = hashlib.sha256(f"{name}|{tuple(u8.shape)}|".encode())
        h.update(u8.numpy().tobytes())
        path = cache_dir / f"feats_{h.hexdigest()[:24]}.npy"
        if path.is_file():
            try:
                return np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                pass
        out = np.asarray(extractor(u8), dtype=np.float64)
        atomic_write(path, lambda f: np.save(f, out, allow_pickle=False))
        return out

    features.extractor = extractor
    return features
