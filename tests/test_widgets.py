"""Paper A's latent explorer: the pure rendering logic and the headless widget, on tiny real
runs (one epoch of each model on random images)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from paperlib import engine
from paperlib.paper_a import (
    LatentExplorer,
    component_images,
    default_controls,
    interpolate,
    interpolation_strip,
    latent_explorer,
    latent_vector,
    mean_adjustment,
    mu_sweep,
    pca_directions,
    pca_sweep,
    render,
    seed_noise,
)
from paperlib.utils.images import tile, to_uint8_hwc

MODELS = ("dcgan", "deligan", "proposed")
OPTS = {"dcgan": {}, "deligan": {"deligan_K": 6}, "proposed": {"proposed_N": 2}}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny nets: one thread is faster, and immune to OpenMP oversubscription on a busy
    shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """model -> run folder of a 1-epoch, 32 px, ngf = ndf = 4 run on 16 random images."""
    root = tmp_path_factory.mktemp("runs")
    images = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = {}
    for model in MODELS:
        cfg = engine.make_config(model=model, epochs=1, res=32, ngf=4, ndf=4, batch_size=8,
                                device="cpu", **OPTS[model])
        res = engine.train(cfg, images, root / model, progress=False)
        assert res.status == "finished"
        out[model] = res.run_dir
    return out


@pytest.fixture(scope="module")
def gans(runs):
    return {m: engine.load_run(p, device="cpu") for m, p in runs.items()}


@pytest.fixture(scope="module")
def pcas(gans):
    return {m: pca_directions(g, n=512) for m, g in gans.items()}


# --------------------------------------------------------------------------- pure logic


@pytest.mark.parametrize("model", MODELS)
def test_render_deterministic_and_matches_sample(gans, pcas, model):
    gan, pca = gans[model], pcas[model]
    ctl = {"seed_a": 3, "seed_b": 5, "t": 0.4, "offsets": (1.5, -0.5, 0.0, 0.7)}
    a = render(gan, ctl, pca)
    b = render(gan, dict(ctl), pca)
    assert a.dtype == np.uint8 and a.shape == (32, 32, 3)
    assert np.array_equal(a, b)
    # neutral controls reproduce exactly what TrainedGAN.sample draws for that seed
    assert np.array_equal(render(gan, {"seed_a": 7}), to_uint8_hwc(gan.sample(1, seed=7)[0]))
    with pytest.raises(ValueError, match="unknown control"):
        render(gan, {"bogus": 1})
    with pytest.raises(ValueError):
        render(gan, {"t": 1.5})


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("kind", ["slerp", "linear"])
def test_interpolation_endpoints_are_the_seeds(gans, model, kind):
    gan = gans[model]
    img_a, img_b = render(gan, {"seed_a": 2}), render(gan, {"seed_a": 9})
    base = {"seed_a": 2, "seed_b": 9, "interp": kind}
    assert np.array_equal(render(gan, {**base, "t": 0.0}), img_a)
    assert np.array_equal(render(gan, {**base, "t": 1.0}), img_b)
    mid = render(gan, {**base, "t": 0.5})
    assert not np.array_equal(mid, img_a) and not np.array_equal(mid, img_b)
    strip = interpolation_strip(gan, 2, 9, steps=5, kind=kind)
    assert strip.shape == (5, 32, 32, 3)
    assert np.array_equal(strip[0], img_a) and np.array_equal(strip[-1], img_b)


def test_slerp_keeps_norm_and_endpoints():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 100, generator=g), torch.randn(1, 100, generator=g)
    assert torch.equal(interpolate(a, b, 0.0), a) and torch.equal(interpolate(a, b, 1.0), b)
    mid_s, mid_l = interpolate(a, b, 0.5, "slerp"), interpolate(a, b, 0.5, "linear")
    # nearly orthogonal Gaussian vectors: slerp keeps the norm, lerp shrinks it by ~1/sqrt(2)
    na, nb = a.norm(), b.norm()
    assert min(na, nb) * 0.97 <= mid_s.norm() <= max(na, nb) * 1.03
    assert mid_l.norm() < 0.85 * min(na, nb)
    assert torch.allclose(interpolate(a, a, 0.3), a, atol=1e-6)    # parallel: no NaN
    with pytest.raises(ValueError):
        interpolate(a, b, 0.5, "cubic")


def test_deligan_component_control(gans):
    gan = gans["deligan"]
    lat = gan.latent
    eps = seed_noise(gan, 4)[1]
    for k in range(lat.K):
        z = latent_vector(gan, {"seed_a": 4, "k": k})
        with torch.no_grad():
            want = lat.mu[k] + lat.sigma[k] * eps[0]
        assert torch.allclose(z[0], want, atol=1e-6)
    # k=None: the seed's own component
    k_own = int(seed_noise(gan, 4)[0])
    assert torch.equal(latent_vector(gan, {"seed_a": 4}), latent_vector(gan, {"seed_a": 4,
                                                                            "k": k_own}))
    imgs = component_images(gan, range(lat.K), {"seed_a": 4})
    assert imgs.shape == (lat.K, 32, 32, 3)
    assert len({im.tobytes() for im in imgs}) > 1
    with pytest.raises(ValueError):
        render(gan, {"k": lat.K})
    with pytest.raises(ValueError, match="unknown control"):
        render(gans["dcgan"], {"k": 0})


def test_proposed_mu_stays_in_range(gans):
    gan = gans["proposed"]
    own = seed_noise(gan, 3)[1]
    assert torch.equal(mean_adjustment(gan, {"seed_a": 3}), own)
    for off in (-1.0, -0.6, 0.0, 0.3, 1.0):
        for scale in (0.0, 0.5, 1.0):
            for t in (0.0, 0.5, 1.0):
                mu = mean_adjustment(gan, {"seed_a": 3, "seed_b": 8, "t": t,
                                           "mu_offset": off, "mu_scale": scale})
                assert mu.shape == (1, gan.latent.out_dim)
                assert mu.min() >= -1.0 and mu.max() <= 1.0
    assert torch.all(mean_adjustment(gan, {"mu_offset": 1.0}) >= 0)
    assert (mean_adjustment(gan, {"mu_offset": 1.0}) == 1.0).float().mean() > 0.4   # clamped
    assert torch.all(mean_adjustment(gan, {"mu_offset": -0.5, "mu_scale": 0.0}) == -0.5)
    resampled = mean_adjustment(gan, {"mu_seed": 11})
    assert torch.equal(resampled, seed_noise(gan, 11)[1])
    # z = layer(eps) + mu exactly
    eps = seed_noise(gan, 3)[0]
    with torch.no_grad():
        want = gan.latent.layer(eps) + mean_adjustment(gan, {"seed_a": 3, "mu_offset": 0.4})
    assert torch.allclose(latent_vector(gan, {"seed_a": 3, "mu_offset": 0.4}), want)
    for bad in ({"mu_offset": 1.2}, {"mu_offset": -1.01}, {"mu_scale": 1.5}):
        with pytest.raises(ValueError):
            mean_adjustment(gan, bad)
    sweep = mu_sweep(gan, (-1, 0, 1))
    assert sweep.shape == (3, 32, 32, 3) and not np.array_equal(sweep[0], sweep[2])
    with pytest.raises(ValueError, match="unknown control"):
        render(gans["deligan"], {"mu_offset": 0.1})


@pytest.mark.parametrize("model", MODELS)
def test_pca_directions_orthonormal(gans, pcas, model):
    gan, pca = gans[model], pcas[model]
    v = pca.components.double()
    assert v.shape == (8, gan.latent.out_dim)
    assert torch.allclose(v @ v.T, torch.eye(8, dtype=torch.float64), atol=1e-5)
    assert torch.all(pca.std[:-1] >= pca.std[1:]) and torch.all(pca.std > 0)
    assert 0 < pca.explained.sum() <= 1 + 1e-6
    again = pca_directions(gan, n=512)
    assert torch.equal(again.components, pca.components)        # deterministic, signs fixed
    # the std really is the spread of z along the direction
    noise = gan.latent.sample_noise(512, torch.Generator().manual_seed(0), "cpu")
    with torch.no_grad():
        proj = (gan.latent(*noise) - pca.mean) @ pca.components[0]
    assert proj.std().item() == pytest.approx(pca.std[0].item(), rel=1e-4)
    # moving along PC1 moves z by offset * std along v1 and changes the image
    z0 = latent_vector(gan, {"seed_a": 1}, pca)
    z1 = latent_vector(gan, {"seed_a": 1, "offsets": (2.0,)}, pca)
    assert torch.allclose(z1 - z0, 2.0 * pca.std[0] * pca.components[0][None], atol=1e-5)
    assert not np.array_equal(render(gan, {"seed_a": 1}, pca),
                              render(gan, {"seed_a": 1, "offsets": (2.0,)}, pca))
    sweep = pca_sweep(gan, {"seed_a": 1}, values=(-2, 0, 2), n_dirs=3, pca=pca)
    assert sweep.shape == (3, 3, 32, 32, 3)
    assert np.array_equal(sweep[0, 1], render(gan, {"seed_a": 1}))   # 0 std = the seed
    canvas = tile(sweep, pad=2)
    assert canvas.shape == (3 * 32 + 4, 3 * 32 + 4, 3) and canvas.dtype == np.uint8


def test_raw_mode_moves_noise_dims(gans):
    gan = gans["dcgan"]
    z0 = latent_vector(gan, {"seed_a": 0, "mode": "raw"})
    z1 = latent_vector(gan, {"seed_a": 0, "mode": "raw", "raw_start": 10,
                             "offsets": (1.0, 0.0, -2.0)})
    d = (z1 - z0)[0]
    assert d[10] == pytest.approx(1.0) and d[12] == pytest.approx(-2.0)
    assert torch.count_nonzero(d) == 2
    with pytest.raises(ValueError):
        latent_vector(gan, {"mode": "raw", "raw_start": 99, "offsets": (1.0, 1.0)})


# --------------------------------------------------------------------------- the widget


def test_explorer_headless(runs):
    import ipywidgets as W

    ex = latent_explorer(list(runs.values()), n_pca=256, device="cpu")
    assert isinstance(ex, LatentExplorer) and isinstance(ex, W.Widget)
    labels = list(ex.run_dropdown.options)
    assert len(labels) == 3 and labels[0].startswith("dcgan · paper · seed 0")
    assert any("N=2" in lab for lab in labels) and any("K=6" in lab for lab in labels)
    assert isinstance(ex.image, W.Image) and ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert ex.last_error is None
    # moving a PCA slider redraws through the observer
    before, n0 = ex.image.value, ex.n_renders
    ex.sliders[0].value = 2.0
    assert ex.n_renders == n0 + 1 and ex.image.value != before
    assert np.array_equal(ex.image_array, render(ex.gan, ex.controls(), ex.pca))
    # seeds and t
    img_a = ex.set(offsets=(), seed_a=4, seed_b=6, t=0.0)
    img_b = ex.set(t=1.0)
    assert np.array_equal(img_a, render(ex.gan, {"seed_a": 4}))
    assert np.array_equal(img_b, render(ex.gan, {"seed_a": 6}))
    # raw mode zeroes the sliders and relabels them
    ex.set(mode="raw", raw_start=5)
    assert all(s.value == 0 for s in ex.sliders) and ex.sliders[0].description == "eps[5]"
    assert ex.k_slider is None and ex.mu_offset is None

    # switching to the DeLiGAN run builds its component slider
    deligan = next(lab for lab in labels if lab.startswith("deligan"))
    ex.run_dropdown.value = deligan
    assert ex.last_error is None, ex.last_error
    assert isinstance(ex.k_slider, W.IntSlider) and ex.k_slider.max == 5
    assert ex.k_slider in ex.model_box.children[1].children and ex.mu_offset is None
    before = ex.image.value
    ex.k_slider.value = (ex.k_slider.value + 1) % 6
    assert ex.image.value != before
    assert ex.controls()["k"] == ex.k_slider.value
    ex.k_from_seeds.value = True
    assert ex.controls()["k"] is None and ex.k_slider.disabled

    # switching to the proposed run: mu controls instead
    proposed = next(lab for lab in labels if lab.startswith("proposed"))
    ex.set(run=proposed)
    assert ex.k_slider is None and isinstance(ex.mu_offset, W.FloatSlider)
    assert (ex.mu_offset.min, ex.mu_offset.max) == (-1.0, 1.0)
    before = ex.image.value
    ex.mu_offset.value = 0.8
    assert ex.image.value != before
    mu = mean_adjustment(ex.gan, ex.controls())
    assert mu.min() >= -1 and mu.max() <= 1
    before = ex.image.value
    ex.mu_resample.click()
    assert ex.controls()["mu_seed"] is not None and ex.image.value != before
    ex.mu_reset.click()
    assert ex.controls()["mu_seed"] is None
    ex.reset_button.click()
    assert ex.controls() == {**default_controls(ex.gan), "seed_a": 4, "seed_b": 6,
                             "mode": "raw", "raw_start": 5}

    # back to DCGAN: model-specific controls gone
    ex.run_dropdown.value = labels[0]
    assert ex.k_slider is None and ex.mu_offset is None and ex.model_box.children == ()
    with pytest.raises(ValueError):
        ex.set(k=1)


def test_explorer_dict_labels_and_bad_input(runs, tmp_path):
    ex = latent_explorer({"baseline": runs["dcgan"]}, n_dirs=2, n_pca=128, device="cpu")
    assert list(ex.run_dropdown.options) == ["baseline"] and len(ex.sliders) == 2
    with pytest.raises(ValueError):
        latent_explorer([])
    with pytest.raises(ValueError, match="not a training run"):
        latent_explorer([tmp_path])


def test_shipped_generators_open_without_training(runs, tmp_path):
    """Notebook 07 on a fresh clone: the exported generators (latent + sampling G only)
    load with weights_only, sample exactly as their runs, and ``explorer_runs`` opens them
    instead of training when the runs are missing."""
    from PIL import Image

    from paperlib.paper_a import explorer_runs, ship_generators, shipped_generators

    labels = {"DCGAN": runs["dcgan"], "DeLiGAN": runs["deligan"], "Proposed (N=2)": runs["proposed"]}
    dest = tmp_path / "generators"
    assert shipped_generators(dest) == {}
    shipped = ship_generators(labels, dest)
    assert shipped_generators(dest) == shipped and list(shipped) == list(labels)
    for label, folder in shipped.items():
        (ckpt,) = (folder / "checkpoints").glob("epoch_*.pt")
        state = torch.load(ckpt, weights_only=True)
        assert set(state) == {"epoch", "latent", "G"}          # no D, optimisers or RNG
        gan, ref = engine.load_run(folder, device="cpu"), engine.load_run(labels[label], device="cpu")
        assert gan.D is None and gan.epoch == ref.epoch
        assert torch.equal(gan.sample(4, seed=1), ref.sample(4, seed=1)), label
    ex = latent_explorer(shipped, n_pca=128, device="cpu")
    assert list(ex.run_dropdown.options) == list(labels) and ex.last_error is None

    data_dir = tmp_path / "emoji"
    data_dir.mkdir()
    for i in range(8):
        Image.new("RGB", (32, 32), (i * 30, 0, 0)).save(data_dir / f"{i}.png")
    empty_root = tmp_path / "no_runs"
    out = explorer_runs("smoke", data_dir, empty_root, shipped=dest)
    assert out == shipped and not empty_root.exists()          # nothing trained
    # re-shipping a shorter set drops the stale export
    ship_generators({"DCGAN": runs["dcgan"]}, dest)
    assert list(shipped_generators(dest)) == ["DCGAN"] and not (dest / "2").exists()


def test_export_generator_refuses_an_empty_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        engine.export_generator(tmp_path, tmp_path / "out")


# --------------------------------------------------------------------------- notebook 07's checks
def test_explorer_checks_pass_on_good_runs_and_raise_on_bad(gans, pcas, runs):
    from paperlib.paper_a import checks, explorer_models, explorer_states

    checks.check_explorer_rendering(gans, pcas)       # passes on the real runs
    bad = dict(pcas)
    p = pcas["dcgan"]
    comps = p.components.clone()
    comps[0] = comps[0] * 2                           # no longer orthonormal
    bad["dcgan"] = dataclasses.replace(p, components=comps)
    with pytest.raises(checks.ExplorerCheckFailed, match="dcgan: PCA directions"):
        checks.check_explorer_rendering(gans, bad)

    ex = latent_explorer(list(runs.values()), n_pca=256, device="cpu")
    ex_gans, ex_pcas = explorer_models(ex)
    assert list(ex_gans) == list(ex.run_dropdown.options) and ex.gan is ex_gans[list(ex_gans)[0]]
    moved = checks.check_explorer_widget(ex, ex_gans, ex_pcas, "smoke")
    assert set(moved) == set(ex_gans)
    # a widget whose image does not follow the rendered one fails
    frozen = dict(ex_pcas)
    lab0 = list(ex_gans)[0]
    zero = dataclasses.replace(ex_pcas[lab0], std=ex_pcas[lab0].std * 0)
    frozen[lab0] = zero
    if moved[lab0]:
        with pytest.raises(checks.ExplorerCheckFailed, match="the widget's image changed"):
            checks.check_explorer_widget(ex, ex_gans, frozen, "smoke")
    states = explorer_states(ex)
    assert list(states) == list(ex_gans) and all(len(row) == 4 for row in states.values())
    assert any(k.startswith("component k = ") for row in states.values() for k in row)


def test_explorer_figures(gans, pcas):
    import matplotlib.pyplot as plt

    from paperlib import plots

    labelled = {f"{m} run": g for m, g in gans.items()}
    fig = plots.latent_spaces_figure(labelled, {f"{m} run": p for m, p in pcas.items()}, "smoke")
    assert "smoke profile, 32 px" in fig._suptitle.get_text()
    plt.close(fig)
    img = np.zeros((8, 8, 3), np.uint8)
    fig = plots.image_table({"a": {"x": img, "y": img}, "b": {"x": img}}, "t")
    assert len(fig.axes) == 8 and fig.axes[0].get_title() == "x"
    plt.close(fig)
