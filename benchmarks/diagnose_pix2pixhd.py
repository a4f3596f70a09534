"""Why Pix2pixHD does not learn: held-out error on *identity* maps, one change at a time.

    python benchmarks/diagnose_pix2pixhd.py [--configs a,b,...] [--kimg 16,32] [--n 250]
                                            [--jobs 2]
    python benchmarks/diagnose_pix2pixhd.py --smoke [--out DIR]   # seconds, tiny sizes

The easiest mapping there is: the map *is* the image (``map_source="identity"``, the image in
[0, 1]; :mod:`paperlib.data.paired`). A model that cannot learn it cannot paint anything
from a map. Each configuration trains Pix2pixHD (its own step object, built by the model's
registry entry from a :class:`paperlib.engine.TrainConfig`, fed by the engine's
``train_epoch``: the engine's shuffling and batching) at 32 px on the training part of a
geometric stand-in set (``--n`` images, 20 % held out, seed 0) and reports the mean
absolute error, in [-1, 1], of its translations of the *held-out* maps (and of the training
maps) after each ``--kimg`` thousand pairs shown. One thread per run, ``--jobs`` runs side
by side. Sizes (``--ngf``, ``--ndf``, ``--blocks``, ``--batch``) default to the cpu
profile's Pix2pixHD.

Configurations (:data:`CONFIGS`) change one thing at a time from ``baseline`` (the model as
it was: pix2pixHD's generator, instance norm after every convolution, 8 px bottleneck, no
skip) to test each suspect: the generator's instance norm (after its first convolution
only, or everywhere), the discriminator (no instance norm; 2 layers), the bottleneck (one
downsampling fewer: 16 px; the map fed again to the last layer), the number of updates
(batch 4: 4x as many), pix2pix's L1 term. Then the fix (the model's new defaults:
``p2p_norm="none"``, ``p2p_skip=True``; :mod:`paperlib.models.pix2pixhd`) at batch 16 and 4,
with L1, with each of its parts undone, and with an lr decay over the second half (of the
longest milestone) at batch 4 and with pix2pixHD's schedule (batch 1). Writes
``figures/<profile>/diagnose_pix2pixhd.{csv,md}``.

``--smoke``: a 16-image set under ``--out`` (or a temporary folder), widths 4, one
residual block, a few steps per configuration; its numbers mean nothing.
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _smoke  # noqa: E402  (the benchmarks' --smoke helper, next to this file)

from paperlib import config, data, engine, plots  # noqa: E402
from paperlib.data import paired  # noqa: E402
from paperlib.engine.loop import train_epoch  # noqa: E402
from paperlib.models import pix2pixhd  # noqa: E402

RES = 32
#: ``--smoke``: a 16-image set, tiny networks, two milestones of a few steps each.
SMOKE = {"profile": "smoke", "n": _smoke.SMOKE_IMAGES, "kimg": "0.024,0.048", "ngf": 4,
         "ndf": 4, "blocks": 1, "jobs": 2}


def _strip_norm(module: nn.Module) -> None:
    """Replace every instance norm inside ``module`` with an identity."""
    for name, child in module.named_children():
        if isinstance(child, nn.InstanceNorm2d):
            setattr(module, name, nn.Identity())
        else:
            _strip_norm(child)


def _init_like(cfg, module: nn.Module) -> nn.Module:
    """A new module initialised as :func:`paperlib.models.pix2pixhd.networks` would."""
    if cfg.p2p_norm == "instance" or isinstance(module, pix2pixhd.MultiscaleDiscriminator):
        pix2pixhd.init_weights(module)
    return module


class _InputSkip(nn.Module):
    """A generator whose last 7x7 convolution also sees the map itself (only the map, not
    the head's features as ``p2p_skip`` does)."""

    def __init__(self, G: pix2pixhd.GlobalGenerator, ngf: int):
        super().__init__()
        self.head, self.body = G.head, G.body
        self.tail = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf + G.in_c, 3, 7), nn.Tanh())

    def forward(self, x):
        return self.tail(torch.cat([self.body(self.head(x)), x], 1))


def _first_norm_off(cfg, G, D):
    G.head[2] = nn.Identity()        # pad, conv, *norm*, relu
    return G, D


def _g_norm_off(cfg, G, D):          # (G keeps pix2pixHD's N(0, 0.02) initialisation)
    _strip_norm(G)
    return G, D


def _d_norm_off(cfg, G, D):
    _strip_norm(D)
    return G, D


def _d_layers2(cfg, G, D):
    return G, _init_like(cfg, pix2pixhd.MultiscaleDiscriminator(cfg.map_channels + 3, cfg.ndf,
                                                                2, cfg.p2p_num_d))


def _bottleneck16(cfg, G, D):
    return _init_like(cfg, pix2pixhd.GlobalGenerator(cfg.map_channels, 3, cfg.ngf, 1,
                                                     cfg.p2p_blocks, cfg.p2p_norm,
                                                     cfg.p2p_skip)), D


def _input_skip(cfg, G, D):
    return _init_like(cfg, _InputSkip(G, cfg.ngf)), D


def _pix2pixhd_init(cfg, G, D):
    pix2pixhd.init_weights(G)        # N(0, 0.02) instead of PyTorch's default
    return G, D


#: The model as it was (pix2pixHD's generator: instance norm everywhere, no skip).
OLD = {"p2p_norm": "instance", "p2p_skip": False}
#: The test's and our fix's training: batch 4 and pix2pix's L1 (weight 100).
FIX_TRAIN = {"batch_size": 4, "l1_lambda": 100.0}

#: name -> (TrainConfig overrides, network surgery or None, what it tests). The first group
#: changes one thing from ``baseline`` (the old model); the second is the fix (the new
#: defaults: no norm in G, PyTorch's initialisation, the full-resolution skip) and, from
#: ``fixed_batch4_l1``, one part of it undone at a time.
CONFIGS = {
    "baseline": (OLD, None, "the model as it was"),
    "first_norm_off": (OLD, _first_norm_off, "suspect 1: no instance norm after G's first conv"),
    "g_norm_off": (OLD, _g_norm_off, "suspect 1': no instance norm anywhere in G"),
    "d_norm_off": (OLD, _d_norm_off, "suspect 2: no instance norm in D"),
    "d_layers2": (OLD, _d_layers2, "suspect 2': D with 2 layers (deepest maps 7-8 px)"),
    "bottleneck16": (OLD, _bottleneck16, "suspect 3: one downsampling fewer (16 px bottleneck)"),
    "input_skip": (OLD, _input_skip, "suspect 3': the map fed again to G's last conv"),
    "batch4": ({**OLD, "batch_size": 4}, None, "suspect 4: batch 4 (4x the updates per kimg)"),
    "l1": ({**OLD, "l1_lambda": 100.0}, None, "pix2pix's L1 term (weight 100)"),
    "fixed": ({}, None, "the fix: no norm in G, PyTorch init, full-res skip (new defaults)"),
    "fixed_batch4": ({"batch_size": 4}, None, "the fix, batch 4"),
    "fixed_batch4_l1": (FIX_TRAIN, None, "the fix, batch 4, L1 100 (the test's training)"),
    "fixed_batch4_l1_instnorm": ({**FIX_TRAIN, "p2p_norm": "instance"}, None,
                                 "... but instance norm in G (and its N(0, 0.02) init)"),
    "fixed_batch4_l1_noskip": ({**FIX_TRAIN, "p2p_skip": False}, None, "... but no skip"),
    "fixed_batch4_l1_init002": (FIX_TRAIN, _pix2pixhd_init, "... but G initialised N(0, 0.02)"),
    "fixed_batch4_decay": ({"batch_size": 4, "p2p_decay": 0.5}, None,
                           "the fix, batch 4, lr decay over the second half"),
    "fixed_schedule": (pix2pixhd.PIX2PIXHD_SCHEDULE, None,
                       "the fix with pix2pixHD's schedule: batch 1, lr decay over the 2nd half"),
}


def build_split(root: Path, n: int, seed: int = 0) -> tuple[str, str]:
    """A geometric stand-in set of ``n`` images under ``root``, split 80/20: the folders
    (training part, held-out part)."""
    folder = root / "artist_geometric"
    data.build_artist_set(folder, "geometric", n=n, res=RES, seed=seed)
    split = data.split_held_out(folder, 0.2, seed=seed)
    return str(split.train), str(split.held_out)


@torch.no_grad()
def mae(G: nn.Module, pairs) -> float:
    """Mean absolute error, in [-1, 1], of G's translations of ``pairs``' maps."""
    G.eval()
    err = (G(pairs.maps) - pairs.images).abs().mean().item()
    G.train()
    return err


def run_config(name: str, sizes: dict, milestones: list[float], split: tuple[str, str]) -> list[dict]:
    """Train configuration ``name`` on the identity pairs of ``split`` (training folder,
    held-out folder); one row per milestone (kimg)."""
    torch.set_num_threads(1)
    train, held = (paired.load_pairs(f, RES, "identity") for f in split)
    overrides, surgery, _ = CONFIGS[name]
    epochs = engine.epochs_for_kimg(max(milestones), len(train))   # (what an lr decay spans)
    cfg = engine.make_config(**{"model": "pix2pixhd", "epochs": epochs, "res": RES, "seed": 0,
                                "map_source": "identity", "map_channels": 3, "threads": 1,
                                **sizes, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        maps, G, D = pix2pixhd.networks(cfg)
        if surgery is not None:
            G, D = surgery(cfg, G, D)
        trainer = cfg.spec.step(cfg, maps, G, D, torch.device("cpu"))
    images = train.joined()
    if hasattr(trainer, "bind_data"):
        trainer.bind_data(images)
    g_shuffle = torch.Generator().manual_seed(cfg.seed)
    g_noise = torch.Generator().manual_seed(cfg.seed + 1)
    rows, shown, t0, todo = [], 0, time.perf_counter(), sorted(milestones)
    while todo:
        train_epoch(images, cfg.batch_size, trainer, None, g_shuffle, g_noise)
        shown += len(images)
        while todo and shown >= todo[0] * 1000:
            rows.append({"config": name, "kimg": todo.pop(0), "shown": shown,
                         "updates": trainer_updates(shown, len(images), cfg.batch_size),
                         "mae_held_out": round(mae(trainer.G, held), 4),
                         "mae_train": round(mae(trainer.G, train), 4),
                         "seconds": round(time.perf_counter() - t0, 1)})
            print(rows[-1], flush=True)
    return rows


def trainer_updates(shown: int, n: int, batch: int) -> int:
    return (shown // n) * -(-n // batch)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu", help="where the table goes (figures/<profile>)")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help=f"comma-separated, from: {', '.join(CONFIGS)}")
    ap.add_argument("--kimg", default="16,32", help="milestones, comma-separated")
    ap.add_argument("--n", type=int, default=250, help="images in the set (20%% held out)")
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--ndf", type=int, default=16)
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side (one thread each)")
    args = _smoke.parse_args(ap, argv, **SMOKE)
    prof = config.get_profile(args.profile)
    names = [c for c in args.configs.split(",") if c]
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        ap.error(f"unknown configs {unknown}; valid: {', '.join(CONFIGS)}")
    milestones = [float(k) for k in args.kimg.split(",")]
    split = build_split(config.runs_dir(prof) / "diagnose_pix2pixhd", args.n)
    sizes = {"ngf": args.ngf, "ndf": args.ndf, "p2p_blocks": args.blocks,
             "batch_size": args.batch}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_config, c, sizes, milestones, split)
                   for c in names]
        rows = [r for f in futures for r in f.result()]
    df = pd.DataFrame(rows)
    df["tests"] = df.config.map(lambda c: CONFIGS[c][2])
    plots.save_table(df, "diagnose_pix2pixhd", prof, floatfmt=".4f")
    wide = df.pivot(index="config", columns="kimg", values="mae_held_out").reindex(names)
    print("held-out MAE (identity maps, [-1, 1]) by kimg:")
    print(wide.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
