"""Paper B's typed jobs: ``from_profile`` holds each job's defaults and feasibility rules
(``CurationJob``, ``ControlJob``, ``StageJob``), dicts convert at the boundary, and the
shape-learning plan lists its stage jobs in training order."""
import json

import pytest
from test_cli_more import _write_images

from paperlib import config, data, engine, paper_b


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return _write_images(tmp_path_factory.mktemp("jobs") / "photos", 20)


@pytest.fixture
def start(tmp_path):
    """A run folder's config alone: 2 epochs of 40 images at 32 px."""
    run = tmp_path / "start"
    run.mkdir()
    (run / engine.runs.CONFIG_FILE).write_text(json.dumps(
        {"config": {"model": "dcgan", "res": 32, "epochs": 2}, "data": {"n_images": 40}}))
    return run


def test_curation_defaults_without_a_profile(photos, start, tmp_path):
    job = paper_b.CurationJob.from_profile(None, start, photos, tmp_path / "runs")
    # 20 images: a 20-image set from 20 generated, top 5 % (1), 2 rounds; a quarter of the
    # 80 images shown is one epoch of the set
    assert (job.size, job.n_generate, job.top_k, job.rounds, job.epochs, job.res) == \
        (20, 20, 1, 2, 1, 32)
    assert job.loop_dir == str(tmp_path / "runs" / "curation" / "start-k1-e1")
    assert job.kind == "curation" and job.label == "curation artist seed None"
    assert job.selections is None and job.gen_seed == 1000 and not job.progress
    assert paper_b.CurationJob.default_top_k(400) == 20
    assert paper_b.CurationJob.default_top_k(10) == 1
    assert paper_b.CurationJob.default_epochs(8000, 400) == 5


def test_curation_defaults_from_the_profile(photos, start, tmp_path):
    prof = config.get_profile("smoke")
    job = paper_b.CurationJob.from_profile(prof, start, photos, tmp_path, kimg=0.1,
                                           name="mine", seed=3)
    assert (job.size, job.n_generate, job.rounds, job.top_k) == (
        prof.curation_size, prof.curation_generate, prof.curation_rounds,
        max(1, prof.curation_generate // 20))
    assert job.epochs == engine.epochs_for_kimg(0.1, prof.curation_size)
    assert job.label == "curation mine seed 3"
    shown = paper_b.CurationJob.from_profile(prof, start, photos, tmp_path, shown=4 * 60 * 5)
    assert shown.epochs == 5


@pytest.mark.parametrize("kw, words", [
    (dict(size=100), "size 100: its 30 % part of your images needs 30 images but train_dir "
                     "has 20"),
    (dict(size=10, n_generate=12, top_k=12), "top_k 12 must be below n_generate 12"),
    (dict(size=10, n_generate=7, top_k=2), "n_generate 7: the 60 % generated part of size 10 "
                                           "needs 6 generated images besides the top 2"),
])
def test_curation_feasibility(photos, start, tmp_path, kw, words):
    with pytest.raises(paper_b.JobInfeasible, match=words):
        paper_b.CurationJob.from_profile(None, start, photos, tmp_path, **kw)
    with pytest.raises(ValueError, match=r"^--(size|top-k|generate) "):   # the caller's words
        paper_b.CurationJob.from_profile(None, start, photos, tmp_path, **kw, names={
            "size": "--size", "n_generate": "--generate", "top_k": "--top-k"})


def test_control_matches_its_loop(photos, start, tmp_path):
    cur = paper_b.CurationJob.from_profile(None, start, photos, tmp_path, size=10,
                                           n_generate=12, top_k=2, epochs=3, rounds=2,
                                           name="mine", seed=1)
    ctrl = paper_b.ControlJob.from_profile("smoke", cur)
    # the loop trains 2 rounds x 3 epochs x 10 images = 60 images: 3 epochs of 20
    assert (ctrl.start_run, ctrl.data_dir, ctrl.root, ctrl.epochs) == \
        (cur.start_run, cur.train_dir, cur.root, 3)
    assert ctrl.label == "control mine seed 1"
    prof = config.get_profile("smoke")
    own = paper_b.ControlJob.from_profile(prof, start_run=start, data_dir=photos, root=tmp_path,
                                          round_epochs=1)
    assert own.epochs == max(1, round(prof.curation_rounds * prof.curation_size / 20))
    with pytest.raises(paper_b.JobInfeasible, match="needs epochs"):
        paper_b.ControlJob.from_profile(prof, start_run=start, data_dir=photos, root=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(paper_b.JobInfeasible, match="holds no image"):
        paper_b.ControlJob.from_profile(prof, start_run=start, data_dir=tmp_path / "empty",
                                        root=tmp_path, epochs=2)


def test_dicts_convert_at_the_boundary(photos, start, tmp_path):
    cur = paper_b.CurationJob.from_profile(None, start, photos, tmp_path)
    as_dict = {"kind": "curation", **{f: getattr(cur, f) for f in cur.__dataclass_fields__}}
    assert paper_b.as_job(as_dict) == cur and paper_b.as_job(cur) is cur
    with pytest.raises(ValueError, match="unknown job kind 'bogus'"):
        paper_b.as_job({"kind": "bogus"})
    with pytest.raises(TypeError):
        paper_b.as_job({**as_dict, "nonsense": 1})


def test_stage_job_from_profile(tmp_path):
    job = paper_b.StageJob.from_profile("smoke", "a", 0, "mix", tmp_path, tmp_path, 3,
                                        model="dcgan")
    assert job.label == "a seed 0: mix" and job.first_wave and job.cfg.epochs == 3
    assert job.cfg == engine.profile_config("smoke", "dcgan", "paper", 0, epochs=3,
                                            augment="none")
    with pytest.raises(ValueError, match="unknown stage 'bogus'"):
        paper_b.StageJob.from_profile("smoke", "a", 0, "bogus", tmp_path, tmp_path, 3)
    ckpt = tmp_path / "epoch_0001.pt"
    ckpt.write_bytes(b"x")
    ft = paper_b.StageJob.from_profile("smoke", "a", 0, "finetune", tmp_path, tmp_path, 2)
    assert not ft.first_wave and ft.starting_from(ckpt).cfg.init_from == str(ckpt)
    assert ft.starting_from(ckpt).starting_from(ckpt).cfg == ft.starting_from(ckpt).cfg


def test_the_plan_lists_every_run_in_training_order(tmp_path):
    artist, shapes = tmp_path / "artist_donglein", tmp_path / "shapes"
    data.build_artist_set(artist, "donglein", n=12, res=32, seed=0)
    data.build_shape_set(shapes, n=12, res=32, seed=0)
    plan = paper_b.plan_shape_learning("smoke", {"a": artist}, shapes, (0, 1), tmp_path / "r",
                                       stages=("longer", "finetune"), epochs=2,
                                       mixes_dir=tmp_path / "mixes")
    assert [j.label for j in plan] == [
        "a seed 0: alone", "a seed 0: pretrain", "a seed 1: alone", "a seed 1: pretrain",
        "a seed 0: longer", "a seed 0: finetune", "a seed 1: longer", "a seed 1: finetune"]
    alone = plan[0]
    assert alone.extended and not alone.returned and alone.cfg.epochs == 2
    assert all(j.cfg.init_from is None for j in plan)   # nothing pre-trained yet
    assert not engine.list_runs(tmp_path / "r")
