import math

import pandas as pd
import pytest
import torch

from paperlib import metrics, paper_a


def test_paper_ratios_match_its_table():
    fid, is_ = paper_a.report.PAPER_A_TABLE1["fid"], paper_a.report.PAPER_A_TABLE1["is"]
    r = paper_a.proposed_ratios(fid)
    assert abs(r["dcgan"] - 0.80) < 0.01 and abs(r["deligan"] - 0.71) < 0.01
    r = paper_a.proposed_ratios(is_)
    assert abs(r["dcgan"] - 1.33) < 0.01 and abs(r["deligan"] - 1.07) < 0.01


def test_compare_claim_three_verdicts():
    ok = {m: [True] * 3 for m in ("dcgan", "deligan", "proposed")}
    sep = {"proposed": [50.0, 51.0, 52.0], "dcgan": [80.0, 82.0, 81.0], "deligan": [90.0, 91, 92]}
    v, why = metrics.compare_claim(sep, ok, "proposed", ("dcgan", "deligan"), lower_is_better=True)
    assert v == "supported", why
    # the same numbers for a higher-is-better metric are evidence against
    v, _ = metrics.compare_claim(sep, ok, "proposed", ("dcgan", "deligan"), lower_is_better=False)
    assert v == "not supported"
    noisy = {"proposed": [50.0, 90.0, 70.0], "dcgan": [60.0, 85.0, 72.0], "deligan": [55, 95, 80]}
    v, why = metrics.compare_claim(noisy, ok, "proposed", ("dcgan", "deligan"), True)
    assert v == "not testable here" and "too few seeds" in why
    # baseline below the gate: untestable; favoured below the gate, baseline passing: against
    gate = {**ok, "dcgan": [True, False, True]}
    v, why = metrics.compare_claim(sep, gate, "proposed", ("dcgan",), True)
    assert v == "not testable here" and "dcgan below the quality gate" in why
    gate = {**ok, "proposed": [False, True, True]}
    v, why = metrics.compare_claim(sep, gate, "proposed", ("dcgan",), True)
    assert v == "not supported" and "proposed below the quality gate" in why
    v, why = metrics.compare_claim({"proposed": [1.0], "dcgan": [2.0]}, ok, "proposed",
                                  ("dcgan",), True)
    assert v == "not testable here" and "too few seeds" in why


def test_welch_interval_matches_scipy():
    from scipy import stats

    a, b = [1.0, 2.0, 4.0, 3.5], [3.0, 5.0, 4.5]
    diff, lo, hi = metrics.welch_interval(a, b)
    t = stats.ttest_ind(a, b, equal_var=False)
    assert math.isclose(diff, sum(a) / 4 - sum(b) / 3)
    # the interval excludes 0 exactly when the two-sided p-value is under 0.05
    assert (lo > 0 or hi < 0) == (t.pvalue < 0.05)
    assert lo < diff < hi


def test_stability_verdict():
    done = [150, 150, 150]
    assert paper_a.stability_verdict([70, 80, None], done, 100, True)[0] == "supported"
    assert paper_a.stability_verdict([None, None, 90], done, 100, True)[0] == "not supported"
    assert paper_a.stability_verdict([None] * 3, done, 100, False)[0] == "supported"
    assert paper_a.stability_verdict([None, 120, None], done, 100, False)[0] == "not supported"
    v, why = paper_a.stability_verdict([None] * 3, [30, 30, 30], 100, True)
    assert v == "not testable here" and "shorter than the claim's epoch 100" in why
    v, why = paper_a.stability_verdict([None] * 3, done, 30, False, passed=[True, False, True])
    assert v == "not testable here" and "below the quality gate" in why
    v, _ = paper_a.stability_verdict([None] * 3, done, 30, False, passed=[False] * 3,
                                    baseline_passed=True)
    assert v == "not supported"


def test_threshold_variants_move_each_by_half():
    v = paper_a.threshold_variants(0.1, 4.0, 0.02)
    assert len(v) == 6
    assert v["d_thresh x0.5"] == {"d_thresh": 0.05, "g_thresh": 4.0, "fake_thresh": 0.02}
    assert v["g_thresh x1.5"]["g_thresh"] == 6.0


def test_gate_and_held_out_floor(tmp_path):
    import numpy as np
    from PIL import Image

    gate = metrics.Gate(fid=100.0, kid=0.05, n_fake=200, floor_fid=20.0, floor_kid=0.001)
    assert gate.passes(99.0, 0.01) and not gate.passes(101.0, 0.01)
    assert not gate.passes(50.0, 0.06) and not gate.passes(float("nan"), 0.0)
    assert "FID <= 100" in gate.describe()
    # the floor scores n held-out images against the OTHER images of the set
    rng = np.random.default_rng(0)
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")

    def extractor(images, progress=False):  # a real (tiny) feature map: channel means, stds
        x = images.float()
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1).double().numpy()

    extractor.key = "test-channel-stats"
    floor = metrics.held_out_floor(tmp_path, 8, 10, extractor, cache_dir=tmp_path / "cache")
    assert floor["n"] == 10 and floor["n_reference"] == 20 and floor["fid"] > 0
    with pytest.raises(ValueError, match="held-out floor"):
        metrics.held_out_floor(tmp_path, 8, 30, extractor, cache_dir=tmp_path / "cache")
    # the same split as real_floor's; a fixed subset of the set when max_images is given
    same = metrics.verdicts.real_floor(tmp_path, 8, 10, None, extractor,
                                       cache_dir=tmp_path / "cache")
    assert same == floor
    sub = metrics.held_out_floor(tmp_path, 8, 10, extractor, cache_dir=tmp_path / "cache",
                                 max_images=16)
    assert sub["n"] == 10 and sub["n_reference"] == 6 and sub["fid"] != floor["fid"]


def test_mean_std_groups():
    df = pd.DataFrame({"model": ["a", "a", "b"], "fid": [1.0, 3.0, 5.0]})
    out = metrics.mean_std(df, ["model"], ["fid"]).set_index("model")
    assert out.loc["a", "fid_mean"] == 2.0 and math.isclose(out.loc["a", "fid_std"], math.sqrt(2))
    assert out.loc["b", "fid_std"] == 0.0 and out.loc["b", "n"] == 1
    assert metrics.fmt_mean_std(2.0, 0.5) == "2.00 ± 0.50"
    assert metrics.fmt_mean_std(float("nan"), 0) == "n/a"
    assert paper_a.lowest({"x": 3.0, "y": float("nan"), "z": 1.0}) == "z"
