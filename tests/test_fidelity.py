"""Circle fidelity on shapes drawn here with PIL (4x supersampled, then downsampled).

The degradation tests draw a Donglein-like face (outlined face disc, two eyes with pupils,
the stand-in set's colours from :mod:`paperlib.data`) and degrade it the way GAN samples
are degraded: blur, pixel noise, partly drawn, elliptical."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from paperlib.data.shapes import DONGLEIN_FACE_COLORS
from paperlib.forms import (
    CircleFidelity,
    batch_circle_fidelity,
    circle_fidelity,
    form_shape,
    rescore,
    score_parts,
    summarize,
)
from paperlib.utils.images import to_uint8_hwc

SS = 4
FACE = (240, 200, 40)
INK = (20, 20, 20)


def render(res, draw_fn, bg=(255, 255, 255), resample=Image.BOX):
    big = Image.new("RGB", (res * SS, res * SS), bg)
    draw_fn(ImageDraw.Draw(big), res * SS)
    return np.asarray(big.resize((res, res), resample))


def disc(res, r=0.38, fill=FACE, **kw):
    def f(d, R):
        c, rr = R / 2, r * R
        d.ellipse([c - rr, c - rr, c + rr, c + rr], fill=fill)
    return render(res, f, **kw)


def ellipse(res, ratio):
    def f(d, R):
        c, a = R / 2, 0.38 * R
        d.ellipse([c - a, c - a * ratio, c + a, c + a * ratio], fill=FACE)
    return render(res, f)


def wobbly(res, amp, k=5):
    def f(d, R):
        c = R / 2
        t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
        r = 0.35 * R * (1 + amp * np.sin(k * t))
        d.polygon(list(zip(c + r * np.cos(t), c + r * np.sin(t))), fill=FACE)
    return render(res, f)


def square(res):
    return render(res, lambda d, R: d.rectangle([0.2 * R, 0.2 * R, 0.8 * R, 0.8 * R], fill=FACE))


def blob(res, seed=3):
    rng = np.random.default_rng(seed)

    def f(d, R):
        c = R / 2
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        r = 0.3 * R * rng.uniform(0.55, 1.25, size=t.size)
        d.polygon(list(zip(c + r * np.cos(t), c + r * np.sin(t))), fill=FACE)
    return render(res, f)


def face(res, n_pupils=2, outline=False, mouth=False):
    def f(d, R):
        c, rr = R / 2, 0.38 * R
        d.ellipse([c - rr, c - rr, c + rr, c + rr], fill=FACE,
                  outline=INK if outline else None, width=int(0.04 * R) if outline else 0)
        for k in range(n_pupils):
            px = c + (k - (n_pupils - 1) / 2) * 0.25 * R
            py, p = c - 0.08 * R, 0.06 * R
            d.ellipse([px - p, py - p, px + p, py + p], fill=INK)
        if mouth:
            d.arc([c - 0.2 * R, c - 0.1 * R, c + 0.2 * R, c + 0.2 * R], 20, 160, fill=INK,
                  width=int(0.03 * R))
    return render(res, f)


@pytest.mark.parametrize("res", [32, 64])
def test_perfect_disc_scores_near_one(res):
    r = circle_fidelity(disc(res))
    assert isinstance(r, CircleFidelity) and r.found_main
    assert r.main_circularity > 0.95
    assert r.main_residual < 0.02
    assert r.main_axis_ratio > 0.97
    assert r.score > 0.93
    assert abs(r.main_radius - 0.38 * res) < 0.5
    assert abs(r.main_center[0] - res / 2) < 0.5 and abs(r.main_center[1] - res / 2) < 0.5


def test_disc_lanczos_and_dark_background_and_offcentre():
    assert circle_fidelity(disc(64, resample=Image.LANCZOS)).score > 0.9
    assert circle_fidelity(disc(64, r=0.3, fill=(250, 250, 250), bg=(10, 10, 40))).score > 0.9

    def off(d, R):
        d.ellipse([0.05 * R, 0.5 * R, 0.45 * R, 0.9 * R], fill=(200, 30, 30))
    r = circle_fidelity(render(64, off))
    assert r.score > 0.9 and r.main_center[0] < 20 and r.main_center[1] > 35


def test_square_and_blob_score_lower():
    ref = circle_fidelity(disc(64)).score
    sq = circle_fidelity(square(64))
    assert abs(sq.main_circularity - math.pi / 4) < 0.05
    assert sq.score < 0.6 < ref
    for seed in (1, 2, 3):
        b = circle_fidelity(blob(64, seed))
        assert b.score < 0.75 and b.score < ref - 0.2


@pytest.mark.parametrize("res", [32, 64])
def test_score_falls_with_eccentricity(res):
    scores = [circle_fidelity(ellipse(res, q)).score for q in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
    ratios = [circle_fidelity(ellipse(res, q)).main_axis_ratio for q in (0.9, 0.7, 0.5)]
    assert np.allclose(ratios, [0.9, 0.7, 0.5], atol=0.04)


@pytest.mark.parametrize("res", [32, 64])
def test_score_falls_with_radial_wobble(res):
    res_ = [circle_fidelity(wobbly(res, a)) for a in (0.0, 0.04, 0.08, 0.12, 0.18, 0.25)]
    scores = [r.score for r in res_]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
    resid = [r.main_residual for r in res_]
    assert all(a < b for a, b in zip(resid, resid[1:])), resid


@pytest.mark.parametrize("res", [32, 64])
def test_inner_circles_counted(res):
    r = circle_fidelity(face(res, 2), n_inner_expected=2)
    assert r.n_inner_found == 2 and r.n_inner_expected == 2
    assert r.inner_circularity > 0.8
    assert r.score > 0.9
    # expecting 3 where 2 are drawn costs a third of the score
    r3 = circle_fidelity(face(res, 2), n_inner_expected=3)
    assert r3.score < 0.7 * r.score + 1e-9
    assert circle_fidelity(face(res, 3), n_inner_expected=3).n_inner_found == 3
    assert circle_fidelity(disc(res), n_inner_expected=0).n_inner_found == 0


@pytest.mark.parametrize("res", [32, 64])
def test_outline_and_mouth_are_not_inner_circles(res):
    r = circle_fidelity(face(res, 2, outline=True, mouth=True), n_inner_expected=2)
    assert r.n_inner_found == 2
    assert r.score > 0.85


def test_blank_and_degenerate_images_score_zero():
    for img in (np.full((64, 64, 3), 255, np.uint8), np.zeros((32, 32, 3), np.uint8),
                np.full((32, 32, 3), 77, np.uint8), torch.ones(3, 32, 32),
                np.full((2, 2, 3), 255, np.uint8)):
        r = circle_fidelity(img, n_inner_expected=2)
        assert r.score == 0.0 and not r.found_main and r.n_inner_found == 0
        assert r.main_score == 0.0 and r.inner_score == 0.0
        assert math.isnan(circle_fidelity(img).inner_score)
    speck = np.full((64, 64, 3), 255, np.uint8)
    speck[10:12, 10:12] = 0
    assert circle_fidelity(speck).score == 0.0


def test_input_formats_agree():
    u8 = face(32, 2)
    t = torch.from_numpy(u8.copy()).permute(2, 0, 1).float() / 127.5 - 1.0
    assert np.array_equal(to_uint8_hwc(t), u8)
    a = circle_fidelity(u8, 2).score
    assert circle_fidelity(t, 2).score == pytest.approx(a, abs=1e-6)
    assert circle_fidelity(t.numpy(), 2).score == pytest.approx(a, abs=1e-6)
    batch = torch.stack([t, torch.from_numpy(square(32).copy()).permute(2, 0, 1) / 127.5 - 1])
    res = batch_circle_fidelity(batch, n_inner_expected=[2, 0])
    assert len(res) == 2 and res[0].score == pytest.approx(a, abs=1e-6)
    assert res[1].n_inner_expected == 0 and res[1].score < 0.6
    assert len(batch_circle_fidelity([u8, u8, u8])) == 3
    assert len(batch_circle_fidelity(np.stack([u8, u8]))) == 2
    with pytest.raises(ValueError):
        batch_circle_fidelity(batch, n_inner_expected=[1, 2, 3])
    with pytest.raises(ValueError):
        circle_fidelity(u8, n_inner_expected=-1)


def test_summarize():
    res = batch_circle_fidelity([face(32, 2), np.full((32, 32, 3), 255, np.uint8)], 2)
    s = summarize(res)
    assert s["n"] == 2
    assert s["score"] == pytest.approx((res[0].score + 0.0) / 2)
    assert s["main_score"] == pytest.approx((res[0].main_score + 0.0) / 2)
    assert s["inner_score"] == pytest.approx((res[0].inner_score + 0.0) / 2)
    assert s["frac_found_main"] == 0.5
    assert s["inner_circularity"] == pytest.approx(res[0].inner_circularity)
    assert s["frac_inner_count_ok"] == 0.5
    empty = summarize([])
    assert all(math.isnan(empty[k]) for k in ("score", "main_score", "inner_score"))


def test_fast_enough():
    img = face(64, 2)
    circle_fidelity(img, 2)
    t0 = time.perf_counter()
    for _ in range(20):
        circle_fidelity(img, 2)
    per = (time.perf_counter() - t0) / 20
    assert per < 0.03, f"{per * 1000:.1f} ms per 64 px image"


# --------------------------------------------------------------------------- parts


def test_score_is_the_product_of_main_and_inner_parts():
    for img, k in [(face(32, 2), 2), (face(64, 2), 3), (face(64, 3), 0), (disc(32), 2),
                   (square(64), None), (face(64, 2, outline=True, mouth=True), 2)]:
        r = circle_fidelity(img, k)
        c = min(max(r.main_circularity, 0.0), 1.0)
        f = 1.0 - min(r.main_residual / 0.25, 1.0)
        assert r.main_score == pytest.approx(c * r.main_axis_ratio * f, abs=1e-12)
        assert 0.0 <= r.main_score <= 1.0
        if k is None:
            assert math.isnan(r.inner_score) and r.score == r.main_score
        else:
            assert 0.0 <= r.inner_score <= 1.0
            assert r.score == pytest.approx(r.main_score * r.inner_score, abs=1e-12)
        parts = score_parts(r.main_circularity, r.main_axis_ratio, r.main_residual,
                            r.n_inner_found, r.inner_circularity, k)
        np.testing.assert_allclose(parts, (r.main_score, r.inner_score, r.score))


def test_rescore_sets_both_parts():
    for img in (face(64, 2), face(32, 3), disc(32), np.full((32, 32, 3), 200, np.uint8)):
        base = circle_fidelity(img)
        for k in (None, 0, 2, 4):
            want, got = circle_fidelity(img, k), rescore(base, k)
            assert got.main_score == pytest.approx(want.main_score, abs=1e-12)
            assert got.score == pytest.approx(want.score, abs=1e-12)
            if k is None:
                assert math.isnan(got.inner_score) and math.isnan(want.inner_score)
            else:
                assert got.inner_score == pytest.approx(want.inner_score, abs=1e-12)


@pytest.mark.parametrize("res", [32, 64])
def test_round_face_without_inner_circles_is_not_scored_like_noise(res):
    """The issue: with one product, a perfect round face without its inner circles scored
    0.00, the same as noise. Its main form is still perfect."""
    plain = circle_fidelity(donglein(res, 1, n_eyes=0), n_inner_expected=2)
    assert plain.found_main and plain.n_inner_found == 0
    assert plain.main_score > 0.9
    assert plain.main_score == pytest.approx(
        plain.main_circularity * plain.main_axis_ratio * (1 - plain.main_residual / 0.25))
    assert plain.inner_score == 0.0 and plain.score == 0.0     # the combined value
    full = circle_fidelity(donglein(res, 1), n_inner_expected=2)
    assert full.inner_score > plain.inner_score and full.score > plain.score
    assert abs(full.main_score - plain.main_score) < 0.05
    if res == 64:                     # at 32 px an eye may merge with its neighbourhood
        assert full.inner_score > 0.8 and full.score > 0.8
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (res, res, 3), dtype=np.uint8),
             np.clip(200 + rng.normal(0, 60, (res, res, 3)), 0, 255).astype(np.uint8)]
    for img in noise:
        r = circle_fidelity(img, n_inner_expected=2)
        assert r.main_score < 0.1 and r.score < 0.1
        assert plain.main_score > r.main_score + 0.8


def test_contour_area_is_the_polygon_area():
    yy, xx = np.mgrid[0:48, 0:48]
    for r in (4.0, 10.3, 20.0):
        s = np.clip(r + 0.5 - np.hypot(xx - 24.2, yy - 23.7), 0.0, 1.0)
        sh = form_shape(s, fit=False, contour_area=True)
        assert sh["area"] == pytest.approx(math.pi * r * r, rel=0.015)
        assert sh["perimeter"] == pytest.approx(2 * math.pi * r, rel=0.015)
    ring = np.clip(20.5 - np.hypot(xx - 24, yy - 24), 0, 1) * \
        np.clip(np.hypot(xx - 24, yy - 24) - 9.5, 0, 1)
    assert form_shape(ring, fit=False, contour_area=True)["area"] == \
        pytest.approx(math.pi * (400 - 100), rel=0.01)                 # the hole subtracted


# --------------------------------------------------------------------------- degradation

INK = (62, 40, 30)            # the stand-in sets' ink (paperlib.data)


def donglein(res, seed, ratio=1.0, erase=0.0, n_eyes=2, face_color=None, bg=None,
             gaps=0):
    """A Donglein-like face: an outlined face disc (``ratio``: vertical / horizontal axis),
    ``n_eyes`` white eyes with outline and pupil, a pale background, placed and sized at
    random by ``seed``; ``erase``: share of the turn of a wedge (from the centre, pointing
    down) erased to the background; ``gaps``: that many short breaks in the outline."""
    rng = np.random.default_rng(seed)
    fc = face_color or DONGLEIN_FACE_COLORS[seed % len(DONGLEIN_FACE_COLORS)]
    if bg is None:
        bg = tuple(int(round(v + (255 - v) * 0.85)) for v in rng.uniform(75, 230, 3))
    r = rng.uniform(0.33, 0.40)
    reach = 0.47 - r
    cx, cy = 0.5 + rng.uniform(-reach, reach), 0.5 + rng.uniform(-reach, reach)

    def f(d, R):
        x, y, rr = cx * R, cy * R, r * R
        lw = max(1, round(0.018 * R))
        d.ellipse([x - rr, y - rr * ratio, x + rr, y + rr * ratio], fill=fc, outline=INK,
                  width=lw)
        big = 1.2 * rr
        for k in range(gaps):
            a = 360.0 * k / gaps + 20.0
            d.pieslice([x - big, y - big, x + big, y + big], a - 4, a + 4, fill=fc)
        for k in range(n_eyes):
            ex, ey, er = x + (2 * k - 1) * 0.38 * rr, y - 0.05 * rr * ratio, 0.2 * rr
            d.ellipse([ex - er, ey - er, ex + er, ey + er], fill=(255, 255, 255),
                      outline=INK, width=max(1, round(0.7 * lw)))
            p = 0.45 * er
            d.ellipse([ex - p, ey - p, ex + p, ey + p], fill=INK)
        if erase > 0:
            a = 180.0 * erase
            d.pieslice([x - big, y - big, x + big, y + big], 90 - a, 90 + a, fill=bg)
    return render(res, f, bg=bg)


def blurred(img, sigma):
    x = ndi.gaussian_filter(img.astype(np.float64), (sigma, sigma, 0), mode="nearest")
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def noisy(img, std, seed):
    x = img + np.random.default_rng(100 + seed).normal(0.0, 255.0 * std, img.shape)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


DEGRADATIONS = {
    # kind: (levels, image of one level at res for one seed)
    "blur": ([0, 1, 2, 3, 4],                                    # sigma, px at 32 px
             lambda res, lv, s: blurred(donglein(res, s), lv * res / 32)),
    "noise": ([0, 0.05, 0.1, 0.2, 0.3, 0.4],                     # std, RGB in [0, 1]
              lambda res, lv, s: noisy(donglein(res, s), lv, s)),
    "partly_drawn": ([0, 0.05, 0.1, 0.2, 0.3, 0.4],              # share of a turn erased
                     lambda res, lv, s: donglein(res, s, erase=lv)),
    "elliptical": ([1.0, 0.9, 0.8, 0.7, 0.6],                    # axis ratio
                   lambda res, lv, s: donglein(res, s, ratio=lv)),
}
SEEDS = range(8)


def degradation_curve(kind, res):
    levels, make = DEGRADATIONS[kind]
    return [float(np.mean([circle_fidelity(make(res, lv, s)).main_score for s in SEEDS]))
            for lv in levels]


@pytest.mark.parametrize("res", [32, 64])
@pytest.mark.parametrize("kind", list(DEGRADATIONS))
def test_main_score_falls_steadily_with_degradation(kind, res):
    """Mean main_score over 8 faces (random colours, places, sizes) per level: never
    rises by more than 0.02 from one level to the next, and the strongest level is
    clearly below the clean face."""
    curve = degradation_curve(kind, res)
    assert curve[0] > 0.94, curve                                   # clean faces
    assert all(b <= a + 0.02 for a, b in zip(curve, curve[1:])), curve
    assert curve[-1] < curve[0] - 0.15, curve


@pytest.mark.parametrize("res", [32, 64])
def test_noisy_or_broken_face_scores_close_to_clean(res):
    """GAN-style damage to a visibly round face costs little: light pixel noise (std 0.05,
    about the DCGAN samples' background noise) or an outline with 3 short breaks on a face
    of the background's own colour, so only the outline draws it (the earlier main-form
    step -- largest 8-connected component, holes filled -- scored these about 0.05)."""
    clean = np.mean([circle_fidelity(donglein(res, s)).main_score for s in SEEDS])
    light = np.mean([circle_fidelity(noisy(donglein(res, s), 0.05, s)).main_score
                     for s in SEEDS])
    assert light > clean - 0.03
    bg = (250, 246, 240)
    broken = [circle_fidelity(donglein(res, s, face_color=bg, bg=bg, gaps=3)).main_score
              for s in SEEDS]
    assert np.mean(broken) > clean - 0.1 and min(broken) > 0.75, broken
