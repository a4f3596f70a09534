"""Paper A's reported values and the small pieces of logic behind notebook 06's tables.

Paper A's Table 1 values (FID 0.30/0.34/0.24, IS 0.12/0.15/0.16) are far outside the usual
ranges, so the paper normalised them in some unstated way; its text states changes of
"81% and 71%" (FID) and "129% and 106%" (IS), which match the ratios Proposed/DCGAN and
Proposed/DeLiGAN (see ``PAPERS.md``). We therefore compare *ratios*, computed the same way
from our standard FID and IS, and print the paper's raw values beside ours.
"""
from __future__ import annotations

import numpy as np


MODELS = ("dcgan", "deligan", "proposed")


#: Paper A, Table 1 (unstated normalisation).
PAPER_A_TABLE1 = {"fid": {"dcgan": 0.30, "deligan": 0.34, "proposed": 0.24},
                  "is": {"dcgan": 0.12, "deligan": 0.15, "proposed": 0.16}}


#: Paper A's text: Proposed / baseline ratios it reports ("decreased 81% and 71%", ...).
PAPER_A_TEXT_RATIOS = {"fid": {"dcgan": 0.81, "deligan": 0.71},
                       "is": {"dcgan": 1.29, "deligan": 1.06}}


def proposed_ratios(means: dict[str, float]) -> dict[str, float]:
    """``{"dcgan": proposed/dcgan, "deligan": proposed/deligan}`` from per-model means."""
    return {base: means["proposed"] / means[base] if means.get(base) else float("nan")
            for base in ("dcgan", "deligan")}


def stability_verdict(onsets: list, epochs_done: list[int], required_epoch: int,
                      expect_unstable: bool, passed: list[bool] | None = None,
                      baseline_passed: bool | None = None) -> tuple[str, str]:
    """Verdict on a loss-curve claim from per-seed instability onsets (None = no onset).

    ``expect_unstable``: the claim says the model becomes unstable (supported when most
    seeds show an onset) or trains stably (supported when no seed does). The runs must
    reach ``required_epoch`` (the claim's own epoch) -- else *not testable here*. With
    ``passed`` (per-seed quality gate at the best checkpoint) a model that never learned
    makes the claim untestable, except that a stably-training model the paper favours
    failing the gate while its baseline passes (``baseline_passed``) is evidence against it.
    Returns ``(verdict, reason)``."""
    n = len(onsets)
    short = [e for e in epochs_done if e < required_epoch]
    if not n or short:
        return "not testable here", (f"runs shorter than the claim's epoch {required_epoch} "
                                     f"(reached {min(epochs_done) if epochs_done else 0})")
    if passed is not None and not (passed and all(passed)):   # no gate result: not passed
        if not expect_unstable and baseline_passed:
            return "not supported", "below the quality gate while the baseline passes"
        return "not testable here", (f"{n - sum(passed)}/{n} runs below the quality gate"
                                     if passed else "no quality-gate result for the runs")
    unstable = sum(o is not None for o in onsets)
    detail = f"{unstable}/{n} seeds unstable" + (
        f" (onsets at epochs {sorted(o for o in onsets if o is not None)})" if unstable else "")
    if expect_unstable:
        return ("supported" if unstable * 2 > n else "not supported"), detail
    return ("supported" if unstable == 0 else "not supported"), detail


def threshold_variants(d_thresh: float, g_thresh: float, fake_thresh: float,
                       factor: float = 0.5) -> dict[str, dict]:
    """The instability detector's thresholds each moved by ``-factor`` and ``+factor``
    (one at a time): ``{"d_thresh x0.5": {...}, ...}``, for the fragility check."""
    base = {"d_thresh": d_thresh, "g_thresh": g_thresh, "fake_thresh": fake_thresh}
    out = {}
    for name in base:
        for f in (1 - factor, 1 + factor):
            out[f"{name} x{f:g}"] = {**base, name: base[name] * f}
    return out


def lowest(values: dict) -> str:
    """The key with the smallest finite value."""
    finite = {k: v for k, v in values.items() if v is not None and np.isfinite(v)}
    return min(finite, key=finite.get) if finite else "none"
