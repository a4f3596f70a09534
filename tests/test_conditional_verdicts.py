"""Notebook 01b's verdicts and report lines (:func:`paperlib.paper_b.conditional_verdicts`) on
hand-built per-seed tables: no training, no features."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from paperlib import engine, paper_b

P2P = "conditional (Pix2pixHD)"
ALONE = "1st result (StyleGAN2 alone)"
MIX = "shape learning (StyleGAN2 mix)"
FLOOR = "training data (held-out floor)"
ORDER = [P2P, ALONE, MIX]
VERDICT_COLUMNS = ["artist", "claim", "metric", "verdict", "reason", "per seed"]
FIGURES = Path(__file__).resolve().parents[1] / "figures" / "cpu"


def floor_row(artist: str, circularity: float) -> dict:
    return {"artist": artist, "column": FLOOR, "model": "real", "seed": None,
            "main_score": 0.95, "inner_score": 0.80, "main_circularity_median": circularity,
            "fid": 25.0, "kid": 0.001, "layout_centre_err": 0.01, "layout_radius_err": 0.05,
            "layout_found": 0.5, "draws": None}


def column_rows(artist: str, column: str, main: list[float], fid: list[float],
                draws: list) -> list[dict]:
    model = "Pix2pixHD" if column == P2P else "StyleGAN2-ADA"
    return [{"artist": artist, "column": column, "model": model, "seed": s,
             "main_score": m, "inner_score": 0.7, "main_circularity_median": 0.9, "fid": f,
             "kid": 0.2, "layout_centre_err": 0.02, "layout_radius_err": 0.06,
             "layout_found": 1.0, "draws": d}
            for s, (m, f, d) in enumerate(zip(main, fid, draws))]


def per_seed_table(artist: str = "artist_a", circularity: float = 0.9,
                   p2p_draws=(True, True, True), base_draws=(True, True, True)) -> pd.DataFrame:
    """One stand-in: the floor, then three seeds per column; the conditional route clearly
    best on both metrics (higher main-form score, lower FID, small spread)."""
    rows = [floor_row(artist, circularity)]
    rows += column_rows(artist, P2P, [0.90, 0.91, 0.92], [100.0, 101.0, 102.0], list(p2p_draws))
    rows += column_rows(artist, ALONE, [0.60, 0.61, 0.62], [200.0, 201.0, 202.0],
                        list(base_draws))
    rows += column_rows(artist, MIX, [0.40, 0.41, 0.42], [300.0, 301.0, 302.0],
                        list(base_draws))
    return pd.DataFrame(rows)


def test_clear_win_with_all_gates_passed_is_supported():
    verdicts, _ = paper_b.conditional_verdicts(per_seed_table(), ORDER, P2P)
    assert list(verdicts.columns) == VERDICT_COLUMNS
    assert list(verdicts.metric) == ["main_score", "fid"]
    main = verdicts.set_index("metric").loc["main_score"]
    assert main.verdict == "supported"
    assert main.claim == ("conditional route better main_score than StyleGAN2's shape "
                          "learning and 1st result")
    assert main.reason.startswith(f"{P2P} - {ALONE} = +0.3 [")
    assert f"{P2P} - {MIX} = +0.5 [" in main.reason
    assert main["per seed"] == ("conditional: 0.900; 0.910; 0.920 | 1st result: 0.600; 0.610; "
                                "0.620 | shape learning: 0.400; 0.410; 0.420")
    assert verdicts.set_index("metric").loc["fid"].verdict == "supported"  # lower FID wins


def test_favoured_below_gate_while_baselines_pass_is_not_supported():
    verdicts, lines = paper_b.conditional_verdicts(
        per_seed_table(p2p_draws=(True, False, True)), ORDER, P2P)
    assert set(verdicts.verdict) == {"not supported"}
    for reason in verdicts.reason:
        assert reason == (f"{P2P} below the quality gate while {ALONE} passes; "
                          f"{P2P} below the quality gate while {MIX} passes")
    assert any(line.startswith(f"    - {P2P}: gate 2/3;") for line in lines)


def test_floor_without_main_form_is_not_testable_with_no_gate_reason():
    per_seed = per_seed_table(circularity=0.0, p2p_draws=(None,) * 3, base_draws=(None,) * 3)
    verdicts, lines = paper_b.conditional_verdicts(per_seed, ORDER, P2P)
    assert len(verdicts) == 2
    assert set(verdicts.verdict) == {"not testable here"}
    expected = ("no quality gate: the form finder finds no main form in the artist's own "
                "images (median main circularity 0.00; it finds the map's main circle in 50% "
                "of the held-out images), so neither circle fidelity nor a learned model can "
                "be shown")
    assert list(verdicts.reason) == [expected, expected]
    assert all(f"    - {c}: gate undefined;" in "\n".join(lines) for c in ORDER)


def test_markdown_lines_name_every_column_with_its_gate_count():
    per_seed = pd.concat([per_seed_table("artist_a", base_draws=(True, False, False)),
                          per_seed_table("artist_b", circularity=0.0, p2p_draws=(None,) * 3,
                                         base_draws=(None,) * 3)], ignore_index=True)
    verdicts, lines = paper_b.conditional_verdicts(per_seed, ORDER, P2P)
    # artists in the table's order, two metrics each
    assert list(verdicts.artist) == ["artist_a"] * 2 + ["artist_b"] * 2
    assert lines[0] == ("- **artist_a** (training data: main-form 0.950, inner-form 0.800, "
                        "floor FID 25.0; layout error of the measure on real images: centre "
                        "0.010, radius 0.050):")
    assert lines[1] == ("    - conditional (Pix2pixHD): gate 3/3; main-form 0.910 ± 0.010, "
                        "inner-form 0.700 ± 0.000, FID 101.0 ± 1.0 (76.0 over the floor), KID "
                        "0.200; layout centre 0.020, radius 0.060")
    assert lines[2].startswith(f"    - {ALONE}: gate 1/3; main-form 0.610 ± 0.010")
    assert lines[3].startswith(f"    - {MIX}: gate 1/3; main-form 0.410 ± 0.010")
    assert "layout" not in lines[2] and "layout" not in lines[3]  # only the conditional route
    assert lines[4].startswith("- **artist_b** (training data:")
    assert [line.split(":")[0] for line in lines[5:]] == [f"    - {c}" for c in ORDER]
    assert all("gate undefined" in line for line in lines[5:])
    assert len(lines) == 2 * (1 + len(ORDER))


@pytest.mark.skipif(not (FIGURES / "01b_pix2pixhd_per_seed.csv").is_file()
                    or not (FIGURES / "01b_pix2pixhd_verdicts.csv").is_file(),
                    reason="no committed cpu tables of notebook 01b")
def test_committed_cpu_verdicts_are_regenerated_identically():
    per_seed = pd.read_csv(FIGURES / "01b_pix2pixhd_per_seed.csv")
    verdicts, _ = paper_b.conditional_verdicts(per_seed, ORDER, P2P)
    out = io.StringIO()
    verdicts.to_csv(out, index=False)  # as plots.save_table writes it
    assert out.getvalue() == (FIGURES / "01b_pix2pixhd_verdicts.csv").read_text()


def test_conditional_tables_gate_per_column_and_undefined_without_a_main_form():
    cols = ["main_score", "inner_score", "main_circularity_median", "form_ratio", "fid", "kid",
            "layout_centre_err", "layout_radius_err"]
    rows = pd.concat([per_seed_table("artist_a", 0.9), per_seed_table("artist_b", 0.0)])
    rows = rows.drop(columns="draws")
    rows.loc[(rows.artist == "artist_a") & (rows.column == MIX) & (rows.seed == 1),
             "main_circularity_median"] = 0.5            # under 0.8 x the floor's 0.9
    rows["n"] = 80
    per_seed, table, summary = paper_b.conditional_tables(rows, cols)
    a = per_seed[per_seed.artist == "artist_a"]
    assert a[a.model == "real"].draws.isna().all()            # the floor is not gated
    assert list(a[a.column == MIX].draws) == [True, False, True]
    assert a[a.column == P2P].form_ratio.tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert per_seed[per_seed.artist == "artist_b"].draws.isna().all()   # no main form: undefined
    gate = table.set_index(["artist", "column"]).gate
    assert gate["artist_a", MIX] == "2/3" and gate["artist_a", P2P] == "3/3"
    assert gate["artist_b", P2P] == "undefined" and gate["artist_a", FLOOR] == ""
    assert list(table.columns[:4]) == ["artist", "column", "n_seeds", "gate"]
    assert {"artist", "column", "n_seeds", "gate"} <= set(summary.columns)
    assert "draws" not in rows.columns   # the caller's frame is left alone


def test_conditional_gate_reads_the_form_measure_and_the_fid_limit():
    """With the form measure's ``form_median`` the gate reads it (not the face measure's
    main circularity, 0 here as on a composition) and is defined; a FID limit fails the
    columns over it; the exact-form claim compares ``form_score`` for a discs set."""
    cols = ["form_score", "form_median", "main_score", "inner_score", "form_ratio", "fid",
            "kid", "layout_centre_err", "layout_radius_err"]
    rows = per_seed_table("artist_geo", 0.0).drop(columns="draws")
    rows["n"] = 80
    rows["main_circularity_median"] = 0.0
    rows["form_median"] = 0.95
    rows["form_measure"] = "discs"
    rows["form_score"] = rows.main_score
    rows["main_score"] = 0.0
    per_seed, table, _ = paper_b.conditional_tables(rows, cols, fid_limit=250.0)
    gate = table.set_index(["artist", "column"]).gate
    assert gate["artist_geo", P2P] == "3/3" and gate["artist_geo", ALONE] == "3/3"
    assert gate["artist_geo", MIX] == "0/3"                  # FID ~300 over the limit
    verdicts, _ = paper_b.conditional_verdicts(per_seed, ORDER, P2P)
    assert verdicts.metric.tolist() == ["form_score", "fid"]
    # a baseline over the FID limit is below the gate: no comparison with it
    assert verdicts.verdict.tolist() == ["not testable here"] * 2
    assert verdicts.reason.str.contains("below the quality gate").all()
    per_seed, _, _ = paper_b.conditional_tables(rows, cols)     # no FID limit
    verdicts, _ = paper_b.conditional_verdicts(per_seed, ORDER, P2P)
    assert verdicts.verdict.tolist() == ["supported", "supported"]


def test_upper_bound_column_is_reported_but_not_a_competitor():
    """A generated column outside ``order`` (01b's ground-truth-feature upper bound) gets
    its report line, with its FID over the floor, and no verdict; ``conditional_tables``
    adds each row's FID minus its artist's floor."""
    base = per_seed_table("artist_a")
    gt = base[base.column == P2P].copy()
    gt["column"], gt["fid"] = "conditional, ground-truth features (upper bound)", [60.0, 62.0, 64.0]
    per_seed = pd.concat([base, gt], ignore_index=True)
    verdicts, lines = paper_b.conditional_verdicts(per_seed, ORDER, P2P)
    assert len(verdicts) == 2 and not verdicts["per seed"].str.contains("upper bound").any()
    assert lines[-1].startswith("    - conditional, ground-truth features (upper bound): ")
    assert "FID 62.0 ± 2.0 (37.0 over the floor)" in lines[-1]
    cols = ["main_score", "inner_score", "fid", "kid", "layout_centre_err",
            "layout_radius_err"]
    out, table, summary = paper_b.conditional_tables(per_seed, cols, fid_limit=1000.0)
    floor = out[out.model == "real"].fid.iloc[0]
    assert (out.fid_over_floor - (out.fid - floor)).abs().max() < 1e-12
    row = table[table.column.str.contains("upper bound")].iloc[0]
    assert abs(row.fid_over_floor - 37.0) < 1e-9 and "fid_over_floor" in summary


def test_conditional_config_turns_the_encoder_off_for_maps_without_instances(tmp_path):
    """A user's folder under map_source="auto" gets edge maps (no instance ids): the
    profile's feature encoder is turned off and a note says so; recipe maps keep it."""
    from paperlib import data
    own = tmp_path / "own"
    data.build_artist_set(tmp_path / "stand_in", "geometric", n=6, res=32, seed=0)
    own.mkdir()
    for p in sorted((tmp_path / "stand_in").glob("*.png")):
        (own / p.name).write_bytes(p.read_bytes())   # images without the manifest's recipes
    cfg, note = paper_b.conditional_config("cpu", own, 0)
    assert cfg.p2p_feat == 0 and cfg.map_source == "auto" and "no instance ids" in note
    cfg, note = paper_b.conditional_config("cpu", tmp_path / "stand_in", 0)
    assert cfg.p2p_feat == 3 and note == ""
    assert cfg.epochs == engine.epochs_for_kimg(16.0, 6)
    with pytest.raises(ValueError, match="no images"):
        (tmp_path / "empty").mkdir()
        paper_b.conditional_config("cpu", tmp_path / "empty", 0)


def test_fid_margin_gates_each_artist_over_its_own_floor():
    """With ``fid_margin`` a run passes the FID half of the gate when its FID is under its
    own artist's floor + the margin: the same FID can pass on a set with a high floor and
    fail on one with a low floor."""
    a = per_seed_table("artist_a")          # floor FID 25, conditional ~101
    b = per_seed_table("artist_b")
    b.loc[b.model == "real", "fid"] = 90.0  # a set whose floor is high
    per_seed = pd.concat([a, b], ignore_index=True)
    cols = ["main_score", "inner_score", "fid", "kid", "layout_centre_err", "layout_radius_err"]
    out, _, _ = paper_b.conditional_tables(per_seed, cols, fid_margin=60.0)
    p2p = out[out.column == P2P]
    assert not p2p[p2p.artist == "artist_a"].draws.any()   # 101 >= 25 + 60
    assert p2p[p2p.artist == "artist_b"].draws.all()       # 101 < 90 + 60
    with pytest.raises(ValueError, match="fid_limit must be"):
        paper_b.conditional_tables(per_seed, cols, fid_margin=-1.0)
