"""``paperlib.plan``: every training run of a profile's notebooks once, with its cost, built
from the notebooks' own functions on stand-in sets in a temporary folder (nothing trains),
and ``python -m paperlib plan``."""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from paperlib import cli, config, paper_b
from paperlib import plan as plan_mod
from paperlib.models import get_model
from paperlib.paper_b.report import DECIDING_ARMS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plans():
    return {name: plan_mod.reproduce_plan(name) for name in ("smoke", "cpu")}


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_notebook_01_lists_its_deciding_arms_for_every_artist_and_seed(plans, profile):
    prof = config.get_profile(profile)
    nb01 = plans[profile][plans[profile].notebook == "01"]
    arms = [a for a in DECIDING_ARMS if a in prof.b_stages]
    assert arms   # both profiles run the deciding arms
    for artist in prof.artists:
        for seed in prof.b_seeds:
            rows = nb01[nb01.data.str.contains(artist) & (nb01.seed == seed)]
            for arm in [*arms, "1st result + longer control"]:
                hit = rows[rows.arm == arm]
                assert len(hit) == 1 and hit.deciding.all(), (artist, seed, arm)
                assert (hit.model == prof.b_model).all()
    pretrain = nb01[nb01.arm == "pretrain"]   # one pre-training per seed serves both artists
    assert sorted(pretrain.seed) == sorted(prof.b_seeds) and pretrain.deciding.all()


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_a_shared_run_appears_once_naming_every_notebook_that_reuses_it(plans, profile):
    plan = plans[profile]
    assert plan.run.is_unique
    # notebook 05 starts its loops from notebook 01's transfer runs: listed under 01 only
    finetune = plan[(plan.notebook == "01") & (plan.arm == "finetune")]
    assert len(finetune) and finetune.shared.str.contains("05: finetune").all()
    assert finetune.shared.str.contains("01b: finetune").all()
    nb05 = plan[plan.notebook == "05"]
    assert not nb05.arm.isin(["finetune", "1st result", "longer control", "pretrain"]).any()
    # 01b's StyleGAN2 columns are 01's runs; what it trains is the conditional route
    assert set(plan[plan.notebook == "01b"].model) == {"pix2pixhd"}
    # notebook 06 reads 02-04's runs, 07 their first seed; neither trains one
    assert not plan.notebook.isin(["06", "07"]).any()
    claims = plan[plan.notebook.isin(["02", "03", "04"]) & (plan.config == "paper")
                  & plan.arm.str.contains("paper config")]
    assert len(claims) == 3 * len(config.get_profile(profile).seeds)
    assert claims.shared.str.contains("06: Table 1").all()
    assert claims[claims.seed == 0].shared.str.contains("07: latent explorer").all()
    # notebook 04's ablation reference row is notebook 02's DCGAN
    dcgan = plan[(plan.notebook == "02") & (plan.config == "paper")]
    assert dcgan.shared.str.contains("04: ablation none").all()


def test_notebook_01_cost_is_paper_b_planned_cost(plans, tmp_path):
    """Notebook 01's rows cost what its own ``paper_b.planned_cost`` says."""
    prof = config.get_profile("cpu")
    planner = plan_mod._Planner(prof, tmp_path, {"linear": 2, "depth": 1})
    setups = planner.b_setups(prof.artists)
    b = next(iter(setups.values()))
    cost = paper_b.planned_cost(planner.shape_jobs(setups, prof.b_stages, b.model, b.augment,
                                                   b.seeds), prof)
    nb01 = plans["cpu"][plans["cpu"].notebook == "01"]
    assert nb01.core_min.sum() == pytest.approx(cost.core_min.sum())
    assert nb01.kimg.sum() == pytest.approx(cost.kimg_trained.sum())


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_summary_totals_are_the_sums_of_the_rows(plans, profile):
    plan = plans[profile]
    summary = plan_mod.plan_summary(plan, slots=2)
    planned, cond = plan[~plan.conditional], plan[plan.conditional]
    nbs = summary[summary.scope == "notebook"]
    assert list(nbs.notebook) == list(plan_mod.NOTEBOOKS)
    for paper in ("A", "B"):
        row = summary[(summary.scope == "paper") & (summary.paper == paper)].iloc[0]
        mine = planned[planned.paper == paper]
        assert row.runs == len(mine) and row.core_min == pytest.approx(mine.core_min.sum())
        assert row.kimg == pytest.approx(mine.kimg.sum())
        assert row.cond_core_min == pytest.approx(cond[cond.paper == paper].core_min.sum())
        assert row.wall_min == pytest.approx(nbs[nbs.paper == paper].wall_min.sum())
        assert row.wall_min >= row.core_min / 2 - 1e-9
        assert row.fits == (row.wall_min_if_rule <= plan_mod.LIMIT_MIN)
        assert row.over_min == pytest.approx(max(0.0, row.wall_min_if_rule - 120))
    total = summary[summary.scope == "total"].iloc[0]
    assert total.runs == len(planned) and total.cond_runs == len(cond)
    assert total.core_min == pytest.approx(planned.core_min.sum())
    for nb in nbs.itertuples():   # a notebook: its runs over 2 slots, never under its longest
        rows = planned[planned.notebook == nb.notebook]
        assert nb.core_min == pytest.approx(rows.core_min.sum())
        assert nb.wall_min == pytest.approx(max(rows.core_min.sum() / 2,
                                                rows.core_min.max() if len(rows) else 0.0))
    rated = plan[plan.s_per_kimg.notna()]
    assert rated.core_min.tolist() == pytest.approx((rated.kimg * rated.s_per_kimg / 60).tolist())


def test_the_secondary_seeds_rule_is_counted_apart(plans):
    plan = plans["cpu"]
    cond = plan[plan.conditional]
    # the depth reading's "adjustment layer only" and "both" on seeds 1 and 2 (its "mean
    # adjustment only" is the primary's run, trained anyway)
    assert len(cond) == 4 and set(cond.notebook) == {"04"} and set(cond.seed) == {1, 2}
    assert not cond.deciding.any() and cond.arm.str.contains("secondary seeds rule").all()
    summary = plan_mod.plan_summary(plan)
    a = summary[(summary.scope == "paper") & (summary.paper == "A")].iloc[0]
    assert a.cond_runs == 4 and a.wall_min_if_rule > a.wall_min
    assert not plans["smoke"].conditional.any()   # smoke: the rule adds no seed


def test_deciding_and_secondary_arms(plans):
    plan = plans["cpu"]
    assert not plan[plan.config == "conventional"].deciding.any()
    assert not plan[plan.arm.str.startswith("old DeLiGAN")].deciding.any()
    assert plan[plan.arm.str.startswith("N search")].deciding.all()    # both readings
    assert plan[plan.arm.str.startswith("ablation") & ~plan.conditional].deciding.all()
    nb05 = plan[plan.notebook == "05"]     # the 2 x 2 and the random control (issue 26)
    assert nb05.arm.str.startswith("random control").any() and nb05.deciding.all()
    real = plan[plan.notebook == "08"]   # 3 models x 3 seeds + the N search, one shared
    prof = config.get_profile("cpu")
    n_search = prof.n_search_max + 1 - 2
    assert len(real) == 3 * len(prof.seeds) + n_search - 1 and real.deciding.all()
    assert real.kimg.tolist() == pytest.approx([plan_mod.REAL_EMOJI_IMAGES * 200 / 1000] * len(real))


def test_measured_rates_scale_the_cost(plans):
    ref = plans["smoke"]
    measured = {m: 2.0 * get_model(m).seconds_per_kimg["smoke"]
                for m in ("dcgan", "deligan", "proposed")}
    plan = plan_mod.reproduce_plan("smoke", measured)
    assert (plan.kimg == ref.kimg).all()
    mine = plan.model.isin(list(measured))
    assert (plan[mine].rate == "measured").all()
    assert plan[mine].core_min.tolist() == pytest.approx((2 * ref[mine].core_min).tolist())
    # a model the probe does not time: its reference rate x the median measured ratio
    sg = plan.model == "stylegan2"
    assert plan[sg].core_min.tolist() == pytest.approx((2 * ref[sg].core_min).tolist())
    assert plan[sg].rate.str.startswith("reference x 2.00").all()


def test_manifest_rates_are_a_past_runs_medians(tmp_path):
    runs = [{"model": "dcgan", "status": "finished", "kimg": 10.0, "train_seconds": t}
            for t in (10.0, 20.0, 40.0)]
    runs += [{"model": "dcgan", "status": "diverged at epoch 3", "kimg": 1.0,
              "train_seconds": 99.0},
             {"model": "stylegan2", "status": "finished", "kimg": 2.0, "train_seconds": 8.0},
             {"model": "stylegan2", "status": "finished", "kimg": None, "train_seconds": 1.0}]
    path = tmp_path / "results_manifest.json"
    path.write_text(json.dumps({"runs": runs}))
    assert plan_mod.manifest_rates(path) == {"dcgan": 2.0, "stylegan2": 4.0}
    assert plan_mod.manifest_rates({"runs": []}) == {}


def test_the_chosen_n_does_not_change_the_cost(plans):
    other = plan_mod.reproduce_plan("smoke", chosen_n={"depth": 2})
    assert other.core_min.sum() == pytest.approx(plans["smoke"].core_min.sum())
    assert len(other) == len(plans["smoke"])


def _notebook_assignments(name: str) -> dict:
    """``{name: literal}`` of every top-level ``name = <literal>`` in a notebook's code."""
    nb = json.loads((ROOT / "notebooks" / name).read_text())
    out = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.parse("".join(cell["source"])).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                try:
                    out[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return out


def test_the_notebook_defaults_are_the_notebooks():
    files = {p.name.split("_")[0]: p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert set(plan_mod.NOTEBOOKS) <= set(files)
    for nb, values in plan_mod.NOTEBOOK_DEFAULTS.items():
        found = _notebook_assignments(files[nb])
        for name, value in values.items():
            assert found.get(name) == value, (nb, name, found.get(name))
    for nb in ("01b", "05"):   # notebooks 01b and 05 reuse 01's runs with 01's values
        found = _notebook_assignments(files[nb])
        assert all(found.get(k, v) == v for k, v in plan_mod.NOTEBOOK_DEFAULTS["01"].items())


def test_the_real_emoji_count_is_the_documented_one():
    doc = (ROOT / "docs" / "DATA_REAL_EMOJI.md").read_text()
    assert f"| combined | 69 | 139 | {plan_mod.REAL_EMOJI_IMAGES} |" in doc


def test_cli_plan_prints_and_writes_with_out(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plan", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "paper A" in out and "paper B" in out and "not in the plan" in out
    assert list(tmp_path.iterdir()) == []   # printed only
    dest = tmp_path / "out"
    assert cli.main(["plan", "--profile", "smoke", "--probe", "--slots", "1",
                     "--out", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "step probe" in out and "this machine's step probe" in out
    names = {"plan.csv", "plan.md", "plan_summary.csv", "plan_summary.md"}
    assert {p.name for p in dest.iterdir()} == names
    plan = pd.read_csv(dest / "plan.csv")
    assert list(plan.columns) == plan_mod.PLAN_COLUMNS and (plan.rate != "reference").any()
    summary = pd.read_csv(dest / "plan_summary.csv")
    total = summary[summary.scope == "total"].iloc[0]
    assert math.isclose(total.core_min, plan[~plan.conditional].core_min.sum())
    assert math.isclose(total.wall_min, summary[summary.scope == "notebook"].wall_min.sum())
    assert "| scope" in (dest / "plan_summary.md").read_text()


def test_cli_plan_refuses_bad_input(capsys):
    assert cli.main(["plan", "--profile", "nope"]) == 2
    with pytest.raises(SystemExit):
        cli.main(["plan", "--slots", "0"])
    capsys.readouterr()
