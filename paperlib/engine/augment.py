"""Small-data augmentation for the discriminator (:class:`Augmenter` kinds):

* ``"diffaugment"`` -- DiffAugment (Zhao et al., NeurIPS 2020): colour, translation (1/8),
  cutout (1/2); differentiable, applied to reals and fakes in D's and G's steps.
* ``"ada-diffaug"`` (old name ``"ada"``, still accepted) -- the same ops, each with a probability ``p`` adapted from
  ``r_t = E[sign(D(x_real))]``: every ``ada_interval`` steps ``p`` moves by
  ``sign(r_t - target) * images / (ada_kimg * 1000)``, clamped to [0, 1] (target 0.6;
  ``ada_kimg = 5``, the paper's 500, is our choice for runs of tens of kimg).
* ``"ada-bgc"`` -- ADA's own pipeline (:mod:`paperlib.engine.ada_pipeline`), adapted as NVlabs
  does (``ada_kimg = 500``, ``p`` clamped below at 0 only).

Randomness only from the ``torch.Generator`` passed in; ``p = 0`` returns the input (no draw).
(history: docs/DECISIONS.md, "Augmentation")"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .ada_pipeline import ada_bgc

AUGMENT_KINDS = ("none", "diffaugment", "ada-diffaug", "ada-bgc")
#: Old kind names, still accepted: ``{old: new}``.
AUGMENT_ALIASES = {"ada": "ada-diffaug"}
#: The kinds whose p is adapted from D's outputs on reals.
ADAPTIVE_KINDS = ("ada-diffaug", "ada-bgc")


def canonical_kind(kind):
    """``kind`` under its current name (:data:`AUGMENT_ALIASES`); other values unchanged."""
    return AUGMENT_ALIASES.get(kind, kind) if isinstance(kind, str) else kind


ADA_TARGET = 0.6


ADA_INTERVAL = 4


ADA_KIMG = 5.0
#: NVlabs' speed constant, used by the "ada-bgc" kind.
ADA_BGC_KIMG = 500.0


def _rand(n: int, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g, device=g.device, dtype=x.dtype).to(x.device)


def _randint(low: int, high: int, n: int, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.randint(low, high, (n, 1, 1), generator=g, device=g.device).to(x.device)


def rand_brightness(x, g):
    return x + (_rand(x.size(0), x, g).view(-1, 1, 1, 1) - 0.5)


def rand_saturation(x, g):
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand(x.size(0), x, g).view(-1, 1, 1, 1) * 2) + mean


def rand_contrast(x, g):
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(x.size(0), x, g).view(-1, 1, 1, 1) + 0.5) + mean


def rand_translation(x, g, ratio: float = 0.125):
    b, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx, ty = _randint(-sx, sx + 1, b, x, g), _randint(-sy, sy + 1, b, x, g)
    gb, gx, gy = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    x_pad = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return x_pad.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)


def rand_cutout(x, g, ratio: float = 0.5):
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = _randint(0, h + (1 - ch % 2), b, x, g)
    oy = _randint(0, w + (1 - cw % 2), b, x, g)
    gb, gx, gy = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gx = torch.clamp(gx + ox - ch // 2, min=0, max=h - 1)
    gy = torch.clamp(gy + oy - cw // 2, min=0, max=w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


#: DiffAugment's "color,translation,cutout" policy, in its order.
DIFFAUGMENT_OPS = (rand_brightness, rand_saturation, rand_contrast, rand_translation, rand_cutout)


def diff_augment(x: torch.Tensor, generator: torch.Generator, p: float = 1.0) -> torch.Tensor:
    """DiffAugment of a batch in [-1, 1], each op applied to each sample with probability
    ``p`` (1: plain DiffAugment; 0: ``x`` itself). Differentiable in ``x``."""
    if p <= 0:
        return x
    for op in DIFFAUGMENT_OPS:
        if p >= 1:
            x = op(x, generator)
        else:
            keep = (_rand(x.size(0), x, generator) < p).view(-1, 1, 1, 1)
            x = torch.where(keep, op(x, generator), x)
    return x


class Augmenter:
    """What D sees: ``augmenter(x, generator)`` before every D call.

    ``kind``: ``"none"`` (identity), ``"diffaugment"`` (fixed ``p``, default 1),
    ``"ada-diffaug"`` (alias ``"ada"``) or ``"ada-bgc"`` (``p`` from ``p``, default 0, adapted by :meth:`update` from D's logits on
    reals; module docstring). ``ada_kimg`` None: the kind's default.
    :meth:`state_dict`/:meth:`load_state_dict` carry ``p`` and the r_t sums across a resume.
    """

    def __init__(self, kind: str = "none", p: float | None = None, target: float = ADA_TARGET,
                 ada_interval: int = ADA_INTERVAL, ada_kimg: float | None = None):
        kind = canonical_kind(kind)
        if kind not in AUGMENT_KINDS:
            raise ValueError(f"unknown augment kind {kind!r}; valid kinds are: "
                             f"{', '.join(AUGMENT_KINDS)}")
        if p is None:
            p = 1.0 if kind == "diffaugment" else 0.0
        if ada_kimg is None:
            ada_kimg = ADA_BGC_KIMG if kind == "ada-bgc" else ADA_KIMG
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"augment p must be in [0, 1], got {p}")
        if not 0.0 < target < 1.0 or ada_interval < 1 or ada_kimg <= 0:
            raise ValueError("need 0 < target < 1, ada_interval >= 1 and ada_kimg > 0")
        self.kind, self.p, self.target = kind, float(p if kind != "none" else 0.0), float(target)
        self.ada_interval, self.ada_kimg = int(ada_interval), float(ada_kimg)
        self.rt: float | None = None   # last r_t estimate (adaptive kinds)
        self._sign_sum = 0.0           # sum of sign(D(real)) in the current interval
        self._count = 0                # real logits seen in the current interval
        self._steps = 0                # update() calls in the current interval

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.kind == "none" or self.p <= 0:
            return x
        if self.kind == "ada-bgc":
            return ada_bgc(x, generator, self.p)
        return diff_augment(x, generator, self.p)

    def update(self, real_logits: torch.Tensor) -> None:
        """ADA: accumulate ``sign(D(real))``; every ``ada_interval`` calls adjust ``p`` by
        ``sign(r_t - target) * images in the interval / (ada_kimg * 1000)``."""
        if self.kind not in ADAPTIVE_KINDS:
            return
        self._sign_sum = self._sign_sum + torch.sign(real_logits.detach()).sum()
        self._count += real_logits.numel()
        self._steps += 1
        if self._steps >= self.ada_interval:
            self.rt = float(self._sign_sum) / self._count
            step = (1.0 if self.rt > self.target else -1.0 if self.rt < self.target else 0.0)
            p = max(0.0, self.p + step * self._count / (self.ada_kimg * 1000))
            self.p = p if self.kind == "ada-bgc" else min(1.0, p)   # NVlabs: no upper clamp
            self._sign_sum, self._count, self._steps = 0.0, 0, 0

    def state_dict(self) -> dict:
        return {"kind": self.kind, "p": self.p, "target": self.target,
                "ada_interval": self.ada_interval, "ada_kimg": self.ada_kimg, "rt": self.rt,
                "sign_sum": float(self._sign_sum), "count": self._count, "steps": self._steps}

    def load_state_dict(self, state: dict) -> None:
        if canonical_kind(state["kind"]) != self.kind:
            raise ValueError(f"augmenter state is for kind {state['kind']!r}, not {self.kind!r}")
        self.p, self.target, self.rt = float(state["p"]), float(state["target"]), state["rt"]
        self.ada_interval, self.ada_kimg = int(state["ada_interval"]), float(state["ada_kimg"])
        self._sign_sum, self._count = float(state["sign_sum"]), int(state["count"])
        self._steps = int(state["steps"])

    def __repr__(self) -> str:
        return f"Augmenter(kind={self.kind!r}, p={self.p:.4f})"
