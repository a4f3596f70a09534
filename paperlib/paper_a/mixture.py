"""DeLiGAN's mixture collapse check (issue 27): :func:`component_spread` measures how much
images of one mixture component differ from each other, against images of different
components. Why the rule and its threshold: docs/DECISIONS.md, "DCGAN family"."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: The pass rule: images of one component differ at least half as much as images of
#: different components (``within / between >= SPREAD_MIN_RATIO``).
SPREAD_MIN_RATIO = 0.5


@dataclass
class Spread:
    """:func:`component_spread`'s result: ``within`` (mean feature distance between two
    images of the same component), ``between`` (of different components), ``ratio =
    within / between`` (0 when every image is the same), ``per_component`` (K,) the within
    distance of each component, and ``images`` (K, per_component, C, H, W) in [-1, 1] on the
    CPU (row k: component k)."""

    within: float
    between: float
    ratio: float
    per_component: np.ndarray
    images: torch.Tensor

    @property
    def passes(self) -> bool:
        """``ratio >= SPREAD_MIN_RATIO`` (a NaN ratio fails)."""
        return bool(self.ratio >= SPREAD_MIN_RATIO)


@torch.no_grad()
def component_samples(latent, G, ks, per_component: int = 8, seed: int = 0, device=None,
                      batch_size: int = 256) -> torch.Tensor:
    """(len(ks), per_component, C, H, W) images in [-1, 1] on the CPU: row i holds
    ``G(mu_k + sigma_k * eps)`` for ``k = ks[i]`` and eps row ``k * per_component + j`` of a
    (K * per_component, nz) N(0, 1) draw from ``seed`` -- so a component's images do not
    depend on which others are asked for. G and the latent run in eval mode (their modes
    restored after)."""
    ks = [int(k) for k in ks]
    n, K = int(per_component), int(latent.K)
    if any(not 0 <= k < K for k in ks):
        raise ValueError(f"components {ks} outside 0..{K - 1}")
    device = device if device is not None else latent.mu.device
    eps = torch.randn((K * n, latent.nz), generator=torch.Generator().manual_seed(int(seed)))
    k = torch.tensor(ks, dtype=torch.long).repeat_interleave(n)
    eps = eps.view(K, n, -1)[ks].reshape(len(k), -1)
    modes = latent.training, G.training
    latent.eval(), G.eval()
    try:
        images = torch.cat([G(latent(k[i:i + batch_size].to(device),
                                     eps[i:i + batch_size].to(device))).float().cpu()
                            for i in range(0, len(k), batch_size)])
    finally:
        latent.train(modes[0]), G.train(modes[1])
    return images.view(len(ks), n, *images.shape[1:])


def component_spread(latent, G, features, per_component: int = 8, seed: int = 0, device=None,
                     batch_size: int = 256) -> Spread:
    """For every component k of a DeLiGAN ``latent`` (all ``latent.K``), render
    ``per_component`` images with eps from ``seed`` (:func:`component_samples`), embed them
    with ``features`` (images in [-1, 1] -> (N, D) array, e.g.
    :func:`paperlib.metrics.get_extractor`'s extractor) and compare Euclidean feature
    distances. Deterministic for a given seed."""
    K, n = int(latent.K), int(per_component)
    if K < 2 or n < 2:
        raise ValueError(f"component_spread needs K >= 2 and per_component >= 2, got K {K}, "
                         f"per_component {per_component}")
    images = component_samples(latent, G, range(K), n, seed, device, batch_size)
    f = np.asarray(features(images.flatten(0, 1)), dtype=np.float64).reshape(K * n, -1)
    dist = np.stack([np.linalg.norm(f - row, axis=1) for row in f])   # exact 0 for equal rows
    comp = np.repeat(np.arange(K), n)
    same = comp[:, None] == comp[None, :]
    off_diag = ~np.eye(n, dtype=bool)
    per = np.array([dist[c * n:(c + 1) * n, c * n:(c + 1) * n][off_diag].mean()
                    for c in range(K)])
    within, between = float(per.mean()), float(dist[~same].mean())
    ratio = within / between if between != 0 else 0.0
    return Spread(within, between, ratio, per, images)
