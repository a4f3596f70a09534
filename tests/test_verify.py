"""``python -m paperlib verify``: the committed tables agree with themselves; a 10 % change
of an FID without seed spread is a difference; a change within the table's stated seed
noise (3 x its per-seed sd) passes as "within seed noise"."""
from __future__ import annotations

import csv
import shutil

import pytest

from paperlib import cli, verify
from paperlib.config import FIGURES_DIR

CPU = FIGURES_DIR / "cpu"


@pytest.fixture
def ref(tmp_path):
    out = tmp_path / "ref"
    out.mkdir()
    for p in CPU.glob("*.csv"):
        shutil.copy(p, out / p.name)
    return out


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


def test_committed_tables_match_themselves(ref, capsys):
    assert cli.main(["verify", "--profile", "cpu", "--reference", str(ref)]) == 0
    out = capsys.readouterr().out
    assert "differing 0" in out and "verify: OK" in out
    assert "within seed noise 0" in out


def test_ten_percent_fid_change_differs(ref, capsys):
    # dcgan's conventional config: one seed, so no spread -> any change is a difference
    path = ref / "06_metrics_per_run.csv"
    rows = list(csv.DictReader(path.open()))
    k = next(i for i, r in enumerate(rows) if r["config"] == "conventional")
    _edit(path, k, "fid", lambda v: repr(float(v) * 1.1))
    assert cli.main(["verify", "--profile", "cpu", "--reference", str(ref)]) == 1
    out = capsys.readouterr().out
    assert "verify: DIFFERS" in out and "differing 1" in out
    assert f"06_metrics_per_run.csv row {k + 1} [fid]" in out


def test_change_within_seed_noise_passes(ref, capsys):
    # 05_table1's fid_sd column: 2 sd off is inside 3 sd
    path = ref / "05_table1.csv"
    rows = list(csv.DictReader(path.open()))
    k = next(i for i, r in enumerate(rows) if r["fid_sd"])
    sd = float(rows[k]["fid_sd"])
    _edit(path, k, "fid", lambda v: repr(float(v) + 2 * sd))
    report = verify.verify("cpu", reference=ref)
    assert report.ok
    noisy = [f for f in report.findings if f.verdict == "noise"]
    assert [(f.file, f.row, f.column) for f in noisy] == [("05_table1.csv", k, "fid")]
    assert noisy[0].tol == pytest.approx(verify.K_SIGMA * sd)
    # ... and 4 sd off is not
    _edit(path, k, "fid", lambda v: repr(float(v) + 2 * sd))
    assert not verify.verify("cpu", reference=ref).ok


def test_per_seed_rows_give_the_tolerance(ref, tmp_path):
    # 02_dcgan_runs: three seeds of the paper config -> sd over them (the reference's: the
    # edits go into a rerun copy); train_s is volatile
    rerun = tmp_path / "rerun"
    shutil.copytree(ref, rerun)
    path = rerun / "02_dcgan_runs.csv"
    rows = list(csv.DictReader(path.open()))
    vals = [float(r["g_loss"]) for r in rows if r["config"] == "paper"]
    import statistics
    sd = statistics.stdev(vals)
    _edit(path, 0, "g_loss", lambda v: repr(float(v) + sd))
    _edit(path, 0, "train_s", lambda v: "1.0")
    report = verify.verify("cpu", reference=ref, rerun=rerun)
    assert report.ok and report.count("noise") == 1
    _edit(path, 0, "g_loss", lambda v: repr(float(v) + 3 * sd))   # 4 sd off in all
    assert not verify.verify("cpu", reference=ref, rerun=rerun).ok


def test_text_and_missing_files_differ(ref):
    _edit(ref / "01_verdicts.csv", 0, "verdict", lambda v: "supported")
    (ref / "extra_only_in_reference.csv").write_text("a,b\n1,2\n")
    report = verify.verify("cpu", reference=ref)
    kinds = sorted(f.kind for f in report.differing)
    assert kinds == ["structure", "text"]


def test_git_reference_default():
    report = verify.verify("cpu")     # HEAD vs the working tree's figures/cpu
    assert report.files and report.ok


def test_seed_spread_is_preferred_to_the_estimator_std(ref, tmp_path):
    # 06_metrics_per_run: kid of the paper config's 3 seeds -> sd over the seeds (of the
    # reference: so the edit goes into a rerun copy); the single-seed conventional row
    # falls back to its kid_std (KID's subset spread)
    import statistics
    rerun = tmp_path / "rerun"
    shutil.copytree(ref, rerun)
    path = rerun / "06_metrics_per_run.csv"
    rows = list(csv.DictReader(path.open()))
    paper = [i for i, r in enumerate(rows) if r["model"] == rows[0]["model"]
             and r["config"] == "paper"]
    sd = statistics.stdev(float(rows[i]["kid"]) for i in paper)
    conv = next(i for i, r in enumerate(rows) if r["config"] == "conventional")
    std = float(rows[conv]["kid_std"])
    _edit(path, paper[0], "kid", lambda v: repr(float(v) + 2 * sd))
    _edit(path, conv, "kid", lambda v: repr(float(v) + 2 * std))
    report = verify.verify("cpu", reference=ref, rerun=rerun)
    noisy = {(f.row, f.column): f.tol for f in report.findings if f.verdict == "noise"}
    assert report.ok and noisy == {(paper[0], "kid"): pytest.approx(3 * sd),
                                   (conv, "kid"): pytest.approx(3 * std)}
