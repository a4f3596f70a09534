"""The emoji stand-in set (paper A): recipes, rendering, and the two-class set.

A synthetic stand-in for paper A's 804 crawled emojis (402 positive + 402 negative; the
real set is not public). Each emoji is composed from parts: face (shape, colour, flat or
radial gradient), eyes, brows, mouth and extras. Label rule: every part style has a
valence (:data:`EYE_VALENCE`, :data:`BROW_VALENCE`, :data:`MOUTH_VALENCE`,
:data:`EXTRA_VALENCE`); :func:`emoji_score` sums them and the label is the sign (a score of
0 is never drawn). No two emojis of a set share a part combination. Jitter values in a
recipe are fractions of the face radius or of the frame.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from ..utils.images import check_res
from .draw import WHITE, Canvas, drop, grid, heart, mix, pick, sha256_hex, shade, star, uniform
from .folders import MANIFEST, file_sha256, manifest_text, read_manifest, set_header, write_set
from .paired import SUPERSAMPLE

# Emoji parts and the label rule --------------------------------------------------------
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


INK = (62, 40, 30)


_MOUTH_INK = (96, 32, 36)


_RED = (226, 52, 64)


_BLUE = (92, 168, 240)


_TONGUE = (240, 110, 130)


def emoji_score(recipe: dict) -> int:
    """Sum of the part valences of an emoji recipe (eyes + brows + mouth + each extra)."""
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


# Emoji set -----------------------------------------------------------------------------
def _emoji_recipe(rng: np.random.Generator) -> dict:
    n_extras = int(rng.choice(3, p=[0.5, 0.35, 0.15]))
    extras = sorted(rng.choice(len(EMOJI_EXTRAS), size=n_extras, replace=False).tolist())
    return {
        "face_shape": pick(rng, EMOJI_FACE_SHAPES),
        "face_color": pick(rng, tuple(EMOJI_FACE_COLORS)),
        "gradient": pick(rng, EMOJI_GRADIENTS),
        "eyes": pick(rng, EMOJI_EYES),
        "brows": pick(rng, EMOJI_BROWS),
        "mouth": pick(rng, EMOJI_MOUTHS),
        "extras": [EMOJI_EXTRAS[i] for i in extras],
        "dx": uniform(rng, -0.03, 0.03), "dy": uniform(rng, -0.03, 0.03),   # face offset (frame)
        "scale": uniform(rng, 0.9, 1.0),                                # face radius factor
        "eye_gap": uniform(rng, 0.32, 0.42), "eye_y": uniform(rng, -0.28, -0.12),  # x face radius
        "mouth_y": uniform(rng, 0.3, 0.45), "mouth_w": uniform(rng, 0.3, 0.48),    # x face radius
    }


def emoji_key(recipe: dict) -> tuple:
    """An emoji recipe's part combination (what no two emojis of a set share)."""
    return (recipe["face_shape"], recipe["face_color"], recipe["gradient"], recipe["eyes"],
            recipe["brows"], recipe["mouth"], tuple(recipe["extras"]))



def emoji_recipes(seed: int = 0, n_per_class: int = 402, exclude=()) -> list[dict]:
    """Draw recipes until each label has ``n_per_class``; part combinations are unique and
    none is one of ``exclude`` (part-combination keys, :func:`emoji_key`)."""
    rng = np.random.default_rng(seed)
    want = {label: n_per_class for label in EMOJI_LABELS}
    excluded = {tuple(k) for k in exclude}
    seen: set[tuple] = set()
    out: list[dict] = []
    for _ in range(200 * (2 * n_per_class + 10)):
        if not any(want.values()):
            break
        recipe = _emoji_recipe(rng)
        key, score = emoji_key(recipe), emoji_score(recipe)
        if score == 0 or key in seen or key in excluded:
            continue
        label = emoji_label(recipe)
        if want[label]:
            want[label] -= 1
            seen.add(key)
            out.append(recipe)
    if any(want.values()):
        raise RuntimeError(f"could not draw {n_per_class} unique emojis per class")
    assert len({emoji_key(r) for r in out}) == len(out), "duplicate emoji recipe"
    return out


def _face_fill(recipe: dict, res: int, cx, cy, rx, ry) -> Image.Image:
    """The face fill at canvas size: flat, or a radial gradient lit from the upper left.

    The smooth gradient is computed at output size and upsampled (it needs no supersampling).
    """
    base = EMOJI_FACE_COLORS[recipe["face_color"]]
    size = res * SUPERSAMPLE
    if recipe["gradient"] == "flat":
        return Image.new("RGB", (size, size), base)
    yy, xx = (grid(res) + 0.5) / res
    t = np.clip(np.hypot(xx - (cx - 0.3 * rx), yy - (cy - 0.35 * ry)) / (1.5 * max(rx, ry)),
                0, 1)[..., None]
    light, dark = np.array(mix(base, WHITE, 0.5)), np.array(shade(base, 0.85))
    small = Image.fromarray((light * (1 - t) + dark * t).round().astype(np.uint8), "RGB")
    return small.resize((size, size), Image.BILINEAR)


def _draw_face(cv: Canvas, recipe: dict, cx, cy, R):
    shape = recipe["face_shape"]
    ax, ay = _FACE_ASPECT[shape]
    rx, ry = ax * R, ay * R
    mask = cv.blank()
    outline = shade(EMOJI_FACE_COLORS[recipe["face_color"]], 0.6)
    if shape == "rounded_square":
        mask.rounded_rect(cx, cy, rx, ry, 0.4 * R, fill=255)
        cv.img.paste(_face_fill(recipe, cv.res, cx, cy, rx, ry), mask=mask.img)
        cv.rounded_rect(cx, cy, rx, ry, 0.4 * R, outline=outline, width=0.018)
    else:
        mask.ellipse(cx, cy, rx, ry, fill=255)
        cv.img.paste(_face_fill(recipe, cv.res, cx, cy, rx, ry), mask=mask.img)
        cv.ellipse(cx, cy, rx, ry, outline=outline, width=0.018)


def _draw_eye(cv: Canvas, style: str, x, y, e, lw):
    if style == "dots":
        cv.ellipse(x, y, 0.8 * e, fill=INK)
    elif style == "ovals":
        cv.ellipse(x, y, 0.62 * e, 1.1 * e, fill=INK)
        cv.ellipse(x - 0.2 * e, y - 0.45 * e, 0.22 * e, fill=WHITE)
    elif style == "happy_arcs":
        cv.arc(x, y + 0.5 * e, e, e, 180, 360, INK, lw)
    elif style == "closed_lines":
        cv.line([(x - e, y), (x + e, y)], INK, lw)
    elif style == "x_eyes":
        cv.line([(x - 0.8 * e, y - 0.8 * e), (x + 0.8 * e, y + 0.8 * e)], INK, lw)
        cv.line([(x - 0.8 * e, y + 0.8 * e), (x + 0.8 * e, y - 0.8 * e)], INK, lw)
    elif style == "hearts":
        cv.polygon(heart(x, y, 2.6 * e), _RED)
    elif style == "stars":
        cv.polygon(star(x, y, 1.4 * e, 0.6 * e), (232, 84, 30))
    elif style == "wide_pupils":
        cv.ellipse(x, y, e, 1.25 * e, fill=WHITE, outline=INK, width=0.4 * lw)
        cv.ellipse(x, y + 0.25 * e, 0.5 * e, fill=INK)
    elif style == "sleepy":
        cv.chord(x, y - 0.3 * e, e, e, 0, 180, INK)
    else:
        raise ValueError(f"unknown eye style {style!r}")


def _draw_eyes(cv: Canvas, recipe: dict, cx, cy, R, lw):
    e, y = 0.11 * R, cy + recipe["eye_y"] * R
    for side in (-1, 1):
        style = recipe["eyes"]
        if style == "wink":
            style = "dots" if side < 0 else "happy_arcs"
        _draw_eye(cv, style, cx + side * recipe["eye_gap"] * R, y, e, lw)


def _draw_brows(cv: Canvas, recipe: dict, cx, cy, R, lw):
    style, e = recipe["brows"], 0.11 * R
    y = cy + recipe["eye_y"] * R - 2.0 * e
    for side in (-1, 1):
        x = cx + side * recipe["eye_gap"] * R
        inner, outer = x - side * 1.1 * e, x + side * 1.1 * e
        if style == "flat":
            cv.line([(inner, y), (outer, y)], INK, lw)
        elif style == "raised":
            cv.arc(x, y - 0.2 * e, 1.1 * e, 0.7 * e, 200, 340, INK, lw)
        elif style in ("angry", "sad"):
            tilt = 0.55 * e if style == "angry" else -0.55 * e
            cv.line([(inner, y + tilt), (outer, y - tilt)], INK, lw)


def _draw_mouth(cv: Canvas, recipe: dict, cx, cy, R, lw):
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


def _draw_extras(cv: Canvas, recipe: dict, cx, cy, R):
    ey, gap = cy + recipe["eye_y"] * R, recipe["eye_gap"] * R
    face = EMOJI_FACE_COLORS[recipe["face_color"]]
    for extra in recipe["extras"]:
        if extra == "blush":
            for side in (-1, 1):
                cv.ellipse(cx + side * (gap + 0.08 * R), ey + 0.32 * R, 0.14 * R, 0.07 * R,
                           fill=mix(face, (255, 96, 128), 0.55))
        elif extra == "tears":
            for side in (-1, 1):
                drop(cv, cx + side * (gap + 0.08 * R), ey + 0.33 * R, 0.07 * R, _BLUE)
        elif extra == "sweat":
            drop(cv, cx - 0.6 * R, cy - 0.42 * R, 0.09 * R, _BLUE)
        elif extra == "hearts":
            for hx, hy, s in ((-0.85, -0.8, 0.26), (0.9, -0.6, 0.2), (0.8, 0.85, 0.16)):
                cv.polygon(heart(cx + hx * R, cy + hy * R, s * R), _RED)
        elif extra == "anger_mark":
            ax, ay, s = cx + 0.62 * R, cy - 0.62 * R, 0.075 * R
            for qx, qy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
                mid = math.degrees(math.atan2(-qy, -qx))
                cv.arc(ax + 2 * qx * s, ay + 2 * qy * s, 1.5 * s, 1.5 * s, mid - 50, mid + 50,
                       _RED, 0.03)
        elif extra == "sparkles":
            for sx, sy, s in ((-0.82, -0.82, 0.16), (0.86, -0.72, 0.12)):
                cv.polygon(star(cx + sx * R, cy + sy * R, s * R, 0.3 * s * R, 4), (250, 200, 30))


def render_emoji(recipe: dict, res: int = 64) -> Image.Image:
    """Draw one emoji recipe as an RGB image on white."""
    cv = Canvas(res, unit=res)
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
    res = check_res(res)
    recipes = emoji_recipes(seed, n_per_class)
    items = [(f"{i:05d}_{emoji_label(r)}.png", emoji_label(r), r) for i, r in enumerate(recipes)]
    header = set_header("emoji", "emoji-standin", seed, res, items, {"n_per_class": n_per_class},
                     "Synthetic stand-in for paper A's crawled 'Emoji Generator' set: emojis "
                     "composed from parts; label = sign of the summed part valences.")
    return write_set(out, header, items, render_emoji, progress)


def build_emoji_heldout(out, exclude, n: int | None = None, seed: int = 1, res: int = 64,
                        progress: bool = False) -> dict:
    """Held-out images for the emoji stand-in set: ``n`` fresh emojis (half per label;
    default: as many as ``exclude`` holds) drawn with ``seed``, none sharing a part
    combination (:func:`emoji_key`) with the set ``exclude`` (its folder or manifest).
    Built in ``out`` like :func:`build_emoji_set`; returns the manifest, whose ``params``
    name the excluded set's manifest by its sha256."""
    train = exclude if isinstance(exclude, dict) else read_manifest(exclude)
    recipes = [e.get("recipe") for e in train["images"]]
    if not recipes or any(not isinstance(r, dict) or "eyes" not in r for r in recipes):
        raise ValueError("the excluded set is not an emoji stand-in set (its manifest lacks "
                         "emoji recipes)")
    ident = (sha256_hex(manifest_text(train).encode()) if isinstance(exclude, dict)
             else file_sha256(Path(exclude) / MANIFEST))
    n = len(recipes) if n is None else int(n)
    if n < 2 or n % 2:
        raise ValueError(f"n must be an even number >= 2 (half per label), got {n}")
    res = check_res(res)
    held = emoji_recipes(seed, n // 2, exclude=[emoji_key(r) for r in recipes])
    items = [(f"{i:05d}_{emoji_label(r)}.png", emoji_label(r), r) for i, r in enumerate(held)]
    header = set_header("emoji_heldout", "emoji-standin-heldout", seed, res, items,
                        {"n_per_class": n // 2, "exclude_manifest_sha256": ident},
                        "Held-out images for the emoji stand-in set: the same generator, "
                        "another seed, part combinations disjoint from the training set's.")
    return write_set(out, header, items, render_emoji, progress)

