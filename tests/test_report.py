import math

import pandas as pd

from paperlib import report


def test_paper_ratios_match_its_table():
    fid, is_ = report.PAPER_A_TABLE1["fid"], report.PAPER_A_TABLE1["is"]
    r = report.proposed_ratios(fid)
    assert abs(r["dcgan"] - 0.80) < 0.01 and abs(r["deligan"] - 0.71) < 0.01
    r = report.proposed_ratios(is_)
    assert abs(r["dcgan"] - 1.33) < 0.01 and abs(r["deligan"] - 1.07) < 0.01


def test_verdict():
    assert report.verdict([True, True]) == "supported"
    assert report.verdict([False, False]) == "not supported"
    assert report.verdict([True, False]) == "mixed"
    assert report.verdict([]) == "no evidence"


def test_mean_std_groups():
    df = pd.DataFrame({"model": ["a", "a", "b"], "fid": [1.0, 3.0, 5.0]})
    out = report.mean_std(df, ["model"], ["fid"]).set_index("model")
    assert out.loc["a", "fid_mean"] == 2.0 and math.isclose(out.loc["a", "fid_std"], math.sqrt(2))
    assert out.loc["b", "fid_std"] == 0.0 and out.loc["b", "n"] == 1
    assert report.fmt_mean_std(2.0, 0.5) == "2.00 ± 0.50"
    assert report.fmt_mean_std(float("nan"), 0) == "n/a"
    assert report.lowest({"x": 3.0, "y": float("nan"), "z": 1.0}) == "z"
