"""This machine's training speed against the reference machine's, one thread per step.

    .venv/bin/python benchmarks/step_probe.py [--profile cpu] [--steps 6] [--threads 1]
    .venv/bin/python benchmarks/step_probe.py --smoke   # seconds: smoke sizes, proves it runs

Times every image model's engine step (DCGAN, DeLiGAN, the proposed model, StyleGAN2) at the profile's sizes on random images
(``paperlib.engine.probe.step_probe``) and prints seconds per kimg beside the reference
machine's (``ModelSpec.seconds_per_kimg``, which the training plans use) and their ratio:
machines of one kind differ by up to about 2.5x in convolution speed, so a plan's minutes
scale by this ratio (``make reproduce`` records the same probe in its manifest). Run it on
a quiet machine: other processes on the cores inflate it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import _smoke  # the benchmarks' --smoke helper, next to this file

from paperlib.engine.probe import step_probe

SMOKE = {"profile": "smoke", "steps": 1, "warmup": 1}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="cpu")
    p.add_argument("--steps", type=int, default=6, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per model")
    p.add_argument("--threads", type=int, default=1)
    args = _smoke.parse_args(p, argv, **SMOKE)
    res = step_probe(args.profile, None, args.steps, args.warmup, args.threads)
    print(f"step probe, profile {args.profile}, {args.threads} thread(s), {args.steps} steps "
          f"after {args.warmup} warm-up")
    print(f"{'model':10s} {'batch':>5s} {'s/step':>8s} {'s/kimg':>8s} {'reference':>10s} "
          f"{'ratio':>6s}")
    for name, r in res.items():
        print(f"{name:10s} {r['batch']:5d} {r['s_per_step']:8.3f} {r['s_per_kimg']:8.2f} "
              f"{r['reference_s_per_kimg']:10.2f} {r['slowdown']:6.2f}")
    if args.smoke:   # (a smoke run proves the record can be written)
        (Path(args.out) / "step_probe.json").write_text(json.dumps(
            {"profile": args.profile, "threads": args.threads, "models": res}, indent=1))
    return res


if __name__ == "__main__":
    main()
