"""Paper B's ``cond`` stage: a class-conditional StyleGAN2 on the mix's images labelled
``artist`` / ``shapes`` (class sub-folders), each artist image shown as often as in the 1st
result, sampled in the ``artist`` class; the other stages keep their runs."""
import json
from dataclasses import replace

import pytest

from paperlib import data, engine, paper_b
from paperlib.models import get_model
from paperlib.paper_b import plan_shape_learning
from paperlib.paper_b.shape_learning import STAGES, train_shape_learning


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("cond_sets")
    data.build_artist_set(root / "artist", "donglein", n=8, res=32, seed=0)
    data.build_shape_set(root / "shapes", n=10, res=32, seed=0)
    return root


def _sources(folder):
    """``{label: sorted source sha256s}`` of a mixed set's manifest."""
    out = {}
    for e in data.read_manifest(folder)["images"]:
        out.setdefault(e["label"], []).append(e["recipe"]["source_sha256"])
    return {k: sorted(v) for k, v in out.items()}


def _plan(sets, tmp_path, stages, model="stylegan2"):
    return plan_shape_learning("smoke", {"artist": sets / "artist"}, sets / "shapes", (0,),
                               tmp_path / "runs", stages, mixes_dir=tmp_path / "mixes",
                               model=model, epochs=2)


def test_cond_stage_plan_and_training(sets, tmp_path):
    assert "cond" not in STAGES                      # asked for only: the defaults stay
    plan = {j.stage: j for j in _plan(sets, tmp_path, ("alone", "mix", "cond"))}
    alone, mix, cond = plan["alone"], plan["mix"], plan["cond"]
    # the labelled folder: class sub-folders of the mix's own images
    folder = cond.data_dir
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["artist", "shapes"]
    n_art, n_shp = (len(data.image_files(folder / c)) for c in ("artist", "shapes"))
    assert (n_art, n_shp) == (8, 8)                  # shape_ratio 0.5, as the mix
    assert _sources(folder) == _sources(mix.data_dir)   # the same shape images
    # each artist image shown as often as in the 1st result; shapes in the mix's ratio
    assert cond.cfg.epochs * n_art == alone.cfg.epochs * 8 == mix.cfg.epochs * 8
    assert cond.cfg.sg_cond is True and cond.cfg.sg_cond_class == "artist"
    assert cond.first_wave and cond.cfg.augment == alone.cfg.augment
    # the other stages' runs are those of a plan without it
    before = {j.stage: j.run_dir.path for j in _plan(sets, tmp_path, ("alone", "mix"))}
    assert {s: plan[s].run_dir.path for s in ("alone", "mix")} == before
    # it trains on the labelled folder and samples the artist class
    cond = replace(cond, cfg=engine.make_config(**{**cond.cfg.to_dict(), "epochs": 1}))
    res = train_shape_learning([cond], scheduler="serial", progress=False)["artist", 0]["cond"]
    assert res.status == "finished"
    saved = json.loads((res.run_dir / "config.json").read_text())
    assert saved["data"]["classes"] == ["artist", "shapes"] and saved["data"]["n_images"] == 16
    run = engine.load_run(res.run_dir)
    assert run.config.options.class_index == 0 and run.sample(2, seed=0).shape == (2, 3, 32, 32)


def test_cond_stage_needs_a_conditional_model(sets, tmp_path):
    with pytest.raises(ValueError, match="stage 'cond' needs a class-conditional model"):
        _plan(sets, tmp_path, ("cond",), model="dcgan")
    with pytest.raises(ValueError, match="unknown stage"):
        _plan(sets, tmp_path, ("bogus",))


def test_planned_cost_counts_shared_runs_once(sets, tmp_path):
    """Two artists of one size, all stages: the control adds only its extension, the
    pre-training is trained once for both artists, and the cost is kimg x the model's rate."""
    other = tmp_path / "other"
    data.build_artist_set(other, "geometric", n=8, res=32, seed=0)
    plan = plan_shape_learning("smoke", {"artist": sets / "artist", "other": other},
                               sets / "shapes", (0,), tmp_path / "runs",
                               ("alone", "longer", "finetune", "cond"),
                               mixes_dir=tmp_path / "mixes", model="stylegan2", epochs=2)
    cost = paper_b.planned_cost(plan, "smoke").set_index(["arm", "artist"])
    assert sorted(set(cost.index.get_level_values("arm"))) == [
        "alone", "cond", "finetune", "longer", "pretrain"]
    k = 2 * 8 / 1000                                     # 2 epochs of 8 artist images
    assert cost.loc[("alone", "artist"), "kimg"] == pytest.approx(k)
    assert cost.loc[("longer", "artist"), "kimg"] == pytest.approx(2 * k)
    assert cost.loc[("longer", "artist"), "kimg_trained"] == pytest.approx(k)
    assert cost.loc[("cond", "artist"), "kimg"] == pytest.approx(2 * k)   # artist + shapes
    pre = cost.xs("pretrain", level="arm")
    assert pre.kimg_trained.tolist() == [pre.kimg.iloc[0], 0.0]          # once, for both
    assert "the pre-training of artist" in pre.shared.iloc[1]
    rate = get_model("stylegan2").seconds_per_kimg["smoke"]
    assert (cost.s_per_kimg == rate).all()
    assert cost.core_min.sum() == pytest.approx(cost.kimg_trained.sum() * rate / 60)
