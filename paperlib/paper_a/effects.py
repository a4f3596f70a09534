"""Measurements of paper A's latent: :func:`mean_effect`, the image change per unit of the
mean adjustment mu (Eq. 3) against per unit of eps, and :func:`live_directions`, how many
principal directions the mapped latent uses."""
from __future__ import annotations

import math

import torch

from ..utils.threads import pinned_threads


def _unit_rows(shape, generator: torch.Generator) -> torch.Tensor:
    d = torch.randn(shape, generator=generator, dtype=torch.float64)
    return (d / d.norm(dim=1, keepdim=True)).float()


def _rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).pow(2).mean().sqrt().item()


@torch.no_grad()
def mean_effect(latent, G, n: int = 64, delta: float = 0.5, seed: int = 0, device=None
                ) -> dict[str, float]:
    """How much G's images move per unit of the mean adjustment mu against per unit of the
    noise eps: for ``n`` noise draws ``(eps, mu)`` from ``seed``, mu (then eps) is moved by
    ``delta`` along a random unit-norm direction per sample (a finite difference; mu may
    leave [-1, 1]) and the RMS pixel change over all images is divided by ``delta``.

    Returns ``{"per_mu", "per_eps", "ratio"}`` (ratio = per_mu / per_eps; NaN when per_eps
    is 0). Eval mode, no grad, one CPU thread (the modules' modes are restored):
    deterministic for a given ``seed``. ``device``: None, G's. ``ValueError`` for a latent
    without a mean adjustment (any but the proposed model with ``mean_adjust``)."""
    if not getattr(latent, "mean_adjust", False):
        raise ValueError(f"mean_effect needs a latent with a mean adjustment mu (the proposed "
                         f"model with mean_adjust=True); this {type(latent).__name__} has none")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"mean_effect needs n >= 1 samples, got {n!r}")
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be a positive finite number, got {delta!r}")
    if device is None:
        device = next((p.device for p in G.parameters()), torch.device("cpu"))
    g = torch.Generator().manual_seed(int(seed))
    eps, mu = latent.sample_noise(n, g, "cpu")
    d_eps, d_mu = _unit_rows(eps.shape, g), _unit_rows(mu.shape, g)
    eps_in = torch.cat([eps, eps, eps + delta * d_eps]).to(device)
    mu_in = torch.cat([mu, mu + delta * d_mu, mu]).to(device)
    modes = {m: m.training for m in (latent, G)}
    try:
        latent.eval(), G.eval()
        with pinned_threads(1):
            x = G(latent(eps_in, mu_in)).float().cpu()
    finally:
        for m, mode in modes.items():
            m.train(mode)
    x0, x_mu, x_eps = x[:n], x[n:2 * n], x[2 * n:]
    per_mu, per_eps = _rms(x_mu, x0) / delta, _rms(x_eps, x0) / delta
    return {"per_mu": per_mu, "per_eps": per_eps,
            "ratio": per_mu / per_eps if per_eps > 0 else math.nan}


@torch.no_grad()
def live_directions(latent, n: int = 2000, seed: int = 0, share: float = 0.95,
                    mean_adjust: bool = True) -> dict[str, float]:
    """How many directions the mapped latent ``z = latent(*noise)`` of ``n`` noise draws
    from ``seed`` uses: PCA (float64 SVD of the centred draws), ``directions`` = the fewest
    principal directions holding at least ``share`` of the variance, ``pc12_share`` = the
    share of the first two, ``dim`` = z's size. ``mean_adjust=False`` leaves a mean
    adjustment's mu out (the layer's output alone). Eval mode (restored), CPU, no grad:
    deterministic for a given ``seed``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"live_directions needs n >= 2 samples, got {n!r}")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    device = next((p.device for p in latent.parameters()), torch.device("cpu"))
    noise = latent.sample_noise(n, torch.Generator().manual_seed(int(seed)), "cpu")
    if not mean_adjust and getattr(latent, "mean_adjust", False):
        noise = noise[:1]
    mode = latent.training
    try:
        latent.eval()
        with pinned_threads(1):
            z = latent(*(t.to(device) for t in noise)).double().cpu()
            s = torch.linalg.svdvals(z - z.mean(0))
    finally:
        latent.train(mode)
    var = s.pow(2)
    if not var.sum() > 0:
        return {"dim": int(z.shape[1]), "directions": 0, "pc12_share": math.nan}
    frac = (var / var.sum()).cumsum(0)
    directions = int(torch.searchsorted(frac, torch.tensor([share - 1e-12],
                                                           dtype=frac.dtype)).item()) + 1
    return {"dim": int(z.shape[1]), "directions": min(directions, len(frac)),
            "pc12_share": float(frac[min(1, len(frac) - 1)])}
