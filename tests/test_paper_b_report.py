"""paper_b.report: notebooks 01 and 05's report tables and markdown, on hand-built per-seed
tables (no training, no evaluation)."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from paperlib import metrics, paper_b

SEEDS = (0, 1, 2)
COLS = ["main_score", "inner_score", "main_circularity_median", "fid", "kid", "diversity"]
REF = {"main_score": 0.9, "inner_score": 0.8, "main_circularity_median": 0.95,
       "form_median": 0.95, "form_score": 0.9, "form_measure": "face", "fid": 10.0,
       "kid": 0.001, "diversity": 20.0}


def _row(artist, key, stage, seed, main, circ, **extra):
    """One per-seed row; ``main`` the main-form score (other metrics follow it), ``circ`` the
    median form score the gate reads."""
    return {"artist": artist, key: stage, "seed": seed, "main_score": main,
            "inner_score": main / 2, "main_circularity_median": circ, "form_median": circ,
            "form_score": main, "form_measure": "face", "fid": 100 - 50 * main,
            "kid": 0.1 - main / 20, "diversity": 10 + main, **extra}


def _ref_row(artist, key):
    return {"artist": artist, key: "training data", "seed": None, **REF}


# ----------------------------------------------------------------------------- notebook 01
@pytest.fixture
def per_run():
    """Two artists, stages alone / mix and an augmentation run (seed 0 only). donglein:
    alone fails the gate in one seed (0.5 < 0.8 × 0.95), mix passes and scores higher;
    geometric: both pass, mix well above alone on both form scores."""
    rows = []
    for a in ("artist_donglein", "artist_geometric"):
        rows.append(_ref_row(a, "stage"))
        for s in SEEDS:
            alone_circ = 0.5 if (a == "artist_donglein" and s == 1) else 0.9
            rows.append(_row(a, "stage", "alone", s, 0.40 + 0.01 * s, alone_circ))
            rows.append(_row(a, "stage", "mix", s, 0.70 + 0.01 * s, 0.92))
        rows.append(_row(a, "stage", "alone+diffaugment", 0, 0.5, 0.9))
    return pd.DataFrame(rows)


def test_with_gate_adds_form_ratio_and_draws_without_touching_its_input(per_run):
    before = per_run.copy()
    g = paper_b.with_gate(per_run, key="stage", fid_limit=math.inf)
    pd.testing.assert_frame_equal(per_run, before)
    assert list(g.columns) == [*per_run.columns, "form_ratio", "fid_ok", "draws"]
    ref = g[g.stage == "training data"]
    assert (ref.form_ratio == 1.0).all() and ref.draws.all()
    d = g[(g.artist == "artist_donglein") & (g.stage == "alone")].sort_values("seed")
    assert d.draws.tolist() == [True, False, True]
    assert d.form_ratio.tolist() == pytest.approx([0.9 / 0.95, 0.5 / 0.95, 0.9 / 0.95])
    # the gate is per artist: 0.5 against another artist's reference is judged against that one
    other = g[(g.artist == "artist_geometric") & (g.stage == "alone")]
    assert other.draws.all()


def test_with_gate_on_table1_columns_and_a_missing_reference():
    t1 = pd.DataFrame([_ref_row("a", "column"), _row("a", "column", "1st result", 0, 0.5, 0.9),
                       _row("a", "column", "control", 0, 0.5, 0.7)])
    g = paper_b.with_gate(t1, key="column", fid_limit=math.inf)
    assert g.draws.tolist() == [True, True, False]        # 0.7 < 0.8 × 0.95
    # an artist without its training-data row has no reference: an error, not a verdict
    t1.loc[len(t1)] = _row("b", "column", "1st result", 0, 0.5, 0.9)
    with pytest.raises(KeyError, match="b"):
        paper_b.with_gate(t1, key="column", fid_limit=math.inf)


def test_stage_summary_means_over_seeds_with_the_gate_as_a_share(per_run):
    g = paper_b.with_gate(per_run, key="stage", fid_limit=math.inf)
    s = paper_b.stage_summary(g, ("alone", "mix"), COLS)
    assert list(zip(s.artist, s.stage)) == [(a, st) for a in ("artist_donglein",
                                                              "artist_geometric")
                                            for st in ("training data", "alone", "mix")]
    assert s.n_seeds.tolist() == [1, 3, 3, 1, 3, 3]        # the augmentation run is left out
    row = s[(s.artist == "artist_donglein") & (s.stage == "alone")].iloc[0]
    assert row.draws == pytest.approx(2 / 3) and row.draws_seeds == "1; 0; 1"
    assert row.main_score == pytest.approx(0.41) and row.main_score_sd == pytest.approx(0.01)
    assert {f"{c}{suf}" for c in [*COLS, "draws"] for suf in ("", "_sd", "_seeds")} <= set(s)


def test_augment_table_compares_the_main_augmentation_with_the_others(per_run):
    t = paper_b.augment_table(per_run, "ada", ("diffaugment",), (0,), COLS)
    assert list(zip(t.artist, t.augment)) == [("artist_donglein", "ada"),
                                              ("artist_donglein", "diffaugment"),
                                              ("artist_geometric", "ada"),
                                              ("artist_geometric", "diffaugment")]
    assert (t.n_seeds == 1).all()                          # only augment_seeds
    assert t.main_score.tolist() == pytest.approx([0.40, 0.5, 0.40, 0.5])


def test_augment_table_without_augments_says_it_did_not_run(per_run):
    t = paper_b.augment_table(per_run, "ada", (), (0,), COLS)
    assert list(t.columns) == ["artist", "augment", "note"]
    assert t.artist.tolist() == ["artist_donglein", "artist_geometric"]
    assert (t.augment == "ada").all() and t.note.str.contains("not run").all()


def test_shape_learning_verdicts_one_row_per_artist_stage_and_metric(per_run):
    g = paper_b.with_gate(per_run, key="stage", fid_limit=math.inf)
    v = paper_b.shape_learning_verdicts(g, ("alone", "mix"))
    assert list(v.columns) == list(paper_b.report.VERDICT_COLUMNS)
    assert list(zip(v.artist, v.metric)) == [(a, m) for a in ("artist_donglein",
                                                              "artist_geometric")
                                             for m in ("main_score", "inner_score")]
    assert (v.claim == paper_b.shape_claim("mix")).all()
    assert set(v.verdict) <= set(metrics.verdicts.VERDICTS)
    don, geo = v[v.artist == "artist_donglein"], v[v.artist == "artist_geometric"]
    # the 1st result fails the gate in a seed: the comparison cannot be made
    assert (don.verdict == "not testable here").all()
    assert don.reason.str.contains("alone below the quality gate").all()
    # both pass, mix far above alone with a tight spread: supported
    assert (geo.verdict == "supported").all(), geo.reason.tolist()


def test_shape_learning_verdicts_a_stage_failing_the_gate_is_not_supported(per_run):
    bad = per_run.copy()
    bad.loc[bad.stage == "mix", "form_median"] = 0.1    # mix fails the gate
    v = paper_b.shape_learning_verdicts(paper_b.with_gate(bad, key="stage", fid_limit=math.inf),
                                        ("alone", "mix"))
    geo = v[v.artist == "artist_geometric"]
    assert (geo.verdict == "not supported").all()
    assert geo.reason.str.contains("mix below the quality gate while alone passes").all()


def test_shape_learning_verdicts_with_only_the_1st_result_is_empty_with_columns(per_run):
    v = paper_b.shape_learning_verdicts(paper_b.with_gate(per_run, key="stage", fid_limit=math.inf),
                                        ("alone",))
    assert v.empty and list(v.columns) == list(paper_b.report.VERDICT_COLUMNS)


def test_shape_learning_markdown_names_every_artist_stage_and_verdict(per_run):
    g = paper_b.with_gate(per_run, key="stage", fid_limit=math.inf)
    v = paper_b.shape_learning_verdicts(g, ("alone", "mix"))
    md = paper_b.shape_learning_markdown(g, v, ("alone", "mix"), profile="smoke",
                                         model="stylegan2", res=32, augment="ada",
                                         seeds=SEEDS, n_eval=8)
    lines = md.split("\n")
    assert lines[0].startswith("**Paper B (Fig. 1, Table 1):**")
    assert lines[2] == ("**This run** (smoke profile, stylegan2 32 px, augment ada, 3 seeds "
                        "[0, 1, 2], 8 generated images per evaluation against the held-out "
                        "part; mean ± sd over seeds; comparisons paired by seed):")
    for a in ("artist_donglein", "artist_geometric"):
        block = md.split(f"- **{a}**")[1].split("- **artist_")[0]
        assert "training data: main-form score 0.900" in block and "FID 10.0" in block
        for st in ("alone", "mix"):
            assert f"    - {st}: passes the gate in " in block
        for metric in ("main score", "inner score"):
            assert f"*mix vs alone, {metric}* (" in block
    assert "    - alone: passes the gate in 2/3 seeds" in md
    assert "    - mix: passes the gate in 3/3 seeds" in md
    assert md.count("**not testable here**") == 2 and md.count("**supported**") == 2
    assert "alone+diffaugment" not in md                   # only the stages asked for
    assert "(primary): **" not in md and "(secondary): **" in md    # the mix is secondary
    assert "Is it the shapes" not in md                    # no longer-training control here
    assert len(lines) == 4 + 2 * (1 + 2 + 2)


@pytest.fixture
def with_longer(per_run):
    """``per_run`` plus the longer-training control: donglein's control at mix's level
    (longer training explains nothing: mix vs alone is not testable anyway); geometric's
    control well below mix (the shapes, not more training)."""
    rows = [_row(a, "stage", "longer", s, (0.70 if a == "artist_donglein" else 0.45)
                 + 0.01 * s, 0.9) for a in ("artist_donglein", "artist_geometric")
            for s in SEEDS]
    return paper_b.with_gate(pd.concat([per_run, pd.DataFrame(rows)], ignore_index=True),
                             key="stage", fid_limit=math.inf)


@pytest.fixture
def with_arms(with_longer):
    """``with_longer`` plus the deciding arms. geometric: transfer (finetune) above the 1st
    result and the control in every seed by a steady +0.1 over seeds spread as widely as the
    control's (only a paired comparison separates it); the class-conditional arm at the
    control's level. donglein as before (its 1st result fails the gate in a seed)."""
    rows = []
    for a in ("artist_donglein", "artist_geometric"):
        for s in SEEDS:
            spread = 0.2 * s
            rows.append(_row(a, "stage", "finetune", s, 0.55 + spread, 0.9))
            rows.append(_row(a, "stage", "cond", s, 0.45 + spread, 0.9))
    ctl = pd.DataFrame([_row(a, "stage", st, s, lvl + 0.2 * s, 0.9 if a != "artist_donglein"
                             or st != "alone" or s != 1 else 0.5)
                        for a in ("artist_donglein", "artist_geometric")
                        for st, lvl in (("alone", 0.35), ("longer", 0.45)) for s in SEEDS])
    base = with_longer[~with_longer.stage.isin(["alone", "longer"])].drop(
        columns=["form_ratio", "fid_ok", "draws"])
    return paper_b.with_gate(pd.concat([base, ctl, pd.DataFrame(rows)], ignore_index=True),
                             key="stage", fid_limit=math.inf)


def test_shape_learning_verdicts_deciding_arms_paired_by_seed(with_arms):
    stages = ("alone", "longer", "finetune", "cond", "mix")
    v = paper_b.shape_learning_verdicts(with_arms, stages)
    assert list(v.columns) == list(paper_b.report.VERDICT_COLUMNS)
    geo = v[(v.artist == "artist_geometric") & (v.metric == "main_score")]
    # decided in advance: each deciding arm vs the 1st result and vs the control (primary),
    # then the mix and the control (secondary)
    assert list(zip(geo.stage, geo.baseline)) == [
        ("finetune", "alone"), ("finetune", "longer"), ("cond", "alone"), ("cond", "longer"),
        ("mix", "alone"), ("mix", "longer"), ("longer", "alone")]
    assert geo.primary.tolist() == [True] * 4 + [False] * 3
    assert v.primary.sum() == 4 * 2          # per artist, on the exact-form score only
    by = geo.set_index(["stage", "baseline"])
    # transfer: +0.1 in every seed, seeds spread by 0.4: supported only because it is paired
    assert by.loc[("finetune", "longer"), "verdict"] == "supported", by.reason.tolist()
    assert "paired by seed over 3" in by.loc[("finetune", "longer"), "reason"]
    welch = metrics.welch_interval(with_arms.query("artist == 'artist_geometric' and "
                                                   "stage == 'finetune'").main_score,
                                   with_arms.query("artist == 'artist_geometric' and "
                                                   "stage == 'longer'").main_score)
    assert welch[1] < 0 < welch[2]           # unpaired, the spread hides it
    # conditional: no different from the control
    assert by.loc[("cond", "longer"), "verdict"] == "not testable here"
    assert by.loc[("cond", "alone"), "verdict"] == "supported"
    assert geo.claim.iloc[2] == paper_b.shape_claim("cond") and "class-conditional" in \
        geo.claim.iloc[2]
    don = v[v.artist == "artist_donglein"]   # its 1st result fails the gate in a seed
    assert (don[don.baseline == "alone"].verdict == "not testable here").all()
    e = paper_b.explanation_table(v)
    assert list(zip(e.artist, e.arm, e.primary)) == [
        (a, arm, arm != "mix") for a in ("artist_donglein", "artist_geometric")
        for arm in ("finetune", "cond", "mix")]
    g = e.set_index(["artist", "arm"]).reading
    assert g["artist_geometric", "finetune"].startswith("the gain is not explained")
    assert g["artist_geometric", "cond"].startswith("cannot tell")
    assert g["artist_donglein", "finetune"].startswith("not testable here")
    md = paper_b.shape_learning_markdown(paper_b.with_diversity_gap(with_arms), v, stages,
                                         profile="smoke", model="stylegan2", res=32,
                                         augment="ada", seeds=SEEDS, n_eval=8)
    assert md.count("is it the shapes or just more training?*") == 6
    assert "*finetune vs longer, main score* (primary): **supported**" in md
    assert "*mix vs longer, main score* (secondary): **" in md
    assert "off the data's by" in md


def test_with_diversity_gap_is_the_distance_to_the_data_own_diversity(per_run):
    g = paper_b.with_diversity_gap(per_run)
    ref = g[g.stage == "training data"]
    assert (ref.diversity_gap == 0).all()
    row = g[(g.stage == "mix") & (g.seed == 0)].iloc[0]       # diversity 10.7 against 20
    assert row.diversity_gap == pytest.approx(abs(10.7 - 20.0) / 20.0)
    too_varied = per_run.assign(diversity=lambda d: d.diversity.where(
        d.stage == "training data", 29.3))                   # as far above the data's 20
    assert paper_b.with_diversity_gap(too_varied).query("stage == 'mix'").diversity_gap.iloc[0] \
        == pytest.approx(row.diversity_gap)
    with pytest.raises(KeyError):
        paper_b.with_diversity_gap(per_run[per_run.stage != "training data"])


def test_gain_explained_reads_the_two_primary_verdicts():
    g = paper_b.gain_explained
    assert g("supported", "supported").startswith("the gain is not explained by longer")
    assert g("supported", "not supported").startswith("the gain may be explained by longer")
    assert g("supported", "not testable here").startswith("cannot tell")
    assert g("not supported", "supported") == "no gain over the 1st result to explain"
    assert g("not testable here", "supported").startswith("not testable here")
    empty = paper_b.explanation_table(paper_b.shape_learning_verdicts(
        pd.DataFrame(columns=["artist", "stage", "seed", "draws", "main_score",
                              "inner_score"]), ("alone", "mix")))
    assert empty.empty and list(empty.columns) == ["artist", "arm", "primary", "vs_1st_result",
                                                   "vs_longer", "reading"]


def test_shape_learning_markdown_reports_missing_values_as_na(per_run):
    g = paper_b.with_gate(per_run[per_run.stage != "mix"], key="stage", fid_limit=math.inf)
    v = paper_b.shape_learning_verdicts(g, ("alone", "mix"))       # mix has no runs
    md = paper_b.shape_learning_markdown(g, v, ("alone", "mix"), profile="cpu", model="dcgan",
                                         res=32, augment="none", seeds=SEEDS, n_eval=200)
    assert "    - mix: passes the gate in 0/0 seeds (median form score n/a" in md
    assert "**not testable here**" in md


# ----------------------------------------------------------------------------- notebook 05
def _t1(control=True, failing=()):
    """Table 1 per seed for two artists; the columns in ``failing`` fail the gate. The
    technique is well above shape learning and the control on main-form score."""
    columns = ["1st result", "shape learning", "longer training",
               "shape pre-training + fine-tuning", "shape learning + technique",
               *(["control"] if control else [])]
    level = {"1st result": 0.3, "shape learning": 0.5, "longer training": 0.35,
             "shape pre-training + fine-tuning": 0.45, "shape learning + technique": 0.8,
             "control": 0.55}
    rows = []
    for a in ("artist_donglein", "artist_geometric"):
        rows.append({**_ref_row(a, "column"), "model": "held-out real images (floor)"})
        for c in columns:
            for s in SEEDS:
                rows.append(_row(a, "column", c, s, level[c] + 0.01 * s,
                                 0.1 if c in failing else 0.9, model="StyleGAN2-ADA"))
    return paper_b.with_gate(pd.DataFrame(rows), key="column", fid_limit=math.inf)


def test_curation_table1_inserts_the_gate_count_after_model():
    t1 = _t1(failing=("1st result",))
    t = paper_b.curation_table1(t1, COLS)
    assert list(t.columns[:5]) == ["artist", "column", "model", "draws", "n_seeds"]
    assert list(zip(t.artist, t.column)) == [(a, c) for a in ("artist_donglein",
                                                              "artist_geometric")
                                             for c in paper_b.tables.COLUMNS]
    by = t.set_index(["artist", "column"]).draws
    assert by["artist_donglein", "training data"] == 1
    assert by["artist_donglein", "1st result"] == 0
    assert by["artist_geometric", "shape learning + technique"] == 3
    assert (t[t.column != "training data"].n_seeds == 3).all()


def test_curation_verdicts_six_claims_per_artist_and_a_failing_column():
    v = paper_b.curation_verdicts(_t1())
    assert len(v) == 12 and v.index.tolist() == list(range(12))
    assert v.artist.tolist() == ["artist_donglein"] * 6 + ["artist_geometric"] * 6
    # the sixth: the technique on KID against the held-out part, a measure its rater does
    # not use (no outcome_form_score in this table: that claim is left out)
    assert v.claim[5].startswith("rater-independent: + technique: lower KID")
    assert v.metric[5] == "kid" and v.verdict[5] == "supported"
    assert "paired by seed over 3" in v.reason[0]
    assert set(v.verdict) <= set(metrics.verdicts.VERDICTS)
    assert v.verdict.tolist()[:4] == ["supported"] * 4
    assert "longer-training control" in v.claim[1] and "secondary" in v.claim[4]
    assert v["per seed"][1].startswith("shape learning: ") and "longer training: " in \
        v["per seed"][1]
    # the longer-training control failing the gate: is it the shapes? not testable here
    v = paper_b.curation_verdicts(_t1(failing=("longer training",)))
    assert (v[v.claim.str.contains("longer-training")].verdict == "not testable here").all()
    # a Table 1 without the new columns (an older run) has the three claims of before
    old = _t1()
    old = old[~old.column.isin(["longer training", "shape pre-training + fine-tuning"])]
    assert len(paper_b.curation_verdicts(old)) == 8
    # the control failing the gate makes the technique's comparisons untestable
    v = paper_b.curation_verdicts(_t1(failing=("control",)))
    tech = v[v.claim.str.startswith("+ technique")]
    assert (tech.verdict == "not testable here").all()
    assert tech.reason.str.contains("control below the quality gate").all()
    # without the control, the technique is compared with shape learning only
    v = paper_b.curation_verdicts(_t1(control=False), control=False)
    assert not v["per seed"].str.contains("control").any()


def test_curation_markdown_names_every_column_and_verdict():
    t1 = _t1(failing=("1st result",))
    table = paper_b.curation_table1(t1, COLS)
    v = paper_b.curation_verdicts(t1)
    md = paper_b.curation_markdown(table, v, family="StyleGAN2-ADA (ours)", seeds=SEEDS,
                                   rounds=2, size=40, n_eval=8,
                                   ratings=["auto", "human", "auto"])
    lines = md.split("\n")
    assert lines[0].startswith("**Paper B (Table 1, Figs. 2–3):**")
    assert lines[2] == ("**This run** (StyleGAN2-ADA (ours), 3 seeds [0, 1, 2], 2 curation "
                        "round(s) of 40 images, 8 generated images per evaluation against the "
                        "held-out part; ratings used: auto, human):")
    for a in ("artist_donglein", "artist_geometric"):
        block = md.split(f"- **{a}**")[1].split("- **artist_")[0]
        assert "training data: main-form 0.900" in block and "diversity 20.0" in block
        for c in paper_b.tables.COLUMNS[1:]:
            assert f"    - {c}: gate " in block, c
        for claim in v.claim.unique():
            assert f"    - *{claim}* — **" in block
    assert "    - 1st result: gate 0/3 seeds" in md
    assert "    - shape learning + technique: gate 3/3 seeds" in md
    assert lines[-1].startswith("Verdicts (`paper_b.claims`") and lines[-2] == ""
    assert len(lines) == 4 + 2 * (1 + 6 + 6) + 2


def test_curation_2x2_and_rater_independent_claims():
    """The 2 x 2's row on the 1st result (its technique above its control in every seed)
    and the independent form score: claims that appear with their columns and metric."""
    t1 = _t1()
    rows = [_row(a, "column", c, s, lvl + 0.01 * s, 0.9, model="StyleGAN2-ADA")
            for a in ("artist_donglein", "artist_geometric")
            for c, lvl in ((paper_b.FIRST_TECH_COLUMN, 0.6), (paper_b.FIRST_CONTROL_COLUMN, 0.4))
            for s in SEEDS]
    t1 = pd.concat([t1.drop(columns=["form_ratio", "fid_ok", "draws"]), pd.DataFrame(rows)],
                   ignore_index=True)
    t1["outcome_form_score"] = t1.main_score * 0.9
    v = paper_b.curation_verdicts(paper_b.with_gate(t1, key="column", fid_limit=math.inf))
    geo = v[v.artist == "artist_geometric"].set_index("claim")
    two = [c for c in geo.index if c.startswith("2 x 2")]
    assert len(two) == 2 and (geo.loc[two, "verdict"] == "supported").all()
    assert geo.loc[two[0], "per seed"].startswith("1st result + technique: ")
    indep = [c for c in geo.index if c.startswith("rater-independent")]
    assert [geo.loc[c, "metric"] for c in indep] == ["kid", "outcome_form_score"]
    table = paper_b.curation_table1(paper_b.with_gate(t1, key="column", fid_limit=math.inf),
                                    COLS)
    md = paper_b.curation_markdown(table, v, family="StyleGAN2-ADA (ours)", seeds=SEEDS,
                                   rounds=2, size=40, n_eval=8, ratings=["auto"])
    assert "    - 1st result + technique: gate 3/3" in md
    assert "    - 1st result + control: gate 3/3" in md


def test_curation_markdown_without_the_control_leaves_it_out():
    t1 = _t1(control=False)
    md = paper_b.curation_markdown(paper_b.curation_table1(t1, COLS),
                                   paper_b.curation_verdicts(t1, control=False),
                                   family="DCGAN", seeds=SEEDS, rounds=1, size=10, n_eval=8,
                                   ratings=["auto"])
    assert "    - control:" not in md and "    - shape learning + technique: gate" in md


def test_curation_composition_reads_the_provenance_of_every_round(tmp_path):
    files = ([{"source": "generated-similar", "index": i} for i in (0, 1, 1)]
             + [{"source": "human-similar", "index": i} for i in (4, 4)]
             + [{"source": "top-copy", "index": 0}])
    loops, loop_dirs = {}, {}
    for key in (("a", 0), ("b", 1)):
        loop_dirs[key] = tmp_path / f"{key[0]}-{key[1]}"
        rounds = []
        for r in range(2):
            trainset = f"round_{r}"
            (loop_dirs[key] / trainset).mkdir(parents=True)
            (loop_dirs[key] / trainset / paper_b.curation.PROVENANCE).write_text(
                json.dumps({"files": files}))
            rounds.append({"round": r, "trainset": trainset,
                           "mean_distance": {"generated-similar": 0.5, "human-similar": 1.5,
                                             "top-copy": None}})
        loops[key] = {"log": {"rounds": rounds}}
    c = paper_b.curation_composition(loops, {k: str(v) for k, v in loop_dirs.items()})
    assert list(c.columns) == ["artist", "seed", "round", "source", "images", "distinct",
                               "mean_distance"]
    assert len(c) == 2 * 2 * len(paper_b.curation.SOURCES)
    first = c[(c.artist == "a") & (c["round"] == 0)].set_index("source")
    assert first.images.to_dict() == {"generated-similar": 3, "human-similar": 2, "top-copy": 1}
    assert first.distinct.to_dict() == {"generated-similar": 2, "human-similar": 1,
                                        "top-copy": 1}
    assert np.isnan(first.mean_distance["top-copy"]) and first.mean_distance[
        "human-similar"] == 1.5
    with pytest.raises(FileNotFoundError):
        paper_b.curation_composition(loops, {k: tmp_path / "nope" for k in loops})


# ----------------------------------------------------------------------------- the FID half
def test_gate_needs_fid_under_the_limit_and_the_form():
    """A run passes only with both halves: good form but FID above the limit fails, FID under
    the limit without the form fails, both pass; the limit is strict (FID == limit fails)."""
    ref = 0.95
    assert paper_b.passes_gate(150.0, 0.9, ref, fid_limit=200.0)
    assert not paper_b.passes_gate(250.0, 0.95, ref, fid_limit=200.0)     # form, FID too high
    assert not paper_b.passes_gate(150.0, 0.5, ref, fid_limit=200.0)      # FID, no form
    assert not paper_b.passes_gate(200.0, 0.9, ref, fid_limit=200.0)
    assert not paper_b.passes_gate(math.nan, 0.9, ref, fid_limit=200.0)
    assert paper_b.passes_gate(1e6, 0.9, ref, fid_limit=math.inf)         # inf: no FID limit
    for bad in (math.nan, -1.0, None, "high"):
        with pytest.raises(ValueError, match="fid_limit"):
            paper_b.passes_gate(150.0, 0.9, ref, fid_limit=bad)


def test_with_gate_fails_a_run_over_the_fid_limit_and_its_claims_follow(per_run):
    """with_gate applies the FID limit per row: the mix (FID 100 - 50 x ~0.7 = ~65) passes a
    limit of 80 while the 1st result (FID ~80) fails it, though both draw the form; the
    shape-learning claim then has a baseline below the gate: "not testable here". With the
    limit under the mix's FID it is the claimed stage that fails: "not supported"."""
    g = paper_b.with_gate(per_run, key="stage", fid_limit=75.0)
    alone = g[(g.artist == "artist_geometric") & (g.stage == "alone")]
    mix = g[(g.artist == "artist_geometric") & (g.stage == "mix")]
    assert (alone.form_ratio >= paper_b.tables.FORM_GATE).all() and not alone.fid_ok.any()
    assert not alone.draws.any() and mix.draws.all()
    v = paper_b.shape_learning_verdicts(g, ("alone", "mix"))
    assert set(v[v.artist == "artist_geometric"].verdict) == {"not testable here"}
    # the claimed stage over the limit while its baseline passes: "not supported"
    g2 = paper_b.with_gate(per_run.assign(fid=np.where(per_run.stage == "mix", 300.0,
                                                       per_run.fid)), key="stage",
                           fid_limit=100.0)
    v2 = paper_b.shape_learning_verdicts(g2, ("alone", "mix"))
    assert set(v2[v2.artist == "artist_geometric"].verdict) == {"not supported"}
    assert paper_b.with_gate(per_run, key="stage", fid_limit=math.inf).fid_ok.all()
    with pytest.raises(ValueError, match="fid_limit"):
        paper_b.with_gate(per_run, key="stage", fid_limit=None)


def test_cpu_profile_has_a_finite_paper_b_fid_limit():
    """The cpu profile's paper-B gate has a finite FID limit above the held-out floor (~20),
    set in one place (config.B_GATE_FID_CPU); smoke has none (its models do not learn)."""
    from paperlib import config
    cpu = config.get_profile("cpu")
    assert cpu.b_gate_fid == config.B_GATE_FID_CPU and 20.0 < cpu.b_gate_fid < math.inf
    assert config.get_profile("smoke").b_gate_fid == math.inf


def test_claims_compare_the_artist_sets_own_exact_form_score():
    """An artist whose rows carry the "discs" measure is judged on form_score, not on the
    face measure's main_score (here 0 throughout, as the face measure reads compositions);
    a face artist keeps main_score. Table 1 and the markdown carry the form score."""
    t1 = _t1()
    geo = t1.artist == "artist_geometric"
    t1.loc[geo, "form_score"] = t1.loc[geo, "main_score"]
    t1.loc[geo, "form_measure"] = "discs"
    t1.loc[geo, "main_score"] = 0.0
    v = paper_b.curation_verdicts(t1)
    g = v[v.artist == "artist_geometric"]
    assert g.metric.tolist()[:2] == ["form_score", "form_score"]
    assert g.verdict.tolist()[:2] == ["supported", "supported"]
    assert v[v.artist == "artist_donglein"].metric.tolist()[:2] == ["main_score", "main_score"]
    assert paper_b.exact_form_metric(t1[geo]) == "form_score"
    assert paper_b.exact_form_metric(t1[geo].drop(columns="form_measure")) == "main_score"
    sv = paper_b.shape_learning_verdicts(
        t1.rename(columns={"column": "stage"}).replace(
            {"stage": {"1st result": "alone", "shape learning": "mix"}}), ("alone", "mix"))
    assert sv[sv.artist == "artist_geometric"].metric.tolist() == ["form_score", "inner_score"]
    table = paper_b.curation_table1(t1, COLS)
    assert {"form_score", "form_median"} <= set(table.columns)
    md = paper_b.curation_markdown(table, v, family="StyleGAN2-ADA (ours)", seeds=SEEDS,
                                   rounds=1, size=10, n_eval=8, ratings=["auto"])
    assert "    - shape learning + technique: gate 3/3 seeds; form score 0.810" in md
