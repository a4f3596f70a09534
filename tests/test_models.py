import pytest
import torch
from torch import nn

from paperlib.models import (
    DeLiGANLatent,
    Discriminator,
    GaussianLatent,
    Generator,
    ProposedLatent,
    build_models,
)
from paperlib.models.dcgan import MODEL_NAMES


@pytest.mark.parametrize("res", [32, 64, 128])
def test_generator_and_discriminator_shapes(res):
    G, D = Generator(res, in_dim=20, ngf=4), Discriminator(res, ndf=4)
    img = G(torch.randn(3, 20))
    assert img.shape == (3, 3, res, res)
    assert img.min() >= -1 and img.max() <= 1
    assert D(img).shape == (3,)


@pytest.mark.parametrize("res", [16, 48, 256])
def test_bad_res_raises(res):
    with pytest.raises(ValueError, match="res"):
        Generator(res)
    with pytest.raises(ValueError, match="res"):
        Discriminator(res)
    with pytest.raises(ValueError, match="res"):
        build_models("dcgan", res)


def test_dcgan_layout_and_init():
    torch.manual_seed(0)
    _, G, D = build_models("dcgan", 64, ngf=16, ndf=16)
    assert isinstance(G.main[-1], nn.Tanh)
    assert not any(isinstance(m, nn.Sigmoid) for m in D.modules())
    assert isinstance(D.main[1], nn.LeakyReLU)  # no BatchNorm after D's first conv
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in G.modules()) == 5
    conv = G.main[0].weight
    assert abs(conv.std().item() - 0.02) < 0.002
    bn = [m for m in D.modules() if isinstance(m, nn.BatchNorm2d)][0]
    assert torch.all(bn.bias == 0) and abs(bn.weight.mean().item() - 1) < 0.01


def test_build_models_unknown_model_lists_names():
    with pytest.raises(ValueError) as err:
        build_models("stylegan", 32)
    assert all(name in str(err.value) for name in MODEL_NAMES)


def test_latent_noise_comes_only_from_the_generator():
    for latent in (GaussianLatent(8), DeLiGANLatent(8, K=5), ProposedLatent(8, N=3)):
        a = latent.sample_noise(4, torch.Generator().manual_seed(1), "cpu")
        torch.manual_seed(123)  # the global RNG must not matter
        b = latent.sample_noise(4, torch.Generator().manual_seed(1), "cpu")
        assert all(torch.equal(x, y) for x, y in zip(a, b))
        assert latent(*a).shape == (4, latent.out_dim)


def test_gaussian_latent_is_identity_without_extra_loss():
    lat = GaussianLatent(10)
    (eps,) = lat.sample_noise(6, torch.Generator().manual_seed(0), "cpu")
    assert torch.equal(lat(eps), eps) and lat.extra_loss().item() == 0


def test_deligan_mu_sigma_get_gradients_through_g_loss():
    torch.manual_seed(0)
    latent, G, D = build_models("deligan", 32, nz=8, ngf=4, ndf=4, K=5, lam=0.2)
    assert latent.mu.min() >= -1 and latent.mu.max() <= 1
    assert torch.all(latent.sigma == 0.2)
    noise = latent.sample_noise(10, torch.Generator().manual_seed(0), "cpu")
    loss = nn.BCEWithLogitsLoss()(D(G(latent(*noise))), torch.ones(10))
    loss.backward()
    assert latent.mu.grad is not None and latent.mu.grad.abs().sum() > 0
    assert latent.sigma.grad is not None and latent.sigma.grad.abs().sum() > 0
    # regulariser: lam * mean((1 - sigma)^2) = 0.2 * 0.8^2
    assert latent.extra_loss().item() == pytest.approx(0.2 * 0.64)
    with torch.no_grad():
        latent.sigma[0] = 1.0
    assert latent.extra_loss().item() == pytest.approx(0.2 * 0.64 * 4 / 5)


def test_deligan_component_mapping():
    lat = DeLiGANLatent(3, K=4)
    k, eps = torch.tensor([2, 0]), torch.ones(2, 3)
    z = lat(k, eps)
    assert torch.allclose(z[0], lat.mu[2] + lat.sigma[2]) and torch.allclose(z[1], lat.mu[0] + 0.2)


def test_deligan_row_assignment_uses_every_component_once_per_batch_of_k():
    lat = DeLiGANLatent(3, K=7)
    assert lat.assign == "row"
    for seed in range(5):
        k, eps = lat.sample_noise(7, torch.Generator().manual_seed(seed), "cpu")
        assert sorted(k.tolist()) == list(range(7)) and eps.shape == (7, 3)
        # consecutive rows, from an offset drawn from the generator
        assert torch.equal(k, (k[0] + torch.arange(7)) % 7)
    offsets = {int(lat.sample_noise(3, torch.Generator().manual_seed(s), "cpu")[0][0])
               for s in range(40)}
    assert len(offsets) > 1 and offsets <= set(range(7))   # a partial batch starts anywhere
    k, _ = lat.sample_noise(7 * 3, torch.Generator().manual_seed(0), "cpu")
    assert torch.bincount(k, minlength=7).tolist() == [3] * 7   # n = m K: equal weights
    # the generator's offsets reproduce; the global RNG does not matter
    a = lat.sample_noise(10, torch.Generator().manual_seed(3), "cpu")
    torch.manual_seed(99)
    b = lat.sample_noise(10, torch.Generator().manual_seed(3), "cpu")
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    g = torch.Generator().manual_seed(3)
    first, second = lat.sample_noise(10, g, "cpu")[0], lat.sample_noise(10, g, "cpu")[0]
    g = torch.Generator().manual_seed(3)
    assert torch.equal(lat.sample_noise(10, g, "cpu")[0], first)
    assert torch.equal(lat.sample_noise(10, g, "cpu")[0], second)


def test_deligan_uniform_assignment_is_the_old_iid_draw():
    lat = DeLiGANLatent(3, K=50, lam=0.1, assign="uniform")
    k, eps = lat.sample_noise(200, torch.Generator().manual_seed(0), "cpu")
    g = torch.Generator().manual_seed(0)
    assert torch.equal(k, torch.randint(0, 50, (200,), generator=g))
    assert torch.equal(eps, torch.randn((200, 3), generator=g))


def test_deligan_defaults_and_options_validation():
    from paperlib import engine

    cfg = engine.make_config(model="deligan", epochs=1)
    assert (cfg.deligan_K, cfg.deligan_assign, cfg.deligan_lambda, cfg.deligan_sigma_init) \
        == (35, "row", 0.05, 0.2)
    latent = cfg.spec.networks(cfg)[0]
    assert (latent.K, latent.assign, latent.lam) == (35, "row", 0.05)
    assert torch.all(latent.sigma == 0.2)
    old = engine.make_config(model="deligan", epochs=1, deligan_K=50, deligan_lambda=0.1,
                             deligan_assign="uniform", deligan_sigma_init=0.5)
    latent = old.spec.networks(old)[0]
    assert (latent.K, latent.assign, latent.lam) == (50, "uniform", 0.1)
    assert torch.all(latent.sigma == 0.5)
    for model in ("deligan", "dcgan"):   # another model's option is validated too
        with pytest.raises(ValueError, match=r"deligan_assign 'rows'; valid: row, uniform"):
            engine.make_config(model=model, epochs=1, deligan_assign="rows")
        with pytest.raises(ValueError, match="deligan_sigma_init"):
            engine.make_config(model=model, epochs=1, deligan_sigma_init=float("nan"))
    with pytest.raises(ValueError, match="valid: row, uniform"):
        DeLiGANLatent(3, K=4, assign="iid")


def test_deligan_log_stats_signed_and_absolute_sigma():
    lat = DeLiGANLatent(2, K=2)
    with torch.no_grad():
        lat.sigma.copy_(torch.tensor([[-0.5, 0.1], [0.3, -0.02]]))
    st = lat.log_stats()
    assert st["sigma_mean"] == pytest.approx(-0.03)
    assert (st["sigma_min"], st["sigma_max"]) == pytest.approx((-0.5, 0.3))
    assert st["sigma_abs_mean"] == pytest.approx(0.23)
    assert (st["sigma_abs_min"], st["sigma_abs_max"]) == pytest.approx((0.02, 0.5))
    assert list(st) == ["sigma_mean", "sigma_min", "sigma_max", "sigma_abs_mean",
                        "sigma_abs_min", "sigma_abs_max"]


def test_proposed_adjustment_layer_and_mean_range():
    latent, G, _ = build_models("proposed", 32, nz=10, ngf=4, ndf=4, N=3)
    assert isinstance(latent.layer, nn.Linear)
    assert (latent.layer.in_features, latent.layer.out_features) == (10, 30)
    assert latent.out_dim == 30 and G.in_dim == 30
    eps, mu = latent.sample_noise(500, torch.Generator().manual_seed(0), "cpu")
    assert eps.shape == (500, 10) and mu.shape == (500, 30)
    assert latent.mean_adjust_range == (-1, 1)
    assert mu.min() >= -1 and mu.max() <= 1 and mu.min() < -0.9 and mu.max() > 0.9
    assert torch.allclose(latent(eps, mu), latent.layer(eps) + mu)
    assert G(latent(eps[:2], mu[:2])).shape == (2, 3, 32, 32)
    assert latent.layer.weight in set(latent.parameters())


def test_proposed_ablation_switches():
    no_adjust = ProposedLatent(10, N=3, adjust=False)
    assert no_adjust.layer is None and no_adjust.out_dim == 10
    assert not list(no_adjust.parameters())
    eps, mu = no_adjust.sample_noise(4, torch.Generator().manual_seed(0), "cpu")
    assert mu.shape == (4, 10) and torch.equal(no_adjust(eps, mu), eps + mu)

    no_mean = ProposedLatent(10, N=3, mean_adjust=False)
    noise = no_mean.sample_noise(4, torch.Generator().manual_seed(0), "cpu")
    assert len(noise) == 1 and no_mean.out_dim == 30
    assert torch.allclose(no_mean(*noise), no_mean.layer(noise[0]))

    with pytest.raises(ValueError):
        ProposedLatent(10, N=0)
