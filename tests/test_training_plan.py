"""What notebooks 05 and 07 say before they train: the missing runs and the estimated time
(``engine.training_plan``, ``paper_b.shape_learning_many(plan_only=True)``,
``paper_b.curation_plan``), matching what then trains."""
import pytest
from test_cli_more import _write_images

from paperlib import data, engine, paper_b
from paperlib.models import get_model


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return _write_images(tmp_path_factory.mktemp("plan") / "photos", 20)


def test_pending_kimg_and_the_plan_follow_the_cache(photos, tmp_path):
    cfg = engine.profile_config("smoke", "dcgan", "paper", 0, epochs=2)
    jobs = {"a": (cfg, photos, tmp_path)}
    assert engine.pending_kimg(cfg, photos, tmp_path) == pytest.approx(2 * 20 / 1000)
    plan = engine.training_plan(jobs, "smoke")
    assert [(label, k) for label, _, k in plan.missing] == [("a", pytest.approx(0.04))]
    assert "1 of 1 missing" in plan.summary()
    assert plan.seconds == pytest.approx(0.04 * get_model("dcgan").seconds_per_kimg["smoke"])
    engine.train_cached(cfg, photos, tmp_path, progress=False)
    assert engine.pending_kimg(cfg, photos, tmp_path) == 0
    assert "all 1 cached; nothing is trained" in engine.training_plan(jobs, "smoke").summary()
    longer = engine.profile_config("smoke", "dcgan", "paper", 0, epochs=5)   # extends it
    assert engine.pending_kimg(longer, photos, tmp_path) == pytest.approx(3 * 20 / 1000)


def test_the_estimate_uses_the_measured_rates(photos, tmp_path):
    rate = get_model("stylegan2").seconds_per_kimg["cpu"]
    cfg = engine.profile_config("cpu", "stylegan2", "paper", 0, epochs=100)   # 2 kimg of 20
    jobs = {f"s{s}": (engine.profile_config("cpu", "stylegan2", "paper", s, epochs=100),
                      photos, tmp_path) for s in range(3)}
    plan = engine.training_plan(jobs, "cpu", slots=2)
    assert plan.kimg == pytest.approx(6.0)
    assert plan.seconds == pytest.approx(3 * 2.0 * rate / 2)        # spread over 2 workers
    assert engine.estimate_seconds([("stylegan2", 10.0)], "cpu", 4) == pytest.approx(10 * rate)
    assert f"estimated {3 * 2.0 * rate / 2:.0f} s on 2 worker(s)" in plan.summary()
    plan.seconds = 600
    assert "estimated 10 min on 2 worker(s)" in plan.summary()
    assert engine.estimate_seconds([("stylegan2", 1.0)], "paper") is None
    assert "no measured time for the paper profile" in engine.training_plan(
        {"x": (engine.profile_config("paper", "stylegan2", "paper", 0, epochs=1), photos,
               tmp_path)}, "paper").summary()
    assert cfg.epochs == 100


def test_shape_learning_plan_lists_what_the_call_then_trains(tmp_path):
    artist, shapes = tmp_path / "artist_donglein", tmp_path / "shapes"
    data.build_artist_set(artist, "donglein", n=12, res=32, seed=0)
    data.build_shape_set(shapes, n=12, res=32, seed=0)
    kw = dict(stages=("alone", "mix", "longer"), model="dcgan", epochs=2,
              mixes_dir=tmp_path / "mixes", progress=False, scheduler="serial")
    planned = paper_b.shape_learning_many("smoke", {"a": artist}, shapes, (0,),
                                          tmp_path / "runs", plan_only=True, **kw)
    # the longer run stands for the artist-alone run it extends
    assert sorted(j.label for j in planned) == ["a seed 0: longer", "a seed 0: mix"]
    assert all(isinstance(j, paper_b.StageJob) for j in planned)
    assert not engine.list_runs(tmp_path / "runs")                   # nothing trained
    plan = engine.training_plan(planned, "smoke")
    assert len(plan.missing) == 2 and plan.cached == 0
    # longer: 2 x (24 / 12) = 4 epochs of 12 images; mix: 2 epochs of 24
    assert {label: k for label, _, k in plan.missing} == \
        {"a seed 0: longer": pytest.approx(0.048), "a seed 0: mix": pytest.approx(0.048)}
    runs = paper_b.shape_learning_many("smoke", {"a": artist}, shapes, (0,), tmp_path / "runs",
                                       **kw)["a", 0]
    assert {r.run_dir for r in runs.values()} == \
        {tmp_path / "runs" / engine.run_name(c, data.manifest_hash(d))
         for c, d in ((j.cfg, j.data_dir) for j in planned)}
    again = engine.training_plan(paper_b.shape_learning_many(
        "smoke", {"a": artist}, shapes, (0,), tmp_path / "runs", plan_only=True, **kw), "smoke")
    assert not again.missing and again.cached == 2


def test_curation_plan_counts_rounds_and_controls(photos, tmp_path):
    start = engine.train_cached(engine.profile_config("smoke", "dcgan", "paper", 0, epochs=1),
                                photos, tmp_path / "runs", progress=False)
    job = {"kind": "curation", "name": "mine", "seed": 0, "train_dir": str(photos), "res": 32,
           "selections": None, "top_k": 2, "start_run": str(start.run_dir),
           "loop_dir": str(tmp_path / "loop"), "root": str(tmp_path / "runs"), "rounds": 2,
           "size": 10, "n_generate": 12, "epochs": 1}
    control = {"kind": "control", "name": "mine", "seed": 0, "start_run": str(start.run_dir),
               "data_dir": str(photos), "root": str(tmp_path / "runs"), "epochs": 2}
    plan = paper_b.curation_plan([job, control], "smoke")
    assert [(label, k) for label, _, k in plan.missing] == [
        ("curation mine seed 0 round 0", pytest.approx(0.01)),
        ("curation mine seed 0 round 1", pytest.approx(0.01)),
        ("control mine seed 0", pytest.approx(0.04))]
    done = paper_b.run_b_jobs([job, control], "serial", progress=False)
    assert paper_b.check_curation(job, done[0]) == ["auto", "auto"]
    after = paper_b.curation_plan([job, control], "smoke")
    assert not after.missing and after.cached == 3
    # a selection saved for round 1 since: round 1 is curated (and trained) anew
    sel = tmp_path / "sel.json"
    paper_b.save_selections(sel, 1, [0, 3], {"n_shown": 12})
    plan = paper_b.curation_plan([{**job, "selections": str(sel)}, control], "smoke")
    assert [label for label, _, _ in plan.missing] == ["curation mine seed 0 round 1"]
    # the same selection the loop used: cached again
    paper_b.save_selections(sel, 1, done[0]["log"]["rounds"][1]["top_idx"], {"n_shown": 12})
    assert not paper_b.curation_plan([{**job, "selections": str(sel)}], "smoke").missing
