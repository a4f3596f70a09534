"""The compact Pix2pixHD networks and losses (paper B's conditional model family)."""
import dataclasses
import math

import pytest
import torch

from paperlib import config, data, engine
from paperlib.data import paired
from paperlib.models import pix2pixhd


@pytest.mark.parametrize("res", [32, 64, 128])
def test_generator_and_discriminator_shapes(res):
    torch.manual_seed(0)
    G, D = pix2pixhd.build(res, in_c=4, ngf=8, ndf=8, n_blocks=2)
    maps = torch.rand(2, 4, res, res)
    img = G(maps)
    assert img.shape == (2, 3, res, res) and img.abs().max() <= 1
    outs = D(torch.cat([maps, img], 1))
    assert len(outs) == 2 and all(len(o) == 3 + 2 for o in outs)
    # the second scale sees the pair at half the resolution
    assert outs[1][0].shape[-1] < outs[0][0].shape[-1]
    assert outs[0][-1].shape[1] == 1


def test_discriminators_see_two_scales():
    D = pix2pixhd.MultiscaleDiscriminator(3, ndf=4)
    seen = []
    for d in D.ds:
        d.layers[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape[-1]))
    D(torch.rand(1, 3, 32, 32))
    assert seen == [32, 16]


def test_feature_matching_is_zero_for_identical_inputs_and_positive_otherwise():
    torch.manual_seed(0)
    D = pix2pixhd.MultiscaleDiscriminator(7, ndf=8)
    x = torch.rand(2, 7, 32, 32)
    same = pix2pixhd.feature_matching_loss(D(x), D(x), D.n_layers)
    assert same.item() == 0.0
    other = pix2pixhd.feature_matching_loss(D(x + 0.5), D(x), D.n_layers)
    assert other.item() > 0


@pytest.mark.parametrize("n_layers,num_d,lam", [(3, 2, 10.0), (2, 3, 1.0), (1, 1, 2.5)])
def test_feature_matching_weights_each_layer_and_scale_and_skips_the_output(n_layers, num_d, lam):
    # hand-built D outputs: per scale n_layers + 1 intermediate features and the output;
    # fake = real + a constant per layer, so each layer's L1 is that constant's magnitude
    g = torch.Generator().manual_seed(0)
    diffs = [[(-1) ** (d + l) * 0.25 * (1 + d + 2 * l) for l in range(n_layers + 1)]
             for d in range(num_d)]
    real = [[torch.randn(2, 3, 5 - l, 5 - l, generator=g).requires_grad_(True)
             for l in range(n_layers + 2)] for _ in range(num_d)]
    fake = [[(r + c).detach().requires_grad_(True) for r, c in zip(rs, cs)]
            + [(rs[-1] + 1000.0).detach().requires_grad_(True)]     # D's output: left out
            for rs, cs in zip(real, diffs)]
    loss = pix2pixhd.feature_matching_loss(fake, real, n_layers, lam)
    # pix2pixHD: lambda_feat * D_weights (1 / num_D) * feat_weights (4 / (n_layers_D + 1))
    w = lam * (1.0 / num_d) * (4.0 / (n_layers + 1))
    want = w * sum(abs(c) for cs in diffs for c in cs)
    assert loss.item() == pytest.approx(want, rel=1e-5)
    loss.backward()
    for fs, rs, cs in zip(fake, real, diffs):
        for f, c in zip(fs, cs):    # d/df of w * mean|f - r|: w * sign(c) / numel
            assert torch.allclose(f.grad, torch.full_like(f, w * math.copysign(1, c) / f.numel()))
        assert fs[-1].grad is None                         # the output takes no part
        assert all(r.grad is None for r in rs)             # the real features are detached
    # the output layer's difference changes nothing; an intermediate layer's does
    fake[0][-1] = real[0][-1] - 50.0
    assert pix2pixhd.feature_matching_loss(fake, real, n_layers, lam).item() == pytest.approx(want, rel=1e-5)
    fake[0][0] = real[0][0]
    assert pix2pixhd.feature_matching_loss(fake, real, n_layers, lam).item() == pytest.approx(
        want - w * abs(diffs[0][0]), rel=1e-5)


def test_lsgan_loss():
    outs = [[torch.ones(1, 1, 3, 3)], [torch.ones(1, 1, 2, 2)]]
    assert pix2pixhd.lsgan_loss(outs, True).item() == 0.0
    assert pix2pixhd.lsgan_loss(outs, False).item() == 2.0


def test_bad_resolution_is_refused():
    with pytest.raises(ValueError, match="res must be one of"):
        pix2pixhd.build(48, in_c=3)


# ----------------------------------------------------------------------------- engine
import json  # noqa: E402

import numpy as np  # noqa: E402

TINY = dict(model="pix2pixhd", res=32, batch_size=4, ngf=4, ndf=4, p2p_blocks=1,
            sample_every=1, ckpt_every=1, seed=3)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):


    folder = tmp_path_factory.mktemp("p2p") / "artist_donglein"
    data.build_artist_set(folder, "donglein", n=10, res=32, seed=0)
    return paired.load_pairs(folder, 32)


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_resume_equals_uninterrupted(tmp_path, pairs):
    c3 = engine.make_config(**TINY, epochs=3)
    full = engine.train(c3, pairs, tmp_path / "full", progress=False)
    assert full.status == "finished" and len(full.rows) == 3
    engine.train(engine.make_config(**{**c3.to_dict(), "epochs": 1}), pairs, tmp_path / "resumed",
            progress=False)
    resumed = engine.train(c3, pairs, tmp_path / "resumed", progress=False)
    assert _strip(resumed.rows) == _strip(full.rows)
    a = torch.load(engine.list_checkpoints(tmp_path / "full")[-1][1], weights_only=True)
    b = torch.load(engine.list_checkpoints(tmp_path / "resumed")[-1][1], weights_only=True)
    for key in ("G", "D"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)
    # the map channels come from the data; the fixed grid's "noise" is map indices only
    assert a["config"]["map_channels"] == len(paired.MAP_CLASSES) + 1   # + instance boundary
    assert a["fixed_noise"][0].dtype == torch.int64
    # a loaded run translates maps deterministically, each map once, in order
    run = engine.load_run(tmp_path / "full")
    out = pix2pixhd.translate(run, pairs.maps[:6])
    assert out.shape == (6, 3, 32, 32) and torch.equal(out, pix2pixhd.translate(run, pairs.maps[:6]))
    assert torch.allclose(out[2:3], pix2pixhd.translate(run, pairs.maps[2:3]), atol=1e-6)
    with pytest.raises(ValueError, match="no maps"):
        engine.load_run(tmp_path / "full").sample(2)


def _grid(run_dir, epoch):
    """A run's sample grid of ``epoch`` as decoded pixels."""
    from PIL import Image

    with Image.open(run_dir / "samples" / f"epoch_{epoch:04d}.png") as im:
        return np.asarray(im.convert("RGB")).copy()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, pairs):
    out = tmp_path_factory.mktemp("p2p_full") / "run"
    res = engine.train(engine.make_config(**TINY, epochs=2), pairs, out, progress=False)
    assert res.status == "finished"
    return out


# what a checkpoint's "fixed_noise" record is replaced with before resuming: None keeps it;
# "other maps" has the record's dtype and shape but names other maps (an engine that read it
# would draw another grid); the others no longer fit the latent (wrong length; the float
# maps themselves, as checkpoints written when the grid held maps had)
_GRID_RECORDS = {
    "as written": None,
    "other maps": lambda n: [(torch.arange(engine.loop.N_FIXED) + 1) % n],
    "wrong length": lambda n: [torch.arange(5)],
    "float maps (old format)": lambda n: [torch.rand(n, 8, 32, 32)],
}


@pytest.mark.parametrize("record", list(_GRID_RECORDS))
def test_resumed_sample_grid_is_rebuilt_from_the_seed(tmp_path, pairs, uninterrupted, record):
    # the grid's noise (for pix2pixhd: map indices) follows from the seed alone: a resumed
    # run draws the uninterrupted run's grid whatever its checkpoint's copy holds
    c2 = engine.make_config(**TINY, epochs=2)
    engine.train(engine.make_config(**{**c2.to_dict(), "epochs": 1}), pairs, tmp_path / "run",
            progress=False)
    path = engine.list_checkpoints(tmp_path / "run")[-1][1]
    ckpt = torch.load(path, weights_only=True)
    assert torch.equal(ckpt["fixed_noise"][0], torch.arange(engine.loop.N_FIXED) % len(pairs))
    if _GRID_RECORDS[record] is not None:
        ckpt["fixed_noise"] = _GRID_RECORDS[record](len(pairs))
        assert not torch.equal(ckpt["fixed_noise"][0].float(),
                               (torch.arange(engine.loop.N_FIXED) % len(pairs)).float())
        torch.save(ckpt, path)
    res = engine.train(c2, pairs, tmp_path / "run", progress=False)
    assert res.status == "finished" and res.epochs_done == 2
    # the epoch-2 grid (drawn after the resume) is the uninterrupted run's, pixel for pixel
    assert np.array_equal(_grid(tmp_path / "run", 2), _grid(uninterrupted, 2))
    # and the new checkpoint records the seed's grid again, not the copy it resumed from
    last = torch.load(engine.list_checkpoints(tmp_path / "run")[-1][1], weights_only=True)
    full = torch.load(engine.list_checkpoints(uninterrupted)[-1][1], weights_only=True)
    assert torch.equal(last["fixed_noise"][0], full["fixed_noise"][0])


def test_training_lowers_the_reconstruction_error(tmp_path, pairs):
    # the model learns its pairs: after 30 epochs its outputs are much closer (L1) to the
    # targets of their maps than at initialisation
    cfg = engine.make_config(**{**TINY, "ngf": 8, "ndf": 8, "p2p_blocks": 2, "ckpt_every": 30,
                           "sample_every": 30}, epochs=30)
    res = engine.train(cfg, pairs, tmp_path / "run", progress=False)
    assert res.status == "finished"
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        opts = dataclasses.replace(cfg.options, map_channels=pairs.maps.shape[1])
        maps, G0, _ = pix2pixhd.networks(dataclasses.replace(cfg, options=opts))
    pix2pixhd.init_weights(G0)
    with torch.no_grad():
        before = (G0.eval()(pairs.maps) - pairs.images).abs().mean().item()
    after = (pix2pixhd.translate(engine.load_run(tmp_path / "run"), pairs.maps) - pairs.images).abs().mean().item()
    assert after < 0.6 * before, (before, after)


def test_nan_ends_a_pix2pixhd_run_as_diverged(tmp_path, pairs):
    res = engine.train(engine.make_config(**TINY, epochs=3, inject_nan_at_epoch=2), pairs, tmp_path,
                  progress=False)
    assert res.status == "diverged at epoch 2" and res.epochs_done == 1


def test_pix2pixhd_options_are_validated_and_keyed(tmp_path, pairs):
    with pytest.raises(ValueError, match="augmentation"):
        engine.make_config(**TINY, epochs=1, augment="ada")
    with pytest.raises(ValueError, match="map_source"):
        engine.make_config(**TINY, epochs=1, map_source="nosuch")
    with pytest.raises(ValueError, match="vgg_weights"):
        engine.make_config(**TINY, epochs=1, vgg_weights=str(tmp_path / "none.pt"))
    with pytest.raises(ValueError, match="map_channels=3"):
        engine.train(engine.make_config(**TINY, epochs=1, map_channels=3), pairs, tmp_path / "r",
                progress=False)
    with pytest.raises(ValueError, match="3 \\+ map channels"):
        engine.train(engine.make_config(**TINY, epochs=1), pairs.images, tmp_path / "r2", progress=False)
    # pix2pixhd's fields are in its run key and in no other model's
    a, b = engine.make_config(**TINY, epochs=1), engine.make_config(**{**TINY, "p2p_blocks": 2}, epochs=1)
    assert engine.run_name(a, "k") != engine.run_name(b, "k")
    d1 = engine.make_config(model="dcgan", epochs=1)
    d2 = engine.make_config(model="dcgan", epochs=1, p2p_blocks=2, fm_lambda=1.0)
    assert engine.run_name(d1, "k") == engine.run_name(d2, "k")
    s1 = engine.make_config(model="stylegan2", epochs=1)
    s2 = engine.make_config(model="stylegan2", epochs=1, map_source="edges")
    assert engine.run_name(s1, "k") == engine.run_name(s2, "k")


def test_vgg_loss_needs_user_weights_and_is_recorded(tmp_path, pairs):
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    feats = make_layers(cfgs["E"])[:30]
    path = tmp_path / "vgg19.pt"
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, path)
    vgg = pix2pixhd.VGGLoss(path)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert vgg(x, x).item() == 0.0 and vgg(x, x.flip(-1)).item() > 0
    bad = tmp_path / "bad.pt"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="VGG19 weights"):
        pix2pixhd.VGGLoss(bad)
    res = engine.train(engine.make_config(**TINY, epochs=1, vgg_weights=str(path)), pairs,
                  tmp_path / "run", progress=False)
    assert res.status == "finished"
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert saved["vgg_weights"] == str(path)


def _random_vgg19(path):
    """A randomly initialised VGG19 ``features`` state dict (torchvision's keys), saved.
    He-initialised, so the features keep their scale through the 16 convolutions."""
    from torchvision.models.vgg import cfgs, make_layers

    with torch.random.fork_rng():
        torch.manual_seed(1)
        feats = make_layers(cfgs["E"])[:30]
        for m in feats.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                torch.nn.init.zeros_(m.bias)
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, path)
    return path


def _flat_grads(module):
    return torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros(p.numel())
                      for p in module.parameters()])


def test_vgg_loss_adds_vgg_lambda_times_its_gradient_to_the_generators(tmp_path, pairs):
    # one engine step from the same initial weights without VGG, with VGG at the default
    # vgg_lambda (10) and at 2.5: G's gradient (what the step's G update used; D's update
    # does not touch it) is G's adversarial + feature-matching gradient plus vgg_lambda
    # times the gradient of the VGG loss alone
    vgg_path = _random_vgg19(tmp_path / "vgg19.pt")
    base = {**TINY, "epochs": 1, "map_channels": pairs.maps.shape[1]}
    batch = pairs.joined()[:2]

    def g_grad(**kw):
        trainer = engine.build_trainer(engine.make_config(**base, **kw), torch.device("cpu"))
        assert isinstance(trainer.vgg, pix2pixhd.VGGLoss) == ("vgg_weights" in kw)
        trainer.step(batch, None, torch.Generator().manual_seed(0))
        return _flat_grads(trainer.G)

    g0 = g_grad()
    g10 = g_grad(vgg_weights=str(vgg_path))
    g25 = g_grad(vgg_weights=str(vgg_path), vgg_lambda=2.5)
    # the VGG loss's own gradient at G's initial weights, computed apart from the step
    G = engine.build_trainer(engine.make_config(**base), torch.device("cpu")).G
    pix2pixhd.VGGLoss(vgg_path)(G(batch[:, 3:]), batch[:, :3]).backward()
    gv = _flat_grads(G)
    assert gv.norm() > 0 and (g10 - g0).norm() > 0.05 * g0.norm()   # VGG changes G's gradient
    for lam, g in ((10.0, g10), (2.5, g25)):   # (float32 rounding: ~1e-6 of the gradient)
        assert (g - g0 - lam * gv).norm() <= 1e-5 * (g0.norm() + lam * gv.norm()), lam


def test_cli_trains_resumes_and_evaluates_pix2pixhd(tmp_path):

    from paperlib.cli import main

    folder = tmp_path / "artist_geometric"
    data.build_artist_set(folder, "geometric", n=10, res=32, seed=0)
    out = tmp_path / "run"
    common = ["train", "--model", "pix2pixhd", "--data", str(folder), "--out", str(out),
              "--res", "32", "--ngf", "4", "--ndf", "4", "--batch-size", "5", "--no-progress"]
    assert main([*common, "--epochs", "1"]) == 0
    assert json.loads((out / "status.json").read_text())["epochs_done"] == 1
    assert main([*common, "--epochs", "2"]) == 0
    st = json.loads((out / "status.json").read_text())
    assert st["status"] == "finished" and st["epochs_done"] == 2 and len(engine.read_log(out)) == 2
    saved = json.loads((out / "config.json").read_text())
    assert saved["data"]["map_source"] == "recipe" and saved["config"]["vgg_weights"] is None
    assert main(["evaluate", "--run", str(out), "--data", str(folder), "--json",
                 str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert math.isfinite(m["fid"]) and m["n_fake"] == config.get_profile().n_fake
    assert main([*common, "--epochs", "2", "--augment", "ada"]) == 2


def test_boundary_channel_option_sets_the_maps_g_and_d_see(tmp_path, pairs):
    # default: recipe maps + pix2pixHD's instance-boundary channel; p2p_boundary=False drops
    # it (a Pairs passed in is joined the run's way); translate() takes Pairs either way
    assert pairs.boundary and pairs.maps.shape[1] == len(paired.MAP_CLASSES) + 1
    runs = {}
    for boundary in (True, False):
        cfg = engine.make_config(**TINY, epochs=1, p2p_boundary=boundary)
        res = engine.train(cfg, pairs, tmp_path / str(boundary), progress=False)
        assert res.status == "finished"
        run = engine.load_run(tmp_path / str(boundary))
        assert run.config.map_channels == len(paired.MAP_CLASSES) + boundary
        assert run.G.head[1].in_channels == run.config.map_channels
        assert run.D.ds[0].layers[0][0].in_channels == run.config.map_channels + 3
        out = pix2pixhd.translate(run, pairs)
        assert out.shape == (len(pairs), 3, 32, 32)
        runs[boundary] = cfg
    assert engine.run_name(runs[True], "k") != engine.run_name(runs[False], "k")
    ins = pix2pixhd.model_inputs(runs[False], pairs)
    assert torch.equal(ins, pairs.maps[:, :-1])
    plain = paired.Pairs(pairs.images, pairs.maps[:, :-1], pairs.files, "recipe",
                         pairs.instances, False)
    assert torch.equal(pix2pixhd.model_inputs(runs[True], plain), pairs.maps)
    with pytest.raises(ValueError, match="p2p_boundary"):
        engine.make_config(**TINY, epochs=1, p2p_boundary="yes")


def test_generator_options_and_fix_defaults():
    cfg = engine.make_config(**TINY, epochs=1, map_channels=9)
    assert (cfg.p2p_norm, cfg.p2p_skip, cfg.l1_lambda) == ("none", True, 0.0)
    _, G, _ = pix2pixhd.networks(cfg)
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in G.modules())
    assert G.tail[1].in_channels == 4 + 4 + 9           # decoder + head features + map
    _, G_old, _ = pix2pixhd.networks(engine.make_config(**TINY, epochs=1, map_channels=9,
                                                         p2p_norm="instance", p2p_skip=False))
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in G_old.modules()) > 0
    assert G_old.tail[1].in_channels == 4
    # the skip carries the map to the last layer: with the body's output zeroed, G's output
    # still depends on the map
    with torch.no_grad():
        for p in G.body.parameters():
            p.zero_()
        m1, m2 = torch.zeros(1, 9, 32, 32), torch.zeros(1, 9, 32, 32)
        m2[:, 3] = 1
        assert not torch.allclose(G(m1), G(m2))
    for bad in ({"p2p_norm": "batch"}, {"p2p_skip": 1}, {"l1_lambda": -1.0}):
        with pytest.raises(ValueError):
            engine.make_config(**TINY, epochs=1, **bad)


def test_lr_decays_linearly_to_zero_over_the_second_half(tmp_path, pairs):
    # 10 pairs, batch 5, 4 epochs: 8 updates; p2p_decay=0.5 keeps lr for the first 4, then
    # 1, 3/4, 1/2, 1/4 of it (0 would be reached at the end of the run)
    cfg = engine.make_config(**{**TINY, "batch_size": 5}, epochs=4, p2p_decay=0.5,
                             map_channels=pairs.maps.shape[1])
    trainer = engine.build_trainer(cfg, torch.device("cpu"))
    trainer.bind_data(pairs.joined())
    seen = []
    for _ in range(8):
        trainer.step(pairs.joined()[:5], None, None)
        seen.append([g["lr"] for o in (trainer.opt_g, trainer.opt_d) for g in o.param_groups])
    lr = cfg.optim["lr"]
    want = [1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    for w, got in zip(want, seen):
        assert got == pytest.approx([w * lr] * len(got))
    assert trainer.extra_state() == {"steps": 8}
    # no decay: lr constant; a step object without the data cannot know the run's length
    const = engine.build_trainer(engine.make_config(**TINY, epochs=4, map_channels=9),
                                 torch.device("cpu"))
    const.step(pairs.joined()[:4], None, None)
    assert const.opt_g.param_groups[0]["lr"] == lr
    unbound = engine.build_trainer(cfg, torch.device("cpu"))
    with pytest.raises(ValueError, match="run's length"):
        unbound.step(pairs.joined()[:5], None, None)
    with pytest.raises(ValueError, match="p2p_decay"):
        engine.make_config(**TINY, epochs=1, p2p_decay=1.5)
    assert pix2pixhd.PIX2PIXHD_SCHEDULE == {"batch_size": 1, "p2p_decay": 0.5}


def test_decaying_run_resumes_exactly(tmp_path, pairs):
    kw = {**TINY, "p2p_decay": 0.5}
    full = engine.train(engine.make_config(**kw, epochs=4), pairs, tmp_path / "full",
                        progress=False)
    engine.train(engine.make_config(**kw, epochs=4), pairs, tmp_path / "part", progress=False)
    # kill-and-resume: drop the last two checkpoints and the status, train again
    part = tmp_path / "part"
    for _, path in engine.list_checkpoints(part)[-2:]:
        path.unlink()
    (part / "status.json").write_text('{"status": "running", "epochs_done": 2}')
    resumed = engine.train(engine.make_config(**kw, epochs=4), pairs, part, progress=False)
    assert _strip(resumed.rows) == _strip(full.rows)
    a = torch.load(engine.list_checkpoints(tmp_path / "full")[-1][1], weights_only=True)
    b = torch.load(engine.list_checkpoints(part)[-1][1], weights_only=True)
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert a["opt_g"]["param_groups"][0]["lr"] == b["opt_g"]["param_groups"][0]["lr"] > 0


def test_resize_upsampling_option_builds_and_is_refused_when_unknown():
    """``p2p_up="resize"`` swaps each transposed convolution for a nearest resize + 3x3
    convolution (same output size); an unknown mode is refused by name."""
    import torch

    from paperlib.models import pix2pixhd as p2p
    G_t, _ = p2p.build(32, 9, 8, 8, 1, 1, up="transpose")
    G_r, _ = p2p.build(32, 9, 8, 8, 1, 1, up="resize")
    x = torch.rand(2, 9, 32, 32)
    assert G_t(x).shape == G_r(x).shape == (2, 3, 32, 32)
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in G_t.modules())
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in G_r.modules())
    assert any(isinstance(m, torch.nn.Upsample) for m in G_r.modules())
    with pytest.raises(ValueError, match="up must be one of"):
        p2p.build(32, 9, 8, 8, 1, 1, up="bilinear")


def test_init_from_a_run_with_other_map_channels_is_refused_up_front(tmp_path, pairs,
                                                                     uninterrupted):
    """The map channels come from the data, so the start weights are checked once the data
    has set them: a clear BadInput naming the tensor, before the run folder is written."""
    ckpt = engine.RunDir(uninterrupted).checkpoint()[1]
    fewer = dataclasses.replace(pairs, maps=pairs.maps[:, :2])   # 2 map channels, not C
    cfg = engine.make_config(**TINY, epochs=1, init_from=str(ckpt))
    with pytest.raises(engine.BadInput, match=r"networks of other sizes: G\..* there"):
        engine.train(cfg, fewer, tmp_path / "new", progress=False)
    assert not (tmp_path / "new").exists()
    res = engine.train(cfg, pairs, tmp_path / "same", progress=False)   # same channels: fine
    assert res.status == "finished"
