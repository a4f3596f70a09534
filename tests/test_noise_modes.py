"""Noise inputs at sampling time: constant for sample grids, random (from a seeded
``torch.Generator``) for metrics and generated training sets, as NVlabs' metrics sample."""
import json

import pytest
import torch

from paperlib import engine
from paperlib.models import stylegan2

TINY = dict(res=32, nz=16, batch_size=4, device="cpu", epochs=1)


def _with_noise(G):
    """Untrained noise strengths are 0 (NVlabs' init): give them weight so noise shows."""
    with torch.no_grad():
        for layer in G.convs:
            layer.noise_strength.fill_(0.5)
    return G


def _gan(model="stylegan2", **kw):
    """A TrainedGAN straight from a freshly built trainer (no training, no files)."""
    cfg = engine.make_config(model=model, **{**TINY, **kw})
    trainer = engine.build_trainer(cfg, torch.device("cpu"))
    latent, G = trainer.sampler()
    return engine.TrainedGAN(cfg, 0, latent.eval(), G.eval(), trainer.D, torch.device("cpu"))


def test_generator_noise_modes():
    torch.manual_seed(0)
    G = _with_noise(stylegan2.Generator(32, z_dim=8, w_dim=8, channel_base=128,
                                        channel_max=8)).eval()
    z = torch.randn(3, 8)
    const = G(z)
    assert torch.equal(G(z), const)                     # "const": the same z, the same image
    a = G(z, noise_gen=torch.Generator().manual_seed(1))
    b = G(z, noise_gen=torch.Generator().manual_seed(2))
    assert not torch.equal(a, b)                        # "random": the noise seed matters
    assert not torch.equal(a, const)
    assert torch.equal(a, G(z, noise_gen=torch.Generator().manual_seed(1)))   # reproducible
    # training mode keeps drawing from G.noise_gen (the trainer's generator)
    G.train()
    G.noise_gen = torch.Generator().manual_seed(1)
    assert torch.equal(G(z), a)   # (mapping's w_avg moves in training; the image does not)
    G.noise_gen = None


def test_sample_random_noise_differs_by_noise_seed_and_reproduces():
    gan = _gan(sg_channels=8)
    _with_noise(gan.G)
    const = gan.sample(4, seed=3)
    assert torch.equal(gan.sample(4, seed=3, noise="const"), const)
    r1 = gan.sample(4, seed=3, noise="random", noise_seed=1)
    r2 = gan.sample(4, seed=3, noise="random", noise_seed=2)
    assert r1.shape == const.shape == (4, 3, 32, 32)
    assert not torch.equal(r1, r2) and not torch.equal(r1, const)
    assert torch.equal(r1, gan.sample(4, seed=3, noise="random", noise_seed=1))
    # the default noise seed follows from seed: reproducible, and differs from seed to seed
    d3 = gan.sample(4, seed=3, noise=engine.runs.METRIC_NOISE)
    assert torch.equal(d3, gan.sample(4, seed=3, noise="random"))
    assert not torch.equal(d3, const)
    with pytest.raises(ValueError, match="noise"):
        gan.sample(2, noise="none")


@pytest.mark.parametrize("model", ["dcgan", "proposed"])
def test_models_without_noise_inputs_ignore_the_mode(model):
    gan = _gan(model, ngf=8, ndf=8)
    assert not gan.config.spec.noise_inputs
    assert torch.equal(gan.sample(5, seed=2, noise="random"), gan.sample(5, seed=2))


def test_metric_noise_key_only_for_models_with_noise_inputs(tmp_path):
    for model, want in (("stylegan2", {"noise": "random"}), ("dcgan", {})):
        run = tmp_path / model
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"config": {"model": model}}))
        assert engine.metric_noise_key(run) == want


def test_curation_batches_sample_random_noise(monkeypatch):
    from paperlib.paper_b import shape_learning

    calls = []

    class FakeRun:
        def sample(self, n, **kw):
            calls.append(kw)
            return torch.zeros(n, 3, 32, 32)

    monkeypatch.setattr(shape_learning, "load_run", lambda path: FakeRun())
    shape_learning.batch_for_round({"models": ["a", "b"], "gen_seed": 10}, 1, 3)
    assert calls == [{"seed": 11, "noise": "random"}]
