"""Paper A's three models: one DCGAN body (Radford et al. 2015, as the PyTorch examples'
``dcgan/main.py``) with three latent modules -- ``dcgan`` (:class:`GaussianLatent`), ``deligan``
(:class:`DeLiGANLatent`) and ``proposed`` (:class:`ProposedLatent`).

A latent module's ``sample_noise(n, generator, device) -> tuple`` draws only from
``generator``; ``forward(*noise)`` gives ``z`` (n, out_dim); ``extra_loss()`` is added to G's
loss (0 without a regulariser); ``log_stats()`` adds per-epoch log columns. D returns logits."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..utils.images import check_res
from .base import (
    RES_CHOICES,
    ModelSpec,
    Options,
    check_bool,
    check_choice,
    check_int,
    check_number,
    option,
    register,
)

MODEL_NAMES = ("dcgan", "deligan", "proposed")

#: DeLiGAN's component assignments (:class:`DeLiGANLatent`).
DELIGAN_ASSIGN = ("row", "uniform")




def _n_up(res: int) -> int:
    """Number of stride-2 (de)convolutions after/before the 4x4 stage: 3, 4, 5 for 32/64/128."""
    return int(math.log2(check_res(res, RES_CHOICES))) - 2


def weights_init(m: nn.Module) -> None:
    """DCGAN init: conv weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """DCGAN generator: ``(B, in_dim)`` latent -> ``(B, nc, res, res)`` in [-1, 1]; ``in_dim``
    is ``nz`` (proposed: ``nz * N``)."""

    def __init__(self, res: int = 64, in_dim: int = 100, ngf: int = 64, nc: int = 3):
        super().__init__()
        n_up = _n_up(res)
        self.res, self.in_dim, self.nc = res, in_dim, nc
        mult = 2 ** (n_up - 1)
        layers = [nn.ConvTranspose2d(in_dim, ngf * mult, 4, 1, 0, bias=False),
                  nn.BatchNorm2d(ngf * mult), nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ngf * mult // 2), nn.ReLU(True)]
            mult //= 2
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, noise_gen: torch.Generator | None = None) -> torch.Tensor:
        """``noise_gen`` is ignored: no noise inputs besides ``z`` (the step interface)."""
        return self.main(z.view(z.size(0), self.in_dim, 1, 1))


class Discriminator(nn.Module):
    """DCGAN discriminator: ``(B, nc, res, res)`` -> ``(B,)`` logits."""

    def __init__(self, res: int = 64, ndf: int = 64, nc: int = 3):
        super().__init__()
        n_down = _n_up(res)
        self.res = res
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        mult = 1
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ndf * mult * 2), nn.LeakyReLU(0.2, inplace=True)]
            mult *= 2
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


def _randn(shape, generator: torch.Generator, device) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


def _uniform(shape, low: float, high: float, generator: torch.Generator, device) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=generator.device)
    return (low + (high - low) * u).to(device)


class _Latent(nn.Module):
    out_dim: int

    def __init__(self):
        super().__init__()
        self.register_buffer("_zero", torch.zeros(()), persistent=False)

    def extra_loss(self) -> torch.Tensor:
        return self._zero

    def log_stats(self) -> dict[str, float]:
        return {}


class GaussianLatent(_Latent):
    """DCGAN's latent: ``z = eps``, ``eps ~ N(0, I_nz)``. No parameters."""

    def __init__(self, nz: int = 100):
        super().__init__()
        self.nz = self.out_dim = nz

    def sample_noise(self, n: int, generator: torch.Generator, device=None) -> tuple:
        return (_randn((n, self.nz), generator, device),)

    def forward(self, eps: torch.Tensor) -> torch.Tensor:
        return eps


class DeLiGANLatent(_Latent):
    """DeLiGAN's latent (Gurumurthy et al., CVPR 2017): a learned Gaussian mixture.

    ``K`` learned means (init U(-1, 1)) and per-dimension sigmas (init ``sigma_init``; raw
    and signed, as in the reference), trained by G's optimiser; ``z = mu_k + sigma_k * eps``.
    ``assign``: which component each sample of a ``sample_noise`` call uses -- ``"row"``
    (the reference): row i uses ``(offset + i) % K``, ``offset`` drawn once per call, so
    ``n >= K`` rows cover every component equally; ``"uniform"``: ``k`` drawn iid.
    :meth:`extra_loss`: the reference's ``lam * mean((1 - sigma)^2)``. Defaults and history:
    docs/DECISIONS.md, "DCGAN family"."""

    def __init__(self, nz: int = 100, K: int = 35, sigma_init: float = 0.2, lam: float = 0.05,
                 assign: str = "row"):
        super().__init__()
        if K < 1:
            raise ValueError(f"DeLiGAN K must be >= 1, got {K}")
        check_choice("DeLiGAN assign", assign, DELIGAN_ASSIGN)
        self.nz = self.out_dim = nz
        self.K, self.lam, self.assign = K, float(lam), assign
        self.mu = nn.Parameter(torch.empty(K, nz).uniform_(-1.0, 1.0))
        self.sigma = nn.Parameter(torch.full((K, nz), float(sigma_init)))

    def sample_noise(self, n: int, generator: torch.Generator, device=None) -> tuple:
        if self.assign == "row":
            offset = torch.randint(0, self.K, (1,), generator=generator, device=generator.device)
            k = (offset + torch.arange(n, device=generator.device)) % self.K
        else:
            k = torch.randint(0, self.K, (n,), generator=generator, device=generator.device)
        return k.to(device), _randn((n, self.nz), generator, device)

    def forward(self, k: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return self.mu[k] + self.sigma[k] * eps

    def extra_loss(self) -> torch.Tensor:
        return self.lam * torch.mean((1.0 - self.sigma) ** 2)

    def log_stats(self) -> dict[str, float]:
        """The signed sigmas' mean, min and max, and those of ``|sigma|`` (a sample's spread
        around its component's mean; a sigma's sign does not change its distribution)."""
        s = self.sigma.detach()
        a = s.abs()
        return {"sigma_mean": s.mean().item(), "sigma_min": s.min().item(),
                "sigma_max": s.max().item(), "sigma_abs_mean": a.mean().item(),
                "sigma_abs_min": a.min().item(), "sigma_abs_max": a.max().item()}


class ProposedLatent(_Latent):
    """Paper A's latent distribution adjustment + latent mean adjustment, in **our
    interpretation** (paper A's Eq. 1 is lost): ``z = layer(eps) + mu`` with
    ``eps ~ N(0, I_n)`` and ``mu ~ U(-1, 1)`` per component and sample (Eq. 3); ``layer``
    (PyTorch's default init) trains with G. ``reading`` (:data:`PROPOSED_READINGS`):
    ``"linear"``, ``layer = Linear(n, n*N)`` (``out_dim = n*N``); ``"depth"``, ``layer`` =
    :class:`PixelNorm` then N x (``Linear(n, n)`` + ``LeakyReLU(0.2)``) (``out_dim = n``).
    Ablations: ``adjust=False`` drops ``layer`` (``out_dim = n``; the reading then changes
    nothing), ``mean_adjust=False`` drops ``mu``."""

    mean_adjust_range = (-1.0, 1.0)

    def __init__(self, nz: int = 100, N: int = 2, adjust: bool = True, mean_adjust: bool = True,
                 reading: str = "linear"):
        super().__init__()
        if N < 1:
            raise ValueError(f"proposed N must be >= 1, got {N}")
        check_reading(reading)
        self.nz, self.N, self.reading = nz, N, reading
        self.adjust, self.mean_adjust = bool(adjust), bool(mean_adjust)
        if not self.adjust:
            self.layer, self.out_dim = None, nz
        elif reading == "linear":
            self.layer, self.out_dim = nn.Linear(nz, nz * N), nz * N
        else:
            blocks = [m for _ in range(N) for m in (nn.Linear(nz, nz), nn.LeakyReLU(0.2))]
            self.layer, self.out_dim = nn.Sequential(PixelNorm(), *blocks), nz

    def sample_noise(self, n: int, generator: torch.Generator, device=None) -> tuple:
        eps = _randn((n, self.nz), generator, device)
        if not self.mean_adjust:
            return (eps,)
        lo, hi = self.mean_adjust_range
        return eps, _uniform((n, self.out_dim), lo, hi, generator, device)

    def forward(self, eps: torch.Tensor, mu: torch.Tensor | None = None) -> torch.Tensor:
        h = self.layer(eps) if self.layer is not None else eps
        return h + mu if mu is not None else h


#: Readings of paper A's lost Eq. 1 (:class:`ProposedLatent`): ``"linear"`` (primary) and
#: ``"depth"`` (secondary); why: docs/DECISIONS.md, "Paper A: two readings of Eq. 1".
PROPOSED_READINGS = ("linear", "depth")


class PixelNorm(nn.Module):
    """StyleGAN's mapping-network input normalisation: ``z * rsqrt(mean(z^2, dim=1) + 1e-8)``."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def check_reading(reading) -> None:
    """Refuse a ``reading`` not in :data:`PROPOSED_READINGS` (``ValueError`` listing them)."""
    if reading not in PROPOSED_READINGS:
        raise ValueError(f"unknown proposed_reading {reading!r}; valid readings are: "
                         f"{', '.join(PROPOSED_READINGS)}")


def build_latent(model: str, nz: int = 100, **latent_opts) -> _Latent:
    """The latent module of ``model``; ``latent_opts`` go to its constructor."""
    if model == "dcgan":
        if latent_opts:
            raise ValueError(f"dcgan takes no latent options, got {sorted(latent_opts)}")
        return GaussianLatent(nz)
    if model == "deligan":
        return DeLiGANLatent(nz, **latent_opts)
    if model == "proposed":
        return ProposedLatent(nz, **latent_opts)
    raise ValueError(f"unknown model {model!r}; valid models are: {', '.join(MODEL_NAMES)}")


def build_models(model: str, res: int, nz: int = 100, ngf: int = 64, ndf: int = 64, nc: int = 3,
                 **latent_opts) -> tuple[_Latent, Generator, Discriminator]:
    """``(latent, G, D)`` for ``model`` in :data:`MODEL_NAMES`, DCGAN-initialised from
    torch's global RNG; ``latent_opts``: deligan ``K``, ``sigma_init``, ``lam``, ``assign``;
    proposed ``N``, ``adjust``, ``mean_adjust``, ``reading``."""
    latent = build_latent(model, nz, **latent_opts)
    G = Generator(res, latent.out_dim, ngf, nc)
    D = Discriminator(res, ndf, nc)
    G.apply(weights_init)
    D.apply(weights_init)
    return latent, G, D


# ----------------------------------------------------------------------------- the step
def train_step(real, G, D, latent, opt_g, opt_d, augment, generator,
               criterion=nn.BCEWithLogitsLoss()) -> torch.Tensor:
    """One DCGAN step on a real batch; returns detached ``[d_loss, g_loss, d_real, d_fake]``:
    ``BCE(D(x), 1) + BCE(D(G(z)), 0)``, ``BCE(D(G(z)), 1)`` (without the latent's
    ``extra_loss``, which is optimised too) and mean ``sigmoid(D(.))`` in the D step."""
    b = real.size(0)
    ones = torch.ones(b, device=real.device)
    zeros = torch.zeros(b, device=real.device)
    # (1) Update D: maximise log D(x) + log(1 - D(G(z)))
    opt_d.zero_grad()
    out_real = D(augment(real, generator))
    err_d_real = criterion(out_real, ones)
    err_d_real.backward()
    fake = G(latent(*latent.sample_noise(b, generator, real.device)))
    out_fake = D(augment(fake.detach(), generator))
    err_d_fake = criterion(out_fake, zeros)
    err_d_fake.backward()
    opt_d.step()
    augment.update(out_real)
    # (2) Update G (and the latent's parameters): maximise log D(G(z)), plus the regulariser
    opt_g.zero_grad()
    err_g = criterion(D(augment(fake, generator)), ones)
    (err_g + latent.extra_loss()).backward()
    opt_g.step()
    return torch.stack([err_d_real + err_d_fake, err_g, torch.sigmoid(out_real).mean(),
                        torch.sigmoid(out_fake).mean()]).detach()


class DCGANStep:
    """A paper-A model's step object (:mod:`paperlib.models.base`'s step interface): its
    latent module, G, D, two Adams (G's also trains the latent) and :func:`train_step`."""

    def __init__(self, latent, G, D, optim: dict):
        self.latent, self.G, self.D = latent, G, D
        self.opt_g = torch.optim.Adam(list(G.parameters()) + list(latent.parameters()), **optim)
        self.opt_d = torch.optim.Adam(D.parameters(), **optim)
        self.modules = {"G": G, "D": D, "latent": latent}
        self.optimizers = {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def step(self, real, augment, generator) -> torch.Tensor:
        return train_step(real, self.G, self.D, self.latent, self.opt_g, self.opt_d, augment,
                          generator)

    def sampler(self):
        return self.latent, self.G

    def train(self) -> None:
        self.G.train(), self.D.train(), self.latent.train()

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass


# ----------------------------------------------------------------------------- registry
@dataclass
class DeLiGANOptions(Options):
    """DeLiGAN's latent (:class:`DeLiGANLatent`): mixture components, their assignment, the
    sigmas' init and the sigma regulariser's weight. ``legacy``: the value runs had before
    the option existed (left out of their run key; docs/DECISIONS.md, "DCGAN family")."""

    deligan_K: int = option(35, "DeLiGAN mixture components K (reference: K = batch size; "
                                "paper A's batch is 35)")
    deligan_lambda: float = option(0.05, "DeLiGAN sigma regulariser weight (reference: 0.05 "
                                         "sketches, 0.1 toy, 1/3 MNIST)")
    deligan_assign: str = option("row", "DeLiGAN component assignment: row (reference: row i "
                                        "of a batch uses component (offset + i) % K) or "
                                        "uniform (k drawn iid)", legacy="uniform")
    deligan_sigma_init: float = option(0.2, "DeLiGAN sigmas' initial value (reference "
                                            "MNIST and sketches: 0.2)", legacy=0.2)

    def validate(self) -> None:
        self.deligan_K = check_int("deligan_K", self.deligan_K, 1)
        check_number("deligan_lambda", self.deligan_lambda)
        check_choice("deligan_assign", self.deligan_assign, DELIGAN_ASSIGN)
        check_number("deligan_sigma_init", self.deligan_sigma_init)


@dataclass
class ProposedOptions(Options):
    """Paper A's latent (:class:`ProposedLatent`): N, its two parts and the reading of
    Eq. 1 (left out of the run key at its default, so earlier runs keep their names)."""

    proposed_N: int = option(2, "latent expansion factor N", flag="--N")
    adjust: bool = option(True, "latent distribution adjustment layer")
    mean_adjust: bool = option(True, "latent mean adjustment")
    proposed_reading: str = option("linear", "reading of Eq. 1: linear (Linear(n, n*N), "
                                             "primary) or depth (N mapping layers)",
                                   flag="--reading", metavar="linear|depth", key_default=True)

    def validate(self) -> None:
        self.proposed_N = check_int("proposed_N", self.proposed_N, 1)
        for name in ("adjust", "mean_adjust"):
            check_bool(name, getattr(self, name))
        check_reading(self.proposed_reading)


def _dcgan_sizes(prof) -> dict:
    return {"kimg": prof.kimg, "batch_size": prof.batch_size, "ngf": prof.ngf, "ndf": prof.ndf}


def _latent_opts(cfg) -> dict:
    o = cfg.options
    if cfg.model == "deligan":
        return {"K": o.deligan_K, "lam": o.deligan_lambda, "assign": o.deligan_assign,
                "sigma_init": o.deligan_sigma_init}
    if cfg.model == "proposed":
        return {"N": o.proposed_N, "adjust": o.adjust, "mean_adjust": o.mean_adjust,
                "reading": o.proposed_reading}
    return {}


def _networks(cfg) -> tuple:
    return build_models(cfg.model, cfg.res, cfg.nz, cfg.ngf, cfg.ndf, **_latent_opts(cfg))


def _step(cfg, latent, G, D, device) -> DCGANStep:
    return DCGANStep(latent, G, D, cfg.optim)


#: Measured training seconds per kimg (one run per single-threaded worker, 2-core reference
#: machine; measurements: docs/DECISIONS.md, "Seconds per kimg").
_SECONDS_PER_KIMG = {"dcgan": {"smoke": 0.8, "cpu": 3.4}, "deligan": {"smoke": 0.8, "cpu": 3.5},
                     "proposed": {"smoke": 0.8, "cpu": 3.6}}

# fields=(): paper A's latent options stay in every model's run key (run names unchanged)
for _name, _opts, _help in (
        ("dcgan", Options, "DCGAN baseline (paper A)"),
        ("deligan", DeLiGANOptions, "DeLiGAN: a learned mixture-of-Gaussians latent (paper A)"),
        ("proposed", ProposedOptions, "paper A's latent distribution + mean adjustment")):
    register(ModelSpec(name=_name, networks=_networks, step=_step, profile_sizes=_dcgan_sizes,
                       options=_opts, fields=(), seconds_per_kimg=_SECONDS_PER_KIMG[_name],
                       family="DCGAN", help=_help))
