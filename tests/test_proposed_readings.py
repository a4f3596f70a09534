"""Paper A's Eq. 1 read two ways (``proposed_reading``: "linear", primary; "depth",
secondary), each reading's first N, and :func:`paperlib.paper_a.mean_effect`: nothing is
trained here."""
import dataclasses
import math

import pytest
import torch
from torch import nn

from paperlib import config, engine, paper_a
from paperlib.engine.runs import build_networks
from paperlib.models import ProposedLatent, build_models
from paperlib.models.dcgan import PROPOSED_READINGS, GaussianLatent, PixelNorm, ProposedOptions


# ----------------------------------------------------------------------------- the depth reading
@pytest.mark.parametrize("N", [1, 2, 5])
def test_depth_reading_keeps_size_nz_with_n_linear_layers(N):
    latent, G, _ = build_models("proposed", 32, nz=10, ngf=4, ndf=4, N=N, reading="depth")
    assert latent.out_dim == 10 and G.in_dim == 10
    linears = [m for m in latent.layer if isinstance(m, nn.Linear)]
    assert len(linears) == N
    assert all((m.in_features, m.out_features) == (10, 10) for m in linears)
    acts = [m for m in latent.layer if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == N and all(a.negative_slope == 0.2 for a in acts)
    assert isinstance(latent.layer[0], PixelNorm)
    assert isinstance(latent.layer[-1], nn.LeakyReLU)      # each Linear has its nonlinearity
    eps, mu = latent.sample_noise(7, torch.Generator().manual_seed(0), "cpu")
    assert eps.shape == (7, 10) and mu.shape == (7, 10)
    assert mu.min() >= -1 and mu.max() <= 1
    assert torch.allclose(latent(eps, mu), latent.layer(eps) + mu)   # Eq. 3 on the output
    assert G(latent(eps, mu)).shape == (7, 3, 32, 32)


def test_depth_reading_normalises_eps_first():
    torch.manual_seed(0)
    latent = ProposedLatent(12, N=3, mean_adjust=False, reading="depth")
    (eps,) = latent.sample_noise(6, torch.Generator().manual_seed(1), "cpu")
    with torch.no_grad():
        out = latent(eps)
        for c in (0.5, 3.0, 250.0):      # (the 1e-8 in the rsqrt matters only near eps = 0)
            assert torch.allclose(latent(c * eps), out, atol=1e-6)
    x = torch.randn(4, 12)
    assert torch.allclose(PixelNorm()(x).pow(2).mean(1), torch.ones(4), atol=1e-5)
    # the linear reading has no normalisation: scaling eps scales its (affine) output
    lin = ProposedLatent(12, N=3, mean_adjust=False)
    with torch.no_grad():
        assert not torch.allclose(lin(3.0 * eps), lin(eps), atol=1e-3)


def test_depth_reading_ablations():
    no_adjust = ProposedLatent(10, N=3, adjust=False, reading="depth")
    assert no_adjust.layer is None and no_adjust.out_dim == 10 and not list(no_adjust.parameters())
    eps, mu = no_adjust.sample_noise(4, torch.Generator().manual_seed(0), "cpu")
    assert torch.equal(no_adjust(eps, mu), eps + mu)     # as the linear reading's: no layers
    no_mean = ProposedLatent(10, N=3, mean_adjust=False, reading="depth")
    noise = no_mean.sample_noise(4, torch.Generator().manual_seed(0), "cpu")
    assert len(noise) == 1 and torch.equal(no_mean(*noise), no_mean.layer(noise[0]))


def test_linear_reading_is_the_default_and_unchanged():
    torch.manual_seed(3)
    default = ProposedLatent(10, N=3)
    torch.manual_seed(3)
    explicit = ProposedLatent(10, N=3, reading="linear")
    assert default.reading == "linear" and isinstance(default.layer, nn.Linear)
    assert list(default.state_dict()) == ["layer.weight", "layer.bias"]   # old checkpoints load
    assert all(torch.equal(a, b) for a, b in zip(default.state_dict().values(),
                                                 explicit.state_dict().values()))
    assert ProposedOptions().proposed_reading == "linear"


# ----------------------------------------------------------------------------- options, run names
def test_reading_option_validation():
    with pytest.raises(ValueError, match="valid readings are: linear, depth"):
        engine.make_config(model="proposed", epochs=1, proposed_reading="width")
    with pytest.raises(ValueError, match="linear, depth"):
        ProposedOptions(proposed_reading=2).validate()
    with pytest.raises(ValueError, match="unknown proposed_reading 'Depth'"):
        ProposedLatent(10, reading="Depth")
    cfg = engine.make_config(model="proposed", epochs=1, proposed_reading="depth", proposed_N=4)
    latent, G, _ = build_networks(cfg)
    assert latent.reading == "depth" and latent.out_dim == cfg.nz and G.in_dim == cfg.nz
    assert PROPOSED_READINGS == ("linear", "depth")


#: Pinned in tests/test_run_names.py (runs made before the reading existed).
PINNED = {("smoke", "paper"): "proposed-paper-s1-572642b5db",
          ("cpu", "paper"): "proposed-paper-s1-ee5b975f4c",
          ("cpu", "conventional"): "proposed-conventional-s1-e3c3a18dd4",
          ("paper", "paper"): "proposed-paper-s1-31739e5f27"}


@pytest.mark.parametrize("prof,cfgname", sorted(PINNED))
def test_linear_reading_keeps_the_run_names(prof, cfgname):
    for extra in ({}, {"proposed_reading": "linear"}):
        cfg = engine.profile_config(prof, "proposed", cfgname, seed=1, n_images=400, **extra)
        assert engine.run_name(cfg, "datakey0") == PINNED[prof, cfgname]
    depth = engine.profile_config(prof, "proposed", cfgname, seed=1, n_images=400,
                                  proposed_reading="depth")
    assert engine.run_name(depth, "datakey0") != PINNED[prof, cfgname]


def test_reading_is_recorded_and_read_back():
    cfg = engine.make_config(model="proposed", epochs=1, proposed_reading="depth")
    d = cfg.to_dict()
    assert d["proposed_reading"] == "depth"
    assert engine.TrainConfig.from_dict(d).proposed_reading == "depth"
    old = {k: v for k, v in engine.make_config(model="proposed", epochs=1).to_dict().items()
           if k != "proposed_reading"}                        # a config saved before it existed
    assert engine.TrainConfig.from_dict(old).proposed_reading == "linear"
    assert "proposed_reading" not in engine.make_config(model="dcgan", epochs=1).to_dict()


# ----------------------------------------------------------------------------- first N, N search
def test_first_n_per_reading():
    assert paper_a.first_n("linear") == 2 == paper_a.first_n()
    assert paper_a.first_n("depth") == 1
    assert set(paper_a.FIRST_N) == set(PROPOSED_READINGS)
    with pytest.raises(ValueError, match="linear, depth"):
        paper_a.first_n("wide")


@pytest.mark.parametrize("reading", PROPOSED_READINGS)
def test_search_candidates_start_at_the_readings_first_n(tmp_path, reading):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for i in range(5):
        (data_dir / f"{i}.png").write_bytes(bytes([i]))
    prof = dataclasses.replace(config.get_profile("smoke"), n_search_max=3)
    ns, jobs = paper_a.search_jobs(prof, data_dir, tmp_path, "paper", 0, reading)
    assert ns == list(range(paper_a.first_n(reading), 4))      # the whole range
    cfgs = [job[0] for job in jobs]
    assert [c.proposed_N for c in cfgs] == ns
    assert all(c.proposed_reading == reading for c in cfgs)
    short = dataclasses.replace(prof, n_search_max=1)
    if reading == "linear":
        with pytest.raises(ValueError, match="starts at N = 2"):
            paper_a.search_jobs(short, data_dir, tmp_path, "paper", 0, reading)


# ----------------------------------------------------------------------------- mean_effect
class _Flat(nn.Module):
    """A "generator" that shows its latent as the image (the change is predictable)."""

    def forward(self, z):
        return z.view(z.size(0), 1, 1, -1)


@pytest.mark.parametrize("reading", PROPOSED_READINGS)
def test_mean_effect_on_a_tiny_untrained_model(reading):
    torch.manual_seed(0)
    latent, G, _ = build_models("proposed", 32, nz=8, ngf=4, ndf=4, N=2, reading=reading)
    G.train()
    out = paper_a.mean_effect(latent, G, n=6, delta=0.5, seed=0)
    assert set(out) == {"per_mu", "per_eps", "ratio"}
    assert all(math.isfinite(v) and v > 0 for v in out.values())
    assert out["ratio"] == pytest.approx(out["per_mu"] / out["per_eps"])
    assert G.training and latent.training                  # modes restored
    assert paper_a.mean_effect(latent, G, n=6, delta=0.5, seed=0) == out   # deterministic
    assert paper_a.mean_effect(latent, G, n=6, delta=0.5, seed=1) != out


@pytest.mark.parametrize("scale", [2.0, 1e4])
def test_mean_effect_ratio_is_predicted(scale):
    # z = scale * eps + mu shown as the image: a unit step of eps moves the image `scale`
    # times as far as a unit step of mu, so ratio = 1 / scale (near 0 for 1e4)
    latent = ProposedLatent(6, N=1)
    with torch.no_grad():
        latent.layer.weight.copy_(scale * torch.eye(6))
        latent.layer.bias.zero_()
    out = paper_a.mean_effect(latent, _Flat(), n=16, delta=0.25, seed=3)
    # (float32 z of size 1e4 keeps a mu step of 0.25 to about 1e-4)
    assert out["per_mu"] == pytest.approx(1 / math.sqrt(6), rel=1e-3)   # RMS of unit steps
    assert out["per_eps"] == pytest.approx(scale / math.sqrt(6), rel=1e-5)
    assert out["ratio"] == pytest.approx(1 / scale, rel=1e-3)


def test_mean_effect_refuses_a_latent_without_mu():
    G = _Flat()
    for latent in (GaussianLatent(6), ProposedLatent(6, N=2, mean_adjust=False),
                   ProposedLatent(6, N=2, mean_adjust=False, reading="depth")):
        with pytest.raises(ValueError, match="needs a latent with a mean adjustment"):
            paper_a.mean_effect(latent, G)
    with pytest.raises(ValueError, match="delta"):
        paper_a.mean_effect(ProposedLatent(6), G, delta=0)
    with pytest.raises(ValueError, match="n >= 1"):
        paper_a.mean_effect(ProposedLatent(6), G, n=0)


def test_explorer_label_names_the_secondary_reading(tmp_path):
    import json

    from paperlib.paper_a.explorer import run_label

    for reading, shown in (("linear", False), ("depth", True)):
        d = tmp_path / reading
        d.mkdir()
        cfg = engine.make_config(model="proposed", epochs=1, proposed_reading=reading)
        (d / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "data": {}}))
        assert ("depth reading" in run_label(d)) is shown
