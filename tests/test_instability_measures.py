"""Paper A's four instability measures, the contrast verdict and the ratio verdict against
the paper's effect sizes (issue 27, items 3 and 4), on hand-made log rows, curves and
per-seed values: nothing is trained."""
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from paperlib import paper_a
from paperlib.paper_a import instability as ins

WIN = {"d_loss": 0.05, "g_loss": 5.0, "d_fake": 0.01}      # D wins (d_wins)
FAIR = {"d_loss": 1.2, "g_loss": 0.9, "d_fake": 0.4}       # a balanced epoch
SPIKE = {"d_loss": 2.5, "g_loss": 6.0, "d_fake": 0.01}     # lr 1e-2: D's loss spikes


def _rows(kinds: dict, n: int) -> list[dict]:
    """``n`` epochs of log rows; ``kinds[epoch]`` (default FAIR) gives each epoch's losses."""
    return [{"epoch": e, "d_real": 0.9, **kinds.get(e, FAIR)} for e in range(1, n + 1)]


# ----------------------------------------------------------------------------- rule, window
def test_a_spike_resets_the_rule_but_not_the_window():
    # D wins from epoch 11 on, but every 4th epoch its loss spikes: never 5 wins in a row
    kinds = {e: (SPIKE if e % 4 == 0 else WIN) for e in range(11, 41)}
    rows = _rows(kinds, 40)
    assert not ins.d_wins(SPIKE) and ins.d_wins(WIN)
    assert ins.rule_onset(rows) is None and ins.instability_onset(rows) is None
    assert ins.window_onset(rows) == 11                      # 7-8 wins in every window
    assert ins.window_onset(rows, horizon=15) is None        # [6, 15] holds 4 wins
    assert ins.window_onset(rows, horizon=18) == 11          # [9, 18]: 6 wins
    # without the spikes both fire, at the first D-wins epoch
    plain = _rows({e: WIN for e in range(11, 41)}, 40)
    assert ins.rule_onset(plain) == ins.window_onset(plain) == 11


def test_window_onset_is_the_first_d_wins_epoch_of_the_first_full_window():
    rows = _rows({e: WIN for e in (6, 7, 8, 9, 10)}, 30)    # 5 of [1, 10]: half
    assert ins.window_onset(rows) == 6                       # not epoch 1, a fair epoch
    assert ins.window_onset(_rows({e: WIN for e in (6, 7, 8, 9)}, 30)) is None   # 4 of 10
    assert ins.window_onset(rows, k=5, share=1.0) == 6
    assert ins.window_onset(rows[:9]) is None                # no full window of 10 epochs
    with pytest.raises(ValueError, match="share"):
        ins.window_onset(rows, share=0)


def test_rule_reads_only_the_epochs_up_to_the_horizon():
    rows = _rows({e: WIN for e in range(8, 13)}, 20)         # a streak at epochs 8-12
    assert ins.rule_onset(rows, horizon=11) is None
    assert ins.rule_onset(rows, horizon=12) == 8 == ins.rule_onset(rows)


# ----------------------------------------------------------------------------- fid_rise
def test_fid_rise_fires_on_a_sustained_rise_of_15_percent():
    dip_rise_20 = [(10, 100.0), (20, 80.0), (30, 96.0), (40, 97.0), (50, 99.0)]
    assert ins.fid_rise_onset(dip_rise_20) == 30
    assert ins.fid_rise_onset(list(reversed(dip_rise_20))) == 30   # order does not matter
    assert ins.fid_rise_onset([(10, 100.0), (20, 80.0), (30, 88.0), (40, 88.0)]) is None
    assert ins.fid_rise_onset([(10, 100.0), (20, 80.0), (30, 92.0)]) == 30   # exactly 15 %
    # a rise that falls back under the margin is not sustained ...
    back = [(10, 100.0), (20, 80.0), (30, 96.0), (40, 85.0), (50, 99.0)]
    assert ins.fid_rise_onset(back) == 50
    assert ins.fid_rise_onset(back[:4]) is None
    # ... unless the fall is after the horizon
    assert ins.fid_rise_onset(back, horizon=30) == 30
    assert ins.fid_rise_onset(back, horizon=20) is None
    # a falling curve never fires; a non-finite FID counts as above the margin
    assert ins.fid_rise_onset([(10, 100.0), (20, 90.0), (30, 70.0)]) is None
    assert ins.fid_rise_onset([(10, 100.0), (20, 80.0), (30, math.nan)]) == 30
    assert ins.fid_rise_onset([]) is None


# ----------------------------------------------------------------------------- overfit (r_v)
def test_rv_formula_on_constructed_d_outputs():
    assert ins.overfit_rv([2.0, 2.0], [1.0, 1.0], [-2.0, -2.0]) == pytest.approx(0.25)
    assert ins.overfit_rv([3.0, 1.0], [-1.0, -3.0], [-1.0, -3.0]) == pytest.approx(1.0)
    assert ins.overfit_rv([1.0, 3.0], [2.0], [0.0]) == pytest.approx(0.0)   # means
    assert ins.overfit_rv(torch.tensor([0.5, 1.5]), [0.0], [-1.0]) == pytest.approx(0.5)
    assert math.isnan(ins.overfit_rv([1.0], [0.0], [1.0]))   # D cannot tell fakes from train


def test_overfit_onset_at_the_limit():
    curve = [(10, 0.2), (20, math.nan), (30, 0.5), (40, 0.1)]
    assert ins.overfit_onset(curve) == 30 and ins.overfit_onset(curve, horizon=29) is None
    assert ins.overfit_onset([(10, 0.49)]) is None and ins.overfit_onset([]) is None


class _MeanD(nn.Module):
    """A D whose raw output is its BatchNorm'd input's mean: identity in eval mode (fresh
    running statistics), 0 for a constant batch in train mode."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(x).mean(dim=(1, 2, 3))


def test_checkpoint_rv_uses_d_in_eval_mode_and_as_many_fakes_as_held_out():
    drawn = []

    def sample(n, seed=0):
        drawn.append((n, seed))
        return -torch.ones(n, 3, 4, 4)

    D = _MeanD().train()
    gan = SimpleNamespace(D=D, device=torch.device("cpu"), epoch=7, sample=sample)
    out = ins.checkpoint_rv(gan, torch.ones(6, 3, 4, 4), torch.zeros(4, 3, 4, 4), seed=3,
                            batch_size=4)
    assert not D.training and drawn == [(4, 3)]
    assert out == pytest.approx({"epoch": 7, "rv": 0.5, "d_train": 1.0, "d_heldout": 0.0,
                                 "d_fake": -1.0}, rel=1e-4)   # BatchNorm's eps
    with pytest.raises(ValueError, match="no discriminator"):
        ins.checkpoint_rv(SimpleNamespace(D=None), torch.ones(1, 3, 4, 4),
                          torch.ones(1, 3, 4, 4))


# ----------------------------------------------------------------------------- the table
def test_instability_table_one_row_per_run_and_horizon():
    runs_rows = {("dcgan", "paper", 0): _rows({e: WIN for e in range(5, 30)}, 160),
                 ("proposed", "paper", 0): _rows({}, 160)}
    fid = {("dcgan", "paper", 0): [(50, 90.0), (100, 80.0), (160, 95.0)]}
    rv = {("proposed", "paper", 0): [(50, 0.1), (160, 0.7)]}
    t = ins.instability_table(runs_rows, fid, rv)
    assert list(t[["model", "horizon"]].itertuples(index=False, name=None)) == [
        ("dcgan", 150), ("dcgan", 200), ("proposed", 150), ("proposed", 200)]
    assert t.rule.isna().tolist() == t.window.isna().tolist() == [False, False, True, True]
    assert t.rule.iloc[0] == t.window.iloc[0] == 5 and str(t.rule.dtype) == "Int64"
    assert t.fid_rise.isna().tolist() == [True, False, True, True]   # 160 is past 150
    assert t.fid_rise.iloc[1] == 160 and list(t.fid_points) == [2, 3, 0, 0]
    assert t.overfit.isna().tolist() == [True, True, True, False]
    assert list(t.rv_points) == [0, 0, 1, 2] and list(t.reached) == [True, False, True, False]
    states = [[ins.measure_state(r, m) for m in ins.MEASURES] for _, r in t.iterrows()]
    assert states == [["unstable", "unstable", "stable", "unknown"],
                      ["unstable", "unstable", "unstable", "unknown"],
                      ["stable", "stable", "unknown", "stable"],
                      ["unknown", "unknown", "unknown", "unstable"]]
    assert ins.DECIDING_HORIZON == 200 and ins.HORIZONS == (150, 200)
    assert ins.DECIDING_MEASURE == "window"
    assert ins.instability_table({}).empty
# ----------------------------------------------------------------------------- contrasts
def test_contrast_verdict_three_outcomes():
    cv = paper_a.contrast_verdict
    stable, unstable = {0: None, 1: None, 2: None}, {0: 12, 1: 40, 2: 90}
    v, why = cv(stable, unstable, 200, names=("proposed", "dcgan"))
    assert v == "supported"
    assert why == ("proposed unstable in 0/3 seeds, dcgan in 3/3 by epoch 200; onsets "
                   "proposed / dcgan: s0: none / 12, s1: none / 40, s2: none / 90")
    # the baseline stable in every seed: nothing to be more stable than
    assert cv(stable, stable, 200)[0] == "not supported"
    # the proposed model unstable in as many seeds as the baseline
    assert cv({0: 50, 1: None, 2: None}, {0: 12, 1: None, 2: None}, 200)[0] == "not supported"
    # fewer: not all the way
    v, why = cv({0: None, 1: None, 2: 150}, {0: 12, 1: 40, 2: 90}, 200)
    assert v == "not testable here" and "proposed unstable in 1/3" in why
    assert cv(stable, {0: 12, 1: 40, 2: None}, 200)[0] == "not testable here"
    # an onset after the horizon is none
    assert cv(stable, {0: 12, 1: 40, 2: 190}, 150)[0] == "not testable here"


def test_contrast_verdict_with_unknown_seeds_and_unpaired_seeds():
    cv = paper_a.contrast_verdict
    stable, unstable = {0: None, 1: None}, {0: 12, 1: 40}
    short = {0: False, 1: True}     # seed 0's run stops short of the horizon
    v, why = cv(stable, unstable, 200, observed_proposed=short)
    assert v == "not testable here" and "(1 run(s) unknown" in why and "s0: unknown / 12" in why
    # an observed onset counts whatever the run's length
    assert cv(stable, unstable, 200, observed_baseline=short)[0] == "supported"
    # the baseline may still turn unstable: not "not supported" yet
    assert cv({0: 5, 1: None}, {0: 12, 1: None}, 200,
              observed_baseline={0: True, 1: False})[0] == "not testable here"
    with pytest.raises(ValueError, match="missing from an arm"):
        cv(stable, {0: 12}, 200)
    assert cv(stable, unstable, 200, seeds=[1])[0] == "supported"
    assert cv({}, {}, 200)[0] == "not testable here"




def test_rv_curves_on_a_tiny_run(tmp_path):
    """r_v at each checkpoint of a real (tiny) run: finite, and the same as one checkpoint
    loaded by hand."""
    from paperlib import data, engine

    data.build_emoji_set(tmp_path / "train", seed=0, res=32, n_per_class=10)
    held = paper_a.heldout_images(tmp_path / "train", tmp_path / "held", 32)
    cfg = engine.make_config(model="dcgan", epochs=2, res=32, ngf=4, ndf=4, nz=16,
                             batch_size=10, sample_every=1, ckpt_every=1, device="cpu")
    run = engine.train(cfg, tmp_path / "train", tmp_path / "runs", progress=False).run_dir
    curves = ins.rv_curves({"a": run}, {"a": [1, 2]}, tmp_path / "train", held, device="cpu")
    assert [e for e, _ in curves["a"]] == [1, 2]
    assert all(math.isfinite(rv) for _, rv in curves["a"])
    by_hand = ins.checkpoint_rv(engine.load_run(run, 2, "cpu"),
                                data.load_folder(tmp_path / "train", 32).images,
                                data.load_folder(held, 32).images)
    assert by_hand["epoch"] == 2 and curves["a"][1][1] == pytest.approx(by_hand["rv"])
