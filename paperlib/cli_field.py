"""The field's usual commands, as :mod:`paperlib.cli` wires them (NVlabs' ``generate.py``,
clean-fid, torch-fidelity): ``generate --seeds/--trunc`` and the models' sampling flags
(``--class``), ``fid DIR_A DIR_B`` and ``train --init-from RUN [--epoch E]``. Bad input raises ``ValueError`` or
``FileNotFoundError`` naming the flag (the CLI's exit 2) before any work."""
from __future__ import annotations

import argparse
import math
import re
from dataclasses import fields
from pathlib import Path

from PIL import Image
from torchvision.utils import save_image

from . import engine, metrics
from .data import image_files
from .engine.transfer import init_checkpoint
from .models import get_model, model_names
from .utils.io import atomic_write, atomic_write_json

#: Largest seed (NVlabs' seeds are numpy ``RandomState`` seeds: below 2^32).
MAX_SEED = 2 ** 32 - 1


# ----------------------------------------------------------------------------- generate
def parse_seeds(text: str) -> list[int]:
    """NVlabs' seed lists: ``A-B`` (inclusive), ``A,B,C`` or a mix (``0,5-7``), each in
    [0, 2^32 - 1]; repeats dropped, order kept. ``argparse.ArgumentTypeError`` otherwise."""
    seeds: dict[int, None] = {}
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if m is None:
            raise argparse.ArgumentTypeError(
                f"must be seeds like 0-9, 1,5,7 or 0,5-7, got {text!r}")
        a, b = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if b < a or b > MAX_SEED:
            raise argparse.ArgumentTypeError(
                f"must be ranges A-B with A <= B <= {MAX_SEED}, got {part.strip()!r}")
        seeds.update(dict.fromkeys(range(a, b + 1)))
    return list(seeds)


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number, got {text}")
    return value


def add_generate_seeds(p) -> None:
    """``generate``'s ``--seeds`` and ``--trunc``."""
    p.add_argument("--seeds", type=parse_seeds, default=None, metavar="A-B|A,B,...",
                   help="one image per seed, written as seedNNNN.png (NVlabs' naming; this "
                        "or --n): seed s's latent is the first the run's latent module draws "
                        "from torch.Generator().manual_seed(s), noise inputs constant, so a "
                        "seed gives the same image on every call")
    p.add_argument("--trunc", type=_finite, default=None, metavar="PSI",
                   help="truncation psi, w = w_avg + psi (w - w_avg) (StyleGAN's trick; "
                        "models with a mapping network: "
                        + ", ".join(n for n in model_names() if get_model(n).truncation)
                        + "; w_avg is the mean w tracked in training); 1 (default): none")


def option_flags(key: str = "flag") -> list:
    """``[(model, option field, flag)]`` of every registered model's options with a ``key``
    flag in their metadata (``"flag"``: ``train``'s; ``"sample_flag"``: the options
    ``generate`` sets on the loaded run); the first model to declare a flag owns it."""
    flags, seen = [], set()
    for name in model_names():
        for f in fields(get_model(name).options):
            flag = f.metadata.get(key)
            if flag and flag not in seen:
                seen.add(flag)
                flags.append((name, f, flag))
    return flags


def _sample_flags() -> list:
    return option_flags("sample_flag")


def add_sample_flags(p) -> None:
    """``generate``'s flags of the models' sampling options (e.g. ``--class``)."""
    for name, f, flag in _sample_flags():
        p.add_argument(flag, dest=f"sample_{f.name}", default=None,
                       metavar=f.metadata.get("metavar"),
                       help=f"{name}: {f.metadata['help']} (default: the run's)")


def sample_options(args, spec) -> dict:
    """``{option: value}`` of the sampling flags given, each checked against the run's
    config (``ValueError`` naming the flag; a model without the option too)."""
    given = {(f.name, flag): getattr(args, f"sample_{f.name}") for _, f, flag in _sample_flags()}
    given = {k: v for k, v in given.items() if v is not None}
    for name, flag in given:
        if name not in spec.option_names:
            raise ValueError(f"{flag}: {args.run} is a {spec.name} run, which has no "
                             f"{name} option")
        try:
            engine.RunDir(args.run).train_config(**{name: given[name, flag]})
        except ValueError as err:
            raise ValueError(f"{flag}: {err}") from None
    return {name: v for (name, _), v in given.items()}


def check_generate_flags(args, spec) -> None:
    """Refuse ``--n`` with ``--seeds`` (or neither), ``--seeds`` for a conditional model and
    ``--trunc`` for a model without the truncation trick."""
    if (args.n is None) == (args.seeds is None):
        raise ValueError("generate needs exactly one of --n N and --seeds A-B|A,B,...")
    if args.seeds is not None and spec.data_kind != "images":
        raise ValueError(f"--seeds: {args.run} is a conditional model ({spec.name}: it "
                         "translates --maps); use --n")
    if args.trunc is not None and spec.truncation is None:
        have = [n for n in model_names() if get_model(n).truncation] or ["none"]
        raise ValueError(f"--trunc: {spec.name} ({args.run}) has no truncation trick (no "
                         f"mapping network's w_avg); models with one: {', '.join(have)}")


def psi(args) -> float:
    """``--trunc``'s psi (1: none)."""
    return 1.0 if args.trunc is None else float(args.trunc)


def save_png(img, path: Path) -> None:
    """One generated image in [-1, 1] as a PNG, atomically."""
    atomic_write(path, lambda f: save_image(img, f, format="png", normalize=True,
                                            value_range=(-1, 1)))


def write_seeds(args, run) -> int:
    """Write ``run``'s image of each ``--seeds`` seed to ``--out/seedNNNN.png``."""
    images = run.sample_seeds(args.seeds, psi=psi(args))
    args.out.mkdir(parents=True, exist_ok=True)
    for s, img in zip(args.seeds, images):
        save_png(img, args.out / f"seed{s:04d}.png")
    seeds = args.seeds if len(args.seeds) <= 4 else [args.seeds[0], "...", args.seeds[-1]]
    print(f"{args.out}: {len(images)} images from {args.run} (epoch {run.epoch}, seeds "
          f"{', '.join(map(str, seeds))}" + (f", psi {psi(args)}" if args.trunc is not None
                                              else "") + ")")
    return 0


# ----------------------------------------------------------------------------- fid
#: Images each ``fid`` folder needs (FID's covariance and KID need at least 2).
MIN_FID_IMAGES = 2

#: ``fid``'s largest default ``--res``: Inception's input size (larger is resized to it).
INCEPTION_RES = 299


def add_fid(sub) -> None:
    """The ``fid`` subcommand's parser."""
    p = sub.add_parser("fid", help="FID and KID between two image folders",
                       description="FID and KID (mean ± std over 100 subsets) between two "
                                   "folders of images (generated or real), with the features "
                                   "`evaluate` uses: TF-Inception pool3, clean-fid's "
                                   "legacy_tensorflow resize. Each folder is loaded at --res "
                                   "(centre-cropped square) and its features cached.")
    p.add_argument("dir_a", type=Path, metavar="DIR_A", help="first image folder")
    p.add_argument("dir_b", type=Path, metavar="DIR_B", help="second image folder")
    p.add_argument("--n", type=int, default=None,
                   help="use a fixed random subset (seed 0) of this many images per folder "
                        "(default: all)")
    p.add_argument("--res", type=int, default=None,
                   help="load both folders at this size in pixels (default: the shorter side "
                        "of DIR_A's first image, at most 299)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--device", default=None, help="cuda, cpu or auto (default auto)")


def _fid_folder(flag: str, folder: Path) -> None:
    """Refuse a missing ``fid`` folder or one of under :data:`MIN_FID_IMAGES` images."""
    if not folder.exists():
        raise FileNotFoundError(f"{flag}: folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{flag}: {folder} is not a folder")
    count = len(image_files(folder))
    if count < MIN_FID_IMAGES:
        raise ValueError(f"{flag} {folder} has {count} image(s); FID and KID need at least "
                         f"{MIN_FID_IMAGES}")


def _native_res(folder: Path) -> int:
    """The shorter side of ``folder``'s first image, at most Inception's input size."""
    first = image_files(folder)[0]
    try:
        with Image.open(first) as im:
            return min(*im.size, INCEPTION_RES)
    except OSError as err:
        raise ValueError(f"DIR_A: cannot read {first} ({err}); pass --res") from None


def cmd_fid(args) -> int:
    """``fid``: print (and with ``--json`` write) FID, KID mean and std of two folders."""
    if args.n is not None and args.n < MIN_FID_IMAGES:
        raise ValueError(f"--n must be at least {MIN_FID_IMAGES}, got {args.n}")
    if args.res is not None and args.res < 1:
        raise ValueError(f"--res must be a positive integer, got {args.res}")
    for flag, folder in (("DIR_A", args.dir_a), ("DIR_B", args.dir_b)):
        _fid_folder(flag, folder)
    res = args.res if args.res is not None else _native_res(args.dir_a)
    extractor = metrics.get_extractor(args.device)
    fa, fb = (metrics.real_features(d, res, extractor, max_images=args.n, progress=False)
              for d in (args.dir_a, args.dir_b))
    kid_mean, kid_std = metrics.kid(fa, fb)
    out = {"fid": metrics.fid_from_features(fa, fb), "kid": kid_mean, "kid_std": kid_std,
           "n_a": int(fa.shape[0]), "n_b": int(fb.shape[0]), "res": int(res),
           "dir_a": str(args.dir_a), "dir_b": str(args.dir_b)}
    print(f"FID  {out['fid']:.4f}")
    print(f"KID  {kid_mean:.6f} ± {kid_std:.6f}")
    print(f"({out['n_a']} vs {out['n_b']} images at {res} px)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.json, out, indent=1)
    return 0


# ----------------------------------------------------------------------------- train
def add_init_from(p) -> None:
    """``train``'s ``--init-from`` and ``--epoch``."""
    p.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                   help="start from another run's weights (G, D, latent; fresh optimisers; "
                        "NVlabs' --resume transfer): same model and network sizes, checked "
                        "first (default: a fresh initialisation)")
    p.add_argument("--epoch", type=int, default=None, metavar="E",
                   help="with --init-from: that run's checkpoint epoch (default: its latest; "
                        "the training length is --epochs)")


def with_init_from(cfg, args):
    """``cfg`` starting from ``--init-from``'s checkpoint (its absolute path, recorded as
    ``init_from`` in config.json), after :func:`paperlib.engine.transfer.init_checkpoint`
    checked it fits."""
    if args.init_from is None:
        if args.epoch is not None:
            raise ValueError("--epoch picks the --init-from run's checkpoint; pass "
                             "--init-from RUN (the training length is --epochs)")
        return cfg
    try:
        _, path = init_checkpoint(args.init_from, args.epoch, cfg)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"--init-from: {err}") from None
    except ValueError as err:
        raise ValueError(f"--init-from: {err}") from None
    return engine.make_config(**{**cfg.to_dict(), "init_from": str(path.resolve())})
