"""Notebook 06's tables and verdicts (paperlib.paper_a.report) on hand-built runs, scores
and tables: nothing is trained or scored here."""
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from paperlib import config, engine, metrics, paper_a
from paperlib.engine.runs import RunResult
from paperlib.paper_a import report

MODELS = paper_a.report.MODELS


def _rows(n, wins_from=None, d_loss_win=0.05):
    """``n`` epochs of log rows; from epoch ``wins_from`` on, D wins every epoch."""
    out = []
    for e in range(1, n + 1):
        win = wins_from is not None and e >= wins_from
        out.append({"epoch": e, "kimg": e * 0.01, "d_loss": d_loss_win if win else 1.2,
                    "g_loss": 5.0 if win else 0.9, "d_real": 0.5, "d_fake": 0.01 if win else 0.4,
                    "seconds": 0.1})
    return out


def _runs(tmp_path, rows_of, seeds=(0, 1, 2), configs=("paper",)):
    """``{(model, config, seed): RunResult}`` in empty folders, rows from ``rows_of(m, c, s)``."""
    runs = {}
    for m in MODELS:
        for c in configs:
            for s in seeds:
                d = tmp_path / "runs" / f"{m}-{c}-s{s}"
                d.mkdir(parents=True)
                rows = rows_of(m, c, s)
                runs[m, c, s] = RunResult(d, "finished", len(rows), rows)
    return runs


def _per_run(fid, gate, seeds=(0, 1, 2), is_=None, config="paper"):
    """A per-run table: ``fid[m]``/``gate[m]``/``is_[m]`` are per-seed lists."""
    rows = []
    for m in MODELS:
        for i, s in enumerate(seeds):
            rows.append({"model": m, "config": config, "seed": s, "gate": gate[m][i],
                         "fid": fid[m][i], "kid": fid[m][i] / 1000, "precision": 0.5,
                         "recall": 0.25, "density": 0.75, "coverage": 0.5,
                         "is": None if is_ is None else is_[m][i],
                         "is_kind": "none" if is_ is None else "emoji-parts", "n_fake": 70,
                         "n_real": 140})
    return pd.DataFrame(rows)


SEP_FID = {"proposed": [50.0, 51.0, 52.0], "dcgan": [80.0, 82.0, 81.0],
           "deligan": [90.0, 91.0, 92.0]}
ALL_PASS = {m: [True] * 3 for m in MODELS}


# ----------------------------------------------------------------------------- runs, scale
def test_scored_epochs_all_for_the_claims_config_else_last():
    have = [1, 2, 3, 4, 5, 6]
    ckpts = {("dcgan", "paper", 0): have, ("dcgan", "paper", 1): have,
             ("dcgan", "conventional", 0): have, ("deligan", "conventional", 3): [7]}
    out = paper_a.scored_epochs(ckpts, ("paper", "conventional"),
                                {"paper": 0, "conventional": 0})
    assert out[("dcgan", "paper", 0)] == have                # Fig. 3's run: every checkpoint
    assert out[("dcgan", "paper", 1)] == have                # the claims' runs: fid_rise's curve
    assert out[("dcgan", "conventional", 0)] == [6]          # elsewhere: the last
    assert out[("deligan", "conventional", 3)] == [7]
    # with the conventional config first, its first seed is scored everywhere too
    out = paper_a.scored_epochs(ckpts, ("conventional", "paper"),
                                {"paper": 0, "conventional": 0})
    assert out[("dcgan", "conventional", 0)] == have and out[("dcgan", "paper", 1)] == have
    assert paper_a.claims_config(("conventional", "paper")) == "paper"
    assert paper_a.claims_config(("conventional",)) == "conventional"
    out = paper_a.scored_epochs({("dcgan", "conventional", 1): have}, ("conventional",),
                                {"conventional": 0})
    assert out[("dcgan", "conventional", 1)] == have         # no paper config: the first is


def test_heldout_images_only_for_the_emoji_standin(tmp_path):
    from paperlib import data

    data.build_emoji_set(tmp_path / "emoji", seed=0, res=32, n_per_class=4)
    got = paper_a.heldout_images(tmp_path / "emoji", tmp_path / "held", 32)
    assert got == tmp_path / "held" and len(data.image_files(got)) == 8
    assert data.read_manifest(got)["kind"] == "emoji-standin-heldout"
    own = tmp_path / "own"
    own.mkdir()
    assert paper_a.heldout_images(own, tmp_path / "held2", 32) is None
    assert not (tmp_path / "held2").exists()


def test_run_scale_names_the_profile_sizes():
    prof = config.get_profile("smoke")
    epochs = engine.epochs_for_kimg(prof.kimg, 804)
    text = paper_a.run_scale("smoke", 804)
    assert text == (f"32 px, widths 8/8, batch 35, {epochs} epochs = "
                    f"{epochs * 804 / 1000:.1f} kimg of 804 images")


def _data_folder(tmp_path, n=5):
    d = tmp_path / "data"
    d.mkdir()
    for i in range(n):
        (d / f"{i}.png").write_bytes(bytes([i]))   # only names and bytes matter here
    return d


def _fake_cached(cfg, data_dir, root, status="finished", epochs_done=None, rows=None):
    """The run folder ``train_cached`` would use for ``cfg``, as if it had trained."""
    from paperlib.data import manifest_hash

    d = Path(root) / engine.run_name(cfg, manifest_hash(data_dir))
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "data": {}}))
    (d / "status.json").write_text(json.dumps(
        {"status": status, "epochs_done": cfg.epochs if epochs_done is None else epochs_done}))
    rows = rows or []
    if rows:
        cols = list(rows[0])
        (d / "log.csv").write_text(",".join(cols) + "\n" + "".join(
            ",".join(str(r[c]) for c in cols) + "\n" for r in rows))
    return d


def test_cached_run_only_for_finished_or_diverged(tmp_path):
    data_dir, root = _data_folder(tmp_path), tmp_path / "root"
    cfg = engine.profile_config("smoke", "dcgan", "paper", 0, n_images=5)
    assert paper_a.cached_run(cfg, data_dir, root) is None              # no folder
    d = _fake_cached(cfg, data_dir, root, status="running", epochs_done=1)
    assert paper_a.cached_run(cfg, data_dir, root) is None              # unfinished
    (d / "status.json").write_text(json.dumps({"status": "finished",
                                               "epochs_done": cfg.epochs - 1}))
    assert paper_a.cached_run(cfg, data_dir, root) is None              # shorter budget
    (d / "status.json").write_text(json.dumps({"status": "diverged at epoch 1",
                                               "epochs_done": 0}))
    res = paper_a.cached_run(cfg, data_dir, root)
    assert res.diverged and res.run_dir == d and res.rows == []


def test_search_n_cached_needs_the_whole_range(tmp_path):
    data_dir, root = _data_folder(tmp_path), tmp_path / "root"
    prof = dataclasses.replace(config.get_profile("smoke"), n_search_max=3)  # stable past 1

    def cfg(n, reading="linear"):
        return engine.profile_config(prof, "proposed", "paper", 0, n_images=5, proposed_N=n,
                                     proposed_reading=reading)

    assert not paper_a.search_n_cached(prof, data_dir, root, scheduler="serial")
    _fake_cached(cfg(1), data_dir, root, rows=_rows(cfg(1).epochs))      # not a linear candidate
    assert not paper_a.search_n_cached(prof, data_dir, root, scheduler="serial")
    _fake_cached(cfg(2), data_dir, root, rows=_rows(cfg(2).epochs))      # stable: no early stop
    assert not paper_a.search_n_cached(prof, data_dir, root, scheduler="serial")  # N=3 missing
    _fake_cached(cfg(3), data_dir, root, rows=_rows(cfg(3).epochs, wins_from=1))
    for measure in paper_a.SEARCH_MEASURES:
        assert paper_a.search_n_cached(prof, data_dir, root, scheduler="serial", measure=measure)
    with pytest.raises(ValueError, match="valid measures are: rule, window"):
        paper_a.search_n_cached(prof, data_dir, root, measure="fid_rise")
    # the depth reading's search is its own runs, from N = 1
    assert not paper_a.search_n_cached(prof, data_dir, root, scheduler="serial", reading="depth")
    for n in (1, 2):
        _fake_cached(cfg(n, "depth"), data_dir, root, rows=_rows(cfg(n).epochs))
    assert not paper_a.search_n_cached(prof, data_dir, root, reading="depth")  # N=3 missing
    _fake_cached(cfg(3, "depth"), data_dir, root, rows=_rows(cfg(3).epochs))
    assert paper_a.search_n_cached(prof, data_dir, root, scheduler="serial", reading="depth")


def test_reference_runs_trains_only_what_is_missing_and_says_so_first(tmp_path, monkeypatch,
                                                                     capsys):
    data_dir, root = _data_folder(tmp_path), tmp_path / "root"
    events = []
    monkeypatch.setattr(report, "search_n_cached", lambda *a, **k: True)
    monkeypatch.setattr(report, "search_n", lambda *a, **k: (2, []))

    def fake_train_many(jobs, scheduler=None, desc="", progress=True):
        jobs = list(jobs)
        events.append(("train", capsys.readouterr().out, jobs))
        return [RunResult(Path(r) / c.model, "finished", c.epochs, []) for c, d, r in jobs]

    monkeypatch.setattr(report, "train_many", fake_train_many)
    runs, n = paper_a.reference_runs("smoke", data_dir, root, scheduler="serial")
    assert n == 2
    assert list(runs) == [(m, c, 0) for m in MODELS for c in ("paper", "conventional")]
    _, note, jobs = events[-1]
    assert "6 of the 6 runs of notebooks 02-04 are missing" in note    # printed before training
    assert "dcgan paper 0" in note and "training them here" in note
    assert all(cfg.proposed_N == 2 for cfg, _, _ in jobs if cfg.model == "proposed")
    for job in jobs:                                   # as if notebooks 02-04 had run
        _fake_cached(*job)
    paper_a.reference_runs("smoke", data_dir, root, configs=("paper",), scheduler="serial")
    _, note, jobs = events[-1]
    assert "all 3 runs of notebooks 02-04 (and the N search) are cached" in note
    assert "nothing is trained" in note and len(jobs) == 3

    monkeypatch.setattr(report, "search_n_cached", lambda *a, **k: False)
    paper_a.reference_runs("smoke", data_dir, root, configs=("paper",), scheduler="serial")
    assert "N search is not (all) cached" in events[-1][1]


# ----------------------------------------------------------------------------- Table 1
def test_per_run_table_rows(tmp_path):
    runs = _runs(tmp_path, lambda m, c, s: _rows(12, wins_from=3 if m == "dcgan" else None),
                 seeds=(0,))
    (runs["dcgan", "paper", 0].run_dir / "status.json").write_text(json.dumps(
        {"status": "finished", "epochs_done": 12, "executed": {"worker": "tcp://w:1"}}))
    best = {k: {"fid": 90.0 if k[0] == "proposed" else 200.0, "kid": 0.01, "epoch": 10}
            for k in runs}
    scores = [[{"epoch": 10, "fid": 95.0, "kid": 0.02, "precision": 0.1, "n_fake": 70,
                "n_real": 140, "is_kind": "none"}] for _ in runs]
    gate = metrics.Gate(150.0, 0.1, 40)
    per_run = paper_a.per_run_table(runs, scores, best, gate, n_images=804)
    assert list(per_run.model) == list(MODELS) and len(per_run) == 3
    row = per_run.set_index("model").loc["dcgan"]
    assert row.instability_onset == 3 and row.worker == "tcp://w:1" and not row.gate
    assert math.isclose(row.kimg, 10 * 804 / 1000) and row.run == "dcgan-paper-s0"
    assert per_run.set_index("model").loc["proposed"].gate           # its best curve point
    assert pd.isna(per_run.worker.iloc[1]) and per_run["is"].isna().all()  # no status, no IS


def test_table1_caption_and_ratios():
    per_run = _per_run(SEP_FID, {**ALL_PASS, "deligan": [True, False, True]},
                       is_={m: [2.0, 2.0, 2.0] for m in MODELS})
    assert paper_a.is_summary(per_run) == ("emoji-parts", True)
    table, agg = paper_a.table1(per_run)
    assert list(table.columns) == ["config", "model", "runs", "passed gate", "FID", "KID",
                                   "precision", "recall", "density", "coverage", "IS",
                                   "paper FID", "paper IS"]
    t = table.set_index("model")
    assert t.loc["proposed", "FID"] == "51.00 ± 1.00" and t.loc["deligan", "passed gate"] == "2/3"
    assert t.loc["dcgan", "KID"] == "0.0810 ± 0.0010" and t.loc["dcgan", "paper FID"] == 0.30
    assert agg.set_index("model").loc["proposed", "fid_mean"] == 51.0
    caption = paper_a.table1_caption(per_run, 70, "32 px")
    assert "**emoji-parts**" in caption and "70 generated vs 140 real" in caption
    assert caption.endswith("Scale: 32 px.")
    ratios = paper_a.ratios_table(agg, ("paper",))
    assert list(ratios.metric) == ["FID", "FID", "IS", "IS"]
    fid_dcgan = ratios.iloc[0]
    assert math.isclose(fid_dcgan["this run"], 51.0 / 81.0) and fid_dcgan["paper (text)"] == 0.81
    assert math.isclose(fid_dcgan["paper (Table 1)"], 0.24 / 0.30)
    none = paper_a.ratios_table(agg, ("conventional",))           # no runs of that config
    assert len(none) == 4 and none["this run"].isna().all()


def test_median_seed_odd_count_is_the_middle_run():
    per_run = _per_run({"proposed": [185.2, 127.6, 165.6], "dcgan": [81.4, 101.3, 98.3],
                        "deligan": [173.4, 142.8, 202.7]}, ALL_PASS)
    assert paper_a.median_seed(per_run, "proposed", "paper") == 2    # 165.6
    assert paper_a.median_seed(per_run, "dcgan", "paper") == 2       # 98.3
    assert paper_a.median_seed(per_run, "deligan", "paper") == 0     # 173.4
    assert paper_a.median_seed(per_run, "dcgan", "paper", metric="kid") == 2
    one = _per_run({m: [70.0] for m in MODELS}, {m: [True] for m in MODELS}, seeds=(4,))
    assert paper_a.median_seed(one, "proposed", "paper") == 4


def test_median_seed_even_count_takes_the_lower_of_the_two_middle_runs():
    fid = {m: [90.0, 60.0, 80.0, 70.0] for m in MODELS}             # middle: 70 (s3), 80 (s2)
    per_run = _per_run(fid, {m: [True] * 4 for m in MODELS}, seeds=(0, 1, 2, 3))
    assert paper_a.median_seed(per_run, "proposed", "paper") == 3
    tied = _per_run({m: [50.0, 50.0] for m in MODELS}, {m: [True] * 2 for m in MODELS},
                    seeds=(7, 5))
    assert paper_a.median_seed(tied, "dcgan", "paper") == 5          # a tie: the lower seed


def test_median_seed_refuses_missing_runs_and_nan():
    per_run = _per_run({**SEP_FID, "deligan": [90.0, float("nan"), 92.0]}, ALL_PASS)
    with pytest.raises(ValueError, match="no dcgan run on the conventional config"):
        paper_a.median_seed(per_run, "dcgan", "conventional")
    with pytest.raises(ValueError, match=r"non-finite fid at seed\(s\) \[1\]"):
        paper_a.median_seed(per_run, "deligan", "paper")


def test_table1_without_is_drops_the_column():
    per_run = _per_run(SEP_FID, ALL_PASS)
    assert paper_a.is_summary(per_run) == ("none", False)
    table, agg = paper_a.table1(per_run)
    assert "IS" not in table and "paper IS" in table and "is_mean" not in agg
    assert set(paper_a.ratios_table(agg, ("paper",)).metric) == {"FID"}


# ----------------------------------------------------------------------------- curves
def test_curve_frame_and_informativeness():
    curves = {("dcgan", "paper", 0): [{"epoch": 1, "fid": 300.0, "precision": 0.0, "kid": 0.3,
                                       "recall": 0.0},
                                      {"epoch": 2, "fid": 200.0, "precision": 0.1, "kid": 0.2,
                                       "recall": 0.0}],
              ("proposed", "paper", 0): [{"epoch": 2, "fid": 100.0, "precision": 0.3,
                                          "kid": 0.1, "recall": 0.0}]}
    df = paper_a.curve_frame(curves)
    assert list(df.columns[:4]) == ["model", "config", "seed", "epoch"] and len(df) == 3
    info = paper_a.informativeness(df).set_index("measure")
    assert list(info.index) == ["precision", "recall", "kid"]      # density/coverage not scored
    assert info.loc["precision", "exactly 0"] == 1 and info.loc["precision", "max"] == 0.3
    assert math.isclose(info.loc["precision", "Spearman vs FID"], -1.0)
    assert math.isclose(info.loc["kid", "Spearman vs FID"], 1.0)
    assert np.isnan(info.loc["recall", "Spearman vs FID"])          # constant: no correlation
    assert info.loc["recall", "exactly 0"] == 3


# ----------------------------------------------------------------------------- detector
def _calibration_run(root, name, n_images, rows):
    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"config": {}, "data": {"n_images": n_images}}))
    if rows is not None:
        cols = list(rows[0]) if rows else ["epoch", "d_loss"]
        (d / "log.csv").write_text(",".join(cols) + "\n" + "".join(
            ",".join(str(r[c]) for c in cols) + "\n" for r in rows))


def test_detector_candidates_demo_and_note(tmp_path):
    wins_from = {"dcgan": 19, "deligan": 18, "proposed": None}   # streaks too short: no onset
    runs = _runs(tmp_path, lambda m, c, s: _rows(20, wins_from=wins_from[m]), seeds=(0,))
    cal = tmp_path / "calibration"
    _calibration_run(cal, "long-a", 804, _rows(30, wins_from=8))        # fires earliest
    _calibration_run(cal, "other-set", 70, _rows(30, wins_from=2))      # another data set
    _calibration_run(cal, "no-log", 804, None)                          # never logged
    _calibration_run(cal, "empty-log", 804, [])
    cands = paper_a.detector_candidates(runs, cal, 804)
    assert list(cands) == ["dcgan paper 0", "deligan paper 0", "proposed paper 0",
                           "calibration run long-a"]
    assert cands["calibration run long-a"][7]["epoch"] == 8
    stab, demo = paper_a.detector_demo(cands, runs)
    assert [w for w, _ in demo] == ["fires", "silent"]
    assert demo[0][1].run == "calibration run long-a" and demo[0][1].onset == 8
    # silent: of this notebook's runs without an onset, the one whose D wins least
    assert demo[1][1].run == "proposed paper 0" and demo[1][1].d_wins == 0
    assert stab.set_index("run").d_wins.to_dict() == {
        "dcgan paper 0": 2, "deligan paper 0": 3, "proposed paper 0": 0,
        "calibration run long-a": 23}
    note = paper_a.detector_note(stab, demo, runs)
    assert note.splitlines() == [
        ("detector fires on calibration run long-a: 23 D-wins epochs of 30; "
         "detector silent on proposed paper 0: 0 D-wins epochs of 20"),
        "runs of this notebook with an onset: 0/3"]
    assert paper_a.detector_candidates(runs, tmp_path / "nowhere", 804).keys() == {
        "dcgan paper 0", "deligan paper 0", "proposed paper 0"}


def test_detector_with_nothing_to_show():
    stab, demo = paper_a.detector_demo({}, {})
    assert demo == [] and paper_a.detector_note(stab, demo, {}).splitlines() == [
        "no runs", "runs of this notebook with an onset: 0/0"]


# ----------------------------------------------------------------------------- claims audit
def _audit_runs(tmp_path, onsets, n=12):
    """D's loss 0.02 when it wins: a D win at every threshold of the fragility check."""
    return _runs(tmp_path, lambda m, c, s: _rows(n, wins_from=onsets[m][s], d_loss_win=0.02))


H = dict(horizons=(8, 12), deciding_horizon=12)   # the runs' 12 epochs reach both


def test_claims_audit_contrasts_and_ratios(tmp_path):
    runs = _audit_runs(tmp_path, {"dcgan": [3, 4, 5], "deligan": [5, 6, None],
                                  "proposed": [None] * 3})
    per_run = _per_run(SEP_FID, ALL_PASS)
    audit, passed = paper_a.claims_audit(runs, per_run, ("paper",), (0, 1, 2), "32 px", **H)
    assert passed == ALL_PASS
    assert list(audit.columns) == list(report.AUDIT_COLUMNS)
    # per contrast: 4 measures x 2 horizons; then 2 FID ratios, FID vs 0, no IS
    assert len(audit) == 2 * 8 + 3 + 1
    prim = audit[audit.primary]
    assert list(prim.measure) == ["window", "window", report.RATIO_MEASURE,
                                  report.RATIO_MEASURE, report.RATIO_MEASURE]
    assert list(prim.horizon.iloc[:2]) == [12, 12] and prim.horizon.iloc[2:].isna().all()
    dcgan, deligan = prim.iloc[0], prim.iloc[1]
    assert dcgan.claim.startswith("DCGAN becomes unstable early") and "2a vs 2c" in dcgan.claim
    assert dcgan.verdict == "supported"
    assert dcgan.reason == ("proposed unstable in 0/3 seeds, dcgan in 3/3 by epoch 12; onsets "
                            "proposed / dcgan: s0: none / 3, s1: none / 4, s2: none / 5")
    assert dcgan["per seed"] == ("onsets proposed: s0: none, s1: none, s2: none; dcgan: "
                                 "s0: 3, s1: 4, s2: 5")
    assert dcgan.fragile == "robust"
    assert deligan.verdict == "not testable here"            # DeLiGAN stable in seed 2
    # the rows beside: the 8-epoch horizon, and measures without their curves (unknown)
    side = audit[~audit.primary & audit.claim.str.startswith("DCGAN")]
    assert list(zip(side.measure, side.horizon)) == [
        ("rule", 8), ("rule", 12), ("window", 8), ("fid_rise", 8), ("fid_rise", 12),
        ("overfit", 8), ("overfit", 12)]
    assert (side[side.measure.isin(["fid_rise", "overfit"])].verdict
            == "not testable here").all()
    assert "(6 run(s) unknown" in side[side.measure == "fid_rise"].reason.iloc[0]
    assert side[side.measure == "fid_rise"].fragile.iloc[0] == "n/a (no loss thresholds)"
    # Table 1 against the paper's ratios: proposed/DCGAN FID about 0.63, past 0.81
    fid_dcgan = prim.iloc[2]
    assert fid_dcgan.claim == "Proposed / DCGAN FID is 0.81 (the paper: FID 'decreased 81%')"
    assert fid_dcgan.verdict == metrics.LARGER_EFFECT and fid_dcgan["paper ratio"] == 0.81
    assert fid_dcgan["ratio low"] < fid_dcgan.ratio < fid_dcgan["ratio high"] < 0.81
    assert fid_dcgan.ratio == pytest.approx((50 / 80 * 51 / 82 * 52 / 81) ** (1 / 3))
    assert fid_dcgan["per seed"].startswith("ratios s0: 0.625, s1: 0.622, s2: 0.642; proposed "
                                            "s0: 50.0, s1: 51.0, s2: 52.0; dcgan s0: 80.0")
    assert prim.iloc[3]["paper ratio"] == 0.71
    assert prim.iloc[4].reason == "no IS for this data (none)"
    diff = audit[audit.measure == report.DIFFERENCE_MEASURE].iloc[0]
    assert not diff.primary and diff.verdict == "supported"    # lower FID than both (vs 0)
    assert (audit.scale == "32 px; paper config, seeds [0, 1, 2]").all()
    assert set(audit.verdict) <= set(metrics.EFFECT_VERDICTS)
    gate = metrics.Gate(150.0, 0.1, 40, 20.0, 0.001)
    md = paper_a.audit_markdown(audit, passed, gate)
    assert md.startswith(f"**Gate:** {gate.describe()}; passed: dcgan 3/3, deligan 3/3, "
                         "proposed 3/3\n\n**Scale:** 32 px; paper config, seeds [0, 1, 2]\n\n"
                         "**Deciding verdicts**\n\n| claim")
    assert "**Beside them**" in md and "| 12 epochs |" in md and "0.63 [" in md


def test_claims_audit_deciding_horizon_past_the_runs_is_not_testable(tmp_path):
    runs = _audit_runs(tmp_path, {"dcgan": [3, 4, 5], "deligan": [3, 4, 5],
                                  "proposed": [None] * 3})
    audit, _ = paper_a.claims_audit(runs, _per_run(SEP_FID, ALL_PASS), ("paper",), (0, 1, 2),
                                    "32 px")          # the default horizons: 150 and 200
    prim = audit[audit.primary & (audit.measure == "window")]
    assert list(prim.horizon) == [200, 200]
    assert (prim.verdict == "not testable here").all()
    assert "(3 run(s) unknown" in prim.reason.iloc[0]      # the proposed runs end at 12
    with pytest.raises(ValueError, match="deciding horizon"):
        paper_a.claims_audit(runs, _per_run(SEP_FID, ALL_PASS), ("paper",), (0, 1, 2), "32 px",
                             horizons=(150,))


def test_claims_audit_fid_and_rv_curves_feed_their_measures(tmp_path):
    runs = _audit_runs(tmp_path, {m: [None] * 3 for m in MODELS})
    rising = [(4, 100.0), (8, 80.0), (12, 99.0)]
    flat = [(4, 100.0), (8, 80.0), (12, 81.0)]
    fid = {(m, "paper", s): (rising if m == "dcgan" else flat) for m in MODELS for s in range(3)}
    rv = {(m, "paper", s): [(4, 0.1), (12, 0.6 if m == "proposed" else 0.2)]
          for m in MODELS for s in range(3)}
    audit, _ = paper_a.claims_audit(runs, _per_run(SEP_FID, ALL_PASS), ("paper",), (0, 1, 2),
                                    "32 px", fid_curves=fid, rv_curves=rv, **H)
    row = audit.set_index(["measure", "horizon"])
    dc = audit[audit.claim.str.startswith("DCGAN")].set_index(["measure", "horizon"])
    assert dc.loc[("fid_rise", 12)].verdict == "supported"
    assert dc.loc[("fid_rise", 8)].verdict == "not supported"     # no rise by epoch 8
    assert dc.loc[("overfit", 12)].verdict == "not supported"     # the proposed model overfits
    assert dc.loc[("window", 12)].verdict == "not supported"      # every run stable
    assert len(row) == len(audit)


def test_claims_audit_model_below_the_gate(tmp_path):
    runs = _audit_runs(tmp_path, {"dcgan": [3, 4, 5], "deligan": [3, 4, 5],
                                  "proposed": [None] * 3})
    # the proposed model never learned while the baselines did: evidence against its claims
    gate = {**ALL_PASS, "proposed": [True, False, True]}
    is_ = {"proposed": [2.0, 2.1, 2.2], "dcgan": [1.5, 1.6, 1.7], "deligan": [1.9, 2.0, 2.1]}
    per_run = _per_run(SEP_FID, gate, is_=is_)
    audit, passed = paper_a.claims_audit(runs, per_run, ("paper", "conventional"), (0, 1, 2),
                                         "32 px", **H)
    assert passed["proposed"] == [True, False, True]
    prim = audit[audit.primary]
    assert len(prim) == 2 + 4 and (prim.verdict == "not supported").all()
    assert prim.reason.iloc[0].startswith("proposed 1/3 runs below the quality gate while "
                                          "dcgan passes; proposed unstable in 0/3")
    is_dcgan = prim[prim.claim.str.startswith("Proposed / DCGAN IS")].iloc[0]
    assert is_dcgan["paper ratio"] == 1.29 and is_dcgan.ratio == pytest.approx(
        (2.0 / 1.5 * 2.1 / 1.6 * 2.2 / 1.7) ** (1 / 3))            # still shown
    assert audit[audit.measure == report.DIFFERENCE_MEASURE].iloc[1]["per seed"].startswith(
        "dcgan s0: 1.50, s1: 1.60")                                 # IS: 2 digits
    # a baseline below the gate: its contrast and ratios are untestable
    gate = {**ALL_PASS, "dcgan": [False, False, True]}
    audit, passed = paper_a.claims_audit(runs, _per_run(SEP_FID, gate), ("paper",), (0, 1, 2),
                                         "32 px", **H)
    prim = audit[audit.primary]
    assert prim.iloc[0].verdict == "not testable here"
    assert prim.iloc[0].reason.startswith("dcgan 2/3 runs below the quality gate; ")
    assert prim.iloc[1].verdict == "supported"                     # DeLiGAN's contrast
    assert prim.iloc[2].verdict == "not testable here"             # FID vs DCGAN
    md = paper_a.audit_markdown(audit, passed, metrics.Gate(150.0, 0.1, 40))
    assert "passed: dcgan 1/3, deligan 3/3, proposed 3/3" in md


def test_claims_audit_baseline_that_collapsed_makes_its_claims_untestable(tmp_path):
    runs = _audit_runs(tmp_path, {"dcgan": [3, 4, 5], "deligan": [3, 4, 5],
                                  "proposed": [None] * 3})
    per_run = _per_run(SEP_FID, ALL_PASS)
    plain, _ = paper_a.claims_audit(runs, per_run, ("paper",), (0, 1, 2), "32 px", **H)
    why = "DeLiGAN's within/between spread ratio 0.06-0.11 < 0.5 in 3/3 seeds"
    ok = {("deligan", "paper"): (False, why), ("dcgan", "paper"): (True, "spread fine"),
          ("deligan", "conventional"): (True, "another config: not the claims'")}
    audit, _ = paper_a.claims_audit(runs, per_run, ("paper",), (0, 1, 2), "32 px", **H,
                                    baselines_ok=ok)
    assert list(audit.columns) == list(plain.columns) and len(audit) == len(plain)
    against = audit.claim.str.contains("DeLiGAN")
    assert against.sum() == 8 + 1 + 1          # the contrast's 8 rows, the FID ratio, the
    # difference row (it compares with both baselines)
    hit = audit[against | (audit.measure == report.DIFFERENCE_MEASURE)]
    assert (hit.verdict == "not testable here").all()
    assert hit.reason.str.startswith(f"baseline collapsed: {why}; ").all()
    contrast = hit[hit.primary & (hit.measure == "window")].iloc[0]
    assert contrast.reason == (
        f"baseline collapsed: {why}; " + plain.loc[contrast.name, "reason"])
    assert contrast.fragile == "robust"
    ratio = hit[hit.measure == report.RATIO_MEASURE].iloc[0]
    assert ratio.ratio == plain.loc[ratio.name, "ratio"]              # the numbers stay
    assert ratio["per seed"] == plain.loc[ratio.name, "per seed"]
    assert plain.loc[ratio.name, "verdict"] == metrics.LARGER_EFFECT
    # the claims against the working baseline are unchanged
    rest = ~(against | (audit.measure == report.DIFFERENCE_MEASURE))
    pd.testing.assert_frame_equal(audit[rest], plain[rest])
    assert audit[rest & audit.primary].verdict.tolist() == [
        "supported", metrics.LARGER_EFFECT, "not testable here"]       # the last: no IS
    # every baseline working: the audit is the plain one
    fine = {("deligan", "paper"): (True, "x"), ("dcgan", "paper"): (True, "y")}
    same, _ = paper_a.claims_audit(runs, per_run, ("paper",), (0, 1, 2), "32 px", **H,
                                   baselines_ok=fine)
    pd.testing.assert_frame_equal(same, plain)


def test_claims_audit_collapsed_baseline_outranks_the_gate(tmp_path):
    runs = _audit_runs(tmp_path, {"dcgan": [3, 4, 5], "deligan": [3, 4, 5],
                                  "proposed": [None] * 3})
    gate = {**ALL_PASS, "proposed": [True, False, True]}     # alone: "not supported"
    audit, _ = paper_a.claims_audit(runs, _per_run(SEP_FID, gate), ("paper",), (0, 1, 2),
                                    "32 px", **H, baselines_ok={("dcgan", "paper"): (False, "r")})
    prim = audit[audit.primary]
    assert prim.iloc[0].verdict == "not testable here"
    assert prim.iloc[0].reason.startswith(
        "baseline collapsed: r; proposed 1/3 runs below the quality gate while dcgan passes; "
        "proposed unstable in 0/3")
    assert prim.iloc[1].verdict == "not supported"                 # DeLiGAN: the gate's


def test_claims_audit_fragile_and_missing_seeds(tmp_path):
    # D's loss 0.07: under D_WIN_LOSS 0.1 (wins) but over half of it (no wins at x0.5)
    runs = _runs(tmp_path, lambda m, c, s: _rows(12, wins_from=None if m == "proposed" else 2,
                                                 d_loss_win=0.07))
    del runs["deligan", "paper", 2]               # a seed not every model has is left out
    per_run = _per_run(SEP_FID, ALL_PASS)
    audit, passed = paper_a.claims_audit(runs, per_run, ("paper",), (0, 1, 2), "32 px", **H)
    assert passed == {m: [True, True] for m in MODELS}
    prim = audit[audit.primary]
    assert prim.iloc[0].verdict == "supported"
    assert prim.iloc[0].fragile == "fragile: flips with d_thresh x0.5"
    assert (audit.scale == "32 px; paper config, seeds [0, 1]").all()
    assert prim.iloc[2].verdict == metrics.LARGER_EFFECT             # the two seeds paired
    assert prim.iloc[2]["per seed"].startswith("ratios s0: 0.625, s1: 0.622; proposed "
                                               "s0: 50.0, s1: 51.0; dcgan")


def test_stability_contrasts_cover_the_baselines():
    assert [m for m, _ in paper_a.report.STABILITY_CONTRASTS] == ["dcgan", "deligan"]
    assert paper_a.instability.DECIDING_HORIZON == 200


def test_check_instability_wants_every_checkpoint_and_horizon():
    from paperlib.paper_a.checks import EvaluationCheckFailed

    key = ("dcgan", "paper", 0)
    rows = {key: _rows(12, wins_from=3)}
    ckpts = {key: [4, 8, 12]}
    full = [(4, 90.0), (8, 80.0), (12, 85.0)]
    table = paper_a.instability_table(rows, {key: full}, {key: [(e, 0.1) for e in (4, 8, 12)]},
                                      horizons=(8, 12))
    report.check_instability(table, ckpts, horizons=(8, 12))
    with pytest.raises(EvaluationCheckFailed, match="0 instability rows at 150"):
        report.check_instability(table, ckpts)
    half = paper_a.instability_table(rows, {key: full[1:]}, None, horizons=(8, 12))
    with pytest.raises(EvaluationCheckFailed, match="1 of its 2 checkpoints up to epoch 8 in "
                                                    "fid_points"):
        report.check_instability(half, ckpts, horizons=(8, 12), rv_computed=False)
    with pytest.raises(EvaluationCheckFailed, match="rv_points"):
        report.check_instability(paper_a.instability_table(rows, {key: full}, None, (8, 12)),
                                 ckpts, horizons=(8, 12))



# ----------------------------------------------------------------------------- baselines
def _spread(ratios, model="deligan", config="paper"):
    return pd.DataFrame([{"model": model, "config": config, "seed": s, "ratio": r}
                         for s, r in enumerate(ratios)])


def test_spread_baselines_ok_needs_every_seed_to_pass():
    assert paper_a.spread_baselines_ok(_spread([0.06, 0.11, 0.08])) == {("deligan", "paper"): (
        False, "DeLiGAN's within/between component spread ratio (s0: 0.06, s1: 0.11, s2: 0.08) "
               "under 0.5 in 3/3 seeds")}
    (ok, why), = paper_a.spread_baselines_ok(_spread([0.7, 0.5, 0.9])).values()
    assert ok and why.endswith(">= 0.5 in all 3 seeds")
    (ok, why), = paper_a.spread_baselines_ok(_spread([0.7, float("nan"), 0.9])).values()
    assert not ok and "s1: nan" in why and "in 1/3 seeds" in why
    both = pd.concat([_spread([0.1]), _spread([0.8], config="conventional")])
    assert {k: v[0] for k, v in paper_a.spread_baselines_ok(both).items()} == {
        ("deligan", "paper"): False, ("deligan", "conventional"): True}


def test_deligan_spread_reads_each_seeds_last_checkpoint(tmp_path):
    images = torch.rand(20, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    runs = {}
    for s in (1, 0):
        cfg = engine.make_config(model="deligan", epochs=1, res=32, ngf=4, ndf=4, nz=8,
                                 batch_size=10, deligan_K=3, seed=s, device="cpu")
        runs["deligan", "paper", s] = engine.train(cfg, images, tmp_path / f"s{s}",
                                                   progress=False)
    runs["dcgan", "paper", 0] = RunResult(tmp_path / "not-read", "finished", 1, [])
    t = paper_a.deligan_spread(runs, "paper", lambda x: x.reshape(len(x), -1).numpy(),
                               per_component=2, device="cpu")
    assert list(t.seed) == [0, 1] and (t.epoch == 1).all() and (t.K == 3).all()
    assert (t.per_component == 2).all() and ((t.ratio > 0) & (t.ratio == t.within / t.between)).all()
    assert list(t.passes) == [r >= paper_a.SPREAD_MIN_RATIO for r in t.ratio]
    assert paper_a.deligan_spread(runs, "conventional", None).empty


# ----------------------------------------------------------------------------- README summary
def test_verdict_summary_labels_the_deciding_rows_with_what_was_tested(tmp_path):
    runs = _audit_runs(tmp_path, {"dcgan": [3, 4, 5], "deligan": [3, 4, 5],
                                  "proposed": [None] * 3})
    why = "DeLiGAN's within/between component spread ratio (s0: 0.06) under 0.5 in 1/1 seeds"
    audit, _ = paper_a.claims_audit(runs, _per_run(SEP_FID, ALL_PASS), ("paper",), (0, 1, 2),
                                    "32 px", **H, baselines_ok={("deligan", "paper"): (False, why)})
    csv = tmp_path / "06_claims_audit.csv"
    audit.to_csv(csv, index=False)                      # as plots.save_table writes it
    md = paper_a.verdict_summary(pd.read_csv(csv))
    lines = md.splitlines()
    assert lines[0] == "| claim, as tested | paper | here | verdict |"
    rows = lines[2:]
    prim = [i for i, p in enumerate(audit.primary) if p]
    assert len(rows) == len(prim) == 5
    assert [r.rsplit("<!-- verdict: 06_claims_audit:", 1)[1].split(" ")[0] for r in rows] == [
        str(i) for i in prim]
    assert rows[0] == (
        "| proposed more stable than DCGAN (sliding-window D-wins share, 12 epochs) | "
        "Fig. 2a vs 2c | proposed unstable in 0/3 seeds, dcgan in 3/3 by epoch 12 | "
        f"**supported** <!-- verdict: 06_claims_audit:{prim[0]} --> |")
    assert rows[1].startswith(
        "| proposed more stable than DeLiGAN (sliding-window D-wins share, 12 epochs) | "
        "Fig. 2b vs 2c | proposed unstable in 0/3 seeds, deligan in 3/3 by epoch 12; "
        f"baseline collapsed: {why} | not testable here <!--")
    r = audit.iloc[prim[2]]
    assert rows[2] == (
        "| FID proposed/DCGAN = 0.81 (paper) | Table 1; text: FID 'decreased 81%' | "
        f"{r.ratio:.2f}, 95 % CI [{r['ratio low']:.2f}, {r['ratio high']:.2f}], paired by "
        f"seed | **{metrics.LARGER_EFFECT}** <!-- verdict: 06_claims_audit:{prim[2]} --> |")
    assert rows[3].startswith("| FID proposed/DeLiGAN = 0.71 (paper) | Table 1; text: FID "
                              "'decreased 71%' | 0.56, 95 % CI [")
    assert rows[3].endswith(f"paired by seed; baseline collapsed: {why} | not testable here "
                            f"<!-- verdict: 06_claims_audit:{prim[3]} --> |")
    assert rows[4].startswith("| The proposed GAN has the highest IS |  | no IS for this data")
    assert "fid_rise" not in md and "150 epochs" not in md          # only the deciding rows


def test_verdict_summary_of_one_seed_and_unknown_rows():
    claim = report.ratio_claim("is", "deligan")
    audit = pd.DataFrame([
        {"claim": claim, "measure": report.RATIO_MEASURE, "horizon": np.nan, "primary": True,
         "verdict": "not testable here", "reason": "deligan 1/1 runs below the quality gate; "
         "proposed / deligan = 0.95: under 2 seeds, no interval", "ratio": 0.951,
         "ratio low": np.nan, "ratio high": np.nan, "paper ratio": 1.06},
        {"claim": claim, "measure": "x", "horizon": np.nan, "primary": False,
         "verdict": "supported", "reason": "beside", "ratio": np.nan, "ratio low": np.nan,
         "ratio high": np.nan, "paper ratio": np.nan}])
    assert paper_a.verdict_summary(audit, "t").splitlines()[2:] == [
        "| IS proposed/DeLiGAN = 1.06 (paper) | Table 1; text: IS 'increased 106%' | 0.95 "
        "(under 2 seeds: no interval); deligan 1/1 runs below the quality gate | not testable "
        "here <!-- verdict: t:0 --> |"]
