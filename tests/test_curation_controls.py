"""Paper B's curation test that is not circular: the random-selection control of the
60/30/10 loop, the rater's name in the log, outcome measures the rater does not use
(KID against the held-out part, an independent form measure, memorisation), the opt-in KID
gate, diversity as closeness to the real data's and seed-paired comparisons."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from test_cli_more import _write_images
from test_curation import RecordingExtractor, discs

from paperlib import config, data, engine, forms, metrics, paper_b
from paperlib.paper_b import (
    RANDOM_COLUMN,
    RATER_LABELS,
    CurationJob,
    make_auto_rater,
    make_random_rater,
    random_top_idx,
    run_curation_loop,
    split_counts,
)


# ----------------------------------------------------------------------------- the control
def _loop(tmp_path, name, rate, rounds=2):
    """The loop on fixed batches (round r: discs of seed 100 + r) with a no-op retraining;
    returns its log and each round's provenance."""
    human = tmp_path / "human"
    if not human.is_dir():
        human.mkdir()
        for i, im in enumerate(discs(12, seed=7)):
            arr = ((im.permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)
            from PIL import Image
            Image.fromarray(arr).save(human / f"h{i:02d}.png")
    paths = sorted(human.glob("*.png"))
    proj = np.random.default_rng(0).normal(size=(3 * 8 * 8, 6))

    def features(images):
        x = torch.as_tensor(np.asarray(images)).float()
        return torch.nn.functional.avg_pool2d(x, 4).flatten(1).numpy() @ proj

    hfeats = features(data.load_folder(human, 32).images)
    made = [0]

    def generate(n):
        made[0] += 1
        return discs(n, seed=100 + made[0])

    log = run_curation_loop(generate, lambda ts, r: None, features, rate, hfeats, paths,
                            tmp_path / name, rounds=rounds, size=20, n_generate=30,
                            evaluate_final=False)
    prov = [paper_b.read_provenance(tmp_path / name / e["trainset"]) for e in log["rounds"]]
    return log, prov


def _picked(prov):
    return [[(f["source"], f["index"]) for f in p["files"]] for p in prov]


def test_random_rater_draws_from_the_seed_and_reproduces(tmp_path):
    log, prov = _loop(tmp_path, "a", make_random_rater(3, seed=5))
    again, prov_again = _loop(tmp_path, "b", make_random_rater(3, seed=5))
    other, prov_other = _loop(tmp_path, "c", make_random_rater(3, seed=6))
    auto, _ = _loop(tmp_path, "d", make_auto_rater(lambda x: None, np.zeros((1, 6)), 3),
                    rounds=1)
    # the ratings are the seed's draw per round, named in the log
    assert log["rater"] == RATER_LABELS["random"] == "random"
    assert auto["rater"] == RATER_LABELS["auto"] == "auto: fidelity × realism"
    assert [e["rating"] for e in log["rounds"]] == ["random", "random"]
    tops = [e["top_idx"] for e in log["rounds"]]
    assert tops == [random_top_idx(30, 3, 5, r).tolist() for r in range(2)]
    assert tops[0] != tops[1]                            # each round draws anew
    # same seed: identical selections and training sets; another seed: different ones
    assert [e["top_idx"] for e in again["rounds"]] == tops and _picked(prov_again) == _picked(prov)
    assert [e["top_idx"] for e in other["rounds"]] != tops and _picked(prov_other) != _picked(prov)
    # the same 60/30/10 set sizes as the automatic loop
    want = dict(zip(paper_b.curation.SOURCES, split_counts(20)))
    assert all(e["counts"] == want for e in log["rounds"] + auto["rounds"])
    # bad input is named
    for bad in (dict(top_k=0, seed=1), dict(top_k=2, seed=-1), dict(top_k=True, seed=1)):
        with pytest.raises(ValueError, match="top_k|seed"):
            make_random_rater(**bad)
    with pytest.raises(ValueError, match="top_k must be in 1..5"):
        random_top_idx(5, 6, 0, 0)


@pytest.fixture
def start_and_photos(tmp_path):
    run = tmp_path / "start"
    run.mkdir()
    (run / engine.runs.CONFIG_FILE).write_text(json.dumps(
        {"config": {"model": "dcgan", "res": 32, "epochs": 2}, "data": {"n_images": 40}}))
    return run, _write_images(tmp_path / "photos", 20)


def test_random_curation_job_has_its_own_names(start_and_photos, tmp_path):
    start, photos = start_and_photos
    auto = CurationJob.from_profile(None, start, photos, tmp_path / "runs", seed=0)
    rnd = CurationJob.from_profile(None, start, photos, tmp_path / "runs", seed=0,
                                   rater="random")
    # the automatic loop's names are as before; the control's are apart
    assert auto.rater == "auto" and auto.label == "curation artist seed 0"
    assert auto.loop_dir == str(tmp_path / "runs" / "curation" / "start-k1-e1")
    assert rnd.loop_dir == auto.loop_dir + "-random"
    assert rnd.label == "curation artist seed 0 (random rater)"
    assert (rnd.size, rnd.n_generate, rnd.top_k, rnd.epochs) == \
        (auto.size, auto.n_generate, auto.top_k, auto.epochs)
    assert paper_b.as_job({"kind": "curation", **{k: getattr(rnd, k) for k in
                                                   rnd.__dataclass_fields__}}) == rnd
    with pytest.raises(ValueError, match="unknown rater 'best'"):
        CurationJob.from_profile(None, start, photos, tmp_path, seed=0, rater="best")
    with pytest.raises(ValueError, match="draws from the job's seed"):
        CurationJob.from_profile(None, start, photos, tmp_path, rater="random")
    with pytest.raises(ValueError, match="draws from the job's seed"):
        CurationJob.from_profile(None, start, photos, tmp_path, seed=0, rater="random",
                                 selections=tmp_path / "s.json")


# ----------------------------------------------------------------------------- outcomes
def test_memorisation_ratio_sees_copies():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(200, 16))
    held = rng.normal(size=(100, 16))
    copies = train[rng.choice(200, 100)] + 1e-3 * rng.normal(size=(100, 16))
    new = rng.normal(size=(100, 16))
    copied = metrics.memorisation_ratio(copies, train, held)
    fresh = metrics.memorisation_ratio(new, train, held)
    assert copied["ratio"] < 0.01                      # copies sit on training images
    assert 0.85 < fresh["ratio"] < 1.15                # as far as new real images
    assert (fresh["n_gen"], fresh["n_real"], fresh["n_train"]) == (100, 100, 200)
    assert math.isclose(fresh["gen_median"],
                        float(np.median(np.linalg.norm(new[:, None] - train[None], axis=2)
                                        .min(axis=1))))
    with pytest.raises(ValueError, match="disjoint"):
        metrics.memorisation_ratio(new, train, train[:50])
    with pytest.raises(ValueError, match="equal D"):
        metrics.memorisation_ratio(new[:, :8], train, held)


def _ellipses(n, ratio, res=32, seed=0):
    """n flat ellipses of axis ratio ``ratio`` (1: discs) on white, float [-1, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:res, 0:res] + 0.5
    out = np.empty((n, 3, res, res), np.float32)
    for i in range(n):
        r = rng.uniform(0.25, 0.35) * res
        d = np.sqrt(((xx - res / 2) / r) ** 2 + ((yy - res / 2) / (r * ratio)) ** 2)
        cov = np.clip((1.0 - d) * r + 0.5, 0, 1)[None]
        out[i] = ((1 - cov) + cov * rng.uniform(0.0, 0.6, 3)[:, None, None]) * 2 - 1
    return torch.from_numpy(out)


def test_independent_form_measure_is_not_the_raters():
    round_, oval = _ellipses(6, 1.0, seed=3), _ellipses(6, 0.6, seed=3)
    noise = torch.rand(4, 3, 32, 32) * 2 - 1
    face = forms.independent_form_scores(round_, "face")
    assert face["kind"] == "discs" and face["scores"].shape == (6,)
    assert np.allclose(face["scores"], [forms.disc_score(im) for im in round_])
    mixed = torch.cat([round_, oval])
    rater = forms.form_scores(mixed, forms.FormMeasure("face"))["fidelity"]
    assert not np.allclose(forms.independent_form_scores(mixed, "face")["scores"], rater)
    # round forms score high by it too, ovals lower, noise near 0
    assert np.median(face["scores"]) > 0.8
    assert forms.independent_form_scores(oval, "face")["scores"].mean() < face["scores"].mean()
    assert (forms.independent_form_scores(noise, "face")["scores"] < 0.3).all()
    comp = forms.independent_form_scores(mixed, "discs")
    assert comp["kind"] == "region-circle"
    assert comp["scores"][:6].mean() > comp["scores"][6:].mean()
    assert not np.allclose(comp["scores"], [forms.disc_score(im) for im in mixed])
    with pytest.raises(ValueError, match="unknown form measure"):
        forms.independent_form_scores(round_, "stars")


def test_outcome_metrics_on_given_features():
    rng = np.random.default_rng(1)
    images = discs(10, seed=4)
    f, held, train = rng.normal(size=(10, 8)), rng.normal(size=(9, 8)), rng.normal(size=(20, 8))
    out = paper_b.outcome_metrics(images, f, held, train, "face", kid_seed=2)
    assert out["kid"] == metrics.kid(held, f, seed=2)[0]
    assert out["fid"] == metrics.fid_from_features(held, f)
    assert out["memorisation"] == metrics.memorisation_ratio(f, train, held)["ratio"]
    assert out["outcome_form"] == "discs" and 0 <= out["outcome_form_score"] <= 1
    assert math.isclose(out["diversity_gap"],
                        abs(out["diversity"] - out["real_diversity"]) / out["real_diversity"])
    with pytest.raises(ValueError, match="10 images but 9 feature rows"):
        paper_b.outcome_metrics(images, f[:9], held, train)


def test_evaluate_outcomes_samples_a_run_and_caches(tmp_path):
    root = tmp_path / "set"
    data.build_artist_set(root / "artist_donglein", "donglein", n=24, res=32, seed=0)
    sp = data.split_held_out(root / "artist_donglein", 0.3, seed=0)
    cfg = engine.make_config(model="dcgan", epochs=1, res=32, ngf=8, ndf=8, batch_size=8,
                             device="cpu")
    run = engine.train(cfg, sp.train, tmp_path / "run", progress=False)
    ex = RecordingExtractor()
    out = paper_b.evaluate_outcomes(run.run_dir, sp.train, sp.held_out, 8, extractor=ex,
                                    cache_dir=tmp_path / "cache")
    assert out["n"] == 8 and out["outcome_form"] == "discs" and out["memorisation"] > 0
    assert list((run.run_dir / "eval").glob("outcomes_*.json"))
    assert not list((run.run_dir / "eval").glob("paperb_*.json"))   # apart from Table 1's
    n = len(ex.seen)
    assert paper_b.evaluate_outcomes(run.run_dir, sp.train, sp.held_out, 8, extractor=ex,
                                     cache_dir=tmp_path / "cache") == out
    assert len(ex.seen) == n


# ----------------------------------------------------------------------------- the KID gate
def test_kid_gate_passes_and_fails_on_given_numbers():
    limit = config.get_profile("cpu").b_gate_kid
    assert limit == config.B_GATE_KID_CPU == 0.128
    assert paper_b.passes_kid_gate(0.10, 0.95, 0.99, limit)
    assert not paper_b.passes_kid_gate(0.13, 0.95, 0.99, limit)        # KID over the limit
    assert not paper_b.passes_kid_gate(0.10, 0.50, 0.99, limit)        # the form not drawn
    assert not paper_b.passes_kid_gate(math.nan, 0.95, 0.99, limit)
    assert paper_b.passes_kid_gate(5.0, 0.95, 0.99, math.inf)
    for bad in (math.nan, -0.1, None, "x"):
        with pytest.raises(ValueError, match="kid_limit"):
            paper_b.passes_kid_gate(0.1, 0.95, 0.99, bad)
    assert math.isinf(config.get_profile("paper").b_gate_kid)
    assert math.isinf(config.get_profile("smoke").b_gate_kid)
    # with_gate: opt-in; without kid_limit the FID gate as before
    rows = pd.DataFrame([
        {"artist": "a", "column": "training data", "seed": None, "fid": 20.0, "kid": 0.0,
         "form_median": 0.99},
        {"artist": "a", "column": "x", "seed": 0, "fid": 200.0, "kid": 0.05, "form_median": 0.98},
        {"artist": "a", "column": "x", "seed": 1, "fid": 100.0, "kid": 0.20, "form_median": 0.98}])
    fid_gate = paper_b.with_gate(rows, "column", fid_limit=130.0)
    assert "kid_ok" not in fid_gate and fid_gate.draws.tolist() == [True, False, True]
    kid_gate = paper_b.with_gate(rows, "column", fid_limit=130.0, kid_limit=limit)
    assert kid_gate.draws.tolist() == [True, True, False]
    assert kid_gate.fid_ok.tolist() == [True, False, True]            # FID reported beside


def _last_epoch(path, column, config_name="lr0.01"):
    rows = [r for r in csv.DictReader(open(path)) if r["config"] == config_name]
    last = {}
    for r in rows:
        if int(r["epoch"]) >= int(last.get(r["seed"], {"epoch": -1})["epoch"]):
            last[r["seed"]] = r
    return [float(r[column]) for r in last.values()]


def test_b_gates_follow_the_calibration_rule():
    csv_path = Path(config.ROOT) / "figures" / "cpu" / "calibration_stylegan2_configs.csv"
    assert config.calibrated_limit(_last_epoch(csv_path, "fid")) == config.B_GATE_FID_CPU
    assert config.calibrated_limit(_last_epoch(csv_path, "kid")) == config.B_GATE_KID_CPU
    assert config.calibrated_limit([0.08, 0.1]) == 0.125
    for bad in ([], [math.nan], [1.0, math.inf]):
        with pytest.raises(ValueError):
            config.calibrated_limit(bad)


# ----------------------------------------------------------------------------- diversity
def _per_seed(tech_div, base_div, real_div=10.0):
    rows = [] if real_div is None else [
        {"artist": "a", "column": "training data", "seed": None, "main_score": 0.9,
         "diversity": real_div, "draws": True}]
    for col, main, div in (("shape learning", 0.5, base_div), ("control", 0.5, base_div),
                           ("shape learning + technique", 0.8, tech_div)):
        for s in range(3):
            rows.append({"artist": "a", "column": col, "seed": s, "main_score": main + 0.01 * s,
                         "diversity": div + 0.01 * s, "draws": True})
    return pd.DataFrame(rows)


def test_diversity_counts_as_closeness_to_the_real_data():
    assert metrics.diversity_gap(12.0, 10.0) == metrics.diversity_gap(8.0, 10.0) == 0.2
    assert metrics.diversity_gap(10.0, 10.0) == 0.0 and math.isnan(metrics.diversity_gap(
        math.nan, 10.0))
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="real data's diversity"):
            metrics.diversity_gap(1.0, bad)

    def varied(per_seed):
        c = paper_b.claims(per_seed, "a")
        return c[c.claim.str.contains("more varied")].iloc[0]

    # more diverse than real data (off-distribution) is not "more varied" in the claim's sense
    over = varied(_per_seed(tech_div=14.0, base_div=10.5))
    assert over.metric == "diversity_gap" and over.verdict == "not supported"
    assert varied(_per_seed(tech_div=10.1, base_div=8.0)).verdict == "supported"
    none = varied(_per_seed(tech_div=10.1, base_div=8.0, real_div=None))
    assert none.verdict == "not testable here" and "training-data row" in none.reason


def test_claims_compare_the_technique_with_random_selection():
    per_seed = _per_seed(10.1, 8.0)
    assert not paper_b.claims(per_seed, "a").claim.str.contains("random selection").any()
    rnd = per_seed[per_seed.column == "control"].assign(column=RANDOM_COLUMN)
    c = paper_b.claims(pd.concat([per_seed, rnd]), "a")
    row = c[c.claim.str.contains("random selection")].iloc[0]
    assert row.verdict == "supported" and row["per seed"].startswith(
        "shape learning + technique: ")


# ----------------------------------------------------------------------------- paired by seed
def test_paired_comparison_pairs_by_seed():
    a = {0: 1.0, 1: 2.0, 2: 3.5}
    b = {2: 3.0, 0: 0.5, 1: 1.0}
    p = metrics.paired_by_seed(a, b)
    assert p.seeds == (0, 1, 2) and p.n == 3 and p.differences == (0.5, 1.0, 0.5)
    d = np.array([0.5, 1.0, 0.5])
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert math.isclose(p.diff, d.mean()) and math.isclose(p.low, d.mean() - half)
    assert math.isclose(p.high, d.mean() + half)
    # pandas Series by seed work too; the seeds' own effects cancel in the pairs
    seed_effect = pd.Series({0: 0.0, 1: 10.0, 2: 20.0, 3: 30.0})
    arm_b = seed_effect + pd.Series({0: 0.0, 1: 0.1, 2: -0.1, 3: 0.05})
    arm_a = arm_b + 1.0 + pd.Series({0: 0.02, 1: -0.02, 2: 0.01, 3: 0.0})
    paired = metrics.paired_by_seed(arm_a, arm_b)
    assert paired.low > 0.9 and paired.high < 1.1
    _, lo, hi = metrics.welch_interval(arm_a.to_numpy(), arm_b.to_numpy())
    assert lo < 0 < hi                                  # unpaired: the seeds' spread hides it
    one = metrics.paired_by_seed({4: 1.0}, {4: 0.0})
    assert one.diff == 1.0 and math.isnan(one.low) and math.isnan(one.high)


def test_paired_comparison_refuses_unmatched_seeds():
    with pytest.raises(ValueError, match=r"unmatched seeds: \[2\] only in the first arm, "
                                         r"\[3\] only in the second"):
        metrics.paired_by_seed({0: 1.0, 1: 1.0, 2: 1.0}, {0: 1.0, 1: 1.0, 3: 1.0})
    with pytest.raises(ValueError, match="non-finite"):
        metrics.paired_by_seed({0: math.nan, 1: 1.0}, {0: 1.0, 1: 1.0})
    with pytest.raises(ValueError, match="no seeds"):
        metrics.paired_by_seed({}, {})
