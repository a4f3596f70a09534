"""ADA's own augmentation pipeline (the ``bgc`` set) and its NVlabs adjustment: the
``"ada-bgc"`` augment kind."""
import math

import pytest
import torch
from torch import nn

from paperlib import engine
from paperlib.engine import ada_pipeline as ap
from paperlib.engine.augment import ADA_KIMG, Augmenter

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")


def _x(seed=0, n=8, res=32):
    return torch.rand(n, 3, res, res, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _smooth(n=8, res=32):
    """Smooth colour images in [-1, 1] (the resampling filter's ringing stays tiny)."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, res), torch.linspace(-1, 1, res),
                            indexing="ij")
    return torch.stack([torch.stack([torch.sin(2 * xx + 0.7 * k + j) * torch.cos(1.5 * yy - j)
                                     for k in range(3)]) for j in range(n)]) * 0.9


def _g(seed=1):
    return torch.Generator().manual_seed(seed)


def test_bgc_ops_are_nvlabs_set():
    assert ap.BGC_OPS == GEOMETRIC + COLOUR
    with pytest.raises(ValueError, match="cutout"):
        ap.ada_bgc(_x(), _g(), 1.0, ops=("xflip", "cutout"))


def test_p_zero_is_the_identity():
    x = _x()
    assert ap.ada_bgc(x, _g(), 0.0) is x
    assert torch.equal(Augmenter("ada-bgc", p=0.0)(x, _g()), x)
    assert Augmenter("ada-bgc").p == 0.0


def test_the_resampling_round_trip_is_exact_and_blits_are_blits():
    # sym6 is orthogonal: 2x up, identity sampling, 2x down returns the image
    x = _x(n=3)
    eye = torch.eye(3).repeat(3, 1, 1)
    assert torch.allclose(ap.apply_geometric(x, eye), x, atol=1e-5)
    # an integer shift (G_inv maps output pixels to input pixels) moves the content
    shifted = ap.apply_geometric(x, ap.translate2d(-1.0, 0.0, 3, "cpu"))
    assert torch.allclose(shifted[..., 1:], x[..., :-1], atol=1e-5)
    shifted = ap.apply_geometric(x, ap.translate2d(0.0, 2.0, 3, "cpu"))
    assert torch.allclose(shifted[..., :-2, :], x[..., 2:, :], atol=1e-5)
    # a flip and a quarter turn (the asymmetric sym6 filter blurs them a little: NVlabs'
    # pipeline does the same)
    s = _smooth(n=3)
    flipped = ap.apply_geometric(s, ap.scale2d(-1.0, 1.0, 3, "cpu"))
    assert (flipped - s.flip(3)).abs().max() < 0.03
    turned = ap.apply_geometric(s, ap.rotate2d(torch.full((3,), math.pi / 2), 3, "cpu"))
    assert (turned - torch.rot90(s, 1, (2, 3))).abs().max() < 0.03


def test_colour_matrices():
    x = _x(n=16)
    # hue rotation and saturation act around the luma axis: the channel mean is kept
    y = ap.ada_bgc(x, _g(), 1.0, ops=("hue", "saturation"))
    assert not torch.allclose(y, x, atol=1e-3)
    assert torch.allclose(y.mean(1), x.mean(1), atol=1e-5)
    # brightness and contrast: y = c * x + b per image, the same for every channel
    y = ap.ada_bgc(x, _g(), 1.0, ops=("brightness", "contrast"))
    for xi, yi in zip(x, y):
        a = torch.stack([xi.flatten(), torch.ones(xi.numel())], 1)
        coef = torch.linalg.lstsq(a, yi.flatten().unsqueeze(1)).solution
        assert torch.allclose(a @ coef, yi.flatten().unsqueeze(1), atol=1e-4)
    # a luma flip (when applied) reflects the channel mean and keeps the chroma
    y = ap.ada_bgc(x, _g(), 1.0, ops=("lumaflip",))
    flipped = (y.mean(1) + x.mean(1)).abs().flatten(1).amax(1) < 1e-5
    kept = (y - x).abs().flatten(1).amax(1) < 1e-5
    assert (flipped | kept).all() and flipped.any() and kept.any()
    assert torch.allclose((y - y.mean(1, keepdim=True))[flipped],
                          (x - x.mean(1, keepdim=True))[flipped], atol=1e-5)


def test_p_one_changes_every_image_and_stays_in_range():
    s = _smooth(n=16)
    y = ap.ada_bgc(s, _g(), 1.0, ops=GEOMETRIC)
    assert y.shape == s.shape
    assert ((y - s).abs().flatten(1).amax(1) > 0.05).all()
    assert y.abs().max() <= 1.0    # resampling only (zeros outside): no new values
    y = ap.ada_bgc(s, _g(), 1.0)
    assert y.shape == s.shape and torch.isfinite(y).all()
    assert ((y - s).abs().flatten(1).amax(1) > 0.05).all()
    # colour ops move values by NVlabs' strengths, unclipped: most stay near [-1, 1]
    assert y.abs().quantile(0.9) < 2.5 and y.abs().max() < 20
    assert torch.allclose(Augmenter("ada-bgc", p=1.0)(s, _g()), y)


def test_partial_p_and_randomness_only_from_the_generator():
    x = _x(n=64)
    y = ap.ada_bgc(x, _g(3), 0.05)
    # untouched images only go through the exact resampling round trip
    same = torch.isclose(y, x, atol=1e-4).flatten(1).all(1)
    assert 0 < same.sum() < 64     # 11 gates at p = 0.05: about 0.95^11 = 57 % untouched
    torch.manual_seed(123)
    assert torch.equal(ap.ada_bgc(x, _g(3), 0.05), y)
    assert not torch.equal(ap.ada_bgc(x, _g(4), 0.05), y)


def test_gradients_flow_through_the_pipeline_twice():
    x = _x(n=4).requires_grad_(True)
    y = ap.ada_bgc(x, _g(), 1.0)
    (grad,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # R1 through the augmentation: D's parameters get the second-order gradient
    D = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 30 * 30, 1))
    from paperlib.models.stylegan2 import r1_penalty

    aug = Augmenter("ada-bgc", p=0.8)
    penalty, logits = r1_penalty(lambda im: D(im).view(-1), _x(n=4), aug, _g())
    penalty.mean().backward()
    assert logits.shape == (4,) and (penalty > 0).all()
    # (the last bias does not move the input gradient: it gets none)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
               for p in (D[0].weight, D[0].bias, D[3].weight))


def test_nvlabs_adjustment_rises_when_d_overfits_and_falls_otherwise():
    aug = Augmenter("ada-bgc")
    assert (aug.target, aug.ada_interval, aug.ada_kimg) == (0.6, 4, 500.0)
    assert Augmenter("ada").ada_kimg == ADA_KIMG == 5.0       # the "ada" kind is unchanged
    for _ in range(4):
        aug.update(torch.full((32,), 3.0))   # r_t = 1 > 0.6: D overfits
    assert aug.rt == 1.0 and aug.p == pytest.approx(32 * 4 / 500_000)
    for _ in range(40):
        aug.update(torch.cat([torch.ones(28), -torch.ones(4)]))   # r_t = 0.75 > 0.6
    assert aug.p == pytest.approx(11 * 32 * 4 / 500_000)
    for _ in range(8):
        aug.update(torch.cat([torch.ones(16), -torch.ones(16)]))   # r_t = 0 < 0.6
    assert aug.rt == 0.0 and aug.p == pytest.approx(9 * 32 * 4 / 500_000)
    for _ in range(400):
        aug.update(-torch.ones(32))
    assert aug.p == 0.0                                       # clamped at 0
    fast = Augmenter("ada-bgc", ada_kimg=0.1)
    for _ in range(40):
        fast.update(torch.ones(32))
    assert fast.p > 1.0   # NVlabs clamps at 0 only (every op then always applies)
    assert torch.isfinite(fast(_x(n=2), _g())).all()
    state = fast.state_dict()
    other = Augmenter("ada-bgc", ada_kimg=0.1)
    other.load_state_dict(state)
    assert other.state_dict() == state


def test_stylegan2_trains_and_resumes_with_ada_bgc(tmp_path):
    tiny = dict(model="stylegan2", res=32, nz=16, sg_channels=8, batch_size=4, sample_every=1,
                ckpt_every=1, device="cpu", augment="ada-bgc")
    images = _x(n=8)
    c2 = engine.make_config(**tiny, epochs=2)
    assert engine.run_name(c2, "k") != engine.run_name(
        engine.make_config(**{**tiny, "augment": "ada"}, epochs=2), "k")
    full = engine.train(c2, images, tmp_path / "full", progress=False)
    assert full.status == "finished" and all("aug_p" in r for r in full.rows)
    engine.train(engine.make_config(**tiny, epochs=1), images, tmp_path / "resumed",
                 progress=False)
    resumed = engine.train(c2, images, tmp_path / "resumed", progress=False)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in full.rows]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.rows] == strip
