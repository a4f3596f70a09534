"""Image conversions shared by the layers (uint8/float, thumbnails, tiles) and the one
resolution check."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageOps

#: Smallest image size the data sets and models take.
MIN_RES = 16


def check_res(res, choices=None) -> int:
    """``res`` as an int when it is an integer >= :data:`MIN_RES` (and one of ``choices``,
    the sizes a network is built for); else ``ValueError`` naming the valid values."""
    if choices is not None:
        if isinstance(res, bool) or res not in tuple(choices):
            raise ValueError(f"res must be one of {tuple(choices)}, got {res!r}")
        return int(res)
    if isinstance(res, bool) or int(res) != res or res < MIN_RES:
        raise ValueError(f"res must be an integer >= {MIN_RES}, got {res!r}")
    return int(res)


_ORIENTATION = 0x0112   # the EXIF orientation tag

#: Modes whose samples run 0..65535 (16-bit PNG greyscale opens as one of these).
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def pil_to_rgb(im: Image.Image) -> Image.Image:
    """The one conversion of a decoded image to 8-bit RGB (the loader and curation use it).

    EXIF orientation applied; 16-bit/``I`` samples scaled by 255/65535 (by mode, never by
    value), ``F`` clipped to 0..255; CMYK, YCbCr, palette and 1-bit by Pillow; any
    transparency (alpha channel, palette or colour ``tRNS``) composited on white.
    """
    if im.getexif().get(_ORIENTATION, 1) != 1:   # (no copy of an upright image)
        im = ImageOps.exif_transpose(im)
    if im.mode in _DEEP_MODES or im.mode == "F":
        arr = np.asarray(im).astype(np.float64)
        scaled = arr * (255.0 / 65535.0) if im.mode != "F" else arr
        grey = Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8), "L")
        key = im.info.get("transparency")
        if not isinstance(key, int) or im.mode == "F":
            return grey.convert("RGB")
        alpha = Image.fromarray(np.where(arr == key, 0, 255).astype(np.uint8), "L")
        im = Image.merge("LA", (grey, alpha))
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def to_rgb01(img: Any) -> np.ndarray:
    """One image -> float64 (H, W, 3) RGB in [0, 1].

    Tensor or array, (C, H, W), (H, W, C) or (H, W), 1, 3 or 4 channels (alpha composited
    on white, as :func:`pil_to_rgb` does).
    Integers are read as 0..255, **floats as [-1, 1]** (the generator's range).
    """
    if hasattr(img, "detach"):  # torch tensor, without importing torch
        img = img.detach().cpu().numpy()
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"expected one image with 2 or 3 dims, got shape {a.shape}")
    if a.shape[-1] not in (1, 3, 4) and a.shape[0] in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"cannot find the channel axis in shape {a.shape}")
    if np.issubdtype(a.dtype, np.integer) or a.dtype == bool:
        x = a.astype(np.float64) / (1.0 if a.dtype == bool else 255.0)
    else:
        x = (a.astype(np.float64) + 1.0) * 0.5
    x = np.nan_to_num(x, nan=0.0)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif x.shape[-1] == 4:
        alpha = np.clip(x[..., 3:], 0.0, 1.0)
        x = x[..., :3] * alpha + (1.0 - alpha)
    return np.clip(x, 0.0, 1.0)


def to_uint8_hwc(img: Any) -> np.ndarray:
    """One image -> uint8 (H, W, 3) using the conventions of :func:`to_rgb01`.

    Floats map by ``round((x + 1) * 127.5)``; uint8 RGB or grey input is returned unchanged
    (as RGB).
    """
    if hasattr(img, "detach"):
        img = img.detach().cpu().numpy()
    a = np.asarray(img)
    if a.dtype == np.uint8:
        x = a if a.ndim == 3 else a[..., None]
        if x.shape[-1] not in (1, 3, 4) and x.shape[0] in (1, 3, 4):
            x = np.moveaxis(x, 0, -1)
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        if x.shape[-1] == 3:
            return np.ascontiguousarray(x)
    return np.round(to_rgb01(a) * 255.0).astype(np.uint8)


def iter_images(images: Any) -> list:
    """A batch -> list of single images. Batch = 4-D array/tensor or a sequence."""
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return list(images)
        if images.ndim in (2, 3):
            return [images]
        raise ValueError(f"expected a batch (N, C, H, W) / (N, H, W, C), got {images.shape}")
    return list(images)


def png_thumb(img: Any, thumb_px: int) -> bytes:


    pil = Image.fromarray(to_uint8_hwc(img), mode="RGB")
    if max(pil.size) != thumb_px:
        # nearest keeps small (32 px) samples crisp instead of blurring them
        resample = Image.NEAREST if max(pil.size) < thumb_px else Image.LANCZOS
        pil = pil.resize((thumb_px, thumb_px), resample)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def tile(images: np.ndarray, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """One uint8 canvas from (R, C, H, W, 3) or (N, H, W, 3) (one row), ``pad`` px apart."""
    a = np.asarray(images)
    if a.ndim == 4:
        a = a[None]
    r, c, h, w, ch = a.shape
    out = np.full((r * h + (r - 1) * pad, c * w + (c - 1) * pad, ch), pad_value, np.uint8)
    for i in range(r):
        for j in range(c):
            out[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = a[i, j]
    return out


def png_bytes(img: np.ndarray, px: int = 256) -> bytes:
    """PNG of a uint8 (H, W, 3) image scaled to ``px`` (nearest-neighbour when enlarging,
    so 32 px samples stay crisp)."""
    return png_thumb(img, px)
