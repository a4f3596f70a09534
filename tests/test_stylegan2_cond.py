"""Class-conditional StyleGAN2 (``sg_cond``, ``train --cond``; NVlabs' ``--cond``): a
labelled folder (class sub-folders) trains it, its samples follow the chosen class, its
projection discriminator reads the label, an unlabelled folder is refused before any work,
and the unconditional model is bit-identical to what it was before conditioning existed."""
import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from test_cli_more import _main, _write_images

from paperlib import engine
from paperlib.engine.runs import build_networks
from paperlib.models.stylegan2 import Discriminator, Generator

TINY = dict(model="stylegan2", res=32, sg_channels=8, nz=16, batch_size=4)


def _labelled(root, classes=("a", "b"), n=4):
    """A labelled folder: per class a sub-folder of ``n`` 32-px images (class k: mostly
    colour k, so the classes differ)."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 64, (32, 32, 3), dtype=np.uint8)
            img[..., k % 3] += 180
            Image.fromarray(img).save(root / name / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    """A conditional run: one epoch of a 2-class toy set."""
    tmp = tmp_path_factory.mktemp("cond")
    data, out = _labelled(tmp / "labelled"), tmp / "run"
    res = engine.train(engine.make_config(epochs=1, sg_cond=True, **TINY), data, out,
                       progress=False)
    assert res.status == "finished"
    return data, out


def test_conditional_samples_follow_the_class(cond_run, tmp_path, capsys):
    data, out = cond_run
    saved = engine.read_config(out)
    assert saved["config"]["sg_cond"] is True and saved["config"]["sg_classes"] == ["a", "b"]
    assert saved["data"]["classes"] == ["a", "b"] and saved["data"]["n_images"] == 8
    a, b = engine.load_run(out), engine.load_run(out, options={"sg_cond_class": "b"})
    assert a.config.options.class_index == 0 and b.config.options.class_index == 1
    xa, xb = a.sample(4, seed=0), b.sample(4, seed=0)     # same z, other class
    assert xa.shape == (4, 3, 32, 32) and not torch.allclose(xa, xb)
    assert torch.equal(xa, engine.load_run(out, options={"sg_cond_class": "a"}).sample(4, seed=0))
    z = torch.randn(3, 16)
    onehot = F.one_hot(torch.tensor([0, 1]), 2).float()
    wa, wb = (a.G.mapping(z, c=c.expand(3, 2)) for c in onehot)
    assert wa.shape == (3, a.G.num_ws, 16) and not torch.allclose(wa, wb)
    # generate --class: another class's images; an unknown class is refused (exit 2)
    code, _, err = _main(["generate", "--run", out, "--n", "2", "--out", tmp_path / "b",
                          "--class", "b"], capsys)
    assert code == 0, err
    assert len(list((tmp_path / "b").glob("*.png"))) == 2
    code, _, err = _main(["generate", "--run", out, "--n", "2", "--out", tmp_path / "c",
                          "--class", "cats"], capsys)
    assert code == 2 and "--class" in err and "unknown class 'cats'" in err and "a, b" in err
    assert not (tmp_path / "c").exists()
    # training to sample an unknown class is refused before any work
    cfg = engine.make_config(epochs=1, sg_cond=True, sg_cond_class="cats", **TINY)
    with pytest.raises(engine.BadInput, match="unknown class 'cats'; the run's classes: a, b"):
        engine.train(cfg, data, tmp_path / "never", progress=False)
    assert not (tmp_path / "never").exists()


def test_cond_refused_without_class_folders(tmp_path, capsys):
    flat = _write_images(tmp_path / "flat", 6)
    one = _labelled(tmp_path / "one", classes=("only",))
    for folder, why in ((flat, "6 image(s) lie at its top level"),
                        (one, "1 class sub-folder(s) with images (only)")):
        out = tmp_path / f"run_{folder.name}"
        code, _, err = _main(["train", "--model", "stylegan2", "--cond", "--data", folder,
                              "--out", out, "--epochs", "1", "--res", "32", "--channels", "8",
                              "--nz", "16", "--batch-size", "4", "--no-progress"], capsys)
        assert code == 2, err
        assert str(folder) in err and why in err and "class sub-folders" in err, err
        assert not out.exists()       # refused before any work
    # --cond's value may be given; --cond false is the unconditional model
    from paperlib import cli
    args = cli._build_parser().parse_args(["train", "--model", "stylegan2", "--data", "x",
                                           "--out", "y", "--cond", "false"])
    assert args.sg_cond is False


def test_generate_class_refused_on_an_unconditional_run(tmp_path, capsys):
    data, out = _write_images(tmp_path / "flat", 4), tmp_path / "run"
    engine.train(engine.make_config(epochs=1, **TINY), data, out, progress=False)
    code, _, err = _main(["generate", "--run", out, "--n", "2", "--out", tmp_path / "g",
                          "--class", "a"], capsys)
    assert code == 2 and "--class" in err and "class-conditional" in err, err


def test_projection_discriminator_reads_the_label():
    torch.manual_seed(0)
    D = Discriminator(32, channel_base=128, channel_max=8, c_dim=3)
    assert D.out.weight.shape == (8, 8) and D.cmap_dim == 8
    assert not hasattr(D.mapping, "w_avg") and len(D.mapping.fcs) == 8
    img = torch.randn(4, 3, 32, 32)
    c = F.one_hot(torch.arange(3), 3).float()
    logits = [D(img, c[k].expand(4, 3)) for k in range(3)]
    assert logits[0].shape == (4,)
    assert not torch.allclose(logits[0], logits[1]) and not torch.allclose(logits[1], logits[2])
    with pytest.raises(ValueError, match="needs the labels"):
        D(img)
    G = Generator(32, 16, 16, 128, 8, c_dim=3)
    assert G.mapping.fcs[0].weight.shape == (16, 32)      # z_dim + embedded c
    x = torch.cat([torch.randn(2, 16), c[:2]], 1)
    assert G(x).shape == (2, 3, 32, 32)


#: The unconditional model before conditioning existed (computed at 2d240b3 with TINY,
#: mixing 0.5, path length 2, seed 0): parameter names and shapes, the initial weights,
#: two epochs' losses on a fixed tensor and a sample.
UNCOND_SHAPES = "cc228baa81f727198b1b017a4e3693c99e322ea3069f477a5be2670195b52610"
UNCOND_INIT = "d9d2201d70caf71043d82067e7daf992a4f329c5b217ec3567801db0156794aa"
UNCOND_LOSSES = [[1.118966817855835, 1.172213077545166, 0.4691452383995056, 0.29759466648101807],
                 [1.091092586517334, 1.2081656455993652, 0.4750138819217682, 0.29053911566734314]]
UNCOND_SAMPLE_SUM = -253.1542510986328


def test_unconditional_stylegan2_is_unchanged(tmp_path):
    cfg = engine.make_config(epochs=2, mixing_prob=0.5, pl_weight=2.0, **TINY)
    torch.manual_seed(cfg.seed)
    nets = build_networks(cfg)
    shapes, h = {}, hashlib.sha256()
    for name, m in zip(("latent", "G", "D"), nets):
        for k, t in m.state_dict().items():
            shapes[f"{name}.{k}"] = list(t.shape)
            h.update(t.detach().contiguous().numpy().tobytes())
    assert len(shapes) == 87 and not any("embed" in k or "D.mapping" in k for k in shapes)
    assert hashlib.sha256(json.dumps(shapes, sort_keys=True).encode()).hexdigest() == UNCOND_SHAPES
    assert h.hexdigest() == UNCOND_INIT
    data = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    res = engine.train(cfg, data, tmp_path / "run", progress=False)
    losses = [[r[k] for k in ("d_loss", "g_loss", "d_real", "d_fake")] for r in res.rows]
    assert np.allclose(losses, UNCOND_LOSSES, rtol=1e-5, atol=1e-6)
    x = engine.load_run(tmp_path / "run").sample(2, seed=3)
    assert abs(float(x.sum()) - UNCOND_SAMPLE_SUM) < 1e-2
    # the new options are out of the run key at their defaults, and out of the data identity
    assert engine.read_config(tmp_path / "run")["data"].keys() == {"source", "n_images", "sha1"}
    assert engine.run_name(cfg, "k") == engine.run_name(
        engine.make_config(**{**cfg.to_dict(), "sg_cond": False}), "k")
    assert engine.run_name(cfg, "k") != engine.run_name(
        engine.make_config(**{**cfg.to_dict(), "sg_cond": True}), "k")
