"""The mix arm's face/shape kind classifier (paperlib.paper_b.kind): it separates a toy artist
set from a toy shape set on the Inception features, it is the logistic regression it says it
is, it is deterministic, the artist-kind subset is exactly the samples it calls the artist's,
and a subset under the minimum size has NaN FID/KID; notebook 01's rows, checks and figures
around it."""
from __future__ import annotations

import math
from types import SimpleNamespace as NS

import numpy as np
import pandas as pd
import pytest
import torch

from paperlib import data, engine, metrics, paper_b
from paperlib.paper_b import checks, kind
from paperlib.paper_b.kind import MIX_KIND


class FakeExtractor:
    """Cheap stand-in for the Inception extractor: 4x4 average-pooled pixels (48-D)."""

    key = "fake-avgpool4"

    def __init__(self):
        self.calls = 0

    def __call__(self, images, progress=None):
        x = torch.as_tensor(images)
        x = x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x.float()
        self.calls += 1
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1).double().numpy()


def _blobs(n_a=40, n_s=60, d=12, shift=2.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(shift, 1.0, (n_a, d)), rng.normal(0.0, 1.0, (n_s, d))


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Tiny stand-ins at 32 px: donglein (25, split 20/5) and shapes (30)."""
    root = tmp_path_factory.mktemp("kind_sets")
    data.build_artist_set(root / "artist_donglein", "donglein", n=25, res=32, seed=0)
    data.build_shape_set(root / "shapes", n=30, res=32, seed=0)
    split = data.split_held_out(root / "artist_donglein", 0.2, seed=0, out_root=root)
    return root, split


# ----------------------------------------------------------------------------- the classifier
@pytest.mark.learning
def test_classifier_separates_a_toy_artist_from_toy_shapes_on_inception_features(sets,
                                                                                  tmp_path):
    """Trained on the artist's training part and 24 of the 30 shapes (the FID extractor's
    features), it calls the artist's 5 held-out images artist and the 6 held-out shapes
    shape."""
    root, split = sets
    ex = metrics.get_extractor("cpu")
    clf = kind.train_kind_classifier(split.train, split.held_out, root / "shapes", 32,
                                     extractor=ex, cache_dir=tmp_path)
    h = clf.held_out
    assert (h["n_artist"], h["n_shape"], h["n_train_artist"], h["n_train_shape"]) == \
        (5, 6, 20, 24)
    assert h["balanced_accuracy"] >= 0.9 and h["train_accuracy"] == 1.0, h
    # the same features again (cached): the same classifier
    again = kind.train_kind_classifier(split.train, split.held_out, root / "shapes", 32,
                                       extractor=ex, cache_dir=tmp_path)
    assert again.key == clf.key and again.held_out == h


def test_fit_is_balanced_l2_logistic_regression():
    """The optimum of the stated objective: scikit-learn's LogisticRegression(C=1,
    class_weight="balanced") on the standardised features, where it is installed; the
    gradient vanishes there either way."""
    a, s = _blobs(shift=0.4)
    clf = kind.fit_kind_classifier(a, s)
    x = np.concatenate([a, s])
    z = (x - x.mean(0)) / x.std(0)
    y = np.r_[np.ones(len(a)), -np.ones(len(s))]
    sw = np.r_[np.full(len(a), 0.5 / len(a)), np.full(len(s), 0.5 / len(s))]
    m = y * (z @ clf.weights + clf.bias)
    g = -y * (1 / (1 + np.exp(m))) * sw
    grad = np.append(z.T @ g + clf.weights / len(x), g.sum())
    assert np.abs(grad).max() < 1e-6
    sklearn = pytest.importorskip("sklearn.linear_model")
    ref = sklearn.LogisticRegression(C=1.0, class_weight="balanced", tol=1e-10,
                                     max_iter=10000).fit(z, y > 0)
    np.testing.assert_allclose(clf.weights, ref.coef_[0], atol=1e-4)
    np.testing.assert_allclose(clf.p_artist(x), ref.predict_proba(z)[:, 1], atol=1e-5)


def test_rule_accuracy_and_determinism():
    a, s = _blobs()
    clf = kind.fit_kind_classifier(a, s)
    p = clf.p_artist(np.concatenate([a, s]))
    np.testing.assert_array_equal(clf.is_artist(np.concatenate([a, s])), p >= 0.5)
    ta, ts = _blobs(seed=1)
    acc = kind.kind_accuracy(clf, ta, ts)
    assert acc["balanced_accuracy"] > 0.95 and acc["n_artist"] == 40 and acc["n_shape"] == 60
    assert acc["balanced_accuracy"] == (acc["accuracy_artist"] + acc["accuracy_shape"]) / 2
    # deterministic: the same data, the same numbers and key; other data, another key
    twin = kind.fit_kind_classifier(a.copy(), s.copy())
    assert np.array_equal(twin.weights, clf.weights) and twin.bias == clf.bias
    assert twin.key == clf.key and len(clf.key) == 16
    assert kind.fit_kind_classifier(a, s[1:]).key != clf.key
    tr, ho = kind.shape_split(30)
    tr2, ho2 = kind.shape_split(30)
    assert np.array_equal(tr, tr2) and np.array_equal(ho, ho2) and len(ho) == 6
    assert sorted(np.r_[tr, ho].tolist()) == list(range(30))
    assert not np.array_equal(ho, kind.shape_split(30, seed=1)[1])
    with pytest.raises(ValueError):
        kind.fit_kind_classifier(a, s[:, :3])
    with pytest.raises(ValueError):
        kind.fit_kind_classifier(a[:0], s)
    with pytest.raises(ValueError):
        clf.p_artist(a[:, :3])


def test_train_kind_classifier_uses_training_data_only(sets, tmp_path):
    """The artist's held-out part and the held-out shape slice serve only the report; the
    classifier is the fit on the training part and the other shapes."""
    root, split = sets
    ex = FakeExtractor()
    clf = kind.train_kind_classifier(split.train, split.held_out, root / "shapes", 32,
                                     extractor=ex, cache_dir=tmp_path)
    a = metrics.real_features(split.train, 32, ex, cache_dir=tmp_path)
    s = metrics.real_features(root / "shapes", 32, ex, cache_dir=tmp_path)
    tr, ho = kind.shape_split(len(s))
    assert clf.key == kind.fit_kind_classifier(a, s[tr]).key
    held = metrics.real_features(split.held_out, 32, ex, cache_dir=tmp_path)
    assert {k: clf.held_out[k] for k in ("accuracy_artist", "accuracy_shape")} == \
        {k: kind.kind_accuracy(clf, held, s[ho])[k] for k in ("accuracy_artist",
                                                              "accuracy_shape")}
    capped = kind.train_kind_classifier(split.train, split.held_out, root / "shapes", 32,
                                        extractor=ex, cache_dir=tmp_path, max_shapes=20)
    assert capped.held_out["n_train_shape"] + capped.held_out["n_shape"] == 20


# ----------------------------------------------------------------------------- the subset
def _images(n, seed=0):
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_subset_is_exactly_the_samples_called_artist():
    a, s = _blobs(d=8)
    clf = kind.fit_kind_classifier(a, s)
    rng = np.random.default_rng(3)
    feats = np.concatenate([rng.normal(2.0, 1.0, (25, 8)), rng.normal(0.0, 1.0, (15, 8))])
    feats = feats[rng.permutation(40)]
    images, real = _images(40), rng.normal(2.0, 1.0, (30, 8))
    keep = clf.is_artist(feats)
    assert 20 <= keep.sum() < 40
    out = kind.kind_subset_metrics(images, feats, real, keep, (2, 4), kid_seed=5)
    want = paper_b.stage_metrics(images[torch.as_tensor(np.flatnonzero(keep))],
                                 feats[keep], real, (2, 4), kid_seed=5)
    assert {k: out[k] for k in want} == pytest.approx(want, nan_ok=True)
    assert out["n"] == keep.sum() and out["n_all"] == 40 and out["kind_note"] == ""
    assert out["kind_share"] == keep.sum() / 40
    # every sample kept: the mix's own metrics
    every = kind.kind_subset_metrics(images, feats, real, np.ones(40, bool), (2, 4))
    assert {k: every[k] for k in want} == pytest.approx(
        paper_b.stage_metrics(images, feats, real, (2, 4)), nan_ok=True)
    with pytest.raises(ValueError):
        kind.kind_subset_metrics(images, feats, real, keep[:-1])


def test_subset_under_the_minimum_has_nan_fid_and_kid():
    rng = np.random.default_rng(0)
    feats, real, images = rng.normal(size=(30, 8)), rng.normal(size=(30, 8)), _images(30)
    assert kind.MIN_SUBSET == 20
    for k in (19, 20):
        keep = np.arange(30) < k
        out = kind.kind_subset_metrics(images, feats, real, keep)
        assert out["n"] == k and out["min_subset"] == 20
        assert np.isfinite([out["fid"], out["kid"]]).all() == (k >= 20)
        assert np.isfinite(out["main_score"]) and np.isfinite(out["diversity"])
        assert (out["kind_note"] == "") == (k >= 20)
    small = kind.kind_subset_metrics(images, feats, real, np.arange(30) < 3, min_n=4)
    assert math.isnan(small["kid"]) and "under the minimum 4" in small["kind_note"]
    none = kind.kind_subset_metrics(images, feats, real, np.zeros(30, bool))
    assert none["n"] == 0 and none["kind_share"] == 0
    assert all(math.isnan(none[c]) for c in ("fid", "kid", "main_score", "form_score",
                                             "diversity"))


def test_evaluate_kind_subset_scores_the_mix_rows_images(sets, tmp_path):
    """On a real (tiny) run: the subset comes from the very images evaluate_stage scores
    (a classifier that calls every sample artist reproduces its metrics), cached."""
    root, split = sets
    cfg = engine.profile_config("smoke", "dcgan", "paper", 0, epochs=1)
    run = engine.train_cached(cfg, split.train, tmp_path / "runs", progress=False)
    ex, cache = FakeExtractor(), tmp_path / "cache"
    d = 48
    everyone = kind.KindClassifier(np.zeros(d), np.ones(d), np.zeros(d), 1.0)
    nobody = kind.KindClassifier(np.zeros(d), np.ones(d), np.zeros(d), -1.0)
    kw = dict(inner_counts=(2, 4), extractor=ex, cache_dir=cache, reference_dir=split.held_out)
    whole = paper_b.evaluate_stage(run.run_dir, split.train, 6, **kw)
    sub = kind.evaluate_kind_subset(run.run_dir, split.train, 6, everyone, min_n=2, **kw)
    assert {k: sub[k] for k in whole} == pytest.approx(whole, nan_ok=True)
    assert sub["n_all"] == 6 and sub["kind_share"] == 1.0
    calls = ex.calls
    assert kind.evaluate_kind_subset(run.run_dir, split.train, 6, everyone, min_n=2,
                                     **kw) == sub
    assert ex.calls == calls                                   # cached in run_dir/eval
    empty = kind.evaluate_kind_subset(run.run_dir, split.train, 6, nobody, **kw)
    assert empty["n"] == 0 and math.isnan(empty["fid"]) and empty["n_all"] == 6
    imgs = kind.kind_samples(run, everyone, ex, n=4, pool=8)
    assert imgs.shape == (4, 3, 32, 32) and len(kind.kind_samples(run, nobody, ex)) == 0


# ----------------------------------------------------------------------------- notebook 01
def _res(run_dir, epochs):
    return NS(run_dir=run_dir, epochs_done=epochs, status="finished")


def _row(n=8, fid=100.0, **kw):
    return {"n": n, "fid": fid, "kid": 0.1, "diversity": 1.0, "main_score": 0.5,
            "inner_score": 0.3, "inner_count_ok": 0.3, "form_median": 0.5, "form_score": 0.5,
            "form_measure": "face", **kw}


def test_per_run_puts_the_kind_row_after_each_mix_row():
    splits = {"a": NS(), "b": NS()}
    runs = {(n, s): {"alone": _res("long", 2), "mix": _res(f"{n}-mix{s}", 3)}
            for n in splits for s in (0, 1)}
    seen = []

    def subset(name, run_dir, epoch=None):
        seen.append((name, run_dir, epoch))
        return _row(n=3, fid=math.nan, n_all=8, kind_share=3 / 8, min_subset=20)

    df = paper_b.shape_learning_per_run(splits, (0, 1), ("alone", "mix"), runs, {},
                                        lambda *a: _row(), lambda *a: _row(), subset)
    assert list(df[df.artist == "a"].stage) == ["training data", "alone", "mix", MIX_KIND,
                                                "alone", "mix", MIX_KIND]
    assert seen == [(n, f"{n}-mix{s}", 3) for n in splits for s in (0, 1)]
    plain = paper_b.shape_learning_per_run(splits, (0,), ("alone", "mix"), runs, {},
                                           lambda *a: _row(), lambda *a: _row())
    assert MIX_KIND not in set(plain.stage)
    assert paper_b.with_kind_stage(("alone", "mix", "cond")) == ("alone", "mix", MIX_KIND,
                                                                 "cond")
    assert paper_b.with_kind_stage(("alone", "cond")) == ("alone", "cond")


def _notebook_tables(n_kind=5, kind_fid=math.nan):
    rows = [{"artist": "artist_donglein", "stage": "training data", "seed": None,
             **_row(fid=10.0, main_score=0.8, inner_count_ok=0.5, form_median=0.8)}]
    for s in (0, 1):
        for st in ("alone", "longer", "finetune", "cond", "mix"):
            rows.append({"artist": "artist_donglein", "stage": st, "seed": s, **_row()})
            if st == "mix":
                rows.append({"artist": "artist_donglein", "stage": MIX_KIND, "seed": s,
                             **_row(n=n_kind, fid=kind_fid, n_all=8, kind_share=n_kind / 8,
                                    min_subset=20, kid=kind_fid)})
    per_run = paper_b.with_gate(pd.DataFrame(rows), key="stage", fid_limit=math.inf)
    per_run = paper_b.with_diversity_gap(per_run, key="stage")
    return per_run


def test_kind_rows_enter_the_summary_and_markdown_but_no_verdict():
    stages = ("alone", "longer", "finetune", "cond", "mix")
    per_run = _notebook_tables()
    verdicts = paper_b.shape_learning_verdicts(per_run, paper_b.with_kind_stage(stages))
    assert MIX_KIND not in set(verdicts.stage) and "mix" in set(verdicts.stage)
    explained = paper_b.explanation_table(verdicts)
    checks.check_shape_learning_tables(per_run, verdicts, explained,
                                       artists=["artist_donglein"], seeds=(0, 1),
                                       stages=stages, augments=(), augment_seeds=(0,),
                                       n_eval=8)
    summary = paper_b.stage_summary(per_run, paper_b.with_kind_stage(stages),
                                    ["main_score", "fid", "kind_share"])
    row = summary[summary.stage == MIX_KIND].iloc[0]
    assert list(summary.stage).index(MIX_KIND) == list(summary.stage).index("mix") + 1
    assert row.n_seeds == 2 and row.kind_share == 5 / 8 and math.isnan(row.fid)
    with pytest.raises(ValueError, match="named 'n'"):   # n_seeds would be overwritten
        paper_b.stage_summary(per_run, stages, ["main_score", "n"])
    md = paper_b.shape_learning_markdown(per_run, verdicts, paper_b.with_kind_stage(stages),
                                         profile="smoke", model="m", res=32, augment="a",
                                         seeds=(0, 1), n_eval=8)
    line = next(x for x in md.splitlines() if x.strip().startswith(f"- {MIX_KIND}:"))
    assert "5.0 of 8 samples per seed called the artist's kind" in line
    assert "only from 20 such samples" in line and "in no verdict" in line
    clfs = {"artist_donglein": kind.KindClassifier(np.zeros(2), np.ones(2), np.zeros(2), 0.0,
                                                   {"balanced_accuracy": 0.97})}
    table = paper_b.kind_table(clfs, per_run)
    assert table.iloc[0].mix_share == 5 / 8 and table.iloc[0].balanced_accuracy == 0.97
    assert table.iloc[0].mix_share_seeds == "0.625; 0.625"
    assert math.isnan(paper_b.kind_table(clfs).iloc[0].mix_share)   # before any sample


def test_check_shape_learning_tables_wants_the_kind_rows_where_the_mix_ran():
    stages = ("alone", "longer", "finetune", "cond", "mix")
    kw = dict(artists=["artist_donglein"], seeds=(0, 1), stages=stages, augments=(),
              augment_seeds=(0,), n_eval=8)
    per_run = _notebook_tables()
    verdicts = paper_b.shape_learning_verdicts(per_run, stages)
    explained = paper_b.explanation_table(verdicts)
    fail = checks.NotebookCheckFailed
    with pytest.raises(fail, match="rows"):
        checks.check_shape_learning_tables(per_run[per_run.stage != MIX_KIND], verdicts,
                                           explained, **kw)
    with pytest.raises(fail, match="finite exactly from it"):   # a small subset's FID
        checks.check_shape_learning_tables(_notebook_tables(kind_fid=50.0), verdicts,
                                           explained, **kw)
    big = _notebook_tables(n_kind=8, kind_fid=50.0)
    big.loc[big.stage == MIX_KIND, "min_subset"] = 8
    checks.check_shape_learning_tables(big, verdicts, explained, **kw)
    bad = per_run.copy()
    bad.loc[bad.stage == MIX_KIND, "n_all"] = 7
    with pytest.raises(fail, match="not a subset of 8"):
        checks.check_shape_learning_tables(bad, verdicts, explained, **kw)
    with pytest.raises(fail, match="entered a verdict"):
        checks.check_shape_learning_tables(
            per_run, pd.concat([verdicts, verdicts.iloc[:1].assign(stage=MIX_KIND)]),
            explained, **kw)


def test_figures_show_the_kind_panel(tmp_path):
    import matplotlib
    matplotlib.use("Agg")

    from paperlib import plots
    data.build_artist_set(tmp_path / "held", "donglein", n=4, res=32, seed=0)
    splits = {"a": NS(held_out=tmp_path / "held"), "b": NS(held_out=tmp_path / "held")}
    fig = plots.stage_samples_figure(splits, {}, {}, (MIX_KIND,), (), (0,), (0,), 32, "t",
                                     extra={MIX_KIND: {"a": _images(3), "b": _images(0)}})
    axes = fig.axes
    assert axes[1].get_title() == "mix, artist-kind samples" and axes[1].images
    assert not axes[3].axison and "none among" in axes[3].texts[0].get_text()
    per_run = _notebook_tables()
    fig = plots.stage_metrics_figure(per_run, ["artist_donglein"],
                                     paper_b.with_kind_stage(("alone", "mix")), [])
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["1st result", "mix (secondary)", "mix, artist-kind samples"]
