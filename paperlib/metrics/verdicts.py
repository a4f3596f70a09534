"""The gate and the verdict statistics: a quality gate on FID and KID (:class:`Gate`), the
real-vs-real held-out floor (:func:`held_out_floor`), mean and sd tables, Welch intervals,
the three-way verdict of a claim from per-seed values (:func:`compare_claim`), seed-paired
differences (:func:`paired_by_seed`), a seed-paired ratio against a paper's effect size
(:func:`ratio_verdict`) and diversity as closeness to the real data's
(:func:`diversity_gap`)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .features import real_features
from .stats import fid_from_features, kid


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


# ----------------------------------------------------------------------------- gate, verdicts
#: The three verdicts of a claims audit.
VERDICTS = ("supported", "not supported", "not testable here")


@dataclass(frozen=True)
class Gate:
    """Quality gate: a run has learned the data when its FID *and* KID (``n_fake`` images vs
    the whole real set) are at or under the thresholds (calibrated: :mod:`paperlib.config`);
    ``floor_fid``/``floor_kid``: the real-vs-real floor at that count, printed beside."""

    fid: float
    kid: float
    n_fake: int
    floor_fid: float = math.nan
    floor_kid: float = math.nan

    def passes(self, fid: float, kid: float) -> bool:
        return bool(np.isfinite(fid) and np.isfinite(kid) and fid <= self.fid and kid <= self.kid)

    def describe(self) -> str:
        return (f"FID <= {self.fid:g} and KID <= {self.kid:g} at {self.n_fake} generated images "
                f"(real-vs-real held-out floor: FID {self.floor_fid:.1f}, KID {self.floor_kid:.4f})")


def real_floor(sample_dir, res: int, n: int, reference_dir=None, extractor=None, seed: int = 0,
               cache_dir=None, score=None) -> dict:
    """The real-vs-real floor: ``n`` real images drawn (``seed``) from ``sample_dir`` scored
    against *other* real images -- ``reference_dir=None``: the rest of the same set (paper
    A); else every image of ``reference_dir`` (paper B's held-out part). ``score(index,
    sample_features, reference_features) -> dict`` computes the row (default: FID and KID).
    Returns that dict with ``n`` and ``n_reference``."""
    sample_f = real_features(sample_dir, int(res), extractor, cache_dir=cache_dir)
    if reference_dir is None:
        idx, ref_f = _split_indices(sample_f, n, seed)
    else:
        ref_f = real_features(reference_dir, int(res), extractor, cache_dir=cache_dir)
        k = min(int(n), len(sample_f))
        idx = np.sort(np.random.default_rng(seed).choice(len(sample_f), k, replace=False))
    if score is None:
        k_mean, _ = kid(ref_f, sample_f[idx], seed=seed)
        out = {"fid": fid_from_features(ref_f, sample_f[idx]), "kid": float(k_mean),
               "n": int(len(idx))}
    else:
        out = score(idx, sample_f, ref_f)
    out["n_reference"] = int(len(ref_f))
    return out


def _split_indices(feats: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` seeded sample indices of ``feats`` and the features of the rest."""
    if not 1 < n < len(feats) - 1:
        raise ValueError(f"held-out floor needs 1 < n < {len(feats) - 1}, got n={n}")
    order = np.random.default_rng(seed).permutation(len(feats))
    return order[:n], feats[order[n:]]


def _split_floor(feats: np.ndarray, n: int, seed: int) -> dict:
    """FID and KID of ``n`` seeded rows of ``feats`` against the rest (:func:`real_floor`)."""
    idx, ref_f = _split_indices(feats, n, seed)
    k_mean, _ = kid(ref_f, feats[idx], seed=seed)
    return {"fid": fid_from_features(ref_f, feats[idx]), "kid": float(k_mean), "n": int(len(idx)),
            "n_reference": int(len(ref_f))}


def held_out_floor(data_dir, res: int, n: int, extractor=None, seed: int = 0,
                   cache_dir=None, max_images: int | None = None) -> dict:
    """Paper A's real-vs-real floor on a held-out split of one set (:func:`real_floor` with
    no reference folder): ``{fid, kid, n, n_reference}``. ``max_images``: split a fixed
    subset of the set (:func:`~paperlib.metrics.features.real_features`'s) instead of all
    of it (None)."""
    feats = real_features(data_dir, int(res), extractor, cache_dir=cache_dir,
                          max_images=max_images)
    return _split_floor(feats, n, seed)


def welch_interval(a, b, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean(a) - mean(b), low, high)``: Welch's t confidence interval of the difference
    of means (NaN bounds with fewer than 2 values on a side)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1) if va else 0) + (vb ** 2 / (len(b) - 1) if vb else 0))
    t = stats.t.ppf(0.5 + level / 2, dof)
    return diff, diff - t * se, diff + t * se


def compare_claim(values: dict[str, list[float]], passed: dict[str, list[bool]],
                  favoured: str, baselines: Sequence[str], lower_is_better: bool,
                  level: float = 0.95, seeds: dict[str, list] | None = None
                  ) -> tuple[str, str]:
    """Verdict on "``favoured`` scores better than each baseline" from per-seed values.

    A model passes the gate when all its runs do. Per baseline: baseline failing ->
    untestable; favoured failing, baseline passing -> against; both passing -> the ``level``
    interval of the difference (Welch's; with ``seeds``, ``{arm: seed of each value}``, the
    seed-paired one of :func:`paired_by_seed`): for / against / untestable (straddles 0).
    Any against: *not supported*; all for: *supported*; else *not testable here*. Returns
    ``(verdict, reason)``."""
    if not baselines:   # a comparison with nothing is no evidence either way
        return "not testable here", f"no baseline to compare {favoured} with"
    sign = -1.0 if lower_is_better else 1.0
    ok = {m: bool(passed[m]) and all(passed[m]) for m in (favoured, *baselines)}
    outcomes, reasons = [], []
    for b in baselines:
        if not ok[b]:
            outcomes.append("untestable")
            reasons.append(f"{b} below the quality gate")
        elif not ok[favoured]:
            outcomes.append("against")
            reasons.append(f"{favoured} below the quality gate while {b} passes")
        else:
            if seeds is None:
                diff, lo, hi = welch_interval(values[favoured], values[b], level)
                how = ""
            elif all(math.isfinite(float(v)) for v in (*values[favoured], *values[b])):
                pc = paired_by_seed(dict(zip(seeds[favoured], values[favoured])),
                                    dict(zip(seeds[b], values[b])), level)
                diff, lo, hi, how = pc.diff, pc.low, pc.high, f" paired by seed over {pc.n}"
            else:   # a NaN seed: no interval (as Welch's gives)
                diff, lo, hi, how = math.nan, math.nan, math.nan, ""
            lo_s, hi_s = sorted((sign * lo, sign * hi))
            if math.isnan(lo):
                outcomes.append("untestable")
                reasons.append(f"too few seeds to separate {favoured} from {b}")
            elif lo_s > 0:
                outcomes.append("for")
                reasons.append(f"{favoured} - {b} = {diff:+.3g} [{lo:+.3g}, {hi:+.3g}]{how}")
            elif hi_s < 0:
                outcomes.append("against")
                reasons.append(f"{favoured} - {b} = {diff:+.3g} [{lo:+.3g}, {hi:+.3g}]{how}, "
                               f"{b} better")
            else:
                outcomes.append("untestable")
                reasons.append(f"too few seeds to separate {favoured} from {b}: difference "
                               f"{diff:+.3g}, {level:.0%} CI [{lo:+.3g}, {hi:+.3g}]{how}")
    if "against" in outcomes:
        return "not supported", "; ".join(reasons)
    if all(o == "for" for o in outcomes):
        return "supported", "; ".join(reasons)
    return "not testable here", "; ".join(reasons)


def diversity_gap(d_model: float, d_real: float) -> float:
    """How far a model's diversity is from the real data's own: ``|d_model - d_real| /
    d_real`` (0: as varied as real images; lower is better, both too little and too much
    count). NaN for a NaN diversity; ``ValueError`` unless ``d_real`` is positive."""
    d_real = float(d_real)
    if not d_real > 0 or not math.isfinite(d_real):
        raise ValueError(f"the real data's diversity must be a positive number, got {d_real!r}")
    d_model = float(d_model)
    return abs(d_model - d_real) / d_real if math.isfinite(d_model) else math.nan


@dataclass(frozen=True)
class PairedComparison:
    """:func:`paired_by_seed`'s result: ``diff`` the mean of ``a - b`` over the paired
    ``seeds``, ``low``/``high`` its ``level`` t interval (NaN with fewer than 2 pairs) and
    the per-seed ``differences`` (in the order of ``seeds``)."""

    diff: float
    low: float
    high: float
    seeds: tuple
    differences: tuple
    level: float

    @property
    def n(self) -> int:
        return len(self.seeds)


def paired_by_seed(a, b, level: float = 0.95) -> PairedComparison:
    """Compare two arms that share seeds (``{seed: value}`` each, or a pandas Series
    indexed by seed), paired by seed: the mean per-seed difference ``a - b`` and its
    Student-t ``level`` interval over the pairs. Both arms must hold the same seeds: a seed
    in one only, or a non-finite value, is a ``ValueError`` naming it."""
    a, b = dict(a.items()), dict(b.items())
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    only_a, only_b = sorted(set(a) - set(b), key=str), sorted(set(b) - set(a), key=str)
    if only_a or only_b:
        raise ValueError(f"unmatched seeds: {only_a} only in the first arm, {only_b} only in "
                         "the second; a paired comparison needs both arms on the same seeds")
    seeds = tuple(sorted(a, key=lambda s: (str(type(s)), s)))
    if not seeds:
        raise ValueError("no seeds to pair")
    bad = [s for s in seeds if not (math.isfinite(float(a[s])) and math.isfinite(float(b[s])))]
    if bad:
        raise ValueError(f"non-finite value(s) at seed(s) {bad}")
    d = np.array([float(a[s]) - float(b[s]) for s in seeds])
    diff = float(d.mean())
    if len(d) < 2:
        lo = hi = math.nan
    else:
        from scipy import stats

        se = float(d.std(ddof=1)) / math.sqrt(len(d))
        t = float(stats.t.ppf(0.5 + level / 2, len(d) - 1))
        lo, hi = diff - t * se, diff + t * se
    return PairedComparison(diff, lo, hi, seeds, tuple(float(x) for x in d), float(level))


#: :func:`ratio_verdict`'s verdict when the interval lies past the paper's effect.
LARGER_EFFECT = "supported (larger than the paper's effect)"


#: The verdicts of a claim against a paper's effect size (:func:`ratio_verdict`).
EFFECT_VERDICTS = ("supported", LARGER_EFFECT, "not supported", "not testable here")


@dataclass(frozen=True)
class RatioVerdict:
    """:func:`ratio_verdict`'s result: ``ratio`` the geometric mean of the per-seed ratios,
    ``low``/``high`` its ``level`` interval (NaN: none), the paper's ratio, the verdict and
    its reason, the paired seeds and their ratios."""

    ratio: float
    low: float
    high: float
    paper_ratio: float
    verdict: str
    reason: str
    seeds: tuple = ()
    ratios: tuple = ()


def ratio_verdict(per_seed_proposed, per_seed_baseline, paper_ratio: float,
                  higher_is_better: bool, level: float = 0.95,
                  names: tuple[str, str] = ("favoured", "baseline")) -> RatioVerdict:
    """Verdict on "proposed / baseline is ``paper_ratio``" (a gain) from per-seed values
    (``{seed: value}`` each, same seeds): the ``level`` interval of the ratio is the
    exponentiated Student-t interval of the mean per-seed log ratio (:func:`paired_by_seed`
    on the logs). *supported*: it holds ``paper_ratio`` and excludes 1; *not supported*:
    it excludes ``paper_ratio`` on the no-gain side; :data:`LARGER_EFFECT`: on the gain
    side; *not testable here*: it holds both, there are under 2 pairs, or a value is not a
    positive number. ``ValueError`` when ``paper_ratio`` claims no gain or seeds differ."""
    paper_ratio = float(paper_ratio)
    if not (paper_ratio > 0 and paper_ratio != 1 and (paper_ratio > 1) == bool(higher_is_better)):
        raise ValueError(f"the paper's ratio {paper_ratio!r} claims no gain (higher is "
                         f"{'better' if higher_is_better else 'worse'})")
    a, b = dict(per_seed_proposed.items()), dict(per_seed_baseline.items())
    who = f"{names[0]} / {names[1]}"
    if set(a) != set(b):
        raise ValueError(f"unmatched seeds: {sorted(set(a) - set(b), key=str)} only in the "
                         f"first arm, {sorted(set(b) - set(a), key=str)} only in the second")
    bad = sorted((s for s in a if not all(math.isfinite(float(v)) and float(v) > 0
                                          for v in (a[s], b[s]))), key=str)
    if bad or not a:
        return RatioVerdict(math.nan, math.nan, math.nan, paper_ratio, "not testable here",
                            f"{who}: no positive finite value at seed(s) {bad}" if bad
                            else f"{who}: no seeds")
    pc = paired_by_seed({s: math.log(float(v)) for s, v in a.items()},
                        {s: math.log(float(v)) for s, v in b.items()}, level)
    ratio, low, high = (math.exp(x) for x in (pc.diff, pc.low, pc.high))
    ratios = tuple(math.exp(d) for d in pc.differences)
    head = (f"{who} = {ratio:.3g}, {level:.0%} CI [{low:.3g}, {high:.3g}] paired by seed over "
            f"{pc.n}; paper {paper_ratio:.2f}")
    if math.isnan(low):
        return RatioVerdict(ratio, low, high, paper_ratio, "not testable here",
                            f"{who} = {ratio:.3g}: under 2 seeds, no interval", pc.seeds, ratios)

    def gain(x):   # > 1 is a gain
        return x if higher_is_better else 1 / x

    g_lo, g_hi = sorted((gain(low), gain(high)))
    g_paper = gain(paper_ratio)
    if g_hi < g_paper:
        verdict = "not supported"
        why = ("excludes the paper's ratio and 1: the baseline is better" if g_hi < 1 else
               "excludes the paper's ratio on the no-gain side")
    elif g_lo > g_paper:
        verdict, why = LARGER_EFFECT, "excludes the paper's ratio on the gain side"
    elif g_lo > 1:
        verdict, why = "supported", "holds the paper's ratio and excludes 1"
    else:
        verdict, why = "not testable here", "holds both the paper's ratio and 1"
    return RatioVerdict(ratio, low, high, paper_ratio, verdict, f"{head}: {why}", pc.seeds,
                        ratios)
