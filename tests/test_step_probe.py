"""``engine.probe.step_probe``: this machine's training speed at a profile's sizes against
the reference machine's rate, one thread, recorded in the reproduce manifest."""
import pytest
import torch

from paperlib.engine.probe import probe_models, step_probe
from paperlib.models import get_model


def test_step_probe_times_each_model_against_its_reference():
    before = torch.get_num_threads()
    res = step_probe("smoke", steps=1, warmup=1)
    assert set(res) == set(probe_models()) >= {"dcgan", "stylegan2"}
    assert "pix2pixhd" not in res                     # paired data: needs maps
    for name, r in res.items():
        assert r["s_per_step"] > 0 and r["batch"] > 0
        assert r["s_per_kimg"] == pytest.approx(r["s_per_step"] * 1000 / r["batch"])
        assert r["reference_s_per_kimg"] == get_model(name).seconds_per_kimg["smoke"]
        assert r["slowdown"] == pytest.approx(r["s_per_kimg"] / r["reference_s_per_kimg"])
    assert torch.get_num_threads() == before          # restored
    with pytest.raises(ValueError, match="steps must be >= 1"):
        step_probe("smoke", steps=0)
