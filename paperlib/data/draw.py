"""Drawing primitives shared by the stand-in sets: a supersampled canvas, shapes, colours and
the seeded pickers the recipes use. Images are RGB, drawn at ``SUPERSAMPLE`` x the output
size and downsampled with Lanczos (anti-aliased)."""
from __future__ import annotations

import colorsys
import hashlib
import io
import math
from functools import lru_cache
from typing import Iterable

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 4




WHITE = (255, 255, 255)


# Drawing helpers -----------------------------------------------------------------------
class Canvas:
    """A canvas drawn at ``SUPERSAMPLE`` x ``res``; recipe coordinates times ``unit``."""

    def __init__(self, res: int, unit: float, fill=WHITE, mode: str = "RGB"):
        self.res = res
        self.size = res * SUPERSAMPLE
        self.unit = unit * SUPERSAMPLE
        self.img = Image.new(mode, (self.size, self.size), fill)
        self.draw = ImageDraw.Draw(self.img)

    def blank(self, fill=0, mode: str = "L") -> Canvas:
        """A canvas of the same geometry (e.g. a mask)."""
        return Canvas(self.res, self.unit / SUPERSAMPLE, fill, mode)

    def px(self, v: float) -> float:
        return v * self.unit

    def width(self, w: float) -> int:
        return max(1, round(w * self.unit))

    def box(self, cx, cy, rx, ry=None) -> list[float]:
        ry = rx if ry is None else ry
        return [self.px(cx - rx), self.px(cy - ry), self.px(cx + rx), self.px(cy + ry)]

    def points(self, pts: Iterable) -> list[tuple[float, float]]:
        return [(self.px(x), self.px(y)) for x, y in pts]

    def ellipse(self, cx, cy, rx, ry=None, fill=None, outline=None, width=0.0):
        self.draw.ellipse(self.box(cx, cy, rx, ry), fill=fill, outline=outline,
                          width=self.width(width) if outline else 0)

    def arc(self, cx, cy, rx, ry, start, end, fill, width):
        self.draw.arc(self.box(cx, cy, rx, ry), start, end, fill=fill, width=self.width(width))

    def chord(self, cx, cy, rx, ry, start, end, fill):
        self.draw.chord(self.box(cx, cy, rx, ry), start, end, fill=fill)

    def line(self, pts, fill, width):
        self.draw.line(self.points(pts), fill=fill, width=self.width(width), joint="curve")

    def polygon(self, pts, fill):
        self.draw.polygon(self.points(pts), fill=fill)

    def rounded_rect(self, cx, cy, hw, hh, radius, fill=None, outline=None, width=0.0):
        self.draw.rounded_rectangle(self.box(cx, cy, hw, hh), radius=self.px(radius), fill=fill,
                                    outline=outline, width=self.width(width) if outline else 0)

    def result(self) -> Image.Image:
        return self.img.resize((self.res, self.res), Image.LANCZOS)


def mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def shade(c, k: float) -> tuple[int, int, int]:
    return tuple(round(x * k) for x in c)


def heart(cx, cy, size, n=36) -> list[tuple[float, float]]:
    ts = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xs = 16 * np.sin(ts) ** 3
    ys = 13 * np.cos(ts) - 5 * np.cos(2 * ts) - 2 * np.cos(3 * ts) - np.cos(4 * ts)
    k = size / 34
    return [(cx + k * x, cy - k * y) for x, y in zip(xs, ys)]


def star(cx, cy, r_out, r_in, points=5, rot=-90.0) -> list[tuple[float, float]]:
    pts = []
    for i in range(2 * points):
        r = r_out if i % 2 == 0 else r_in
        a = math.radians(rot + i * 180 / points)
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def drop(cv: Canvas, cx, cy, size, fill):
    """A tear/sweat drop whose round part is centred at (cx, cy), tip pointing up."""
    cv.ellipse(cx, cy, size, fill=fill)
    cv.polygon([(cx - 0.92 * size, cy - 0.35 * size), (cx, cy - 2.1 * size),
                (cx + 0.92 * size, cy - 0.35 * size)], fill=fill)


def ellipse_points(cx, cy, rx, ry, angle_deg, n=96) -> list[tuple[float, float]]:
    """Points of a rotated ellipse (for shapes PIL cannot rotate)."""
    a = math.radians(angle_deg)
    ts = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xs, ys = rx * np.cos(ts), ry * np.sin(ts)
    return [(cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a))
            for x, y in zip(xs, ys)]


def rectangle(cx, cy, hw, hh, angle_deg) -> list[tuple[float, float]]:
    """Corners of a rectangle with half-sizes (hw, hh) rotated by ``angle_deg``."""
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    return [(cx + x * ca - y * sa, cy + x * sa + y * ca)
            for x, y in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]


@lru_cache(maxsize=4)
def grid(size: int) -> np.ndarray:
    """(2, size, size) row and column indices."""
    return np.mgrid[0:size, 0:size].astype(np.float32)


def png_bytes(img: Image.Image) -> bytes:
    """PNG with fixed parameters and no metadata, so equal pixels give equal bytes."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6, optimize=False)
    return buf.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uniform(rng: np.random.Generator, lo: float, hi: float, nd: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


# Seeded pickers for recipes (frame fractions -> output px) -----------------------------
def random_color(rng: np.random.Generator) -> list[int]:
    h, s, v = rng.uniform(0, 1), rng.uniform(0.45, 1.0), rng.uniform(0.35, 0.9)
    return [round(c * 255) for c in colorsys.hsv_to_rgb(h, s, v)]


def centre(rng, reach: float, res: int) -> tuple[float, float]:
    """A centre (output px) keeping a radius ``reach`` (fraction of the frame) inside."""
    lo, hi = reach + 0.02, 0.98 - reach
    return uniform(rng, lo, hi) * res, uniform(rng, lo, hi) * res


def to_px(v: float, res: int) -> float:
    return round(v * res, 2)


def circle(cx: float, cy: float, r: float, res: int, **extra) -> dict:
    """A circle given in frame fractions, recorded in output pixels."""
    return {"cx": to_px(cx, res), "cy": to_px(cy, res), "r": to_px(r, res), **extra}
