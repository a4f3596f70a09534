"""Paper A's reported values and the small pieces of logic behind notebook 06's tables.

Paper A's Table 1 values (FID 0.30/0.34/0.24, IS 0.12/0.15/0.16) are far outside the usual
ranges, so the paper normalised them in some unstated way; its text states changes of
"81% and 71%" (FID) and "129% and 106%" (IS), which match the ratios Proposed/DCGAN and
Proposed/DeLiGAN (see ``PAPERS.md``). We therefore compare *ratios*, computed the same way
from our standard FID and IS, and print the paper's raw values beside ours.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

MODELS = ("dcgan", "deligan", "proposed")

#: Paper A, Table 1 (unstated normalisation).
PAPER_A_TABLE1 = {"fid": {"dcgan": 0.30, "deligan": 0.34, "proposed": 0.24},
                  "is": {"dcgan": 0.12, "deligan": 0.15, "proposed": 0.16}}
#: Paper A's text: Proposed / baseline ratios it reports ("decreased 81% and 71%", ...).
PAPER_A_TEXT_RATIOS = {"fid": {"dcgan": 0.81, "deligan": 0.71},
                       "is": {"dcgan": 1.29, "deligan": 1.06}}


def mean_std(df: pd.DataFrame, by: list[str], cols: list[str]) -> pd.DataFrame:
    """Per group of ``by``: ``<col>_mean``, ``<col>_std`` (sample std; 0 for one run), ``n``."""
    groups = df.groupby(by, sort=False)
    out = groups[cols].agg(["mean", "std"])
    out.columns = [f"{c}_{stat}" for c, stat in out.columns]
    out = out.fillna({f"{c}_std": 0.0 for c in cols})
    out["n"] = groups.size()
    return out.reset_index()


def fmt_mean_std(mean: float, std: float, digits: int = 2) -> str:
    """``"12.34 ± 0.56"``; NaN shows as ``"n/a"``."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def proposed_ratios(means: dict[str, float]) -> dict[str, float]:
    """``{"dcgan": proposed/dcgan, "deligan": proposed/deligan}`` from per-model means."""
    return {base: means["proposed"] / means[base] if means.get(base) else float("nan")
            for base in ("dcgan", "deligan")}


def verdict(flags: list[bool]) -> str:
    """``supported`` when every piece of evidence agrees with the claim, ``not supported``
    when none does, ``mixed`` otherwise (and ``no evidence`` for an empty list)."""
    flags = [bool(f) for f in flags]
    if not flags:
        return "no evidence"
    if all(flags):
        return "supported"
    return "not supported" if not any(flags) else "mixed"


def lowest(values: dict) -> str:
    """The key with the smallest finite value."""
    finite = {k: v for k, v in values.items() if v is not None and np.isfinite(v)}
    return min(finite, key=finite.get) if finite else "none"
