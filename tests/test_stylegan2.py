"""StyleGAN2 (paper B's model family): networks, regularisers, EMA and the shared engine."""
import json
import math

import pytest
import torch
from torch import nn

from paperlib import data, engine, metrics
from paperlib.models import stylegan2
from paperlib.models import stylegan2 as sg

TINY = dict(model="stylegan2", res=32, nz=16, sg_channels=16, batch_size=8, sample_every=1,
            ckpt_every=1, device="cpu")


@pytest.mark.parametrize("res", [32, 64, 128])
def test_output_shapes(res):
    torch.manual_seed(0)
    G = stylegan2.Generator(res, z_dim=16, w_dim=16, channel_base=256, channel_max=16)
    D = stylegan2.Discriminator(res, channel_base=256, channel_max=16)
    z = torch.randn(4, 16)
    ws = G.mapping(z)
    assert ws.shape == (4, G.num_ws, 16) and G.num_ws == 2 * int(math.log2(res)) - 2
    img = G(z)
    assert img.shape == (4, 3, res, res) and torch.isfinite(img).all()
    assert D(img).shape == (4,)
    G.eval()  # constant noise in eval mode: the same z gives the same image
    assert torch.equal(G(z), G(z))


def test_resampling_keeps_constants_and_sizes():
    x = torch.full((2, 3, 8, 8), 0.7)
    up, down = stylegan2.upsample2d(x), stylegan2.downsample2d(x)
    assert up.shape == (2, 3, 16, 16) and down.shape == (2, 3, 4, 4)
    # FIR [1,3,3,1] with unit DC gain: a constant stays constant away from the padded border
    assert torch.allclose(up[:, :, 2:-2, 2:-2], x[:, :, :1, :1].expand(2, 3, 12, 12), atol=1e-6)
    assert torch.allclose(down[:, :, 1:-1, 1:-1], torch.full((2, 3, 2, 2), 0.7), atol=1e-6)


def test_demodulated_weights_have_unit_norm_per_output_channel():
    torch.manual_seed(0)
    weight = torch.randn(8, 5, 3, 3) * 3.0
    styles = torch.rand(4, 5) * 4 + 0.1
    w = stylegan2.demodulated_weights(weight, styles)
    norms = w.square().sum(dim=[2, 3, 4]).sqrt()
    assert norms.shape == (4, 8)
    assert torch.allclose(norms, torch.ones(4, 8), atol=1e-4)
    # the fast path used in training equals a convolution with these weights, per sample
    x = torch.randn(4, 5, 6, 6)
    y = stylegan2.modulated_conv2d(x, weight, styles, demodulate=True)
    direct = torch.stack([nn.functional.conv2d(x[i:i + 1], w[i], padding=1)[0] for i in range(4)])
    assert torch.allclose(y, direct, atol=1e-4)


def test_r1_penalty_is_zero_on_a_constant_discriminator():
    class ConstantD(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Parameter(torch.tensor(0.3))

        def forward(self, x):
            return x.sum(dim=[1, 2, 3]) * 0.0 + self.c

    real = torch.randn(5, 3, 32, 32)
    penalty, logits = stylegan2.r1_penalty(ConstantD(), real)
    assert torch.equal(penalty, torch.zeros(5)) and torch.allclose(logits, torch.full((5,), 0.3))
    # and positive on a real discriminator
    torch.manual_seed(0)
    penalty, _ = stylegan2.r1_penalty(stylegan2.Discriminator(32, channel_base=256, channel_max=16), real)
    assert (penalty > 0).all()


class _LinearD(nn.Module):
    """D(x) = w . x + b on flattened 3 x 32 x 32 images: grad_x D = w for every sample."""

    def __init__(self):
        super().__init__()
        # squares 1, 4, 0.25, 9 repeated: ||w||^2 = 14.25 * 768 = 10944, exact in float32
        self.weight = nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0]).repeat(768))
        self.bias = nn.Parameter(torch.tensor(0.7))

    def forward(self, x):
        return x.flatten(1) @ self.weight + self.bias


def _tiny_step(D=None, **kw):
    """A StyleGAN2Step on TINY's networks (seeded); ``D`` replaces its discriminator."""
    cfg = engine.make_config(**{**TINY, **kw}, epochs=1)
    trainer = engine.build_trainer(cfg, torch.device("cpu"))
    if D is not None:
        trainer = stylegan2.StyleGAN2Step(trainer.latent, trainer.G, D, **cfg.optim,
                                   r1_gamma=trainer.r1_gamma, pl_weight=trainer.pl_weight,
                                   ema_kimg=trainer.ema_kimg, mixing_prob=trainer.mixing_prob)
    return trainer


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight_norm():
    # r1_penalty is per sample ||grad_x D(x)||^2: no batch mean, no 1/2, no gamma
    D = _LinearD()
    real = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    penalty, logits = stylegan2.r1_penalty(D, real)
    assert torch.equal(penalty, torch.full((5,), 10944.0))
    assert torch.allclose(logits, real.flatten(1) @ D.weight.detach() + 0.7, atol=1e-4)
    # the step's lazy R1 (Dreg, at step 0 of every r1_interval) minimises
    # mean(penalty) * gamma / 2 * r1_interval: D's gradient is gamma * r1_interval * w
    gamma = 0.3
    trainer = _tiny_step(D, r1_gamma=gamma, sg_channels=8, batch_size=4)
    for group in trainer.opt_d.param_groups:   # lr 0: w stays put through Dmain and Dreg
        group["lr"] = 0.0
    from paperlib.engine.augment import Augmenter

    trainer.step(real[:4].clamp(-1, 1), Augmenter("none"), torch.Generator().manual_seed(0))
    assert trainer.n_steps == 1
    assert torch.allclose(D.weight.grad, gamma * trainer.r1_interval * D.weight.detach(),
                          rtol=1e-6)
    assert D.bias.grad is None or D.bias.grad.item() == 0.0


def test_ema_update_and_beta():
    torch.manual_seed(0)
    G = stylegan2.Generator(32, 8, 8, channel_base=128, channel_max=8)
    G_ema = stylegan2.Generator(32, 8, 8, channel_base=128, channel_max=8)
    before = [p.detach().clone() for p in G_ema.parameters()]
    stylegan2.ema_update(G_ema, G, beta=0.75)
    for p_ema, p, b in zip(G_ema.parameters(), G.parameters(), before):
        assert torch.allclose(p_ema, 0.25 * p + 0.75 * b, atol=1e-6)
    stylegan2.ema_update(G_ema, G, beta=0.0)   # beta 0: a copy
    assert all(torch.equal(a, b) for a, b in zip(G_ema.parameters(), G.parameters()))
    # half-life: after ema_kimg thousand images the old weights count one half
    beta = stylegan2.ema_beta(32, ema_kimg=10, images_seen=10 ** 9)
    assert math.isclose(beta ** (10_000 / 32), 0.5, rel_tol=1e-9)
    assert stylegan2.ema_beta(32, 10, images_seen=320) < beta   # ramp-up: shorter early on


def _nvlabs_ema_beta(batch_size, ema_kimg, cur_nimg, ema_rampup=0.05):
    """stylegan2-ada-pytorch's training_loop.py, "Update G_ema" (cur_nimg: the images shown
    before this step -- NVlabs adds the batch after the EMA update)."""
    ema_nimg = ema_kimg * 1000
    if ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


@pytest.mark.parametrize("batch,kimg,nimg,rampup", [
    (8, 2.5, 0, 0.05), (8, 2.5, 8, 0.05), (8, 2.5, 800, 0.05), (8, 2.5, 50_000, 0.05),
    (8, 2.5, 10 ** 6, 0.05), (32, 10, 10 ** 6, None), (4, 0.0015, 28, 0.05),
    (4, 0.0015, 32, 0.05), (4, 0.0015, 4, 0.1)])
def test_ema_beta_is_nvlabs_formula(batch, kimg, nimg, rampup):
    want = _nvlabs_ema_beta(batch, kimg, nimg, rampup)
    assert stylegan2.ema_beta(batch, kimg, nimg, rampup) == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_g_ema_follows_nvlabs_beta_at_every_step():
    # ema_kimg 0.001 (1 image) at batch 4: the ramp-up (5 % of the images seen) caps at
    # step 5, so the 7 steps cover the ramp and the plateau. After each step G_ema must be
    # G.lerp(G_ema_before, beta_k) with NVlabs' beta_k, rebuilt here from the weights; a
    # wrong beta leaves G_ema off by |beta - beta_k| * |G_ema_before - G|
    from paperlib.engine.augment import Augmenter

    trainer = _tiny_step(sg_channels=8, batch_size=4, ema_kimg=0.001)
    assert trainer.ema_kimg == 0.001
    real = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    g = torch.Generator().manual_seed(0)
    off = []
    for k in range(7):
        before = [p.detach().clone() for p in trainer.G_ema.parameters()]
        trainer.step(real, Augmenter("none"), g)
        beta = _nvlabs_ema_beta(4, 0.001, 4 * k)
        want = [p.detach().lerp(b, beta) for p, b in zip(trainer.G.parameters(), before)]
        err = sum((e - w).double().square().sum() for e, w in zip(trainer.G_ema.parameters(), want))
        gap = sum((b - p.detach()).double().square().sum()
                  for b, p in zip(before, trainer.G.parameters()))
        off.append((k, beta, float((err / gap).sqrt())))     # = |beta used - beta|
    assert off[0][1] == 0.0 and off[-1][1] == off[-2][1] == 0.5 ** 4
    assert all(e <= 1e-5 for _, _, e in off), off


def test_path_length_is_finite_and_positive():
    torch.manual_seed(0)
    G = stylegan2.Generator(32, 8, 8, channel_base=128, channel_max=8)
    lengths = stylegan2.path_length(G, torch.randn(3, 8), torch.Generator().manual_seed(0))
    assert lengths.shape == (3,) and (lengths > 0).all() and torch.isfinite(lengths).all()


def test_path_length_mean_is_the_moving_average_of_observed_lengths(monkeypatch):
    # Greg runs every pl_interval (4) steps on batch // 2 latents; after each it moves
    # pl_mean 1 % (pl_decay 0.01) of the way to the batch's mean path length, from 0
    observed = []
    real_path_length = stylegan2.path_length

    def recording(G, z, generator=None):
        lengths = real_path_length(G, z, generator)
        observed.append(lengths.detach().clone())
        return lengths

    monkeypatch.setattr(sg, "path_length", recording)
    from paperlib.engine.augment import Augmenter

    trainer = _tiny_step(pl_weight=2.0, sg_channels=8, batch_size=4)
    real = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    g = torch.Generator().manual_seed(0)
    want, means = 0.0, []
    for step in range(5):
        trainer.step(real, Augmenter("none"), g)
        if step % 4 == 0:
            assert len(observed) == step // 4 + 1 and observed[-1].shape == (2,)
            means.append(observed[-1].double().mean().item())
            want += 0.01 * (means[-1] - want)
        assert len(observed) == step // 4 + 1
        assert trainer.pl_mean.item() == pytest.approx(want, rel=1e-6), step
    assert len(observed) == 2 and want > 0
    # (a plain mean, or the last length, would be two orders of magnitude larger)
    assert want < 0.05 * min(means)


@pytest.fixture(scope="module")
def images():
    return torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_resume_equals_uninterrupted_and_checkpoint_has_ema(tmp_path, images):
    # r1 every 16 steps and pl every 4: 2 steps per epoch, so 3 epochs cross both
    c3 = engine.make_config(**TINY, epochs=3, augment="ada", pl_weight=2.0, mixing_prob=0.5)
    full = engine.train(c3, images, tmp_path / "full", progress=False)
    assert full.status == "finished" and len(full.rows) == 3
    engine.train(engine.make_config(**{**c3.to_dict(), "epochs": 1}), images, tmp_path / "resumed",
            progress=False)
    resumed = engine.train(c3, images, tmp_path / "resumed", progress=False)
    assert _strip(resumed.rows) == _strip(full.rows)
    a = torch.load(engine.list_checkpoints(tmp_path / "full")[-1][1], weights_only=True)
    b = torch.load(engine.list_checkpoints(tmp_path / "resumed")[-1][1], weights_only=True)
    for key in ("G", "G_ema", "D", "latent"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)
    assert a["extra"]["n_steps"] == 6 and a["extra"]["n_images"] == 48
    # sampling and evaluation use the EMA generator
    gan = engine.load_run(tmp_path / "full")
    for name, p in gan.G.state_dict().items():
        assert torch.equal(p, a["G_ema"][name])
    assert not all(torch.equal(a["G"][k], a["G_ema"][k]) for k in a["G"])
    s = gan.sample(5, seed=3)
    assert s.shape == (5, 3, 32, 32) and torch.equal(s, gan.sample(5, seed=3))


def test_nan_ends_a_stylegan2_run_as_diverged(tmp_path, images):
    res = engine.train(engine.make_config(**TINY, epochs=3, inject_nan_at_epoch=2), images, tmp_path,
                  progress=False)
    assert res.status == "diverged at epoch 2" and res.epochs_done == 1


def test_stylegan2_options_are_validated_and_keyed():
    for bad in (dict(r1_gamma=-1.0), dict(pl_weight=math.nan), dict(mixing_prob=1.5),
                dict(ema_kimg=0), dict(sg_channels=0)):
        with pytest.raises(ValueError):
            engine.make_config(**{**TINY, **bad}, epochs=1)
    a = engine.make_config(**TINY, epochs=1)
    assert engine.run_name(a, "x") != engine.run_name(engine.make_config(**TINY, epochs=1, r1_gamma=1.0), "x")
    # StyleGAN2-only fields do not enter a DCGAN run's key (paper-A caches stay valid)
    d = dict(model="dcgan", epochs=1, res=32)
    assert engine.run_name(engine.make_config(**d), "x") == engine.run_name(engine.make_config(**d, r1_gamma=9.0), "x")
    assert a.optim["lr"] == 0.0025 and a.optim["betas"] == (0.0, 0.99)


def test_sg_lr_sets_the_adam_lr_and_keys_the_run_only_when_set():
    for bad in (0, -1e-3, math.inf):
        with pytest.raises(ValueError):
            engine.make_config(**TINY, epochs=1, sg_lr=bad)
    a = engine.make_config(**TINY, epochs=1)
    fast = engine.make_config(**TINY, epochs=1, sg_lr=0.005)
    assert a.sg_lr is None and a.optim["lr"] == 0.0025
    assert fast.optim == {**a.optim, "lr": 0.005}
    assert engine.run_name(fast, "x") != engine.run_name(a, "x")
    # at its default the field is left out of the key (runs cached before it keep their names)
    key = {k: v for k, v in a.to_dict().items() if k != "sg_lr"}
    assert "sg_lr" in a.to_dict() and engine.run_name(a, "x") == engine.run_name(
        engine.make_config(**key), "x")
    step = stylegan2._step(fast, *stylegan2._networks(fast), torch.device("cpu"))
    assert {g["lr"] for opt in (step.opt_g, step.opt_d) for g in opt.param_groups} <= {
        0.005 * r for r in (4 / 5, 16 / 17, 1.0)}


@pytest.mark.learning
def test_short_training_lowers_fid_and_kid(tmp_path):
    """A tiny set of red discs on white: 160 StyleGAN2 steps move the samples towards it
    (measured: FID 343 -> 277, KID 0.456 -> 0.284 on this machine)."""


    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    imgs = []
    for _ in range(32):
        cx, cy, r = (8 + 16 * torch.rand(3, generator=g)).tolist()
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2 < (r / 2 + 4) ** 2).float()
        img = torch.ones(3, 32, 32)
        img[1] -= disc
        img[2] -= disc
        imgs.append(img * 2 - 1)
    real = torch.stack(imgs)
    cfg = engine.make_config(**{**TINY, "sample_every": 40, "ckpt_every": 40}, epochs=40, threads=1)
    trainer = engine.build_trainer(cfg, "cpu")
    latent, G_init = trainer.sampler()
    G_init.eval()
    with torch.no_grad():
        before = G_init(latent(*latent.sample_noise(64, torch.Generator().manual_seed(1))))
    res = engine.train(cfg, real, tmp_path / "run", progress=False)
    assert res.status == "finished"
    after = engine.load_run(tmp_path / "run").sample(64, seed=1)
    ex = metrics.get_extractor()
    ex.progress = False
    fr = ex(real)
    fb, fa = ex(before), ex(after)
    fid_b, fid_a = metrics.fid_from_features(fr, fb), metrics.fid_from_features(fr, fa)
    kid_b, kid_a = metrics.kid(fr, fb, seed=0)[0], metrics.kid(fr, fa, seed=0)[0]
    assert fid_a < 0.9 * fid_b, (fid_b, fid_a)
    assert kid_a < 0.8 * kid_b, (kid_b, kid_a)


def test_cli_trains_resumes_and_evaluates_stylegan2(tmp_path):

    from paperlib.cli import main

    # the donglein stand-in: its recipes have "eyes"/"mouth" that are not emoji part labels
    folder = tmp_path / "artist_donglein"
    data.build_artist_set(folder, "donglein", n=12, res=32, seed=0)
    out = tmp_path / "run"
    common = ["train", "--model", "stylegan2", "--data", str(folder), "--out", str(out),
              "--res", "32", "--augment", "ada", "--channels", "16", "--nz", "16",
              "--batch-size", "6", "--no-progress"]
    assert main([*common, "--epochs", "1"]) == 0
    assert json.loads((out / "status.json").read_text())["epochs_done"] == 1
    assert main([*common, "--epochs", "2"]) == 0
    st = json.loads((out / "status.json").read_text())
    assert st["status"] == "finished" and st["epochs_done"] == 2
    assert len(engine.read_log(out)) == 2
    assert main(["evaluate", "--run", str(out), "--data", str(folder), "--n-fake", "12",
                 "--json", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert math.isfinite(m["fid"]) and math.isfinite(m["kid"])
    assert main([*common[:-1], "--epochs", "2", "--model", "nosuch"]) == 2
