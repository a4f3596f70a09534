"""Notebook 04's N search by measure (the whole range, the smallest stable N), the ablation
per reading of Eq. 1 (configs, the secondary-seeds rule, tables) and the latent's live
directions: hand-built run folders and tiny latents, nothing is trained."""
import dataclasses
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from paperlib import config, engine, paper_a
from paperlib.data import manifest_hash
from paperlib.engine.runs import RunResult
from paperlib.models import ProposedLatent
from paperlib.models.dcgan import GaussianLatent
from paperlib.paper_a import ablation, instability

WIN = {"d_loss": 0.05, "g_loss": 5.0, "d_real": 0.97, "d_fake": 0.01}
OK = {"d_loss": 1.2, "g_loss": 0.9, "d_real": 0.5, "d_fake": 0.4}


def _rows(wins, n=40):
    """``n`` epochs of log rows; D wins at the epochs for which ``wins(epoch)`` holds."""
    return [{"epoch": e, "kimg": e * 0.01, **(WIN if wins(e) else OK), "seconds": 0.1}
            for e in range(1, n + 1)]


def _data(tmp_path, n=5):
    d = tmp_path / "data"
    d.mkdir()
    for i in range(n):
        (d / f"{i}.png").write_bytes(bytes([i]))
    return d


def _cache(cfg, data_dir, root, rows, status="finished"):
    """A run folder as ``train_cached`` would have left it for ``cfg``."""
    d = Path(root) / engine.run_name(cfg, manifest_hash(data_dir))
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "data": {}}))
    (d / "status.json").write_text(json.dumps({"status": status, "epochs_done": cfg.epochs}))
    cols = list(rows[0])
    (d / "log.csv").write_text(",".join(cols) + "\n" + "".join(
        ",".join(str(r[c]) for c in cols) + "\n" for r in rows))
    return d


@pytest.fixture
def searched(tmp_path, monkeypatch):
    """A linear N search N = 2..4 (stable past epoch 10) whose runs are cached: N = 2 D wins
    every other epoch from 15 (the rule's streak never reaches 5, the window's share does),
    N = 3 is clean, N = 4 D wins from 12 on. ``train_many`` is recorded, not run."""
    data_dir, root = _data(tmp_path), tmp_path / "root"
    prof = dataclasses.replace(config.get_profile("smoke"), n_search_max=4, stable_epoch=10)
    logs = {2: _rows(lambda e: e >= 15 and e % 2 == 0), 3: _rows(lambda e: False),
            4: _rows(lambda e: e >= 12)}
    ns, jobs = paper_a.search_jobs(prof, data_dir, root)
    for n, job in zip(ns, jobs):
        _cache(*job, rows=logs[n])
    calls = []

    def fake_train_many(jobs, scheduler=None, desc="", progress=True):
        jobs = list(jobs)
        calls.append(jobs)
        return [paper_a.cached_run(*job) for job in jobs]

    monkeypatch.setattr(instability, "train_many", fake_train_many)
    return prof, data_dir, root, calls


def test_search_n_by_window_trains_the_whole_range_and_picks_the_smallest_stable(searched):
    prof, data_dir, root, calls = searched
    n, rows = paper_a.search_n(prof, data_dir, root, scheduler="serial", measure="window")
    assert n == 3
    assert len(calls) == 1 and [c.proposed_N for c, _, _ in calls[0]] == [2, 3, 4]
    assert [r["N"] for r in rows] == [2, 3, 4]        # every N, also past the first stable one
    assert [r["reading"] for r in rows] == ["linear"] * 3
    assert [r["rule_onset"] for r in rows] == [None, None, 12]
    assert [r["window_onset"] for r in rows] == [16, None, 12]
    assert [r["rule_stable"] for r in rows] == [True, True, False]
    assert [r["window_stable"] for r in rows] == [False, True, False]
    assert [r["stable"] for r in rows] == [False, True, False]       # by the chosen measure
    assert [r["chosen"] for r in rows] == [False, True, False]
    # the window measure is the default; the rule chooses N = 2 from the same runs
    assert paper_a.search_n(prof, data_dir, root, scheduler="serial")[0] == 3
    n_rule, rows_rule = paper_a.search_n(prof, data_dir, root, measure="rule")
    assert n_rule == 2 and [r["stable"] for r in rows_rule] == [True, True, False]
    assert paper_a.search_n_cached(prof, data_dir, root)
    with pytest.raises(ValueError, match="valid measures are: rule, window"):
        paper_a.search_n(prof, data_dir, root, measure="overfit")


def test_search_note_says_where_each_measure_fired(searched):
    prof, data_dir, root, _ = searched
    _, rows = paper_a.search_n(prof, data_dir, root)
    note = paper_a.search_note("linear", rows, "window", prof.stable_epoch)
    assert "N = 3 is the smallest N that passes `window`'s test" in note
    assert "`rule` fired past epoch 10 for N = [4]" in note
    assert "`window` fired past epoch 10 for N = [2, 4]" in note
    assert "vacuous" not in note
    clean = [{**r, "rule_onset": None, "window_onset": None, "rule_stable": True,
              "window_stable": True, "chosen": r["N"] == 2} for r in rows]
    note = paper_a.search_note("depth", clean, "window", 10)
    assert "**the search is vacuous**" in note and "N = 2, the first tried" in note
    assert "`rule` fired for no N" in note and "`window` fired for no N" in note


def test_choose_n_without_a_stable_n_takes_the_latest_onset():
    def row(n, onset, status="finished"):
        return {"N": n, "status": status, "window_onset": onset, "window_stable": False,
                "rule_onset": None, "rule_stable": True}

    rows = [row(1, 40), row(2, 55), row(3, None, "diverged at epoch 9")]
    assert paper_a.choose_n(rows, "window") == 2
    assert paper_a.choose_n(rows, "rule") == 1                      # stable by the rule
    # no onset but not stable (non-finite losses, not diverged): the latest
    assert paper_a.choose_n([row(1, 40), row(2, None)], "window") == 2
    with pytest.raises(ValueError, match="no candidates"):
        paper_a.choose_n([], "window")


def test_is_stable_by_measure():
    alternate = _rows(lambda e: e >= 15 and e % 2 == 0)
    assert paper_a.is_stable(alternate, 10)                          # the rule is the default
    assert paper_a.is_stable(alternate, 10, "rule")
    assert not paper_a.is_stable(alternate, 10, "window")
    early = _rows(lambda e: e <= 10)                                 # before epoch 10: ignored
    assert paper_a.is_stable(early, 10, "window") and paper_a.is_stable(early, 10, "rule")
    assert paper_a.onset_past(early, 5, "window") == 6
    assert not paper_a.is_stable(_rows(lambda e: False, n=9), 10, "window")   # too short


# ----------------------------------------------------------------------------- the ablation
def test_secondary_seeds_rule():
    rule = paper_a.secondary_seeds
    fid = {("linear", 0): 100.0, ("depth", 0): 90.0, ("linear", 1): 50.0}
    seeds, why = rule(fid, (0, 1, 2), (0,))
    assert seeds == (0, 1, 2) and "depth is better" in why and "90.00" in why
    fid[("depth", 0)] = 100.0                                        # a tie is not better
    assert rule(fid, (0, 1, 2), (0,))[0] == (0,)
    fid[("depth", 0)] = 120.0
    seeds, why = rule(fid, (0, 1, 2), (0,))
    assert seeds == (0,) and "not better" in why
    # over the shared seeds only: seed 1 of linear is not compared
    assert rule({("linear", 0): 80.0, ("linear", 1): 500.0, ("depth", 0): 90.0},
                (0, 1), (0,))[0] == (0,)
    # a missing or non-finite FID counts as the worst
    assert rule({("linear", 0): math.nan, ("depth", 0): 300.0}, (0, 1, 2), (0,))[0] == (0, 1, 2)
    assert rule({("linear", 0): 10.0}, (0, 1, 2), (0,))[0] == (0,)
    assert rule({}, (0, 1, 2), (0,))[0] == (0,)                       # inf is not < inf
    # own seeds first; no shared seed: own only
    assert rule({("linear", 0): 9.0, ("depth", 0): 1.0, ("depth", 5): 1.0},
                (0, 1), (5, 0))[0] == (5, 0, 1)
    seeds, why = rule({}, (0, 1), (7,))
    assert seeds == (7,) and "no seed shared" in why
    seeds, why = rule({("linear", 0): 9.0, ("depth", 0): 1.0}, (0,), (0,))
    assert seeds == (0,) and "already has linear's seeds" in why


def test_variant_configs_share_runs_where_the_model_is_the_same(tmp_path):
    data_dir = _data(tmp_path)
    prof = config.get_profile("smoke")

    def cfg(variant, reading, N, seed=0):
        return ablation.variant_config(prof, variant, reading, N, seed, 5, primary_N=3)

    main = engine.profile_jobs(prof, "proposed", data_dir, tmp_path, ("paper",), (1,),
                               proposed_N=3)["paper", 1][0]
    assert cfg("both", "linear", 3, 1).to_dict() == main.to_dict()   # "both" = the main run
    # mean adjustment only: no layer, so one run for both readings
    mean_only = cfg("mean adjustment only", "depth", 1)
    assert mean_only.to_dict() == cfg("mean adjustment only", "linear", 3).to_dict()
    assert mean_only.proposed_reading == "linear" and not mean_only.adjust
    adj = cfg("adjustment layer only", "depth", 2)
    assert (adj.proposed_reading, adj.proposed_N, adj.mean_adjust) == ("depth", 2, False)
    assert cfg("both", "depth", 2).proposed_reading == "depth"
    assert cfg(ablation.BASELINE, "linear", 3).model == "dcgan"
    with pytest.raises(ValueError, match="unknown ablation variant"):
        cfg("neither", "linear", 3)

    jobs = paper_a.ablation_jobs(prof, data_dir, tmp_path, {"linear": 3, "depth": 2},
                                 {"linear": (0, 1), "depth": (0,)})
    assert list(jobs) == ([("none", ablation.BASELINE, s) for s in (0, 1)]
                          + [("linear", v, s) for v in ablation.VARIANTS for s in (0, 1)]
                          + [("depth", v, 0) for v in ablation.VARIANTS])
    names = {k: engine.run_name(job[0], "d") for k, job in jobs.items()}
    assert names["depth", "mean adjustment only", 0] == names["linear", "mean adjustment only", 0]
    assert len(set(names.values())) == len(names) - 1


def test_ablation_table_and_summary(tmp_path):
    data_dir, root = _data(tmp_path), tmp_path / "root"
    prof = config.get_profile("smoke")
    jobs = paper_a.ablation_jobs(prof, data_dir, root, {"linear": 2, "depth": 1},
                                 {"linear": (0, 1), "depth": (0,)}, baseline=False)
    runs, scores = {}, {}
    for i, (key, (cfg, d, r)) in enumerate(jobs.items()):
        folder = Path(r) / engine.run_name(cfg, manifest_hash(d))
        if not folder.exists():
            _cache(cfg, d, r, _rows(lambda e: e >= 25))
        runs[key] = RunResult(folder, "finished", cfg.epochs, _rows(lambda e: e >= 25))
        scores[key] = {"fid": 100.0 + i, "kid": 0.1, "is": None, "epoch": 2}
    scores["linear", "both", 1] = None                              # no checkpoint
    table = paper_a.ablation_table(runs, scores)
    assert len(table) == 9 and list(table.columns[:4]) == ["reading", "variant", "seed", "model"]
    assert table.N.tolist() == [2, 2, 2, 2, 2, 2, 1, 2, 1]           # mean only: the primary's N
    assert table.window_onset.tolist() == [25] * 9
    assert math.isnan(table.set_index(["reading", "variant", "seed"]).loc[
        ("linear", "both", 1), "fid"])
    summary = paper_a.ablation_summary(table)
    assert summary[["reading", "variant"]].values.tolist() == (
        [["linear", v] for v in ablation.VARIANTS] + [["depth", v] for v in ablation.VARIANTS])
    assert summary.runs.tolist() == [2, 2, 2, 1, 1, 1]
    assert summary.scored.tolist() == [2, 2, 1, 1, 1, 1]
    assert summary.FID.iloc[0] == "100.50 ± 0.71" and summary.FID.iloc[2] == "104.00 ± 0.00"
    assert "IS" not in summary and summary.KID.iloc[0] == "0.1000 ± 0.0000"


# ----------------------------------------------------------------------------- live directions
def test_live_directions_of_a_rank_2_layer_and_an_identity():
    torch.manual_seed(0)
    nz = 20
    rank2 = ProposedLatent(nz, N=2, mean_adjust=False)
    with torch.no_grad():
        rank2.layer.weight.copy_(torch.randn(2 * nz, 2) @ torch.randn(2, nz))
        rank2.layer.bias.normal_()
    out = paper_a.live_directions(rank2)
    assert out["dim"] == 2 * nz and out["directions"] == 2
    assert out["pc12_share"] == pytest.approx(1.0, abs=1e-9)
    ident = ProposedLatent(nz, N=1, mean_adjust=False)
    with torch.no_grad():
        ident.layer.weight.copy_(torch.eye(nz))
        ident.layer.bias.zero_()
    out = paper_a.live_directions(ident, n=2000)
    assert abs(out["directions"] - 0.95 * nz) <= 1.5 and out["pc12_share"] < 0.15
    assert paper_a.live_directions(GaussianLatent(nz)) == paper_a.live_directions(ident)
    # mu (U(-1, 1) in every component) fills the rank-2 layer's other directions when the
    # layer's scale does not drown it ...
    with_mu = ProposedLatent(nz, N=2)
    with_mu.load_state_dict({k: 0.05 * v for k, v in rank2.state_dict().items()})
    with_mu.train()
    full = paper_a.live_directions(with_mu)
    assert full["directions"] > 2 and with_mu.training            # mode restored
    # ... and mean_adjust=False reads the layer alone
    assert paper_a.live_directions(with_mu, mean_adjust=False)["directions"] == 2
    assert paper_a.live_directions(with_mu, seed=1) != full
    with pytest.raises(ValueError, match="n >= 2"):
        paper_a.live_directions(ident, n=1)
    with pytest.raises(ValueError, match="share"):
        paper_a.live_directions(ident, share=0)


def test_live_directions_of_the_depth_reading_runs():
    latent = ProposedLatent(16, N=3, reading="depth")
    out = paper_a.live_directions(latent, n=300)
    assert out["dim"] == 16 and 1 <= out["directions"] <= 16
    assert 0 < out["pc12_share"] <= 1
    assert isinstance(pd.DataFrame([out]).directions.iloc[0].item(), int)
