"""paperlib.paper_a.replication (notebook 08): the data decision, the fixture it falls back
to, counts and samples per vendor and class, the runs' length, the median seed and the
verdicts beside the stand-in's. No training."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paperlib import config, plots
from paperlib.data import real_emoji as re_
from paperlib.data import real_emoji_fixture as fx
from paperlib.data.folders import read_manifest
from paperlib.paper_a import replication as rep
from paperlib.paper_a.report import AUDIT_COLUMNS

HAVE_CAIRO = re_.cairosvg_available()
needs_cairo = pytest.mark.skipif(not HAVE_CAIRO, reason="cairosvg (extra real-emoji) or "
                                 "libcairo not installed")


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    if not HAVE_CAIRO:
        pytest.skip("cairosvg not installed")
    root = tmp_path_factory.mktemp("real") / "real_emoji"
    fx.build_real_emoji_fixture(root)
    return root


# ----------------------------------------------------------------------------- the decision
@pytest.mark.parametrize("profile, given, installed, cairo, source", [
    ("cpu", True, False, False, "given"),
    ("cpu", False, True, False, "installed"),
    ("smoke", False, True, True, "installed"),       # the real data wins at smoke too
    ("smoke", False, False, True, "fixture"),
    ("smoke", False, False, False, "skip: no cairosvg"),
    ("cpu", False, False, True, "skip: no data"),    # never the fixture outside smoke
    ("paper", False, False, True, "skip: no data"),
])
def test_choose_source(profile, given, installed, cairo, source):
    assert rep.choose_source(profile, given, installed, cairo) == source
    assert source in rep.SOURCES


def test_missing_data_at_cpu_skips_and_says_how_to_get_it(tmp_path):
    real = rep.locate_real_data("cpu", real_root=tmp_path / "nowhere",
                                fixture_root=tmp_path / "fixture")
    assert not real.ok and real.folder is None and real.source == "skip: no data"
    assert "make real-emoji" in real.message and "SKIPPED" in real.message
    assert not (tmp_path / "fixture").exists()      # nothing built, nothing fetched


def test_missing_cairosvg_at_smoke_skips(tmp_path, monkeypatch):
    monkeypatch.setattr(rep.re_, "cairosvg_available", lambda: False)
    real = rep.locate_real_data("smoke", real_root=tmp_path / "nowhere",
                                fixture_root=tmp_path / "fixture")
    assert real.source == "skip: no cairosvg" and not real.ok
    assert "cairosvg" in real.message and "make real-emoji" in real.message
    assert not (tmp_path / "fixture").exists()


def test_a_given_folder_must_hold_images(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no images"):
        rep.locate_real_data("cpu", data_folder=tmp_path)


@needs_cairo
def test_smoke_falls_back_to_the_fixture_and_prefers_installed_data(tmp_path, fixture_root):
    real = rep.locate_real_data("smoke", real_root=tmp_path / "nowhere",
                                fixture_root=tmp_path / "fixture")
    assert real.ok and real.source == "fixture"
    assert real.folder == tmp_path / "fixture" / "combined"
    assert "fixture" in real.message and "make real-emoji" in real.message
    assert read_manifest(real.folder)["count"] == 11
    # a second call reuses the fixture as it is (deterministic tarballs)
    before = (real.folder / "manifest.json").stat().st_mtime_ns
    rep.locate_real_data("smoke", real_root=tmp_path / "nowhere", fixture_root=tmp_path / "fixture")
    assert (real.folder / "manifest.json").stat().st_mtime_ns == before
    # installed data wins, at every profile
    for profile in ("smoke", "cpu"):
        got = rep.locate_real_data(profile, real_root=fixture_root)
        assert got.source == "installed" and got.folder == fixture_root / "combined"


@needs_cairo
def test_the_fixture_is_deterministic_and_marked(tmp_path):
    a = fx.write_fixture_packages(tmp_path / "a")
    b = fx.write_fixture_packages(tmp_path / "b")
    assert [v.integrity for v in a] == [v.integrity for v in b]
    assert all(v.credit.startswith("FIXTURE") for v in a)
    assert [v.name for v in a] == [v.name for v in re_.VENDORS]
    with pytest.raises(ValueError, match="mood"):
        fx.face_svg(mood="sleepy")


# ----------------------------------------------------------------------------- counts, samples
@needs_cairo
def test_counts_per_vendor_and_class_from_the_fixture(fixture_root):
    counts = rep.counts_table(fixture_root / "combined")
    assert list(counts.vendor) == ["openmoji", "fluent", "twemoji", "all"]
    assert list(counts.columns) == ["vendor", "package", "licence", "positive", "negative",
                                    "total", "missing"]
    by = counts.set_index("vendor")
    assert by.loc["openmoji", ["positive", "negative", "total"]].tolist() == [2, 2, 4]
    assert by.loc["twemoji", ["positive", "negative", "total"]].tolist() == [2, 1, 3]
    assert by.loc["all", ["positive", "negative", "total"]].tolist() == [6, 5, 11]
    assert by.loc["twemoji", "missing"] == "U+1F622" and by.loc["openmoji", "missing"] == "-"
    assert by.loc["fluent", "package"] == "fluentui-emoji@1.3.0"
    assert by.loc["openmoji", "licence"] == "CC-BY-SA-4.0"
    # the manifest's own per-vendor counts agree
    params = read_manifest(fixture_root / "combined")["params"]["vendor_counts"]
    for vendor, per_class in params.items():
        for label, n in per_class.items():
            assert by.loc[vendor, label] == n
    # one vendor's set
    one = rep.counts_table(fixture_root / "twemoji")
    assert list(one.vendor) == ["twemoji", "all"] and one.total.tolist() == [3, 3]


def test_counts_of_a_plain_labelled_folder(tmp_path):
    from PIL import Image
    for label, n in (("positive", 2), ("negative", 3)):
        (tmp_path / label).mkdir()
        for i in range(n):
            Image.new("RGB", (8, 8), "white").save(tmp_path / label / f"{i}.png")
    counts = rep.counts_table(tmp_path)
    assert counts.vendor.tolist() == ["-", "all"]
    assert counts[["positive", "negative", "total"]].iloc[-1].tolist() == [2, 3, 5]


@needs_cairo
def test_samples_per_vendor_and_class(fixture_root):
    samples = rep.vendor_class_samples(fixture_root / "combined", res=32, per_cell=2)
    assert list(samples) == [("openmoji", "positive"), ("openmoji", "negative"),
                             ("fluent", "positive"), ("fluent", "negative"),
                             ("twemoji", "positive"), ("twemoji", "negative")]
    assert tuple(samples["openmoji", "positive"].shape) == (2, 3, 32, 32)
    assert len(samples["twemoji", "negative"]) == 1      # only one there
    again = rep.vendor_class_samples(fixture_root / "combined", res=32, per_cell=2)
    assert all(np.array_equal(samples[k], again[k]) for k in samples)
    # the enraged face (negative) is red at its centre, every positive face yellow
    for (vendor, label), images in samples.items():
        centre = images[:, :, 16, 16]
        if label == "positive":
            assert (centre[:, 2] < 0).all(), vendor     # blue low: yellow
    fig = plots.vendor_class_figure(samples, "fixture")
    assert len(fig.axes) == len(samples)


# ----------------------------------------------------------------------------- the runs
@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
@pytest.mark.parametrize("n_images", [11, 208, 804, 1000])
def test_the_runs_train_the_stand_ins_epochs(profile, n_images):
    prof = config.get_profile(profile)
    rprof = rep.replication_profile(prof, n_images)
    epochs = rep.standin_epochs(prof)
    assert epochs == {"smoke": 2, "cpu": 200, "paper": 200}[profile]
    from paperlib.engine import epochs_for_kimg
    assert epochs_for_kimg(rprof.kimg, n_images) == epochs
    assert rprof.name == prof.name and rprof.res == prof.res and rprof.seeds == prof.seeds
    with pytest.raises(ValueError):
        rep.replication_profile(prof, 0)


@needs_cairo
def test_real_jobs_are_the_three_models_at_the_claims_config(fixture_root, tmp_path):
    folder = fixture_root / "combined"
    rprof = rep.replication_profile("cpu", 11)
    jobs = rep.real_jobs(rprof, folder, tmp_path, seeds=(0, 1, 2), N=3)
    assert set(jobs) == {(m, "paper", s) for m in ("dcgan", "deligan", "proposed")
                         for s in (0, 1, 2)}
    for (m, c, s), (cfg, data, root) in jobs.items():
        assert cfg.epochs == 200 and cfg.config == "paper" and cfg.seed == s
        assert cfg.res == 32 and cfg.ckpt_every == 30 and data == folder and root == tmp_path
    assert jobs["proposed", "paper", 0][0].proposed_N == 3


def _per_run(fids: dict) -> pd.DataFrame:
    return pd.DataFrame([{"model": m, "config": "paper", "seed": s, "fid": f}
                         for (m, s), f in fids.items()])


# ----------------------------------------------------------------------------- beside the stand-in
def _audit(rows) -> pd.DataFrame:
    recs = []
    for claim, measure, horizon, primary, verdict, ratio in rows:
        recs.append({c: "" for c in AUDIT_COLUMNS} | {
            "claim": claim, "measure": measure, "horizon": horizon, "primary": primary,
            "verdict": verdict, "ratio": ratio, "paper ratio": np.nan if ratio is None
            else 0.81, "ratio low": np.nan, "ratio high": np.nan})
    audit = pd.DataFrame(recs, columns=list(AUDIT_COLUMNS))
    audit["horizon"] = audit["horizon"].astype("Int64")
    audit["ratio"] = audit["ratio"].astype(float)
    return audit


REAL = _audit([("DCGAN unstable", "window", 200, True, "not supported", None),
               ("DCGAN unstable", "window", 150, False, "not testable here", None),
               ("DCGAN unstable", "overfit", 200, False, "not testable here", None),
               ("FID ratio", "ratio, paired by seed", None, True, "supported", 0.8)])


def test_beside_the_stand_in_pairs_rows_by_claim_measure_and_horizon(tmp_path):
    standin = _audit([("FID ratio", "ratio, paired by seed", None, True, "not supported", 1.4),
                      ("DCGAN unstable", "window", 200, True, "supported", None),
                      ("DCGAN unstable", "window", 150, False, "supported", None),
                      ("Only in the stand-in", "window", 200, True, "supported", None)])
    standin.to_csv(tmp_path / "06_claims_audit.csv", index=False)
    table, note = rep.standin_audit("cpu", folder=tmp_path)
    assert table is not None and "06_claims_audit.csv" in note
    beside = rep.beside_standin(REAL, table)
    assert list(beside.columns) == list(rep.BESIDE_COLUMNS)
    # the real rows in their order, then the stand-in's row the real audit lacks
    assert len(beside) == len(REAL) + 1
    assert list(beside.claim) == list(REAL.claim) + ["Only in the stand-in"]
    assert list(beside["real emoji"]) == list(REAL.verdict) + [rep.NOT_IN_REAL]
    assert list(beside["stand-in"]) == ["supported", "supported", rep.NOT_IN_STANDIN,
                                        "not supported", "supported"]
    assert beside["ratio real"].iloc[3] == 0.8 and beside["ratio stand-in"].iloc[3] == 1.4
    assert pd.isna(beside["ratio stand-in"].iloc[0]) and pd.isna(beside["ratio real"].iloc[4])
    assert beside.horizon.iloc[4] == 200 and bool(beside.primary.iloc[4])


def test_beside_without_a_stand_in_audit_says_so(tmp_path):
    table, note = rep.standin_audit("cpu", folder=tmp_path)
    assert table is None and "run notebook 06" in note
    beside = rep.beside_standin(REAL, None)
    assert (beside["stand-in"] == rep.NO_STANDIN).all() and len(beside) == len(REAL)
    # an audit written before the measure/horizon columns is not compared
    pd.DataFrame({"claim": ["x"], "verdict": ["supported"]}).to_csv(
        tmp_path / "06_claims_audit.csv", index=False)
    table, note = rep.standin_audit("cpu", folder=tmp_path)
    assert table is None and "older notebook 06" in note
    with pytest.raises(ValueError, match="lacks"):
        rep.beside_standin(REAL.drop(columns="measure"), None)


def test_table1_beside_the_stand_in(tmp_path):
    real = pd.DataFrame({"config": ["paper", "paper"], "model": ["dcgan", "proposed"],
                         "runs": [3, 3], "FID": ["100.00 ± 5.00", "90.00 ± 4.00"],
                         "KID": ["0.1 ± 0.01", "0.09 ± 0.01"], "paper FID": [0.30, 0.24]})
    assert rep.table1_beside_standin(real, "cpu", folder=tmp_path) is None
    pd.DataFrame({"config": ["paper", "conventional"], "model": ["dcgan", "dcgan"],
                  "runs": [3, 1], "FID": ["93.65 ± 10.73", "122.22 ± 0.00"],
                  "KID": ["0.0764 ± 0.0147", "0.1151 ± 0.0000"]}).to_csv(
        tmp_path / "06_table1.csv", index=False)
    both = rep.table1_beside_standin(real, "cpu", folder=tmp_path)
    assert both["FID stand-in"].tolist() == ["93.65 ± 10.73", "-"]
    assert both["FID real"].tolist() == ["100.00 ± 5.00", "90.00 ± 4.00"]
