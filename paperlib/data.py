"""Synthetic data sets and the user-folder loader.

Neither paper's data is public, so every training set here is drawn by code, deterministically
from a seed (same seed and arguments -> byte-identical PNGs and ``manifest.json``):

* ``emoji`` -- a **synthetic stand-in** for paper A's 804 crawled "Emoji Generator" emojis
  (402 positive + 402 negative). Each emoji is composed from parts the way an emoji-maker
  site does it: face (shape, colour, flat or radial gradient), eyes, brows, mouth and
  extras. **Label rule:** every part style has a valence (:data:`EYE_VALENCE`,
  :data:`BROW_VALENCE`, :data:`MOUTH_VALENCE`, :data:`EXTRA_VALENCE`); the score is their
  sum (eyes + brows + mouth + each extra) and the label is its sign: ``positive`` when
  > 0, ``negative`` when < 0. Recipes scoring 0 are ambiguous and never drawn. Smiles,
  grins, heart/star eyes, blush and hearts push positive; frowns, grimaces, X eyes, angry
  or sad brows, tears, sweat and anger marks push negative (:func:`emoji_score`).
  Sampling draws recipes until each class is full; no two emojis share a part combination.
* ``shapes`` -- paper B's "shape learning" images: circles, ellipses, rings, concentric
  circles, planes (half-planes / large polygons) and rectangles, balanced across kinds;
  the label is the kind.
* ``artist_donglein`` and ``artist_geometric`` -- **synthetic stand-ins** for paper B's
  unpublished artworks (manifest ``kind`` is ``"artist-standin"`` and ``note`` says so): a
  round character in the spirit of Yang Dae-won's "Donglein", and a geometric abstraction
  of circles and planes. Recipes record the main circle and the small inner circles so a
  circle-fidelity measure can compare generated images against them.

All images are RGB, drawn at 4x the output size and downsampled with Lanczos
(anti-aliased). Geometry in the shape and artist recipes is in pixels of the output
``res``; the emoji jitter values are fractions of the face radius or of the frame.

Each set is a folder of PNGs plus ``manifest.json`` (see :func:`build_emoji_set`). Writing
goes to a temporary sibling folder that is renamed into place; a non-empty folder that is
not one of our data sets is never overwritten.

:func:`load_folder` reads any folder of images (png, jpg/jpeg, webp, bmp; other files are
ignored, hidden files and folders are skipped) into a tensor in [-1, 1].
"""
from __future__ import annotations

import colorsys
import hashlib
import io
import json
import math
import numbers
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps
from tqdm.auto import tqdm

from . import __version__

#: Bump whenever rendering or the manifest layout changes (invalidates reuse of old sets).
DATA_FORMAT_VERSION = 1
CODE_VERSION = f"{__version__}+data{DATA_FORMAT_VERSION}"
#: Folder names written by :func:`build_all`.
SET_NAMES = ("emoji", "shapes", "artist_donglein", "artist_geometric")
ARTIST_STYLES = ("donglein", "geometric")
SHAPE_KINDS = ("circle", "ellipse", "ring", "concentric", "plane", "rectangle")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MANIFEST = "manifest.json"
SUPERSAMPLE = 4
MIN_RES = 16
WHITE = (255, 255, 255)

# --------------------------------------------------------------------------------------
# Emoji parts and the label rule
# --------------------------------------------------------------------------------------
EYE_VALENCE = {"dots": 0, "ovals": 0, "happy_arcs": 1, "closed_lines": 0, "x_eyes": -2,
               "hearts": 2, "stars": 1, "wide_pupils": 0, "wink": 1, "sleepy": -1}
BROW_VALENCE = {"none": 0, "flat": 0, "raised": 0, "angry": -2, "sad": -1}
MOUTH_VALENCE = {"smile": 2, "grin_open": 2, "d_grin": 2, "tongue_out": 1, "smirk": 1,
                 "flat": 0, "open_o": -1, "wavy": -1, "frown": -2, "grimace": -2}
#: Extras are a list (possibly empty, meaning none) of these styles.
EXTRA_VALENCE = {"blush": 1, "hearts": 2, "sparkles": 1, "tears": -2, "sweat": -1,
                 "anger_mark": -2}
EMOJI_EYES = tuple(EYE_VALENCE)
EMOJI_BROWS = tuple(BROW_VALENCE)
EMOJI_MOUTHS = tuple(MOUTH_VALENCE)
EMOJI_EXTRAS = tuple(EXTRA_VALENCE)
EMOJI_FACE_SHAPES = ("circle", "ellipse_wide", "ellipse_tall", "rounded_square")
EMOJI_FACE_COLORS = {"yellow": (255, 204, 77), "lemon": (255, 226, 94), "gold": (246, 186, 40),
                     "orange": (255, 158, 64), "peach": (255, 190, 150), "pink": (255, 150, 182),
                     "green": (150, 218, 110), "mint": (140, 224, 190)}
EMOJI_GRADIENTS = ("flat", "radial")
EMOJI_LABELS = ("negative", "positive")
_FACE_ASPECT = {"circle": (1.0, 1.0), "ellipse_wide": (1.0, 0.88), "ellipse_tall": (0.88, 1.0),
                "rounded_square": (0.9, 0.9)}
_INK = (62, 40, 30)
_MOUTH_INK = (96, 32, 36)
_RED = (226, 52, 64)
_BLUE = (92, 168, 240)
_TONGUE = (240, 110, 130)


def emoji_score(recipe: dict) -> int:
    """Sum of the part valences of an emoji recipe (see the module docstring)."""
    return (EYE_VALENCE[recipe["eyes"]] + BROW_VALENCE[recipe["brows"]]
            + MOUTH_VALENCE[recipe["mouth"]] + sum(EXTRA_VALENCE[e] for e in recipe["extras"]))


def emoji_label(recipe: dict) -> str:
    """``"positive"`` or ``"negative"`` by the sign of :func:`emoji_score`.

    A recipe scoring 0 is ambiguous, never part of the set, and raises ``ValueError``.
    """
    score = emoji_score(recipe)
    if score == 0:
        raise ValueError(f"emoji recipe has score 0 (ambiguous, not in the set): {recipe}")
    return "positive" if score > 0 else "negative"


# --------------------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------------------
class _Canvas:
    """A canvas drawn at ``SUPERSAMPLE`` x ``res``; recipe coordinates times ``unit``."""

    def __init__(self, res: int, unit: float, fill=WHITE, mode: str = "RGB"):
        self.res = res
        self.size = res * SUPERSAMPLE
        self.unit = unit * SUPERSAMPLE
        self.img = Image.new(mode, (self.size, self.size), fill)
        self.draw = ImageDraw.Draw(self.img)

    def blank(self, fill=0, mode: str = "L") -> _Canvas:
        """A canvas of the same geometry (e.g. a mask)."""
        return _Canvas(self.res, self.unit / SUPERSAMPLE, fill, mode)

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


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def _shade(c, k: float) -> tuple[int, int, int]:
    return tuple(round(x * k) for x in c)


def _heart(cx, cy, size, n=36) -> list[tuple[float, float]]:
    ts = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xs = 16 * np.sin(ts) ** 3
    ys = 13 * np.cos(ts) - 5 * np.cos(2 * ts) - 2 * np.cos(3 * ts) - np.cos(4 * ts)
    k = size / 34
    return [(cx + k * x, cy - k * y) for x, y in zip(xs, ys)]


def _star(cx, cy, r_out, r_in, points=5, rot=-90.0) -> list[tuple[float, float]]:
    pts = []
    for i in range(2 * points):
        r = r_out if i % 2 == 0 else r_in
        a = math.radians(rot + i * 180 / points)
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def _drop(cv: _Canvas, cx, cy, size, fill):
    """A tear/sweat drop whose round part is centred at (cx, cy), tip pointing up."""
    cv.ellipse(cx, cy, size, fill=fill)
    cv.polygon([(cx - 0.92 * size, cy - 0.35 * size), (cx, cy - 2.1 * size),
                (cx + 0.92 * size, cy - 0.35 * size)], fill=fill)


def _ellipse_points(cx, cy, rx, ry, angle_deg, n=96) -> list[tuple[float, float]]:
    """Points of a rotated ellipse (for shapes PIL cannot rotate)."""
    a = math.radians(angle_deg)
    ts = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xs, ys = rx * np.cos(ts), ry * np.sin(ts)
    return [(cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a))
            for x, y in zip(xs, ys)]


def _rectangle(cx, cy, hw, hh, angle_deg) -> list[tuple[float, float]]:
    """Corners of a rectangle with half-sizes (hw, hh) rotated by ``angle_deg``."""
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    return [(cx + x * ca - y * sa, cy + x * sa + y * ca)
            for x, y in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]


@lru_cache(maxsize=4)
def _grid(size: int) -> np.ndarray:
    """(2, size, size) row and column indices."""
    return np.mgrid[0:size, 0:size].astype(np.float32)


def _png_bytes(img: Image.Image) -> bytes:
    """PNG with fixed parameters and no metadata, so equal pixels give equal bytes."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6, optimize=False)
    return buf.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _u(rng: np.random.Generator, lo: float, hi: float, nd: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _check_res(res: int) -> int:
    if int(res) != res or res < MIN_RES:
        raise ValueError(f"res must be an integer >= {MIN_RES}, got {res!r}")
    return int(res)


# --------------------------------------------------------------------------------------
# Emoji set
# --------------------------------------------------------------------------------------
def _emoji_recipe(rng: np.random.Generator) -> dict:
    n_extras = int(rng.choice(3, p=[0.5, 0.35, 0.15]))
    extras = sorted(rng.choice(len(EMOJI_EXTRAS), size=n_extras, replace=False).tolist())
    return {
        "face_shape": _pick(rng, EMOJI_FACE_SHAPES),
        "face_color": _pick(rng, tuple(EMOJI_FACE_COLORS)),
        "gradient": _pick(rng, EMOJI_GRADIENTS),
        "eyes": _pick(rng, EMOJI_EYES),
        "brows": _pick(rng, EMOJI_BROWS),
        "mouth": _pick(rng, EMOJI_MOUTHS),
        "extras": [EMOJI_EXTRAS[i] for i in extras],
        "dx": _u(rng, -0.03, 0.03), "dy": _u(rng, -0.03, 0.03),   # face offset (frame)
        "scale": _u(rng, 0.9, 1.0),                                # face radius factor
        "eye_gap": _u(rng, 0.32, 0.42), "eye_y": _u(rng, -0.28, -0.12),  # x face radius
        "mouth_y": _u(rng, 0.3, 0.45), "mouth_w": _u(rng, 0.3, 0.48),    # x face radius
    }


def _emoji_key(recipe: dict) -> tuple:
    return (recipe["face_shape"], recipe["face_color"], recipe["gradient"], recipe["eyes"],
            recipe["brows"], recipe["mouth"], tuple(recipe["extras"]))


def emoji_recipes(seed: int = 0, n_per_class: int = 402) -> list[dict]:
    """Draw recipes until each label has ``n_per_class``; part combinations are unique."""
    rng = np.random.default_rng(seed)
    want = {label: n_per_class for label in EMOJI_LABELS}
    seen: set[tuple] = set()
    out: list[dict] = []
    for _ in range(200 * (2 * n_per_class + 10)):
        if not any(want.values()):
            break
        recipe = _emoji_recipe(rng)
        key, score = _emoji_key(recipe), emoji_score(recipe)
        if score == 0 or key in seen:
            continue
        label = emoji_label(recipe)
        if want[label]:
            want[label] -= 1
            seen.add(key)
            out.append(recipe)
    if any(want.values()):
        raise RuntimeError(f"could not draw {n_per_class} unique emojis per class")
    assert len({_emoji_key(r) for r in out}) == len(out), "duplicate emoji recipe"
    return out


def _face_fill(recipe: dict, res: int, cx, cy, rx, ry) -> Image.Image:
    """The face fill at canvas size: flat, or a radial gradient lit from the upper left.

    The smooth gradient is computed at output size and upsampled (it needs no supersampling).
    """
    base = EMOJI_FACE_COLORS[recipe["face_color"]]
    size = res * SUPERSAMPLE
    if recipe["gradient"] == "flat":
        return Image.new("RGB", (size, size), base)
    yy, xx = (_grid(res) + 0.5) / res
    t = np.clip(np.hypot(xx - (cx - 0.3 * rx), yy - (cy - 0.35 * ry)) / (1.5 * max(rx, ry)),
                0, 1)[..., None]
    light, dark = np.array(_mix(base, WHITE, 0.5)), np.array(_shade(base, 0.85))
    small = Image.fromarray((light * (1 - t) + dark * t).round().astype(np.uint8), "RGB")
    return small.resize((size, size), Image.BILINEAR)


def _draw_face(cv: _Canvas, recipe: dict, cx, cy, R):
    shape = recipe["face_shape"]
    ax, ay = _FACE_ASPECT[shape]
    rx, ry = ax * R, ay * R
    mask = cv.blank()
    outline = _shade(EMOJI_FACE_COLORS[recipe["face_color"]], 0.6)
    if shape == "rounded_square":
        mask.rounded_rect(cx, cy, rx, ry, 0.4 * R, fill=255)
        cv.img.paste(_face_fill(recipe, cv.res, cx, cy, rx, ry), mask=mask.img)
        cv.rounded_rect(cx, cy, rx, ry, 0.4 * R, outline=outline, width=0.018)
    else:
        mask.ellipse(cx, cy, rx, ry, fill=255)
        cv.img.paste(_face_fill(recipe, cv.res, cx, cy, rx, ry), mask=mask.img)
        cv.ellipse(cx, cy, rx, ry, outline=outline, width=0.018)


def _draw_eye(cv: _Canvas, style: str, x, y, e, lw):
    if style == "dots":
        cv.ellipse(x, y, 0.8 * e, fill=_INK)
    elif style == "ovals":
        cv.ellipse(x, y, 0.62 * e, 1.1 * e, fill=_INK)
        cv.ellipse(x - 0.2 * e, y - 0.45 * e, 0.22 * e, fill=WHITE)
    elif style == "happy_arcs":
        cv.arc(x, y + 0.5 * e, e, e, 180, 360, _INK, lw)
    elif style == "closed_lines":
        cv.line([(x - e, y), (x + e, y)], _INK, lw)
    elif style == "x_eyes":
        cv.line([(x - 0.8 * e, y - 0.8 * e), (x + 0.8 * e, y + 0.8 * e)], _INK, lw)
        cv.line([(x - 0.8 * e, y + 0.8 * e), (x + 0.8 * e, y - 0.8 * e)], _INK, lw)
    elif style == "hearts":
        cv.polygon(_heart(x, y, 2.6 * e), _RED)
    elif style == "stars":
        cv.polygon(_star(x, y, 1.4 * e, 0.6 * e), (232, 84, 30))
    elif style == "wide_pupils":
        cv.ellipse(x, y, e, 1.25 * e, fill=WHITE, outline=_INK, width=0.4 * lw)
        cv.ellipse(x, y + 0.25 * e, 0.5 * e, fill=_INK)
    elif style == "sleepy":
        cv.chord(x, y - 0.3 * e, e, e, 0, 180, _INK)
    else:
        raise ValueError(f"unknown eye style {style!r}")


def _draw_eyes(cv: _Canvas, recipe: dict, cx, cy, R, lw):
    e, y = 0.11 * R, cy + recipe["eye_y"] * R
    for side in (-1, 1):
        style = recipe["eyes"]
        if style == "wink":
            style = "dots" if side < 0 else "happy_arcs"
        _draw_eye(cv, style, cx + side * recipe["eye_gap"] * R, y, e, lw)


def _draw_brows(cv: _Canvas, recipe: dict, cx, cy, R, lw):
    style, e = recipe["brows"], 0.11 * R
    y = cy + recipe["eye_y"] * R - 2.0 * e
    for side in (-1, 1):
        x = cx + side * recipe["eye_gap"] * R
        inner, outer = x - side * 1.1 * e, x + side * 1.1 * e
        if style == "flat":
            cv.line([(inner, y), (outer, y)], _INK, lw)
        elif style == "raised":
            cv.arc(x, y - 0.2 * e, 1.1 * e, 0.7 * e, 200, 340, _INK, lw)
        elif style in ("angry", "sad"):
            tilt = 0.55 * e if style == "angry" else -0.55 * e
            cv.line([(inner, y + tilt), (outer, y - tilt)], _INK, lw)


def _draw_mouth(cv: _Canvas, recipe: dict, cx, cy, R, lw):
    style, w, y = recipe["mouth"], recipe["mouth_w"] * R, cy + recipe["mouth_y"] * R
    if style in ("smile", "tongue_out"):
        cv.arc(cx, y - 0.45 * w, w, 0.6 * w, 20, 160, _MOUTH_INK, lw)
        if style == "tongue_out":
            cv.chord(cx + 0.2 * w, y + 0.05 * w, 0.3 * w, 0.38 * w, 0, 180, _TONGUE)
    elif style == "smirk":
        cv.arc(cx, y - 0.45 * w, w, 0.6 * w, 20, 100, _MOUTH_INK, lw)
        cv.line([(cx - 0.6 * w, y + 0.15 * w), (cx, y + 0.15 * w)], _MOUTH_INK, lw)
    elif style in ("grin_open", "d_grin"):
        cv.chord(cx, y - 0.2 * w, w, 0.7 * w, 0, 180, _MOUTH_INK)
        if style == "grin_open":
            cv.chord(cx, y + 0.38 * w, 0.5 * w, 0.12 * w, 180, 360, _TONGUE)
        else:
            cv.draw.rectangle(cv.box(cx, y - 0.11 * w, 0.85 * w, 0.09 * w), fill=WHITE)
    elif style == "flat":
        cv.line([(cx - 0.7 * w, y), (cx + 0.7 * w, y)], _MOUTH_INK, lw)
    elif style == "frown":
        cv.arc(cx, y + 0.45 * w, w, 0.6 * w, 200, 340, _MOUTH_INK, lw)
    elif style == "open_o":
        cv.ellipse(cx, y, 0.32 * w, 0.42 * w, fill=_MOUTH_INK)
    elif style == "wavy":
        xs = np.linspace(-0.8 * w, 0.8 * w, 25)
        cv.line([(cx + x, y + 0.14 * w * math.sin(x / w * 2.5 * math.pi)) for x in xs],
                _MOUTH_INK, lw)
    elif style == "grimace":
        cv.rounded_rect(cx, y, w, 0.28 * w, 0.12 * w, fill=WHITE, outline=_MOUTH_INK,
                        width=0.6 * lw)
        cv.line([(cx - w, y), (cx + w, y)], _MOUTH_INK, 0.5 * lw)
        for k in (-0.5, 0.0, 0.5):
            cv.line([(cx + k * w, y - 0.28 * w), (cx + k * w, y + 0.28 * w)], _MOUTH_INK,
                    0.5 * lw)
    else:
        raise ValueError(f"unknown mouth style {style!r}")


def _draw_extras(cv: _Canvas, recipe: dict, cx, cy, R):
    ey, gap = cy + recipe["eye_y"] * R, recipe["eye_gap"] * R
    face = EMOJI_FACE_COLORS[recipe["face_color"]]
    for extra in recipe["extras"]:
        if extra == "blush":
            for side in (-1, 1):
                cv.ellipse(cx + side * (gap + 0.08 * R), ey + 0.32 * R, 0.14 * R, 0.07 * R,
                           fill=_mix(face, (255, 96, 128), 0.55))
        elif extra == "tears":
            for side in (-1, 1):
                _drop(cv, cx + side * (gap + 0.08 * R), ey + 0.33 * R, 0.07 * R, _BLUE)
        elif extra == "sweat":
            _drop(cv, cx - 0.6 * R, cy - 0.42 * R, 0.09 * R, _BLUE)
        elif extra == "hearts":
            for hx, hy, s in ((-0.85, -0.8, 0.26), (0.9, -0.6, 0.2), (0.8, 0.85, 0.16)):
                cv.polygon(_heart(cx + hx * R, cy + hy * R, s * R), _RED)
        elif extra == "anger_mark":
            ax, ay, s = cx + 0.62 * R, cy - 0.62 * R, 0.075 * R
            for qx, qy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
                mid = math.degrees(math.atan2(-qy, -qx))
                cv.arc(ax + 2 * qx * s, ay + 2 * qy * s, 1.5 * s, 1.5 * s, mid - 50, mid + 50,
                       _RED, 0.03)
        elif extra == "sparkles":
            for sx, sy, s in ((-0.82, -0.82, 0.16), (0.86, -0.72, 0.12)):
                cv.polygon(_star(cx + sx * R, cy + sy * R, s * R, 0.3 * s * R, 4), (250, 200, 30))


def render_emoji(recipe: dict, res: int = 64) -> Image.Image:
    """Draw one emoji recipe as an RGB image on white."""
    cv = _Canvas(res, unit=res)
    R = 0.42 * recipe["scale"]
    cx, cy = 0.5 + recipe["dx"], 0.5 + recipe["dy"]
    lw = 0.045 * R
    _draw_face(cv, recipe, cx, cy, R)
    _draw_eyes(cv, recipe, cx, cy, R, lw)
    _draw_brows(cv, recipe, cx, cy, R, lw)
    _draw_mouth(cv, recipe, cx, cy, R, lw)
    _draw_extras(cv, recipe, cx, cy, R)
    return cv.result()


def build_emoji_set(out, seed: int = 0, res: int = 64, n_per_class: int = 402,
                    progress: bool = False) -> dict:
    """Build the emoji stand-in set in ``out`` and return its manifest.

    ``manifest.json`` holds ``name``, ``kind``, ``note``, ``params`` (the builder's
    arguments), ``count``, ``counts`` (per label), ``seed``, ``res``, ``code_version`` and
    ``images``: ``{"file", "sha256", "label", "recipe"}`` per image, sorted by file.
    """
    res = _check_res(res)
    recipes = emoji_recipes(seed, n_per_class)
    items = [(f"{i:05d}_{emoji_label(r)}.png", emoji_label(r), r) for i, r in enumerate(recipes)]
    header = _header("emoji", "emoji-standin", seed, res, items, {"n_per_class": n_per_class},
                     "Synthetic stand-in for paper A's crawled 'Emoji Generator' set: emojis "
                     "composed from parts; label = sign of the summed part valences.")
    return _write_set(out, header, items, render_emoji, progress)


# --------------------------------------------------------------------------------------
# Shape set (paper B's shape learning)
# --------------------------------------------------------------------------------------
def _random_color(rng: np.random.Generator) -> list[int]:
    h, s, v = rng.uniform(0, 1), rng.uniform(0.45, 1.0), rng.uniform(0.35, 0.9)
    return [round(c * 255) for c in colorsys.hsv_to_rgb(h, s, v)]


def _centre(rng, reach: float, res: int) -> tuple[float, float]:
    """A centre (output px) keeping a radius ``reach`` (fraction of the frame) inside."""
    lo, hi = reach + 0.02, 0.98 - reach
    return _u(rng, lo, hi) * res, _u(rng, lo, hi) * res


def _px(v: float, res: int) -> float:
    return round(v * res, 2)


def _shape_recipe(kind: str, rng: np.random.Generator, res: int) -> dict:
    recipe = {"kind": kind, "color": _random_color(rng)}
    if kind in ("circle", "ring", "concentric"):
        r = _u(rng, 0.1 if kind == "circle" else 0.15, 0.42)
        cx, cy = _centre(rng, r, res)
        recipe.update(cx=round(cx, 2), cy=round(cy, 2), r=_px(r, res))
        if kind == "ring":
            recipe["width"] = _px(_u(rng, 0.03, 0.3 * r), res)
        elif kind == "concentric":
            k = int(rng.integers(2, 5))
            recipe["radii"] = [_px(r * (j + 1) / k, res) for j in range(k)]
            recipe["width"] = _px(0.4 * r / k, res)
    elif kind in ("ellipse", "rectangle"):
        a, b = _u(rng, 0.08, 0.42), _u(rng, 0.08, 0.42)
        if kind == "rectangle" and math.hypot(a, b) > 0.45:
            a, b = (round(v * 0.45 / math.hypot(a, b), 3) for v in (a, b))
        if kind == "ellipse" and abs(a - b) < 0.06:
            b = round(max(0.08, a - 0.12) if a > 0.25 else a + 0.12, 3)
        cx, cy = _centre(rng, max(a, b) if kind == "ellipse" else math.hypot(a, b), res)
        names = ("rx", "ry") if kind == "ellipse" else ("hw", "hh")  # radii or half-sizes
        recipe.update({"cx": round(cx, 2), "cy": round(cy, 2), names[0]: _px(a, res),
                       names[1]: _px(b, res), "angle": _u(rng, 0, 180, 1)})
    elif kind == "plane":
        recipe.update(_plane_recipe(rng, res))
    else:
        raise ValueError(f"unknown shape kind {kind!r}")
    return recipe


def _plane_recipe(rng: np.random.Generator, res: int) -> dict:
    """A half-plane (clipped to the frame) or a large convex polygon, as output-px vertices."""
    if rng.uniform() < 0.5:
        angle, offset = _u(rng, 0, 360, 1), _u(rng, -0.25, 0.25)
        return {"variant": "half_plane", "angle": angle, "offset": _px(offset, res),
                "vertices": [[_px(x, res), _px(y, res)] for x, y in _half_plane(angle, offset)]}
    n = int(rng.integers(3, 7))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    cx, cy = _u(rng, 0.35, 0.65), _u(rng, 0.35, 0.65)
    radii = rng.uniform(0.35, 0.6, n)
    return {"variant": "polygon",
            "vertices": [[_px(cx + r * math.cos(a), res), _px(cy + r * math.sin(a), res)]
                         for a, r in zip(angles, radii)]}


def _half_plane(angle_deg: float, offset: float) -> list[tuple[float, float]]:
    """The unit square clipped to {p : (p - centre) . n >= offset} (one Sutherland-Hodgman step)."""
    nx, ny = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    side = lambda p: (p[0] - 0.5) * nx + (p[1] - 0.5) * ny - offset  # noqa: E731
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    out = []
    for p, q in zip(square, square[1:] + square[:1]):
        sp, sq = side(p), side(q)
        if sp >= 0:
            out.append(p)
        if sp * sq < 0:
            t = sp / (sp - sq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def render_shape(recipe: dict, res: int = 64) -> Image.Image:
    """Draw one shape recipe (geometry in output px) as an RGB image on white."""
    cv = _Canvas(res, unit=1.0)
    kind, color = recipe["kind"], tuple(recipe["color"])
    if kind == "circle":
        cv.ellipse(recipe["cx"], recipe["cy"], recipe["r"], fill=color)
    elif kind == "ring":
        cv.ellipse(recipe["cx"], recipe["cy"], recipe["r"], outline=color, width=recipe["width"])
    elif kind == "concentric":
        for r in recipe["radii"]:
            cv.ellipse(recipe["cx"], recipe["cy"], r, outline=color, width=recipe["width"])
    elif kind == "ellipse":
        cv.polygon(_ellipse_points(recipe["cx"], recipe["cy"], recipe["rx"], recipe["ry"],
                            recipe["angle"]), color)
    elif kind == "rectangle":
        cv.polygon(_rectangle(recipe["cx"], recipe["cy"], recipe["hw"], recipe["hh"],
                              recipe["angle"]), color)
    elif kind == "plane":
        cv.polygon([tuple(v) for v in recipe["vertices"]], color)
    return cv.result()


def build_shape_set(out, n: int = 1000, res: int = 64, seed: int = 0,
                    progress: bool = False) -> dict:
    """Build paper B's shape-learning set (label = kind, balanced); return its manifest."""
    res = _check_res(res)
    rng = np.random.default_rng(seed)
    kinds = [SHAPE_KINDS[i % len(SHAPE_KINDS)] for i in range(n)]
    width = max(5, len(str(n - 1)))
    items = [(f"{i:0{width}d}_{k}.png", k, _shape_recipe(k, rng, res)) for i, k in enumerate(kinds)]
    header = _header("shapes", "shapes", seed, res, items, {"n": n},
                     "Paper B shape-learning images: circles, ellipses, rings, concentric "
                     "circles, planes and rectangles on white; label = shape kind; geometry "
                     "in output pixels.")
    return _write_set(out, header, items, render_shape, progress)


# --------------------------------------------------------------------------------------
# Artist stand-ins (paper B)
# --------------------------------------------------------------------------------------
DONGLEIN_FACE_COLORS = ((255, 236, 200), (255, 214, 222), (255, 224, 170), (214, 236, 255),
                        (226, 246, 214), (250, 250, 244), (255, 196, 160))
GEOMETRIC_PALETTE = ((230, 57, 70), (241, 196, 83), (29, 53, 87), (69, 123, 157),
                     (42, 157, 143), (20, 20, 20))
GEOMETRIC_BACKGROUNDS = ((244, 241, 222), (255, 255, 255), (233, 228, 212))
_CHEEK = (255, 140, 150)


def _circle(cx: float, cy: float, r: float, res: int, **extra) -> dict:
    """A circle given in frame fractions, recorded in output pixels."""
    return {"cx": _px(cx, res), "cy": _px(cy, res), "r": _px(r, res), **extra}


def _donglein_recipe(rng: np.random.Generator, res: int) -> dict:
    r = _u(rng, 0.33, 0.42)
    reach = 0.47 - r
    cx, cy = 0.5 + _u(rng, -reach, reach), 0.5 + _u(rng, -reach, reach)
    gap, ey, er = _u(rng, 0.3, 0.45) * r, cy + _u(rng, -0.2, 0.05) * r, _u(rng, 0.16, 0.24) * r
    lx, ly, pr = _u(rng, -0.25, 0.25) * er, _u(rng, -0.25, 0.25) * er, _u(rng, 0.35, 0.55) * er
    eyes = [(cx + s * gap, ey) for s in (-1, 1)]
    inner = [_circle(x + lx, y + ly, pr, res, role="pupil") for x, y in eyes]
    cheeks = bool(rng.uniform() < 0.5)
    if cheeks:
        cr = _u(rng, 0.08, 0.12) * r
        inner += [_circle(cx + s * (gap + 0.12 * r), ey + er + 0.14 * r, cr, res, role="cheek")
                  for s in (-1, 1)]
    return {
        "background": list(_mix(_random_color(rng), WHITE, 0.85)),
        "face_color": list(_pick(rng, DONGLEIN_FACE_COLORS)),
        "outline_width": _px(_u(rng, 0.012, 0.022), res),
        "main_circle": _circle(cx, cy, r, res),
        "eyes": [_circle(x, y, er, res) for x, y in eyes],
        "inner_circles": inner,
        "n_inner_circles": len(inner),
        "cheeks": cheeks,
        "mouth": _pick(rng, ("smile", "flat", "none")),
    }


def _geometric_recipe(rng: np.random.Generator, res: int) -> dict:
    planes = []
    for _ in range(int(rng.integers(1, 3))):
        color = list(_pick(rng, GEOMETRIC_PALETTE))
        if rng.uniform() < 0.5:
            pos, half = _u(rng, 0.1, 0.9), _u(rng, 0.04, 0.15)
            box = [(0.0, pos - half), (1.0, pos - half), (1.0, pos + half), (0.0, pos + half)]
            if rng.uniform() < 0.5:
                box = [(y, x) for x, y in box]
            planes.append({"variant": "stripe", "color": color,
                           "vertices": [[_px(x, res), _px(y, res)] for x, y in box]})
        else:
            angle, offset = _u(rng, 0, 360, 1), _u(rng, 0.0, 0.35)
            planes.append({"variant": "half_plane", "color": color,
                           "vertices": [[_px(x, res), _px(y, res)]
                                        for x, y in _half_plane(angle, offset)]})
    circles = []
    for _ in range(int(rng.integers(2, 5))):
        r = _u(rng, 0.08, 0.3)
        cx, cy = _centre(rng, r, 1)
        kind = _pick(rng, ("disc", "ring"))
        width = _px(_u(rng, 0.15, 0.35) * r, res) if kind == "ring" else 0.0
        circles.append(_circle(cx, cy, r, res, kind=kind, width=width,
                               color=list(_pick(rng, GEOMETRIC_PALETTE))))
    main = max(circles, key=lambda c: c["r"])
    return {"background": list(_pick(rng, GEOMETRIC_BACKGROUNDS)), "planes": planes,
            "circles": circles, "n_circles": len(circles),
            "main_circle": {k: main[k] for k in ("cx", "cy", "r")}}


def _render_donglein(recipe: dict, res: int) -> Image.Image:
    cv = _Canvas(res, unit=1.0, fill=tuple(recipe["background"]))
    lw, m = recipe["outline_width"], recipe["main_circle"]
    cv.ellipse(m["cx"], m["cy"], m["r"], fill=tuple(recipe["face_color"]), outline=_INK, width=lw)
    for eye in recipe["eyes"]:
        cv.ellipse(eye["cx"], eye["cy"], eye["r"], fill=WHITE, outline=_INK, width=0.7 * lw)
    for c in recipe["inner_circles"]:
        cv.ellipse(c["cx"], c["cy"], c["r"], fill=_INK if c["role"] == "pupil" else _CHEEK)
    mx, my, w = m["cx"], m["cy"] + 0.4 * m["r"], 0.16 * m["r"]
    if recipe["mouth"] == "smile":
        cv.arc(mx, my - 0.5 * w, w, 0.7 * w, 20, 160, _INK, 0.8 * lw)
    elif recipe["mouth"] == "flat":
        cv.line([(mx - w, my), (mx + w, my)], _INK, 0.8 * lw)
    return cv.result()


def _render_geometric(recipe: dict, res: int) -> Image.Image:
    cv = _Canvas(res, unit=1.0, fill=tuple(recipe["background"]))
    for plane in recipe["planes"]:
        cv.polygon([tuple(v) for v in plane["vertices"]], tuple(plane["color"]))
    for c in recipe["circles"]:
        if c["kind"] == "ring":
            cv.ellipse(c["cx"], c["cy"], c["r"], outline=tuple(c["color"]), width=c["width"])
        else:
            cv.ellipse(c["cx"], c["cy"], c["r"], fill=tuple(c["color"]))
    return cv.result()


_ARTIST = {"donglein": (_donglein_recipe, _render_donglein,
                        "a round character in the spirit of Yang Dae-won's 'Donglein'"),
           "geometric": (_geometric_recipe, _render_geometric,
                         "a geometric abstraction of circles, rings and flat planes")}


def render_artist(recipe: dict, res: int = 64, style: str = "donglein") -> Image.Image:
    """Draw one artist stand-in recipe of ``style`` (see :data:`ARTIST_STYLES`)."""
    return _ARTIST[_check_style(style)][1](recipe, res)


def _check_style(style: str) -> str:
    if style not in ARTIST_STYLES:
        raise ValueError(f"unknown artist style {style!r}; choose from {ARTIST_STYLES}")
    return style


def build_artist_set(out, style: str, n: int = 400, res: int = 64, seed: int = 0,
                     progress: bool = False) -> dict:
    """Build a synthetic stand-in for one of paper B's artists; return its manifest.

    Recipes record ``main_circle`` (cx, cy, r in output pixels) for circle fidelity;
    ``donglein`` recipes also record ``inner_circles`` and ``n_inner_circles``.
    """
    res = _check_res(res)
    make, render, what = _ARTIST[_check_style(style)]
    rng = np.random.default_rng(seed)
    width = max(5, len(str(n - 1)))
    items = [(f"{i:0{width}d}_{style}.png", style, make(rng, res)) for i in range(n)]
    header = _header(f"artist_{style}", "artist-standin", seed, res, items,
                     {"style": style, "n": n},
                     f"SYNTHETIC STAND-IN, not real artwork: paper B's artworks are not "
                     f"public; this set is {what}, drawn by code.")
    return _write_set(out, header, items, render, progress)


def build_all(out, seed: int = 0, res: int = 64, n_shapes: int = 1000,
              n_artist: int = 400) -> dict[str, dict]:
    """Build every set under ``out`` (folders :data:`SET_NAMES`); return name -> manifest."""
    out = Path(out)
    return {
        "emoji": build_emoji_set(out / "emoji", seed=seed, res=res, progress=True),
        "shapes": build_shape_set(out / "shapes", n=n_shapes, res=res, seed=seed,
                                  progress=True),
        **{f"artist_{s}": build_artist_set(out / f"artist_{s}", s, n=n_artist, res=res,
                                           seed=seed, progress=True) for s in ARTIST_STYLES},
    }


def build_mixed_set(out, parts: dict, res: int = 64, seed: int = 0,
                    progress: bool = False) -> dict:
    """Mix image folders into one set, e.g. paper B's shape learning "artist + shapes".

    ``parts`` maps a name to ``(folder, n)``: ``n`` images drawn without replacement (or
    all, when ``n`` is None) from that folder with a seeded shuffle. Each image's recipe
    records its source name, original file and that file's sha256 (the provenance); the
    label is the source name. Deterministic from the seed like every other set.
    """
    rng = np.random.default_rng(seed)
    items, params = [], {}
    for name, (folder, n) in parts.items():
        files = image_files(folder)
        if not files:
            raise FileNotFoundError(f"no images in {folder} (part {name!r} of the mix)")
        take = len(files) if n is None else int(n)
        if not 0 < take <= len(files):
            raise ValueError(f"part {name!r} asks for {n} images; {folder} has {len(files)}")
        chosen = [files[i] for i in sorted(rng.permutation(len(files))[:take])]
        params[name] = {"folder": str(folder), "n": take}
        for path in chosen:
            recipe = {"source": name, "file": path.relative_to(folder).as_posix(),
                      "path": str(path), "source_sha256": file_sha256(path)}
            items.append((f"{len(items):05d}_{name}.png", name, recipe))
    header = _header("mixed", "mixed", seed, res, items, params,
                     "mixture of image folders; each recipe names its source file")

    def render(recipe: dict, size: int) -> Image.Image:
        return Image.fromarray(_read_image(Path(recipe["path"]), size))

    return _write_set(out, header, items, render, progress)


@dataclass
class HeldOutSplit:
    """A set split by :func:`split_held_out`: ``train`` and ``held_out`` folders."""

    source: Path
    train: Path
    held_out: Path
    n_train: int
    n_held_out: int


#: Default share of an artist set held out from every model (our choice). 20 % of the
#: 400-image stand-ins is 80 images: KID is unbiased at that size and FID, though biased
#: upward at small n, is compared only with the real-vs-real floor measured against the same
#: 80 images at the same sample count. A larger share takes more images away from training
#: (320 of 400 stay); a smaller one (40 images at 10 %) leaves a noisier reference.
HELD_OUT_FRAC = 0.2


def split_held_out(folder, held_out_frac: float = HELD_OUT_FRAC, seed: int = 0,
                   out_root=None) -> HeldOutSplit:
    """Split an image folder into a training part and a held-out part no model trains on.

    ``k = round(frac * n)`` images (at least 1, leaving at least 1) chosen by a seeded
    permutation of the sorted files (:func:`image_files`) go to ``<folder>_heldout``, the
    other ``n - k`` to ``<folder>_train`` -- sibling folders of ``folder``, or
    ``<out_root>/<name>_heldout`` / ``_train``. The two are disjoint and together hold
    every image once. Both are sets in the usual form (``NNNNN.png`` + ``manifest.json``,
    read by :func:`load_folder`, :func:`image_files`, :func:`manifest_hash`): each image
    keeps the source manifest's label and recipe (e.g. ``n_inner_circles``, which
    :func:`paperlib.curation.inner_counts_of` reads) -- without a manifest, the sub-folder
    name (else ``"image"``) is the label -- and its recipe adds ``source_file``, ``path``
    and ``source_sha256`` (the provenance). Pixels are copied unchanged at the source's
    resolution (its manifest's ``res``, else the first image's width; other sizes are
    centre-cropped and resized like :func:`load_folder` does).

    The source is only read. Each part is written to a temporary folder renamed into place
    (:func:`build_mixed_set` does the same), so an interrupted run leaves no half-written
    part; a second call with the same source (manifest and file hashes), fraction and seed
    reuses both parts without writing, and a changed source rebuilds them.

    Raises ``FileNotFoundError`` for a missing folder, ``ValueError`` for a fraction not in
    (0, 1), fewer than 2 images, an image that cannot be read (named; nothing is written)
    or an ``out_root`` inside ``folder``.
    """
    src = Path(folder)
    if not src.is_dir():
        raise FileNotFoundError(f"data folder not found: {src}")
    if isinstance(held_out_frac, bool) or not isinstance(held_out_frac, numbers.Real) \
            or not 0.0 < float(held_out_frac) < 1.0:
        raise ValueError(f"held_out_frac must be in (0, 1), got {held_out_frac!r}")
    root = Path(out_root) if out_root is not None else src.parent
    if root.resolve() == src.resolve() or src.resolve() in root.resolve().parents:
        raise ValueError(f"out_root {root} is inside the folder being split ({src}); "
                         "the parts would become part of the source")
    files = image_files(src)
    if len(files) < 2:
        raise ValueError(f"{src} has {len(files)} image(s): a held-out split needs at least 2 "
                         "(one to train on, one to hold out)")
    k = min(len(files) - 1, max(1, int(round(float(held_out_frac) * len(files)))))
    try:
        manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
        by_file = {e["file"]: e for e in manifest["images"]}
        res = int(manifest["res"])
    except (OSError, ValueError, KeyError, TypeError):
        by_file = {}
        try:
            with Image.open(files[0]) as im:
                res = int(im.size[0])
        except (OSError, SyntaxError, ValueError) as err:
            raise ValueError(f"cannot split {src}: image {files[0].name} cannot be read "
                             f"({type(err).__name__}: {err})") from err
    pixels = {}
    for path in files:  # read everything first: a bad file stops the split before any write
        try:
            pixels[str(path.absolute())] = _read_image(path, res)
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
            raise ValueError(f"cannot split {src}: image {path.relative_to(src).as_posix()} "
                             f"cannot be read ({type(err).__name__}: {err}); fix or remove it"
                             ) from err
    order = np.random.default_rng(seed).permutation(len(files))
    held_idx = set(order[:k].tolist())
    params = {"source": str(src.resolve()), "source_hash": manifest_hash(src),
              "held_out_frac": float(held_out_frac), "seed": int(seed)}
    out = {}
    for part, wanted in (("train", False), ("heldout", True)):
        items = []
        for i, path in enumerate(files):
            if (i in held_idx) != wanted:
                continue
            rel = path.relative_to(src)
            entry = by_file.get(rel.as_posix(), {})
            label = entry.get("label", rel.parts[0] if len(rel.parts) > 1 else "image")
            recipe = {**entry.get("recipe", {}), "source_file": rel.as_posix(),
                      "path": str(path.absolute()), "source_sha256": file_sha256(path)}
            items.append((f"{len(items):05d}.png", label, recipe))
        header = _header(f"{src.name}_{part}", "held-out split", seed, res, items,
                         {**params, "part": part},
                         f"{part} part of {src.name}: a seeded split, {k} of {len(files)} "
                         "images held out from every model")

        def render(recipe: dict, size: int) -> Image.Image:
            return Image.fromarray(pixels[recipe["path"]])

        _write_set(root / f"{src.name}_{part}", header, items, render, False)
        out[part] = root / f"{src.name}_{part}"
    return HeldOutSplit(src, out["train"], out["heldout"], len(files) - k, k)


def profile_sets(profile, seed: int = 0) -> dict[str, Path]:
    """The data sets of a profile under ``data/<profile>/``, built on first use (a second
    call reuses them); returns set name -> folder."""
    from .config import data_dir, get_profile

    prof = get_profile(profile)
    out = data_dir(prof)
    build_all(out, seed=seed, res=prof.res, n_shapes=prof.n_shapes, n_artist=prof.n_artist)
    return {name: out / name for name in SET_NAMES}


# --------------------------------------------------------------------------------------
# Writing a set safely
# --------------------------------------------------------------------------------------
def _header(name: str, kind: str, seed: int, res: int, items: list, params: dict,
            note: str) -> dict:
    counts: dict[str, int] = {}
    for _, label, _ in items:
        counts[label] = counts.get(label, 0) + 1
    return {"name": name, "kind": kind, "note": note, "params": params, "count": len(items),
            "counts": counts, "seed": int(seed), "res": res, "code_version": CODE_VERSION}


def _dumps(manifest: dict) -> str:
    return json.dumps(manifest, sort_keys=True, indent=1) + "\n"


def _write_set(out, header: dict, items: list, render: Callable[[dict, int], Image.Image],
               progress: bool) -> dict:
    """Render ``items`` (file, label, recipe) into ``out`` unless an identical set is there."""
    out = Path(out)
    previous = _previous_set(out)
    if previous is not None and _same_set(previous, header, items, out):
        return previous
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        images = []
        for file, label, recipe in tqdm(items, desc=header["name"], unit="img",
                                        disable=not progress):
            data = _png_bytes(render(recipe, header["res"]))
            (tmp / file).write_bytes(data)
            images.append({"file": file, "sha256": _sha256(data), "label": label,
                           "recipe": recipe})
        text = _dumps({**header, "images": sorted(images, key=lambda e: e["file"])})
        (tmp / MANIFEST).write_text(text, encoding="utf-8")
        tmp.chmod(0o755)
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return json.loads(text)


def _previous_set(out: Path) -> dict | None:
    """The manifest of the set already in ``out``; None if ``out`` is missing or empty.

    Raises ``FileExistsError`` for anything that is not one of our sets, so user data is
    never replaced: a file, a non-empty folder without a readable manifest of ours, or a
    set folder holding files its manifest does not list.
    """
    if not out.exists():
        return None
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; refusing to replace it")
    if not any(out.iterdir()):
        return None
    refuse = f"refusing to write into {out}: it is not empty and"
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise FileExistsError(f"{refuse} has no readable {MANIFEST} ({err}), so it is not "
                              "a data set built by paperlib.data") from None
    if not (isinstance(manifest, dict) and "code_version" in manifest
            and isinstance(manifest.get("images"), list)):
        raise FileExistsError(f"{refuse} its {MANIFEST} was not written by paperlib.data")
    listed = {e["file"] for e in manifest["images"]} | {MANIFEST}
    unknown = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                     if not p.is_dir() and p.relative_to(out).as_posix() not in listed)
    if unknown:
        raise FileExistsError(f"{refuse} holds files its {MANIFEST} does not list: "
                              f"{', '.join(unknown[:5])}")
    return manifest


def _same_set(manifest: dict, header: dict, items: list, out: Path) -> bool:
    """Whether ``manifest`` is exactly what building ``items`` would write, files intact."""
    head = {k: v for k, v in manifest.items() if k != "images"}
    wanted = json.loads(json.dumps([[f, label, r] for f, label, r in items]))
    have = [[e["file"], e["label"], e["recipe"]] for e in manifest["images"]]
    if head != json.loads(json.dumps(header)) or have != wanted:
        return False
    return all((out / e["file"]).is_file() and file_sha256(out / e["file"]) == e["sha256"]
               for e in manifest["images"])


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``, replacing an empty folder or a previous set of ours."""
    if out.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        out.rename(trash / out.name)
        tmp.rename(out)
        shutil.rmtree(trash)
    else:
        tmp.rename(out)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------
# Loading a user folder
# --------------------------------------------------------------------------------------
@dataclass
class LoadedImages:
    """Images loaded by :func:`load_folder`."""

    images: torch.Tensor                 # float32 (N, 3, res, res) in [-1, 1]
    paths: list[Path]                    # the loaded files, sorted
    labels: list[str | None]             # manifest label, else sub-folder name, else None
    skipped: list[tuple[Path, str]]      # (file, reason) for files that could not be read

    def __len__(self) -> int:
        return len(self.paths)


def image_files(path, recursive: bool = True) -> list[Path]:
    """Sorted files under ``path`` with an image extension; hidden files/folders skipped."""
    root = Path(path)
    found = root.rglob("*") if recursive else root.glob("*")
    return sorted(p for p in found if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB; transparency composited on white, 16-bit and float greyscale scaled to 8 bits."""
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, WHITE + (255,)),
                                     rgba).convert("RGB")
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        return Image.fromarray((arr.clip(0, top) / top * 255).round().astype(np.uint8), "L") \
            .convert("RGB")
    return im.convert("RGB")


def _read_image(path: Path, res: int) -> np.ndarray:
    """(res, res, 3) uint8 from an image file, opened read-only; raises on bad files."""
    if path.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    with open(path, "rb") as f:
        with Image.open(f) as im:
            im.verify()
        f.seek(0)
        with Image.open(f) as im:
            im.load()
            rgb = _to_rgb(ImageOps.exif_transpose(im))
    return np.asarray(ImageOps.fit(rgb, (res, res), Image.LANCZOS, centering=(0.5, 0.5)))


def _manifest_labels(root: Path) -> dict[str, str] | None:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        return {e["file"]: e["label"] for e in manifest["images"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_folder(path, res: int = 64, strict: bool = False,
                recursive: bool = True) -> LoadedImages:
    """Load every image under ``path`` as a float tensor (N, 3, res, res) in [-1, 1].

    Files with extensions png, jpg, jpeg, webp or bmp (any case) are read; other files
    (``manifest.json``, ``README.txt``, ...) and hidden files or folders (``.name``) are
    ignored without a warning. Transparency is composited on white, greyscale becomes RGB,
    and every image is centre-cropped to a square and resized to ``res`` with Lanczos.
    Files that cannot be decoded (empty, truncated, corrupt, not an image) are skipped with
    one warning naming each and why; ``strict=True`` raises ``ValueError`` on the first.
    A missing path, or one with no image files, raises ``FileNotFoundError``; a folder
    whose image files all fail raises ``ValueError``. The folder is only read.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"image folder not found: {root}")
    if not root.is_dir():
        raise ValueError(f"not a folder: {root}")
    files = image_files(root, recursive)
    if not files:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {root}")
    arrays, paths, skipped = [], [], []
    for file in files:
        try:
            arrays.append(_read_image(file, res))
            paths.append(file)
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
            reason = f"{type(err).__name__}: {err}"
            if strict:
                raise ValueError(f"cannot load image {file}: {reason}") from err
            skipped.append((file, reason))
    report = "\n".join(f"  {p}: {why}" for p, why in skipped)
    if not paths:
        raise ValueError(f"no loadable images in {root}; every image file failed:\n{report}")
    if skipped:
        warnings.warn(f"load_folder({root}): skipped {len(skipped)} unreadable file(s):\n"
                      f"{report}", stacklevel=2)
    by_file = _manifest_labels(root)
    rels = [p.relative_to(root) for p in paths]
    labels = ([by_file.get(r.as_posix()) for r in rels] if by_file is not None
              else [r.parts[0] if len(r.parts) > 1 else None for r in rels])
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return LoadedImages(images.contiguous(), paths, labels, skipped)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] (any shape) to uint8 in [0, 255], clamped and rounded."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def save_images(x: torch.Tensor, folder, prefix: str = "img") -> list[Path]:
    """Save (N, C, H, W) or (C, H, W) images in [-1, 1] (C = 1 or 3) as numbered PNGs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    batch = to_uint8(x if x.dim() == 4 else x.unsqueeze(0)).cpu()
    paths = []
    for i, img in enumerate(batch):
        arr = img.permute(1, 2, 0).numpy()
        pil = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
        path = folder / f"{prefix}_{i:05d}.png"
        path.write_bytes(_png_bytes(pil))
        paths.append(path)
    return paths


def manifest_hash(path) -> str:
    """Identity of a data folder (the FID cache key).

    sha256 of ``manifest.json`` when present, else of the sorted (relative path, file
    sha256) list of the folder's image files.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if (root / MANIFEST).is_file():
        return file_sha256(root / MANIFEST)
    h = hashlib.sha256()
    for file in image_files(root):
        h.update(f"{file.relative_to(root).as_posix()}\t{file_sha256(file)}\n".encode())
    return h.hexdigest()
