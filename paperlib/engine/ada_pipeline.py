"""ADA's own augmentation pipeline, its ``bgc`` set (Karras et al., NeurIPS 2020), after
NVlabs' ``AugmentPipe`` (``bgc`` multipliers 1, default strengths: the module constants); the
code is our own, in plain PyTorch.

Each op (:data:`BGC_OPS`: blit, geometric, colour) is applied to each sample independently
with probability ``p``. Geometric ops compose into one inverse transform per sample,
resampled once with ``sym6`` 2x up/down filtering (identity in, image out up to rounding);
colour ops into one 4x4 matrix. Differentiable in the image (twice, for R1); images in
[-1, 1]; randomness only from the ``torch.Generator`` passed in; ``p <= 0`` returns the input
itself (details: docs/DECISIONS.md, "Augmentation")."""
from __future__ import annotations

import functools
import math
from typing import Sequence

import torch
import torch.nn.functional as F

#: Low-pass filter of the Symlet-6 wavelet (orthogonal: the 2x up/down round trip is exact).
SYM6 = (0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036,
        -0.007800708325034148)

#: The bgc strengths (NVlabs' ``AugmentPipe`` defaults).
XINT_MAX = 0.125        # integer translation, fraction of the side
SCALE_STD = 0.2         # log2 std of isotropic scaling
ROTATE_MAX = 1.0        # rotation range, 1 = full circle
ANISO_STD = 0.2         # log2 std of anisotropic scaling
XFRAC_STD = 0.125       # std of fractional translation, fraction of the side
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5      # log2 std
HUE_MAX = 1.0           # hue rotation range, 1 = full circle
SATURATION_STD = 1.0    # log2 std

#: The ops in the order they are drawn and composed.
BGC_OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
           "brightness", "contrast", "lumaflip", "hue", "saturation")


# ----------------------------------------------------------------------------- matrices
def _matrix(rows, b: int, device) -> torch.Tensor:
    """``(b, n, m)`` float32 matrices from rows of scalars or ``(b,)`` tensors."""
    out = torch.zeros(b, len(rows), len(rows[0]), device=device)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            out[:, i, j] = v
    return out


def translate2d(tx, ty, b, device):
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], b, device)


def scale2d(sx, sy, b, device):
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], b, device)


def rotate2d(theta, b, device):
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], b, device)


def translate3d(tx, ty, tz, b, device):
    return _matrix([[1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1]], b, device)


def scale3d(sx, sy, sz, b, device):
    return _matrix([[sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1]], b, device)


def rotate3d(axis, theta, b, device):
    """Rotation by ``theta`` around the unit ``axis`` (3 floats), homogeneous 4x4."""
    x, y, z = axis
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _matrix([[x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, 0],
                    [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, 0],
                    [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, 0],
                    [0, 0, 0, 1]], b, device)


# ----------------------------------------------------------------------------- resampling
@functools.lru_cache(maxsize=32)
def _fir_matrix(n: int, up: int, down: int, pad0: int, pad1: int, flip_filter: bool,
                gain: float, device: str, dtype: torch.dtype) -> torch.Tensor:
    """The 1-D upfirdn of :func:`_upfirdn` along one axis of length ``n`` as an ``(n, m)``
    matrix: its response to each unit impulse (a banded matrix; built once per shape)."""
    e = torch.eye(n, dtype=torch.float64)
    if up > 1:   # insert up - 1 zeros after every sample
        e = F.pad(e.view(n, n, 1), [0, up - 1]).reshape(n, n * up)
    e = F.pad(e, [max(pad0, 0), max(pad1, 0)])
    e = e[:, max(-pad0, 0):e.shape[1] - max(-pad1, 0)]
    f = torch.tensor(SYM6, dtype=torch.float64)
    f = f / f.sum() * math.sqrt(gain)
    if not flip_filter:   # conv1d correlates: flip for a convolution
        f = f.flip(0)
    e = F.conv1d(e.unsqueeze(1), f.view(1, 1, -1)).squeeze(1)
    return e[:, ::down].to(device=device, dtype=dtype).contiguous()


def _upfirdn(x: torch.Tensor, up: int = 1, down: int = 1, pad=(0, 0, 0, 0),
             flip_filter: bool = False, gain: float = 1.0) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative: crop) ``(x0, x1, y0, y1)``, convolve with
    the separable ``sym6`` filter (normalised to unit DC gain, times ``gain`` over both
    axes), keep every ``down``-th pixel -- the reference maths of NVlabs' ``upfirdn2d``,
    computed as a matrix product per axis (much faster on CPU than a depthwise conv)."""
    x0, x1, y0, y1 = pad
    mx = _axis_matrix(x.shape[3], up, down, x0, x1, flip_filter, gain, x)
    my = _axis_matrix(x.shape[2], up, down, y0, y1, flip_filter, gain, x)
    return my.t() @ (x @ mx)


def _axis_matrix(n, up, down, pad0, pad1, flip_filter, gain, like) -> torch.Tensor:
    """:func:`_fir_matrix` of length ``n``, cut from the cached one of the next multiple of
    64 (an output sample depends only on its offset from the input's start, so the smaller
    matrix is the larger one's top-left block): few shapes to build and cache although the
    padded size changes from batch to batch."""
    m = (n * up + pad0 + pad1 - len(SYM6)) // down + 1
    big = _fir_matrix(-(-n // 64) * 64, up, down, pad0, pad1, flip_filter, gain,
                      str(like.device), like.dtype)
    return big[:n, :m]


def apply_geometric(x: torch.Tensor, G_inv: torch.Tensor) -> torch.Tensor:
    """Resample every image ``x[i]`` with the inverse transform ``G_inv[i]`` (3x3, output
    pixel -> input pixel, in pixel units about the image centre): reflection padding, 2x
    ``sym6`` upsampling, bilinear sampling, 2x ``sym6`` downsampling."""
    b, c, h, w = x.shape
    dev = x.device
    hz_pad = len(SYM6) // 4
    # pad (reflect) as far as the transformed corners reach, plus the filter's support
    cx, cy = (w - 1) / 2, (h - 1) / 2
    corners = torch.tensor([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]],
                           device=dev)
    cp = G_inv @ corners.t()                                 # (b, 3, 4)
    margin = cp[:, :2, :].permute(1, 0, 2).flatten(1)        # (xy, b * 4)
    margin = torch.cat([-margin, margin]).max(dim=1).values  # x0, y0, x1, y1
    margin = margin + torch.tensor([hz_pad * 2 - cx, hz_pad * 2 - cy] * 2, device=dev)
    margin = margin.clamp(min=0).minimum(torch.tensor([w - 1, h - 1] * 2, device=dev,
                                                      dtype=margin.dtype))
    mx0, my0, mx1, my1 = (int(v) for v in margin.ceil().tolist())
    x = F.pad(x, [mx0, mx1, my0, my1], mode="reflect")
    G_inv = translate2d((mx0 - mx1) / 2, (my0 - my1) / 2, b, dev) @ G_inv
    # upsample 2x (and express G_inv on the upsampled grid); paddings as upfirdn2d's
    taps = len(SYM6)
    x = _upfirdn(x, up=2, pad=((taps + 1) // 2, (taps - 2) // 2) * 2, gain=4.0)
    G_inv = scale2d(2, 2, b, dev) @ G_inv @ scale2d(0.5, 0.5, b, dev)
    G_inv = translate2d(-0.5, -0.5, b, dev) @ G_inv @ translate2d(0.5, 0.5, b, dev)
    # sample the output grid (2x the image plus the filter's margin), in normalised units
    shape = [b, c, (h + hz_pad * 2) * 2, (w + hz_pad * 2) * 2]
    G_inv = (scale2d(2 / x.shape[3], 2 / x.shape[2], b, dev) @ G_inv
             @ scale2d(shape[3] / 2, shape[2] / 2, b, dev))
    grid = F.affine_grid(G_inv[:, :2, :].to(x.dtype), shape, align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # downsample 2x and crop the margin
    p = -hz_pad * 2
    return _upfirdn(x, down=2, pad=(p + (taps - 1) // 2, p + (taps - 2) // 2) * 2,
                    flip_filter=True)


def apply_colour(x: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """``C[i]`` (4x4 homogeneous colour transform) applied to every pixel of ``x[i]`` (RGB;
    a 1-channel image takes the mean of the RGB rows)."""
    b, c, h, w = x.shape
    C = C.to(x.dtype)
    flat = x.reshape(b, c, h * w)
    if c == 3:
        flat = C[:, :3, :3] @ flat + C[:, :3, 3:]
    elif c == 1:
        C = C[:, :3, :].mean(dim=1, keepdim=True)
        flat = flat * C[:, :, :3].sum(dim=2, keepdim=True) + C[:, :, 3:]
    else:
        raise ValueError(f"the colour ops need RGB or 1-channel images, got {c} channels")
    return flat.reshape(b, c, h, w)


# ----------------------------------------------------------------------------- the pipeline
_GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")


def ada_bgc(x: torch.Tensor, generator: torch.Generator, p: float,
            ops: Sequence[str] = BGC_OPS) -> torch.Tensor:
    """ADA's ``bgc`` pipeline on a batch in [-1, 1], each op applied to each sample with
    probability ``p`` (module docstring); ``p <= 0`` returns ``x`` itself. ``ops``: the
    enabled subset of :data:`BGC_OPS` (NVlabs' per-op multipliers 1 or 0; all by default)."""
    unknown = sorted(set(ops) - set(BGC_OPS))
    if unknown:
        raise ValueError(f"unknown ADA ops {unknown}; valid: {', '.join(BGC_OPS)}")
    if p <= 0:
        return x
    on = set(ops)
    b, _, h, w = x.shape
    dev = x.device
    g = generator

    def u(*shape):
        return torch.rand(shape, generator=g, device=g.device).to(dev)

    def nrm(*shape):
        return torch.randn(shape, generator=g, device=g.device).to(dev)

    def gate(value, identity, prob=p, shape=(b,)):
        """``value`` where a uniform draw is below ``prob``, else ``identity``."""
        return torch.where(u(*shape) < prob, value, torch.full_like(value, identity))

    # blit: x-flip, 90-degree rotations, integer translation
    G_inv = torch.eye(3, device=dev).repeat(b, 1, 1)
    if "xflip" in on:
        i = gate(torch.floor(u(b) * 2), 0.0)
        G_inv = G_inv @ scale2d(1 / (1 - 2 * i), 1, b, dev)
    if "rotate90" in on:
        i = gate(torch.floor(u(b) * 4), 0.0)
        G_inv = G_inv @ rotate2d(math.pi / 2 * i, b, dev)
    if "xint" in on:
        t = gate((u(b, 2) * 2 - 1) * XINT_MAX, 0.0, shape=(b, 1))
        G_inv = G_inv @ translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h), b, dev)
    # geometric: isotropic scale, pre-rotation, anisotropic scale, post-rotation, fraction
    if "scale" in on:
        s = gate(torch.exp2(nrm(b) * SCALE_STD), 1.0)
        G_inv = G_inv @ scale2d(1 / s, 1 / s, b, dev)
    p_rot = 1 - math.sqrt(min(max(1 - p, 0.0), 1.0))   # P(pre or post) = p
    if "rotate" in on:
        theta = gate((u(b) * 2 - 1) * math.pi * ROTATE_MAX, 0.0, prob=p_rot)
        G_inv = G_inv @ rotate2d(theta, b, dev)
    if "aniso" in on:
        s = gate(torch.exp2(nrm(b) * ANISO_STD), 1.0)
        G_inv = G_inv @ scale2d(1 / s, s, b, dev)
    if "rotate" in on:
        theta = gate((u(b) * 2 - 1) * math.pi * ROTATE_MAX, 0.0, prob=p_rot)
        G_inv = G_inv @ rotate2d(theta, b, dev)
    if "xfrac" in on:
        t = gate(nrm(b, 2) * XFRAC_STD, 0.0, shape=(b, 1))
        G_inv = G_inv @ translate2d(-t[:, 0] * w, -t[:, 1] * h, b, dev)
    if on & set(_GEOMETRIC):
        x = apply_geometric(x, G_inv)
    # colour: brightness, contrast, luma flip, hue rotation, saturation
    if not on - set(_GEOMETRIC):
        return x
    eye = torch.eye(4, device=dev)
    C = eye.repeat(b, 1, 1)
    v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev) / math.sqrt(3)   # the luma axis
    vv = torch.outer(v, v)
    if "brightness" in on:
        bright = gate(nrm(b) * BRIGHTNESS_STD, 0.0)
        C = translate3d(bright, bright, bright, b, dev) @ C
    if "contrast" in on:
        c = gate(torch.exp2(nrm(b) * CONTRAST_STD), 1.0)
        C = scale3d(c, c, c, b, dev) @ C
    if "lumaflip" in on:
        i = gate(torch.floor(u(b) * 2), 0.0)
        C = (eye - 2 * vv * i.view(b, 1, 1)) @ C                         # Householder
    if "hue" in on and x.shape[1] > 1:
        theta = gate((u(b) * 2 - 1) * math.pi * HUE_MAX, 0.0)
        C = rotate3d((1 / math.sqrt(3),) * 3, theta, b, dev) @ C
    if "saturation" in on and x.shape[1] > 1:
        s = gate(torch.exp2(nrm(b) * SATURATION_STD), 1.0)
        C = (vv + (eye - vv) * s.view(b, 1, 1)) @ C
    return apply_colour(x, C)
