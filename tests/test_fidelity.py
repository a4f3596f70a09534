"""Circle fidelity on shapes drawn here with PIL (4x supersampled, then downsampled)."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from paperlib.fidelity import (
    CircleFidelity,
    batch_circle_fidelity,
    circle_fidelity,
    summarize,
    to_uint8_hwc,
)

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
    assert s["frac_found_main"] == 0.5
    assert s["inner_circularity"] == pytest.approx(res[0].inner_circularity)
    assert s["frac_inner_count_ok"] == 0.5
    assert math.isnan(summarize([])["score"])


def test_fast_enough():
    img = face(64, 2)
    circle_fidelity(img, 2)
    t0 = time.perf_counter()
    for _ in range(20):
        circle_fidelity(img, 2)
    per = (time.perf_counter() - t0) / 20
    assert per < 0.03, f"{per * 1000:.1f} ms per 64 px image"
