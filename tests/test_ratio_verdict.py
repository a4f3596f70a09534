"""The seed-paired ratio verdict against a paper's effect size (paperlib.metrics.
ratio_verdict; paper A's Table-1 claims, issue 27 item 4) on hand-made per-seed values."""
import math

import pytest

from paperlib import metrics


def _arms(ratios, base=100.0):
    return ({s: base * r for s, r in enumerate(ratios)}, {s: base for s in range(len(ratios))})


@pytest.mark.parametrize("ratios, verdict", [
    ((0.78, 0.81, 0.84), "supported"),                        # holds 0.81, excludes 1
    ((0.90, 0.91, 0.92), "not supported"),                    # a gain, but smaller than 0.81
    ((1.10, 1.12, 1.15), "not supported"),                    # the baseline is better
    ((0.50, 0.52, 0.51), metrics.LARGER_EFFECT),              # past 0.81 on the gain side
    ((0.60, 1.10, 0.85), "not testable here"),                # holds 0.81 and 1
])
def test_ratio_verdict_fid_outcomes(ratios, verdict):
    rv = metrics.ratio_verdict(*_arms(ratios), 0.81, higher_is_better=False,
                               names=("proposed", "dcgan"))
    assert rv.verdict == verdict
    assert rv.low <= rv.ratio <= rv.high and rv.paper_ratio == 0.81
    assert rv.ratio == pytest.approx(math.prod(ratios) ** (1 / 3))
    assert rv.ratios == pytest.approx(ratios) and rv.seeds == (0, 1, 2)
    assert rv.reason.startswith(f"proposed / dcgan = {rv.ratio:.3g}, 95% CI [")
    assert verdict in metrics.EFFECT_VERDICTS


def test_ratio_verdict_interval_is_the_t_interval_of_the_log_ratios():
    from scipy import stats

    ratios = (0.70, 0.80, 0.95, 0.85)
    rv = metrics.ratio_verdict(*_arms(ratios), 0.81, higher_is_better=False)
    logs = [math.log(r) for r in ratios]
    lo, hi = stats.t.interval(0.95, 3, loc=sum(logs) / 4, scale=stats.sem(logs))
    assert (rv.low, rv.high) == pytest.approx((math.exp(lo), math.exp(hi)))
    # pairing: a seed effect common to both arms cancels
    a, b = _arms(ratios)
    a2, b2 = ({s: v * (1 + 9 * s) for s, v in a.items()}, {s: v * (1 + 9 * s)
                                                           for s, v in b.items()})
    rv2 = metrics.ratio_verdict(a2, b2, 0.81, higher_is_better=False)
    assert (rv2.low, rv2.high) == pytest.approx((rv.low, rv.high))


def test_ratio_verdict_issue_27_is_below_dcgan_in_every_seed():
    """Issue 27: the proposed model's IS below DCGAN's in every seed -- the interval
    excludes the paper's 1.29 on the no-gain side (and 1): not supported."""
    proposed, dcgan = {0: 9.0, 1: 10.0, 2: 11.0}, {0: 14.0, 1: 15.0, 2: 16.0}
    rv = metrics.ratio_verdict(proposed, dcgan, 1.29, higher_is_better=True,
                               names=("proposed", "dcgan"))
    assert rv.verdict == "not supported" and rv.high < 1 < 1.29
    assert rv.reason.endswith("excludes the paper's ratio and 1: the baseline is better")
    # IS the other ways: supported, larger, not testable
    up = metrics.ratio_verdict({0: 12.5, 1: 13.0, 2: 13.4}, {0: 10.0, 1: 10.0, 2: 10.1},
                               1.29, higher_is_better=True)
    assert up.verdict == "supported"
    assert metrics.ratio_verdict({0: 20.0, 1: 21.0, 2: 22.0}, {0: 10.0, 1: 10.0, 2: 10.0},
                                 1.29, True).verdict == metrics.LARGER_EFFECT
    assert metrics.ratio_verdict({0: 8.0, 1: 14.0, 2: 12.0}, {0: 10.0, 1: 10.0, 2: 10.0},
                                 1.06, True).verdict == "not testable here"


def test_ratio_verdict_untestable_and_refused_inputs():
    one = metrics.ratio_verdict({0: 50.0}, {0: 80.0}, 0.81, False)
    assert one.verdict == "not testable here" and "under 2 seeds" in one.reason
    assert math.isnan(one.low) and one.ratio == pytest.approx(50 / 80)
    nan = metrics.ratio_verdict({0: 50.0, 1: math.nan}, {0: 80.0, 1: 81.0}, 0.81, False)
    assert nan.verdict == "not testable here" and "seed(s) [1]" in nan.reason
    with pytest.raises(ValueError, match="claims no gain"):
        metrics.ratio_verdict({0: 1.0}, {0: 1.0}, 1.29, higher_is_better=False)
    with pytest.raises(ValueError, match="unmatched seeds"):
        metrics.ratio_verdict({0: 1.0, 1: 2.0}, {0: 1.0}, 0.81, False)
