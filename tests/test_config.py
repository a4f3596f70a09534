import pytest
import torch

from paperlib import config


def test_profiles_exist_with_paper_settings():
    assert set(config.PROFILES) == {"smoke", "cpu", "paper"}
    paper = config.get_profile("paper")
    assert (paper.res, paper.batch_size) == (64, 35)
    assert config.get_profile("smoke").kimg < config.get_profile("cpu").kimg
    cpu = config.get_profile("cpu")
    # the claims' horizons (issue 9): >= 150 epochs of the 804 emoji, >= 3 seeds, epoch 30 unscaled
    assert cpu.kimg * 1000 / config.EMOJI_SET_SIZE >= 150
    assert len(cpu.seeds) >= 3 and cpu.stable_epoch == 30


def test_unknown_profile_lists_valid_ones():
    with pytest.raises(ValueError) as err:
        config.get_profile("gpu-huge")
    msg = str(err.value)
    assert "gpu-huge" in msg and all(name in msg for name in ("smoke", "cpu", "paper"))


def test_profile_default_comes_from_environment(monkeypatch):
    monkeypatch.delenv("PAPERLIB_PROFILE", raising=False)
    assert config.get_profile().name == "cpu"
    monkeypatch.setenv("PAPERLIB_PROFILE", "smoke")
    assert config.get_profile().name == "smoke"
    monkeypatch.setenv("PAPERLIB_PROFILE", "bogus")
    with pytest.raises(ValueError, match="bogus"):
        config.get_profile()


def test_device_auto_and_override(monkeypatch):
    monkeypatch.delenv("PAPERLIB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert config.get_device().type == expected
    assert config.get_device("cpu").type == "cpu"
    monkeypatch.setenv("PAPERLIB_DEVICE", "cpu")
    assert config.get_device().type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            config.get_device("cuda")
