import pytest
import torch

from paperlib.engine.augment import Augmenter, diff_augment


def _x(seed=0, n=6, res=32):
    return torch.rand(n, 3, res, res, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_diffaugment_is_differentiable():
    x = _x().requires_grad_(True)
    y = diff_augment(x, torch.Generator().manual_seed(0), p=1.0)
    assert y.shape == x.shape and not torch.equal(y, x)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_p_zero_is_exact_identity():
    x = _x()
    assert diff_augment(x, torch.Generator().manual_seed(0), p=0.0) is x
    for kind in ("none", "diffaugment", "ada"):
        aug = Augmenter(kind, p=0.0)
        out = aug(x, torch.Generator().manual_seed(0))
        assert torch.equal(out, x)
    assert torch.equal(Augmenter("none")(x, torch.Generator()), x)


def test_randomness_only_from_generator():
    x = _x()
    a = diff_augment(x, torch.Generator().manual_seed(3), p=0.5)
    torch.manual_seed(99)
    b = diff_augment(x, torch.Generator().manual_seed(3), p=0.5)
    c = diff_augment(x, torch.Generator().manual_seed(4), p=0.5)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_partial_p_leaves_some_samples_untouched():
    x = _x(n=64)
    y = diff_augment(x, torch.Generator().manual_seed(0), p=0.1)
    same = (y == x).flatten(1).all(1)
    assert 0 < same.sum() < 64  # (0.9)^5 ~ 59% of samples untouched


def test_cutout_and_translation_keep_shape():
    x = _x(res=64)
    assert diff_augment(x, torch.Generator().manual_seed(0)).shape == x.shape


def test_ada_p_rises_when_d_overfits_and_falls_otherwise():
    aug = Augmenter("ada", ada_interval=4, ada_kimg=1.0)
    assert aug.p == 0.0
    for _ in range(40):
        aug.update(torch.full((35,), 5.0))  # D sure that every real is real: r_t = 1 > 0.6
    high = aug.p
    assert high > 0.5 and aug.rt == 1.0
    for _ in range(20):
        aug.update(-torch.ones(35))  # r_t = -1 < 0.6
    assert aug.p < high
    for _ in range(200):
        aug.update(-torch.ones(35))
    assert aug.p == 0.0  # clamped
    for _ in range(400):
        aug.update(torch.ones(35))
    assert aug.p == 1.0  # clamped


def test_ada_adjust_step_size():
    aug = Augmenter("ada", ada_interval=4, ada_kimg=5.0)
    for _ in range(4):
        aug.update(torch.ones(35))
    assert aug.p == pytest.approx(4 * 35 / 5000)


def test_state_dict_round_trip():
    aug = Augmenter("ada", ada_interval=4)
    for _ in range(6):
        aug.update(torch.ones(35))
    state = aug.state_dict()
    other = Augmenter("ada", ada_interval=4)
    other.load_state_dict(state)
    assert other.state_dict() == state and other.p == aug.p > 0
    aug.update(torch.ones(35)), aug.update(torch.ones(35))
    other.update(torch.ones(35)), other.update(torch.ones(35))
    assert other.p == aug.p and other.state_dict() == aug.state_dict()
    x = _x()
    assert torch.equal(aug(x, torch.Generator().manual_seed(1)),
                       other(x, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError):
        Augmenter("diffaugment").load_state_dict(state)


def test_state_dict_is_weights_only_loadable(tmp_path):
    aug = Augmenter("ada")
    aug.update(torch.ones(3))
    torch.save(aug.state_dict(), tmp_path / "a.pt")
    assert torch.load(tmp_path / "a.pt", weights_only=True) == aug.state_dict()


def test_bad_kind_and_p():
    with pytest.raises(ValueError, match="diffaugment"):
        Augmenter("mixup")
    with pytest.raises(ValueError):
        Augmenter("diffaugment", p=1.5)


def test_diffaugment_default_p_is_one():
    assert Augmenter("diffaugment").p == 1.0 and Augmenter("ada").p == 0.0
