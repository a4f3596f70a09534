"""How fast this machine trains: a one-thread step probe of models at a profile's sizes,
against the reference machine's measured rate (:attr:`ModelSpec.seconds_per_kimg`), so
that a plan made with the reference rates can be scaled to this machine."""
from __future__ import annotations

import time
from typing import Sequence

import torch

from ..config import get_profile
from ..models import get_model, model_names
from .augment import Augmenter
from .config import profile_config, resolve_device
from .loop import train_epoch
from .runs import build_trainer


def probe_models() -> list[str]:
    """The models the probe times by default: every registered model that trains on images
    alone (a model of paired data needs maps)."""
    return [m for m in model_names() if get_model(m).data_kind != "pairs"]


def step_probe(profile="cpu", models: Sequence[str] | None = None, steps: int = 6,
               warmup: int = 2, threads: int = 1, device: str = "cpu") -> dict:
    """Per model (default :func:`probe_models`), ``steps`` training steps (after ``warmup``
    untimed ones) of the engine's step at ``profile``'s sizes on random images, on
    ``threads`` torch threads: ``{model:
    {"batch", "s_per_step", "s_per_kimg", "reference_s_per_kimg", "slowdown"}}``
    (``slowdown``: this machine's s/kimg over the reference's; NaN without a reference).
    The torch thread count is restored afterwards."""
    prof = get_profile(profile)
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got {steps}, {warmup}")
    dev = resolve_device(device)
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    out = {}
    try:
        for name in models or probe_models():
            cfg = profile_config(prof, name, epochs=1, device=str(dev))
            trainer = build_trainer(cfg, dev)
            aug = Augmenter(cfg.augment)
            gen = torch.Generator().manual_seed(0)
            bs = int(cfg.batch_size)
            images = (torch.rand((steps + warmup) * bs, 3, cfg.res, cfg.res, generator=gen)
                      * 2 - 1).to(dev)
            g_shuffle = torch.Generator().manual_seed(1)
            g_noise = torch.Generator(device=dev).manual_seed(2)
            if warmup:
                train_epoch(images[:warmup * bs], bs, trainer, aug, g_shuffle, g_noise)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            train_epoch(images[warmup * bs:], bs, trainer, aug, g_shuffle, g_noise)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            per_step = (time.perf_counter() - t0) / steps
            per_kimg = per_step * 1000.0 / bs
            ref = get_model(name).seconds_per_kimg.get(prof.name, float("nan"))
            out[name] = {"batch": bs, "s_per_step": per_step, "s_per_kimg": per_kimg,
                         "reference_s_per_kimg": ref, "slowdown": per_kimg / ref}
    finally:
        torch.set_num_threads(before)
    return out
