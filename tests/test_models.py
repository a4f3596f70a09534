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
