"""Training throughput (images/s) of the shared engine vs a plain DCGAN loop.

    .venv/bin/python benchmarks/train_throughput.py [--res 32] [--steps 20] [--batch 35]
                                                     [--ngf 32] [--ndf 32] [--repeats 7]
                                                     [--threads 1] [--device auto]
    .venv/bin/python benchmarks/train_throughput.py --smoke   # seconds: tiny sizes, proves it runs

Times, in one process on the same random images:

* ``engine <model>`` -- :func:`paperlib.train.train_epoch`, the code path ``train()`` runs
  each epoch (shuffle from a torch.Generator, latent module, augmenter hook, per-step loss
  stats, one sync per epoch); only train()'s per-epoch I/O (log row, sample grid,
  checkpoint) is left out.
* ``plain dcgan`` -- a minimal loop in the shape of the PyTorch examples' dcgan/main.py
  written below: same G/D modules and sizes, same Adam settings, BCE on logits, global RNG,
  no logging.

Warm-up steps are excluded. Variants are interleaved within each repeat (in a rotating
order), so load from other processes hits all of them alike; the medians over repeats are
reported, and the engine/plain ratio for DCGAN both as a ratio of medians and as the median
of the per-repeat ratios. The target: the engine's overhead stays within 5%.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import _smoke  # the benchmarks' --smoke helper, next to this file
import torch
from torch import nn

from paperlib.config import get_device
from paperlib.engine import build_trainer, make_config, train_epoch
from paperlib.engine.augment import Augmenter
from paperlib.models import Discriminator, Generator
from paperlib.models.base import OPTIM_CONFIGS
from paperlib.models.dcgan import MODEL_NAMES

NZ = 100
#: ``--smoke``: a couple of tiny steps per variant (nothing is written).
SMOKE = {"steps": 2, "batch": 8, "ngf": 8, "ndf": 8, "repeats": 2, "warmup": 1}


def make_engine(model, args, device):
    """The engine's step as ``train()`` builds it: a trainer from ``build_trainer`` (networks
    seeded by the config's seed, 0) and an ``Augmenter``, driven by ``train_epoch``."""
    cfg = make_config(model=model, epochs=1, seed=0, config=args.config, res=args.res,
                      batch_size=args.batch, nz=NZ, ngf=args.ngf, ndf=args.ndf,
                      threads=args.threads, device=str(device))
    trainer = build_trainer(cfg, device)
    g_shuffle = torch.Generator().manual_seed(1)
    g_noise = torch.Generator(device=device).manual_seed(2)
    augment = Augmenter(cfg.augment)

    def run(images):
        train_epoch(images, args.batch, trainer, augment, g_shuffle, g_noise)
    return run


def make_plain(args, device):
    """The PyTorch examples' dcgan/main.py training step, minus logging."""
    torch.manual_seed(0)
    netG, netD = Generator(args.res, NZ, args.ngf).to(device), Discriminator(args.res, args.ndf).to(device)
    opt = OPTIM_CONFIGS[args.config]
    optimizerG = torch.optim.Adam(netG.parameters(), **opt)
    optimizerD = torch.optim.Adam(netD.parameters(), **opt)
    criterion = nn.BCEWithLogitsLoss()

    def run(images):
        perm = torch.randperm(len(images), device=device)
        for idx in perm.split(args.batch):
            real = images[idx]
            b = real.size(0)
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            label = torch.full((b,), 1.0, device=device)
            errD_real = criterion(netD(real), label)
            errD_real.backward()
            noise = torch.randn(b, NZ, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(0.0)
            errD_fake = criterion(netD(fake.detach()), label)
            errD_fake.backward()
            optimizerD.step()
            # (2) Update G network: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(1.0)
            errG = criterion(netD(fake), label)
            errG.backward()
            optimizerG.step()
    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--res", type=int, default=32, choices=(32, 64, 128))
    p.add_argument("--steps", type=int, default=20, help="timed steps per repeat and variant")
    p.add_argument("--batch", type=int, default=35)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--ndf", type=int, default=32)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per variant")
    p.add_argument("--config", default="paper", choices=tuple(OPTIM_CONFIGS))
    p.add_argument("--device", default=None, help="cpu, cuda or auto")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on a shared 2-core machine more threads "
                        "than free cores make timings swing by 10x)")
    args = _smoke.parse_args(p, argv, **SMOKE)
    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    gen = torch.Generator().manual_seed(0)
    images = (torch.rand(args.steps * args.batch, 3, args.res, args.res, generator=gen) * 2 - 1).to(device)
    warm = images[: args.warmup * args.batch]
    variants = {"plain dcgan": make_plain(args, device)}
    variants.update({f"engine {m}": make_engine(m, args, device) for m in MODEL_NAMES})
    for run in variants.values():
        run(warm)
    sync()

    rates = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            variants[name](images)
            sync()
            rates[name].append(len(images) / (time.perf_counter() - t0))

    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"res {args.res}, batch {args.batch}, ngf {args.ngf}, ndf {args.ndf}, "
          f"config {args.config}")
    print(f"{args.steps} timed steps x {args.repeats} repeats per variant (interleaved), "
          f"{args.warmup} warm-up steps excluded; median images/s (min..max)")
    for name, vals in rates.items():
        print(f"  {name:16s} {statistics.median(vals):9.1f}   ({min(vals):.1f}..{max(vals):.1f})")
    eng, plain = rates["engine dcgan"], rates["plain dcgan"]
    ratio = statistics.median(eng) / statistics.median(plain)
    paired = statistics.median(e / q for e, q in zip(eng, plain))
    verdict = "within" if min(ratio, paired) >= 0.95 else "OUTSIDE"
    print(f"engine/plain (dcgan): {ratio:.3f} (median of per-repeat ratios {paired:.3f}) -> "
          f"{verdict} the 5% overhead budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
