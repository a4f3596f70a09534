"""The shape set and the two stand-in artist sets (paper B).

* shapes: circles, ellipses, rings, concentric circles, planes (half-planes / large
  polygons) and rectangles, balanced across kinds; the label is the kind.
* ``artist_donglein`` / ``artist_geometric``: synthetic stand-ins for paper B's unpublished
  artworks (manifest ``kind`` ``"artist-standin"``): a round character in the spirit of
  Yang Dae-won's "Donglein", and a geometric abstraction of circles and planes. Recipes
  record the main circle and the inner circles, for circle fidelity.

Geometry in recipes is in pixels of the output ``res``.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from ..utils.images import check_res
from .draw import (
    WHITE,
    Canvas,
    centre,
    circle,
    ellipse_points,
    mix,
    pick,
    random_color,
    rectangle,
    to_px,
    uniform,
)
from .emoji import INK
from .folders import ARTIST_STYLES, SHAPE_KINDS, set_header, write_set


def _shape_recipe(kind: str, rng: np.random.Generator, res: int) -> dict:
    recipe = {"kind": kind, "color": random_color(rng)}
    if kind in ("circle", "ring", "concentric"):
        r = uniform(rng, 0.1 if kind == "circle" else 0.15, 0.42)
        cx, cy = centre(rng, r, res)
        recipe.update(cx=round(cx, 2), cy=round(cy, 2), r=to_px(r, res))
        if kind == "ring":
            recipe["width"] = to_px(uniform(rng, 0.03, 0.3 * r), res)
        elif kind == "concentric":
            k = int(rng.integers(2, 5))
            recipe["radii"] = [to_px(r * (j + 1) / k, res) for j in range(k)]
            recipe["width"] = to_px(0.4 * r / k, res)
    elif kind in ("ellipse", "rectangle"):
        a, b = uniform(rng, 0.08, 0.42), uniform(rng, 0.08, 0.42)
        if kind == "rectangle" and math.hypot(a, b) > 0.45:
            a, b = (round(v * 0.45 / math.hypot(a, b), 3) for v in (a, b))
        if kind == "ellipse" and abs(a - b) < 0.06:
            b = round(max(0.08, a - 0.12) if a > 0.25 else a + 0.12, 3)
        cx, cy = centre(rng, max(a, b) if kind == "ellipse" else math.hypot(a, b), res)
        names = ("rx", "ry") if kind == "ellipse" else ("hw", "hh")  # radii or half-sizes
        recipe.update({"cx": round(cx, 2), "cy": round(cy, 2), names[0]: to_px(a, res),
                       names[1]: to_px(b, res), "angle": uniform(rng, 0, 180, 1)})
    elif kind == "plane":
        recipe.update(_plane_recipe(rng, res))
    else:
        raise ValueError(f"unknown shape kind {kind!r}")
    return recipe


def _plane_recipe(rng: np.random.Generator, res: int) -> dict:
    """A half-plane (clipped to the frame) or a large convex polygon, as output-px vertices."""
    if rng.uniform() < 0.5:
        angle, offset = uniform(rng, 0, 360, 1), uniform(rng, -0.25, 0.25)
        return {"variant": "half_plane", "angle": angle, "offset": to_px(offset, res),
                "vertices": [[to_px(x, res), to_px(y, res)] for x, y in _half_plane(angle, offset)]}
    n = int(rng.integers(3, 7))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    cx, cy = uniform(rng, 0.35, 0.65), uniform(rng, 0.35, 0.65)
    radii = rng.uniform(0.35, 0.6, n)
    return {"variant": "polygon",
            "vertices": [[to_px(cx + r * math.cos(a), res), to_px(cy + r * math.sin(a), res)]
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
    cv = Canvas(res, unit=1.0)
    kind, color = recipe["kind"], tuple(recipe["color"])
    if kind == "circle":
        cv.ellipse(recipe["cx"], recipe["cy"], recipe["r"], fill=color)
    elif kind == "ring":
        cv.ellipse(recipe["cx"], recipe["cy"], recipe["r"], outline=color, width=recipe["width"])
    elif kind == "concentric":
        for r in recipe["radii"]:
            cv.ellipse(recipe["cx"], recipe["cy"], r, outline=color, width=recipe["width"])
    elif kind == "ellipse":
        cv.polygon(ellipse_points(recipe["cx"], recipe["cy"], recipe["rx"], recipe["ry"],
                            recipe["angle"]), color)
    elif kind == "rectangle":
        cv.polygon(rectangle(recipe["cx"], recipe["cy"], recipe["hw"], recipe["hh"],
                              recipe["angle"]), color)
    elif kind == "plane":
        cv.polygon([tuple(v) for v in recipe["vertices"]], color)
    return cv.result()


def build_shape_set(out, n: int = 1000, res: int = 64, seed: int = 0,
                    progress: bool = False) -> dict:
    """Build paper B's shape-learning set (label = kind, balanced); return its manifest."""
    res = check_res(res)
    rng = np.random.default_rng(seed)
    kinds = [SHAPE_KINDS[i % len(SHAPE_KINDS)] for i in range(n)]
    width = max(5, len(str(n - 1)))
    items = [(f"{i:0{width}d}_{k}.png", k, _shape_recipe(k, rng, res)) for i, k in enumerate(kinds)]
    header = set_header("shapes", "shapes", seed, res, items, {"n": n},
                     "Paper B shape-learning images: circles, ellipses, rings, concentric "
                     "circles, planes and rectangles on white; label = shape kind; geometry "
                     "in output pixels.")
    return write_set(out, header, items, render_shape, progress)


# Artist stand-ins (paper B) ------------------------------------------------------------
DONGLEIN_FACE_COLORS = ((255, 236, 200), (255, 214, 222), (255, 224, 170), (214, 236, 255),
                        (226, 246, 214), (250, 250, 244), (255, 196, 160))


GEOMETRIC_PALETTE = ((230, 57, 70), (241, 196, 83), (29, 53, 87), (69, 123, 157),
                     (42, 157, 143), (20, 20, 20))


GEOMETRIC_BACKGROUNDS = ((244, 241, 222), (255, 255, 255), (233, 228, 212))


_CHEEK = (255, 140, 150)


def _donglein_recipe(rng: np.random.Generator, res: int) -> dict:
    r = uniform(rng, 0.33, 0.42)
    reach = 0.47 - r
    cx, cy = 0.5 + uniform(rng, -reach, reach), 0.5 + uniform(rng, -reach, reach)
    gap, ey, er = uniform(rng, 0.3, 0.45) * r, cy + uniform(rng, -0.2, 0.05) * r, uniform(rng, 0.16, 0.24) * r
    lx, ly, pr = uniform(rng, -0.25, 0.25) * er, uniform(rng, -0.25, 0.25) * er, uniform(rng, 0.35, 0.55) * er
    eyes = [(cx + s * gap, ey) for s in (-1, 1)]
    inner = [circle(x + lx, y + ly, pr, res, role="pupil") for x, y in eyes]
    cheeks = bool(rng.uniform() < 0.5)
    if cheeks:
        cr = uniform(rng, 0.08, 0.12) * r
        inner += [circle(cx + s * (gap + 0.12 * r), ey + er + 0.14 * r, cr, res, role="cheek")
                  for s in (-1, 1)]
    return {
        "background": list(mix(random_color(rng), WHITE, 0.85)),
        "face_color": list(pick(rng, DONGLEIN_FACE_COLORS)),
        "outline_width": to_px(uniform(rng, 0.012, 0.022), res),
        "main_circle": circle(cx, cy, r, res),
        "eyes": [circle(x, y, er, res) for x, y in eyes],
        "inner_circles": inner,
        "n_inner_circles": len(inner),
        "cheeks": cheeks,
        "mouth": pick(rng, ("smile", "flat", "none")),
    }


def _geometric_recipe(rng: np.random.Generator, res: int) -> dict:
    planes = []
    for _ in range(int(rng.integers(1, 3))):
        color = list(pick(rng, GEOMETRIC_PALETTE))
        if rng.uniform() < 0.5:
            pos, half = uniform(rng, 0.1, 0.9), uniform(rng, 0.04, 0.15)
            box = [(0.0, pos - half), (1.0, pos - half), (1.0, pos + half), (0.0, pos + half)]
            if rng.uniform() < 0.5:
                box = [(y, x) for x, y in box]
            planes.append({"variant": "stripe", "color": color,
                           "vertices": [[to_px(x, res), to_px(y, res)] for x, y in box]})
        else:
            angle, offset = uniform(rng, 0, 360, 1), uniform(rng, 0.0, 0.35)
            planes.append({"variant": "half_plane", "color": color,
                           "vertices": [[to_px(x, res), to_px(y, res)]
                                        for x, y in _half_plane(angle, offset)]})
    circles = []
    for _ in range(int(rng.integers(2, 5))):
        r = uniform(rng, 0.08, 0.3)
        cx, cy = centre(rng, r, 1)
        kind = pick(rng, ("disc", "ring"))
        width = to_px(uniform(rng, 0.15, 0.35) * r, res) if kind == "ring" else 0.0
        circles.append(circle(cx, cy, r, res, kind=kind, width=width,
                               color=list(pick(rng, GEOMETRIC_PALETTE))))
    main = max(circles, key=lambda c: c["r"])
    return {"background": list(pick(rng, GEOMETRIC_BACKGROUNDS)), "planes": planes,
            "circles": circles, "n_circles": len(circles),
            "main_circle": {k: main[k] for k in ("cx", "cy", "r")}}


def _render_donglein(recipe: dict, res: int) -> Image.Image:
    cv = Canvas(res, unit=1.0, fill=tuple(recipe["background"]))
    lw, m = recipe["outline_width"], recipe["main_circle"]
    cv.ellipse(m["cx"], m["cy"], m["r"], fill=tuple(recipe["face_color"]), outline=INK, width=lw)
    for eye in recipe["eyes"]:
        cv.ellipse(eye["cx"], eye["cy"], eye["r"], fill=WHITE, outline=INK, width=0.7 * lw)
    for c in recipe["inner_circles"]:
        cv.ellipse(c["cx"], c["cy"], c["r"], fill=INK if c["role"] == "pupil" else _CHEEK)
    mx, my, w = m["cx"], m["cy"] + 0.4 * m["r"], 0.16 * m["r"]
    if recipe["mouth"] == "smile":
        cv.arc(mx, my - 0.5 * w, w, 0.7 * w, 20, 160, INK, 0.8 * lw)
    elif recipe["mouth"] == "flat":
        cv.line([(mx - w, my), (mx + w, my)], INK, 0.8 * lw)
    return cv.result()


def _render_geometric(recipe: dict, res: int) -> Image.Image:
    cv = Canvas(res, unit=1.0, fill=tuple(recipe["background"]))
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
    res = check_res(res)
    make, render, what = _ARTIST[_check_style(style)]
    rng = np.random.default_rng(seed)
    width = max(5, len(str(n - 1)))
    items = [(f"{i:0{width}d}_{style}.png", style, make(rng, res)) for i in range(n)]
    header = set_header(f"artist_{style}", "artist-standin", seed, res, items,
                     {"style": style, "n": n},
                     f"SYNTHETIC STAND-IN, not real artwork: paper B's artworks are not "
                     f"public; this set is {what}, drawn by code.")
    return write_set(out, header, items, render, progress)
