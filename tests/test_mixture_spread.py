"""paper_a.component_spread: DeLiGAN's mixture collapse check on fake latents and Gs."""
import numpy as np
import pytest
import torch
from torch import nn

from paperlib.models import DeLiGANLatent
from paperlib.paper_a import SPREAD_MIN_RATIO, component_samples, component_spread

RES, NZ, K = 8, 6, 5


class FlatG(nn.Module):
    """A fixed map z -> (3, RES, RES) images in [-1, 1]."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(NZ, 3 * RES * RES)

    def forward(self, z):
        return torch.tanh(self.fc(z)).view(-1, 3, RES, RES)


def flat_features(images):
    return images.reshape(len(images), -1).numpy()


def latent(mu_scale: float, sigma: float) -> DeLiGANLatent:
    torch.manual_seed(1)
    lat = DeLiGANLatent(NZ, K=K)
    with torch.no_grad():
        lat.mu.mul_(mu_scale)
        lat.sigma.fill_(sigma)
    return lat


def test_collapsed_mixture_fails():
    """sigma 0: each component is one fixed image, whatever eps."""
    s = component_spread(latent(1.0, 0.0), FlatG(), flat_features, per_component=4)
    assert s.within == 0 and s.between > 0 and s.ratio == 0 and not s.passes
    assert np.array_equal(s.per_component, np.zeros(K))
    assert s.images.shape == (K, 4, 3, RES, RES)
    assert all(torch.equal(s.images[c, 0], s.images[c, j]) for c in range(K) for j in range(4))


def test_mixture_whose_images_ignore_k_passes():
    """mu 0, sigma 1: z = eps for every component, so k changes nothing."""
    s = component_spread(latent(0.0, 1.0), FlatG(), flat_features, per_component=8)
    assert s.ratio == pytest.approx(1.0, abs=0.1) and s.passes
    assert s.per_component.shape == (K,) and (s.per_component > 0).all()
    assert s.within == pytest.approx(s.per_component.mean())


def test_deterministic_under_a_seed_and_restores_modes():
    lat, G = latent(1.0, 0.3), FlatG()
    lat.train(), G.train()
    a = component_spread(lat, G, flat_features, seed=3)
    assert lat.training and G.training
    b = component_spread(lat, G, flat_features, seed=3, batch_size=7)
    assert torch.allclose(a.images, b.images, atol=1e-6)
    assert a.ratio == pytest.approx(b.ratio, rel=1e-6)
    c = component_spread(lat, G, flat_features, seed=4)
    assert not torch.equal(a.images, c.images)
    # row k of the images is component k: G(mu_k + sigma_k * eps)
    eps = torch.randn((K * 8, NZ), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = G(lat.mu[2] + lat.sigma[2] * eps[16:24])
    assert torch.allclose(a.images[2], want, atol=1e-6)


def test_ratio_rule_and_bad_sizes():
    assert SPREAD_MIN_RATIO == 0.5
    s = component_spread(latent(1.0, 0.3), FlatG(), flat_features)
    assert s.passes == (s.ratio >= 0.5)
    with pytest.raises(ValueError, match="per_component"):
        component_spread(latent(1.0, 0.3), FlatG(), flat_features, per_component=1)
    one = DeLiGANLatent(NZ, K=1)
    with pytest.raises(ValueError, match="K >= 2"):
        component_spread(one, FlatG(), flat_features)


def test_component_samples_are_the_spreads_images_for_any_subset():
    lat, G = latent(1.0, 0.3), FlatG()
    s = component_spread(lat, G, flat_features, per_component=3, seed=2)
    grid = component_samples(lat, G, [4, 1], per_component=3, seed=2)
    assert grid.shape == (2, 3, 3, RES, RES)
    assert torch.allclose(grid[0], s.images[4], atol=1e-6)
    assert torch.allclose(grid[1], s.images[1], atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        component_samples(lat, G, [K], seed=2)
