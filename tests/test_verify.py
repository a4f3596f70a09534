"""``python -m paperlib verify``: each rule on small synthetic tables (identical to rounding
vs bit-identical, ``± sd`` cells, zero sd, NaN, reordered rows, per-seed groups, strict), and
the committed ``figures/cpu`` tables against perturbed copies of themselves."""
from __future__ import annotations

import csv
import io
import math
import statistics
import subprocess

import numpy as np
import pytest

from paperlib import cli, verify
from paperlib.config import FIGURES_DIR, ROOT
from paperlib.verify import Table

CPU = FIGURES_DIR / "cpu"
Z = verify.Z


# ----------------------------------------------------------------------------- helpers
@pytest.fixture
def tables(monkeypatch):
    """Declare the synthetic tables: per-seed rows, 'mean ± sd' cells, <metric>_sd columns."""
    monkeypatch.setitem(verify.TABLES, "syn_runs", Table(("model", "seed"), seed="seed"))
    monkeypatch.setitem(verify.TABLES, "syn_pm", Table(("model",), n="runs"))
    monkeypatch.setitem(verify.TABLES, "syn_sd", Table(("model",), n="n_seeds"))
    monkeypatch.setitem(verify.TABLES, "syn_plain", Table(("name",)))


def _csv(rows: list[list]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _numbers(findings):
    return [f for f in findings if f.kind == "number"]


def _one(findings, column):
    hits = [f for f in findings if f.column == column and f.verdict != "identical"]
    assert len(hits) == 1, hits
    return hits[0]


def _edit(path, row, column, fn):
    rows = list(csv.DictReader(path.open()))
    header = list(rows[0])
    old = rows[row][column]
    rows[row][column] = fn(old)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return old, rows[row][column]


# ----------------------------------------------------------------------------- identical
def test_ulp_pair_is_identical_but_not_bit_identical(tables):
    ref = _csv([["name", "fid", "zero", "kid"], ["a", "20.490716173097937", "0.0", "0.5"]])
    new = _csv([["name", "fid", "zero", "kid"], ["a", "20.49071617309795", "1e-15", "0.5"]])
    found = {f.column: f for f in verify.compare_table("syn_plain.csv", ref, new)}
    assert found["fid"].verdict == "identical" and not found["fid"].exact
    assert found["zero"].verdict == "identical" and not found["zero"].exact
    assert found["kid"].verdict == "identical" and found["kid"].exact
    report = verify.Report(["syn_plain.csv"], list(found.values()), strict=True)
    assert report.ok
    assert "identical 3 (bit-identical 1, equal to rounding 2)" in report.summary()
    # beyond rounding (relative 1e-6) and no seed spread: a difference
    new = _csv([["name", "fid", "zero", "kid"], ["a", "20.49073666", "0.0", "0.5"]])
    f = _one(verify.compare_table("syn_plain.csv", ref, new), "fid")
    assert f.verdict == "differs" and f.tol is None


def test_nan_empty_and_text_cells(tables):
    ref = _csv([["name", "x", "y", "z", "e", "t"], ["a", "nan", "nan", "1.0", "", "True"]])
    new = _csv([["name", "x", "y", "z", "e", "t"], ["a", "nan", "1.0", "nan", "3", "False"]])
    found = {f.column: f for f in verify.compare_table("syn_plain.csv", ref, new)}
    assert found["x"].verdict == "identical"
    assert found["y"].verdict == "differs" and found["z"].verdict == "differs"
    assert found["e"].verdict == "differs"
    assert found["t"].verdict == "differs" and found["t"].kind == "text"


def test_nan_against_a_number_differs_even_with_a_spread(tables):
    head = ["model", "runs", "fid"]
    ref = _csv([head, ["m", 3, "90.00 ± 10.00"]])
    new = _csv([head, ["m", 3, "nan ± 10.00"]])
    f = _one(verify.compare_table("syn_pm.csv", ref, new), "fid")
    assert f.verdict == "differs" and f.tol


# ----------------------------------------------------------------------------- seed noise
def test_mean_pm_sd_cell_uses_the_sd_of_a_difference_of_means(tables):
    head = ["model", "runs", "fid"]
    ref = _csv([head, ["m", 3, "93.65 ± 10.73"]])
    tol = Z * 10.73 * math.sqrt(2 / 3)                      # 26.3
    near = _csv([head, ["m", 3, f"{93.65 + 0.9 * tol:.2f} ± 10.73"]])
    f = _one(verify.compare_table("syn_pm.csv", ref, near), "fid")
    assert f.verdict == "noise" and f.tol == pytest.approx(tol)
    far = _csv([head, ["m", 3, f"{93.65 + 1.1 * tol:.2f} ± 10.73"]])
    assert _one(verify.compare_table("syn_pm.csv", ref, far), "fid").verdict == "differs"
    # the sd itself: normal-theory sd of a sample sd, 3 seeds in each run
    sd_tol = Z * 10.73 * math.sqrt(1 / 4 + 1 / 4)
    wide = _csv([head, ["m", 3, f"93.65 ± {10.73 + 0.9 * sd_tol:.2f}"]])
    f = _one(verify.compare_table("syn_pm.csv", ref, wide), "fid")
    pooled = math.sqrt((10.73 ** 2 + (10.73 + 0.9 * sd_tol) ** 2) / 2)
    assert f.verdict == "noise"
    assert f.tol == pytest.approx(Z * pooled * math.sqrt(1 / 4 + 1 / 4), rel=1e-3)


def test_a_ten_percent_change_within_seed_noise_still_fails_strict(tables):
    head = ["model", "runs", "fid"]
    ref = _csv([head, ["m", 3, "93.65 ± 10.73"]])
    new = _csv([head, ["m", 3, "103.02 ± 10.73"]])           # +10 %: 0.87 seed-sd
    findings = verify.compare_table("syn_pm.csv", ref, new)
    assert _one(findings, "fid").verdict == "noise"
    assert verify.Report(["syn_pm.csv"], findings).ok
    strict = verify.Report(["syn_pm.csv"], findings, strict=True)
    assert not strict.ok and "verify: DIFFERS" in strict.summary()


def test_zero_sd_and_single_run_allow_only_identical(tables):
    head = ["model", "runs", "precision", "fid"]
    ref = _csv([head, ["m", 3, "0.00 ± 0.00", "122.22 ± 0.00"], ["c", 1, "0.01 ± 0.01", "1 ± 2"]])
    new = _csv([head, ["m", 3, "0.01 ± 0.00", "122.22 ± 0.00"], ["c", 1, "0.02 ± 0.01", "1 ± 2"]])
    bad = [f for f in verify.compare_table("syn_pm.csv", ref, new) if f.verdict != "identical"]
    assert [(f.row, f.column, f.verdict, f.tol) for f in bad] == [
        (0, "precision", "differs", None),      # zero sd
        (1, "precision", "differs", None)]      # one run: its '± sd' is no seed spread


def test_sd_column_serves_mean_sd_and_per_seed_values(tables):
    head = ["model", "n_seeds", "fid", "fid_sd", "fid_seeds"]
    ref = _csv([head, ["m", 3, "10.0", "1.0", "9; 10; 11"]])
    new = _csv([head, ["m", 3, "11.0", "1.0", "9; 13; 11"]])
    found = [f for f in verify.compare_table("syn_sd.csv", ref, new) if f.verdict != "identical"]
    assert [(f.column, f.verdict) for f in found] == [("fid", "noise"), ("fid_seeds", "noise")]
    assert found[0].tol == pytest.approx(Z * math.sqrt(2 / 3))
    assert found[1].tol == pytest.approx(Z * math.sqrt(2))       # one seed's value
    zero = _csv([head, ["m", 3, "10.0", "0.0", "10; 10; 10"]])
    zero_new = _csv([head, ["m", 3, "10.5", "0.0", "10; 10; 10"]])
    f = _one(verify.compare_table("syn_sd.csv", zero, zero_new), "fid")
    assert f.verdict == "differs" and f.tol is None


def test_per_seed_group_keeps_a_seed_that_fails_the_gate(tables):
    # the gate is not a key: seed 2 failing it stays in the group (sd over all 3 seeds)
    head = ["model", "seed", "gate", "fid", "train_s"]
    rows = [["m", 0, "True", "81.38", "1"], ["m", 1, "True", "101.30", "2"],
            ["m", 2, "False", "98.27", "3"], ["c", 0, "True", "122.22", "4"]]
    s = statistics.stdev([81.38, 101.30, 98.27])
    new_rows = [r[:] for r in rows]
    new_rows[0][3] = f"{81.38 + 2 * s:.2f}"                   # 2 sd: within 3 sd x sqrt(2)
    new_rows[1][4] = "99"                                     # volatile
    found = verify.compare_table("syn_runs.csv", _csv([head, *rows]), _csv([head, *new_rows]))
    f = _one(found, "fid")
    s_new = statistics.stdev([81.38 + 2 * s, 101.30, 98.27])
    assert f.verdict == "noise" and f.row == 0
    assert f.tol == pytest.approx(Z * math.sqrt(2) * math.sqrt((s * s + s_new * s_new) / 2),
                                  rel=1e-3)
    # the single-seed group has no spread: any change differs
    new_rows[0][3], new_rows[3][3] = rows[0][3], "122.23"
    f = _one(verify.compare_table("syn_runs.csv", _csv([head, *rows]), _csv([head, *new_rows])),
             "fid")
    assert f.verdict == "differs" and f.row == 3


def test_reordered_rows_match_by_key_and_missing_rows_differ(tables):
    head = ["model", "seed", "fid"]
    rows = [["m", "0", "1.5"], ["m", "1", "2.5"], ["m", "2", "3.5"]]
    shuffled = [["m", "2.0", "3.5"], ["m", "0", "1.5"], ["m", "1", "2.5"]]   # 2.0 is 2
    found = verify.compare_table("syn_runs.csv", _csv([head, *rows]), _csv([head, *shuffled]))
    assert found and all(f.verdict == "identical" and f.exact for f in found)
    found = verify.compare_table("syn_runs.csv", _csv([head, *rows]),
                                 _csv([head, rows[0], rows[2], ["m", "5", "2.5"]]))
    msgs = [f.new for f in found if f.verdict == "differs"]
    assert len(msgs) == 2 and "missing from the rerun" in msgs[0] and "extra row" in msgs[1]


def test_undeclared_table_is_a_named_difference():
    text = _csv([["a", "b"], ["x", "1"]])
    [f] = verify.compare_table("never_declared.csv", text, text)
    assert f.verdict == "differs" and f.kind == "structure"
    assert "never_declared" in f.new and "verify.TABLES" in f.new


# ----------------------------------------------------------------------------- committed tables
def test_every_committed_table_is_declared_with_unique_keys():
    for path in sorted(CPU.glob("*.csv")):
        spec = verify.TABLES.get(path.stem)
        assert spec is not None, f"{path.name}: add it to verify.TABLES"
        rows = list(csv.DictReader(path.open()))
        assert set(spec.keys) <= set(rows[0]), path.name
        keys = [verify._key(r, spec.keys) for r in rows]
        assert len(set(keys)) == len(keys), f"{path.name}: keys {spec.keys} not unique"
        if spec.n:
            assert spec.n in rows[0], path.name


@pytest.fixture
def rerun(tmp_path):
    """A copy of the committed figures/cpu tables (git HEAD's), to perturb."""
    out = tmp_path / "rerun"
    out.mkdir()
    names = subprocess.run(["git", "ls-tree", "--name-only", "HEAD", "figures/cpu/"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in (n for n in names if n.endswith(".csv")):
        text = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout
        (out / name.rsplit("/", 1)[1]).write_text(text)
    return out


def _verify(rerun, *extra) -> int:
    return cli.main(["verify", "--profile", "cpu", "--rerun", str(rerun), *extra])


def test_committed_tables_pass_and_every_float_nudged_by_ulps_passes_strict(rerun, capsys):
    assert _verify(rerun) == 0 and _verify(rerun, "--strict") == 0
    out = capsys.readouterr().out
    assert "equal to rounding 0" in out and "within seed noise 0" in out
    # every plain float cell 3 ulp up (keys stay): identical to rounding, not bit-identical
    nudged = 0
    for path in rerun.glob("*.csv"):
        keys = verify.TABLES[path.stem].keys
        rows = list(csv.reader(path.open()))
        for r in rows[1:]:
            for c, (col, cell) in enumerate(zip(rows[0], r)):
                x = verify._num(cell)
                if (col in keys or col in verify.VOLATILE_COLUMNS or x is None
                        or not math.isfinite(x) or "." not in cell):
                    continue
                for _ in range(3):
                    x = float(np.nextafter(x, math.inf))
                r[c] = repr(x)
                nudged += 1
        path.write_text(_csv(rows))
    assert nudged > 1000
    report = verify.verify("cpu", rerun=rerun, strict=True)
    assert report.ok, report.summary()
    same = [f for f in report.findings if f.verdict == "identical" and f.kind == "number"]
    assert sum(not f.exact for f in same) == nudged


def test_ten_percent_dcgan_fid_is_noise_but_fails_strict(rerun, capsys):
    # paper A's Table 1: DCGAN's FID 93.65 ± 10.73 over 3 seeds; +10 % = +0.87 seed-sd,
    # inside 3 x 10.73 x sqrt(2/3) = 26.3
    path = rerun / "06_table1.csv"
    rows = list(csv.DictReader(path.open()))
    k = next(i for i, r in enumerate(rows) if r["config"] == "paper" and r["runs"] == "3"
             and r["FID"].startswith("93.65"))
    _edit(path, k, "FID", lambda v: "103.02 ± 10.73")
    assert _verify(rerun) == 0
    out = capsys.readouterr().out
    assert "within seed noise 1" in out and "93.65' -> '103.02' (+10.0%, tolerance 26.28)" in out
    assert _verify(rerun, "--strict") == 1
    out = capsys.readouterr().out
    assert "verify: DIFFERS" in out and f"06_table1.csv row {k + 1} [FID]" in out
    # beyond the noise: +30 % fails without --strict
    _edit(path, k, "FID", lambda v: "121.75 ± 10.73")
    assert _verify(rerun) == 1
    assert "beyond seed noise 1," in capsys.readouterr().out


def test_single_seed_fid_change_differs(rerun, capsys):
    # dcgan's conventional config: one seed, no spread -> any change beyond rounding differs
    path = rerun / "06_metrics_per_run.csv"
    rows = list(csv.DictReader(path.open()))
    k = next(i for i, r in enumerate(rows) if r["config"] == "conventional")
    _edit(path, k, "fid", lambda v: repr(float(v) * 1.1))
    assert _verify(rerun) == 1
    out = capsys.readouterr().out
    assert "verify: DIFFERS" in out and "without a seed spread to judge 1)" in out
    assert f"06_metrics_per_run.csv row {k + 1} [fid]" in out


def test_seed_spread_is_preferred_to_the_estimator_std(rerun):
    # 06_metrics_per_run: kid of the paper config's 3 seeds -> sd over the seeds (pooled over
    # the reference and the rerun); the single-seed conventional row falls back to its
    # kid_std (KID's subset spread)
    path = rerun / "06_metrics_per_run.csv"
    rows = list(csv.DictReader(path.open()))
    paper = [i for i, r in enumerate(rows) if r["model"] == rows[0]["model"]
             and r["config"] == "paper"]
    vals = [float(rows[i]["kid"]) for i in paper]
    sd = statistics.stdev(vals)
    conv = next(i for i, r in enumerate(rows) if r["config"] == "conventional")
    std = float(rows[conv]["kid_std"])
    _edit(path, paper[0], "kid", lambda v: repr(float(v) + 2 * sd))
    _edit(path, conv, "kid", lambda v: repr(float(v) + 2 * std))
    sd_new = statistics.stdev([vals[0] + 2 * sd, *vals[1:]])
    report = verify.verify("cpu", rerun=rerun)
    noisy = {(f.row, f.column): f.tol for f in report.findings if f.verdict == "noise"}
    pooled = math.sqrt((sd * sd + sd_new * sd_new) / 2)
    assert report.ok and noisy == {
        (paper[0], "kid"): pytest.approx(Z * math.sqrt(2) * pooled),
        (conv, "kid"): pytest.approx(Z * math.sqrt(2) * std)}


def test_text_and_missing_files_differ(rerun):
    _edit(rerun / "01_verdicts.csv", 0, "verdict", lambda v: "supported")
    (rerun / "02_dcgan_runs.csv").unlink()
    report = verify.verify("cpu", rerun=rerun)
    kinds = sorted(f.kind for f in report.differing)
    assert kinds == ["structure", "text"]


def test_reordered_committed_rows_are_bit_identical(rerun):
    path = rerun / "06_fig3_over_training.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "".join(reversed(lines[1:])))
    report = verify.verify("cpu", rerun=rerun, strict=True)
    assert report.ok and all(f.exact for f in report.findings)
