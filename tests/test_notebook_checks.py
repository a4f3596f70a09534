"""What notebooks 01 and 05 assemble and check, as functions: the per-seed tables built from
evaluation callables (synthetic here) and the checks, which pass on good results and raise
on bad ones."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pandas as pd
import pytest

from paperlib import paper_b
from paperlib.paper_b import checks


def _evaluate(name, run_dir, epoch=None):
    return {"run": str(run_dir), "epoch": epoch, "n": 4}


def _floor(name, sp):
    return {"run": "floor", "epoch": None, "n": 4}


def _res(run_dir, epochs, status="finished"):
    return NS(run_dir=Path(run_dir), epochs_done=epochs, status=status)


# ----------------------------------------------------------------------------- table assembly
def test_curation_per_seed_rows():
    splits = {"a": NS(), "b": NS()}
    base = {(n, s): {"alone": _res(f"{n}{s}-long", 2), "mix": _res(f"{n}{s}-mix", 3),
                     "longer": _res(f"{n}{s}-long", 4)} for n in splits for s in (0, 1)}
    loops = {(n, s): {"models": [f"{n}{s}-mix", f"{n}{s}-r0"]} for n in splits for s in (0, 1)}
    controls = {(n, s): {"run_dir": f"{n}{s}-ctrl"} for n in splits for s in (0, 1)}
    t1 = paper_b.curation_per_seed(splits, (0, 1), base, loops, controls, _evaluate, _floor,
                                   family="F", shape_stage="mix", pretrain_column=False)
    cols = ["1st result", "shape learning", "longer training", "shape learning + technique",
            "control"]
    want = pd.DataFrame(
        [{"artist": n, "column": "training data", "seed": None,
          "model": "held-out real images (floor)", "run": "floor", "epoch": None, "n": 4}
         if c is None else
         {"artist": n, "column": c, "seed": s, "model": "F",
          "run": {"1st result": f"{n}{s}-long", "shape learning": f"{n}{s}-mix",
                  "longer training": f"{n}{s}-long", "shape learning + technique": f"{n}{s}-r0",
                  "control": f"{n}{s}-ctrl"}[c],
          "epoch": {"1st result": 2, "shape learning": 3, "longer training": 4}.get(c), "n": 4}
         for n in splits for s, c in [(None, None)] + [(s, c) for s in (0, 1) for c in cols]])
    pd.testing.assert_frame_equal(t1, want)
    no_ctrl = paper_b.curation_per_seed(splits, (0,), base, loops, None, _evaluate, _floor,
                                        family="F", shape_stage="mix", pretrain_column=False)
    assert "control" not in set(no_ctrl.column) and len(no_ctrl) == 2 * 5
    assert paper_b.model_family("dcgan", 32, 8, "none") == "DCGAN (paper A's engine, 32 px)"


def test_shape_learning_per_run_and_curation_rounds():
    splits = {"a": NS()}
    runs = {("a", 0): {"alone": _res("r-long", 2), "mix": _res("r-mix", 3)}}
    aug = {("a", "ada", 0): _res("r-ada", 2), ("b", "ada", 0): _res("other", 2)}
    df = paper_b.shape_learning_per_run(splits, (0,), ("alone", "mix"), runs, aug, _evaluate,
                                        _floor)
    assert list(df.stage) == ["training data", "alone", "mix", "alone+ada"]
    assert list(df.epoch.fillna(-1)) == [-1, 2, 3, -1] and list(df.run)[-1] == "r-ada"
    loops = {("a", 0): {"models": ["m0", "m1"], "log": {"rounds": [
        {"rating": "auto", "mean_satisfaction": 0.5, "top_mean_satisfaction": 0.9}]}}}
    rounds = paper_b.curation_rounds(loops, {("a", 0): {"run_dir": "c"}}, _evaluate)
    assert list(rounds["round"]) == ["start", "0", "control"]
    assert list(rounds.rating) == ["auto", "-", "-"] and list(rounds.run) == ["m0", "m1", "c"]
    assert rounds.mean_satisfaction.iloc[0] == 0.5 and np.isnan(rounds.mean_satisfaction.iloc[1])
    assert len(paper_b.curation_rounds(loops, None, _evaluate)) == 2


# ----------------------------------------------------------------------------- notebook 01
def _per_run(artists=("artist_donglein",), stages=("alone", "longer", "finetune", "cond"),
             seeds=(0, 1)):
    rows = []
    for a in artists:
        rows.append({"artist": a, "stage": "training data", "seed": None, "n": 8, "fid": 10.0,
                     "kid": 0.0, "diversity": 1.0, "main_score": 0.8, "inner_count_ok": 0.5,
                     "draws": True})
        for s in seeds:
            for st in stages:
                rows.append({"artist": a, "stage": st, "seed": s, "n": 8, "fid": 100.0,
                             "kid": 0.1, "diversity": 1.0, "main_score": 0.5,
                             "inner_count_ok": 0.3, "draws": True})
    return pd.DataFrame(rows)


def _verdicts(n_artists=1):
    """Two deciding arms, each against the 1st result and the control: 4 primary rows."""
    return pd.DataFrame({"verdict": ["supported", "not supported"] * 2 * n_artists,
                         "primary": [True, True] * 2 * n_artists})


TABLE_KW = dict(artists=["artist_donglein"], seeds=(0, 1),
                stages=("alone", "longer", "finetune", "cond"), augments=(), augment_seeds=(0,),
                n_eval=8)


def test_check_shape_learning_tables():
    per_run, verdicts, explained = _per_run(), _verdicts(), pd.DataFrame({"x": [1, 2]})
    checks.check_shape_learning_tables(per_run, verdicts, explained, **TABLE_KW, calibrated=True)
    with pytest.raises(checks.NotebookCheckFailed, match="two primary comparisons per deciding"):
        checks.check_shape_learning_tables(per_run, verdicts.iloc[:3], explained, **TABLE_KW)
    with pytest.raises(checks.NotebookCheckFailed, match="one explanation per arm"):
        checks.check_shape_learning_tables(per_run, verdicts, explained.iloc[:1], **TABLE_KW)
    bad = per_run.copy()
    bad.loc[3, "fid"] = 5.0           # a model beats the real images
    with pytest.raises(checks.NotebookCheckFailed, match="beats the training data"):
        checks.check_shape_learning_tables(bad, verdicts, explained, **TABLE_KW)
    with pytest.raises(checks.NotebookCheckFailed, match="rows, not"):
        checks.check_shape_learning_tables(per_run.iloc[:-1], verdicts, explained, **TABLE_KW)
    bad = per_run.copy()
    bad.loc[2, "kid"] = np.nan
    with pytest.raises(checks.NotebookCheckFailed, match="non-finite"):
        checks.check_shape_learning_tables(bad, verdicts, explained, **TABLE_KW)
    with pytest.raises(checks.NotebookCheckFailed, match="unknown verdicts"):
        checks.check_shape_learning_tables(per_run, verdicts.replace("supported", "maybe"),
                                           explained, **TABLE_KW)
    undrawn = per_run.copy()
    undrawn["draws"] = False
    checks.check_shape_learning_tables(undrawn, verdicts, explained, **TABLE_KW)  # not calibrated
    with pytest.raises(checks.NotebookCheckFailed, match="draws in 0 seeds"):
        checks.check_shape_learning_tables(undrawn, verdicts, explained, **TABLE_KW,
                                           calibrated=True)


def _run(tmp, name, model="stylegan2", source=None, **cfg):
    d = tmp / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({"config": {"model": model, **cfg},
                                               "data": {"source": str(source or tmp)}}))
    return d


def _split(tmp):
    src, train, held = tmp / "src", tmp / "train", tmp / "held"
    for d, shas in ((train, ["a", "b"]), (held, ["c"])):
        d.mkdir()
        (d / "manifest.json").write_text(json.dumps(
            {"images": [{"recipe": {"source_sha256": s}} for s in shas]}))
    src.mkdir()
    for i in range(3):
        (src / f"{i}.png").write_bytes(b"")
    return NS(train=train, held_out=held, source=src)


def test_check_shape_learning_runs(tmp_path):
    sp = _split(tmp_path)
    long_ = _run(tmp_path, "long", source=sp.train)
    mix = _run(tmp_path, "mix", source=tmp_path / "mixset")
    runs = {("x", 0): {"alone": _res(long_, 2), "mix": _res(mix, 3), "longer": _res(long_, 4)}}
    used = {"x": {"alone": 2, "mix": 3, "longer": 4}}
    checks.check_shape_learning_runs(runs, {}, {"x": sp}, used, "stylegan2")
    with pytest.raises(checks.NotebookCheckFailed, match="epochs, not"):
        checks.check_shape_learning_runs(runs, {}, {"x": sp}, {"x": {**used["x"], "mix": 5}},
                                         "stylegan2")
    with pytest.raises(checks.NotebookCheckFailed, match="model stylegan2, not dcgan"):
        checks.check_shape_learning_runs(runs, {}, {"x": sp}, used, "dcgan")
    leak = _run(tmp_path, "leak", source=sp.held_out)
    with pytest.raises(checks.NotebookCheckFailed, match="trained on"):
        checks.check_shape_learning_runs({("x", 0): {**runs["x", 0], "mix": _res(leak, 3)}},
                                         {}, {"x": sp}, used, "stylegan2")
    with pytest.raises(checks.NotebookCheckFailed, match="augmentation run"):
        checks.check_shape_learning_runs(runs, {("x", "ada", 0): _res(long_, 2, "failed")},
                                         {"x": sp}, used, "stylegan2")
    (sp.source / "3.png").write_bytes(b"")
    with pytest.raises(checks.NotebookCheckFailed, match="loses source images"):
        checks.check_shape_learning_runs(runs, {}, {"x": sp}, used, "stylegan2")


def test_check_figures(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    checks.check_figures(tmp_path, ["a.csv"])
    with pytest.raises(checks.NotebookCheckFailed, match="no b.png"):
        checks.check_figures(tmp_path, ["a.csv", "b.png"])


# ----------------------------------------------------------------------------- notebook 05
def _curation_case(tmp):
    root = tmp / "runs"
    long_, mix = _run(root, "long"), _run(root, "mix")
    r0, ctrl = _run(root, "r0"), _run(root, "ctrl")
    base = {("artist_donglein", 0): {"alone": _res(long_, 2), "mix": _res(mix, 3),
                                     "longer": _res(long_, 4)}}
    loops = {("artist_donglein", 0): {"models": [mix, r0], "runs": [r0]}}
    controls = {("artist_donglein", 0): {"run_dir": ctrl, "status": "finished",
                                         "epochs_done": 3}}
    cols = ["training data", "1st result", "shape learning", "longer training",
            "shape learning + technique", "control"]
    table1 = pd.DataFrame({"artist": "artist_donglein", "column": cols, "n_seeds": [0] + [1] * 5})
    t1 = pd.DataFrame({"artist": "artist_donglein", "column": cols, "n": 8,
                       "main_score": 0.5, "fid": [10.0] + [100.0] * 5, "kid": 0.1,
                       "diversity": 1.0})
    verdicts = pd.DataFrame({"verdict": ["supported"] * 5})   # 4 + the KID claim
    kw = dict(model="stylegan2", shape_stage="mix", root=root,
              loop_dirs={("artist_donglein", 0): root / "curation" / "loop"},
              control_epochs={"artist_donglein": 3}, artists=["artist_donglein"], seeds=(0,),
              epochs=2, n_eval=8, pretrain_column=False, control=True, calibrated=True)
    return (loops, controls, base, table1, t1, verdicts), kw


def test_check_curation_notebook(tmp_path):
    args, kw = _curation_case(tmp_path)
    checks.check_curation_notebook(*args, **kw)
    loops, controls, base, table1, t1, verdicts = args
    with pytest.raises(checks.NotebookCheckFailed, match="the loop starts from"):
        checks.check_curation_notebook(*args, **{**kw, "shape_stage": "alone"})
    with pytest.raises(checks.NotebookCheckFailed, match="is not under"):
        checks.check_curation_notebook(*args, **{**kw, "loop_dirs": {
            ("artist_donglein", 0): tmp_path / "elsewhere"}})
    with pytest.raises(checks.NotebookCheckFailed, match="control"):
        checks.check_curation_notebook(*args, **{**kw, "control_epochs": {"artist_donglein": 9}})
    with pytest.raises(checks.NotebookCheckFailed, match="Table 1 has 6 rows, not 7"):
        checks.check_curation_notebook(*args, **{**kw, "pretrain_column": True})
    with pytest.raises(checks.NotebookCheckFailed, match="alone read at 2"):
        checks.check_curation_notebook(*args, **{**kw, "epochs": 3})
    with pytest.raises(checks.NotebookCheckFailed, match="4 claims, not 5"):
        checks.check_curation_notebook(loops, controls, base, table1, t1, verdicts.iloc[:4], **kw)
    # the 2 x 2's row on the 1st result: two more columns and two more claims
    with pytest.raises(checks.NotebookCheckFailed, match="Table 1 has 6 rows, not 8"):
        checks.check_curation_notebook(*args, **{**kw, "first_row": True})
    bad = t1.copy()
    bad.loc[1, "fid"] = 350.0
    checks.check_curation_notebook(loops, controls, base, table1, bad,
                                   verdicts, **{**kw, "calibrated": False})
    with pytest.raises(checks.NotebookCheckFailed, match="FID is 350"):
        checks.check_curation_notebook(loops, controls, base, table1, bad, verdicts, **kw)


# ----------------------------------------------------------------------------- notebook 01b
def test_conditional_per_seed_rows():
    splits = {"a": NS()}
    p2p = {("a", 0): _res("p0", 5), ("a", 1): _res("p1", 5)}
    sg = {("a", s): {"alone": _res(f"al{s}", 2), "mix": _res(f"mx{s}", 3)} for s in (0, 1)}
    df = paper_b.conditional_per_seed(
        splits, (0, 1), p2p, sg, ("alone", "mix"), lambda n, sp: {"run": "floor"},
        lambda n, run_dir, feats: {"run": f"{run_dir}:{feats}"},
        lambda n, res: {"run": str(res.run_dir), "epoch": res.epochs_done})
    C = paper_b.conditional.CONDITIONAL_COLUMNS
    assert list(df.column) == [C["floor"]] + [C[k] for k in ("p2p", "p2p_gt", "alone", "mix")] * 2
    assert list(df.model) == ["real"] + ["Pix2pixHD"] * 2 + ["StyleGAN2-ADA"] * 2 + \
        ["Pix2pixHD"] * 2 + ["StyleGAN2-ADA"] * 2
    assert list(df.run) == ["floor", "p0:clusters", "p0:gt", "al0", "mx0", "p1:clusters",
                            "p1:gt", "al1", "mx1"]


def test_check_conditional(tmp_path):
    sp = _split(tmp_path)
    p2p = {("x", 0): _res(_run(tmp_path, "p2p", model="pix2pixhd", source=sp.train,
                               vgg_weights=None), 5)}
    cfg = json.loads((tmp_path / "p2p" / "config.json").read_text())
    cfg["data"]["map_source"] = "recipe"
    (tmp_path / "p2p" / "config.json").write_text(json.dumps(cfg))
    sg = {("x", 0): {"alone": _res(tmp_path / "sg", 2)}}
    per_seed = pd.DataFrame({"artist": "x", "model": ["real", "Pix2pixHD", "StyleGAN2-ADA"],
                             "column": ["floor", "p2p", "alone"], "n": 4})
    verdicts = pd.DataFrame({"verdict": ["supported"]})
    kw = dict(p2p_epochs={"x": 5}, seeds=(0,), n_columns=2, recipe_maps=True,
              profile_name="smoke")
    checks.check_conditional(p2p, sg, {"x": sp}, per_seed, verdicts, **kw)
    with pytest.raises(checks.NotebookCheckFailed, match="epochs, not 6"):
        checks.check_conditional(p2p, sg, {"x": sp}, per_seed, verdicts,
                                 **{**kw, "p2p_epochs": {"x": 6}})
    with pytest.raises(checks.NotebookCheckFailed, match="rows per generated column"):
        checks.check_conditional(p2p, sg, {"x": sp}, per_seed, verdicts,
                                 **{**kw, "n_columns": 3})
    with pytest.raises(checks.NotebookCheckFailed, match="different numbers of images"):
        checks.check_conditional(p2p, sg, {"x": sp}, per_seed.assign(n=[4, 4, 5]), verdicts, **kw)
    with pytest.raises(checks.NotebookCheckFailed, match="cpu: seeds"):
        checks.check_conditional(p2p, sg, {"x": sp}, per_seed, verdicts,
                                 **{**kw, "profile_name": "cpu"})
    with pytest.raises(checks.NotebookCheckFailed, match="trained on"):
        checks.check_conditional({("x", 0): _res(_run(tmp_path, "p2p2", model="pix2pixhd",
                                                      source=sp.held_out, vgg_weights=None), 5)},
                                 sg, {"x": sp}, per_seed, verdicts, **kw)


# ----------------------------------------------------------------------------- notebook 06
def test_check_evaluation():
    from paperlib.paper_a import checks as a_checks

    per_run = pd.DataFrame({"fid": [50.0, 60.0], "kid": 0.01, "precision": 0.5, "recall": 0.4,
                            "n_fake": 16, "n_real": 20, "config": "paper",
                            "epochs_trained": 200, "gate": [True, False],
                            "curve_fid": [40.0, 70.0]})
    audit = pd.DataFrame({"verdict": ["supported", "supported (larger than the paper's effect)"],
                          "scale": "32 px", "reason": "why", "measure": ["window", "ratio"],
                          "horizon": [200, None], "primary": True})
    k1, k2 = ("dcgan", "paper", 0), ("dcgan", "paper", 1)
    curves = {k1: [{"epoch": 1}, {"epoch": 2}], k2: [{"epoch": 2}]}
    best = {k1: {"epoch": 2}, k2: {"epoch": 2}}
    ckpts = {k1: [1, 2], k2: [1, 2]}
    floor = {"fid": 10.0, "kid": 0.0, "n": 8}
    gate = NS(fid=45.0)
    kw = dict(n_runs=2, n_fake=16, n_real=20, n_fake_curve=8, first_key=k1, seeds=(0, 1, 2),
              profile_name="cpu")
    args = (per_run, audit, curves, best, ckpts, floor, gate)
    a_checks.check_evaluation(*args, **kw)
    fail = a_checks.EvaluationCheckFailed
    with pytest.raises(fail, match="not 3 runs"):
        a_checks.check_evaluation(*args, **{**kw, "n_runs": 3})
    with pytest.raises(fail, match="was not scored"):
        a_checks.check_evaluation(per_run, audit, curves, {**best, k2: {"epoch": 1}}, ckpts,
                                  floor, gate, **kw)
    with pytest.raises(fail, match="not every checkpoint scored"):
        a_checks.check_evaluation(*args, **{**kw, "first_key": k2})
    with pytest.raises(fail, match="unknown verdicts"):
        a_checks.check_evaluation(per_run, audit.assign(verdict="maybe"), *args[2:], **kw)
    with pytest.raises(fail, match="deciding"):
        a_checks.check_evaluation(per_run, audit.assign(primary=False), *args[2:], **kw)
    with pytest.raises(fail, match="deciding"):
        a_checks.check_evaluation(per_run, audit.drop(columns="measure"), *args[2:], **kw)
    with pytest.raises(fail, match="held-out floor"):
        a_checks.check_evaluation(*args[:5], {**floor, "n": 9}, gate, **kw)
    with pytest.raises(fail, match="no paper-config run passes the gate"):
        a_checks.check_evaluation(*args[:6], NS(fid=30.0), **kw)
    a_checks.check_evaluation(*args[:6], NS(fid=30.0), **{**kw, "profile_name": "smoke"})


def test_metric_bar_figures_draw_one_panel_per_metric():
    import matplotlib
    matplotlib.use("Agg")
    import pandas as pd

    from paperlib import plots
    rows = [dict(artist="a", stage=st, seed=s, main_score=0.5 + 0.1 * s, inner_score=0.4,
                 fid=100.0 - s, kid=0.1) for st in ("alone", "mix") for s in (0, 1)]
    rows.append(dict(artist="a", stage="training data", seed=0, main_score=0.9,
                     inner_score=0.8, fid=20.0, kid=0.0))
    fig = plots.stage_metrics_figure(pd.DataFrame(rows), ["a"], ["alone", "mix"], [])
    assert len(fig.axes) == len(plots.METRIC_PANELS)
    rows = [dict(artist="a", column=c, model="m", seed=s, main_score=0.5, inner_score=0.4,
                 fid=90.0, kid=0.1) for c in ("p2p", "sg", "gt") for s in (0, 1)]
    rows.append(dict(artist="a", column="training data", model="real", seed=0, main_score=0.9,
                     inner_score=0.8, fid=20.0, kid=0.0))
    fig = plots.conditional_metrics_figure(pd.DataFrame(rows), ["a"], ["p2p", "sg"], "gt", "t")
    assert len(fig.axes) == len(plots.METRIC_PANELS)


def test_metric_bars_use_each_set_own_form_measure_and_table_names():
    """Geometric (a disc measure, no inner forms): its first panel plots the form score,
    not the main-form score, its inner-form panel says there is none; x-ticks are the
    tables' names and every drawn panel has a y-label."""
    import matplotlib
    matplotlib.use("Agg")
    import pandas as pd

    from paperlib import plots
    rows = []
    for a, measure in (("donglein", "face"), ("geometric", "discs")):
        inner = 0.4 if measure == "face" else float("nan")
        rows += [dict(artist=a, stage=st, seed=s, main_score=0.1, form_score=0.7,
                      form_measure=measure, inner_score=inner, fid=90.0, kid=0.1)
                 for st in ("alone", "finetune") for s in (0, 1)]
        rows.append(dict(artist=a, stage="training data", seed=0, main_score=0.2,
                         form_score=0.9, form_measure=measure, inner_score=inner, fid=20.0,
                         kid=0.0))
    fig = plots.stage_metrics_figure(pd.DataFrame(rows), ["donglein", "geometric"],
                                     ["alone", "finetune"], [])
    axes = fig.axes
    assert axes[0].get_title() == "donglein: main-form score (higher better)"
    assert axes[4].get_title() == "geometric: form score (higher better)"
    assert [b.get_height() for b in axes[4].patches] == [0.7, 0.7]     # not main_score 0.1
    assert not axes[5].axison and "no inner forms" in axes[5].texts[0].get_text()
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["1st result",
                                                                 "transfer (fine-tuned)"]
    assert all(ax.get_ylabel() for ax in axes if ax.axison)
