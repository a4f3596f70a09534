"""The field's usual commands: ``generate --seeds/--trunc`` (NVlabs' generate.py), ``fid DIR_A
DIR_B`` (clean-fid / torch-fidelity), ``train --init-from RUN [--epoch E]`` (NVlabs'
--resume transfer) and ``--version``."""
import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image
from test_cli_more import TINY, _main, _write_images

import paperlib
from paperlib import cli, engine
from paperlib.cli_field import parse_seeds


def _flat_images(folder, n, seed=1):
    """Smooth colour gradients: far from the noise images in Inception space."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, 32)[None, :, None]
    for i in range(n):
        lo, hi = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        img = (lo + (hi - lo) * ramp).repeat(32, axis=0)
        Image.fromarray(img.astype(np.uint8)).save(folder / f"flat_{i:02d}.png")
    return folder


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return _write_images(tmp_path_factory.mktemp("field") / "photos", 20)


@pytest.fixture(scope="module")
def dcgan_run(images, tmp_path_factory):
    """A 2-epoch dcgan run, a checkpoint per epoch."""
    run = tmp_path_factory.mktemp("field_dcgan") / "run"
    assert cli.main(["train", "--model", "dcgan", "--data", str(images), "--out", str(run),
                     "--epochs", "2", "--batch-size", "10", "--ckpt-every", "1", *TINY]) == 0
    return run


@pytest.fixture(scope="module")
def sg_run(images, tmp_path_factory):
    """A 1-epoch stylegan2 run at smoke size."""
    run = tmp_path_factory.mktemp("field_sg") / "run"
    assert cli.main(["train", "--model", "stylegan2", "--data", str(images), "--out", str(run),
                     "--epochs", "1", "--profile", "smoke", "--no-progress"]) == 0
    return run


# ----------------------------------------------------------------------------- --version
def test_version(capsys):
    code, out, _ = _main(["--version"], capsys)
    assert code == 0 and out.strip() == f"paperlib {paperlib.__version__}"


# ----------------------------------------------------------------------------- --seeds
@pytest.mark.parametrize("text, seeds", [
    ("0-3", [0, 1, 2, 3]), ("7", [7]), ("1,5,7", [1, 5, 7]), ("0,5-7", [0, 5, 6, 7]),
    ("3, 3,2-3", [3, 2]), (" 10 - 11 ", [10, 11]),
])
def test_seeds_parse_ranges_and_lists(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("bad", ["a", "5-2", "-1", "1,,2", "", "1-2-3", "1.5", "4294967296"])
def test_bad_seeds_exit_2_naming_the_flag(dcgan_run, tmp_path, capsys, bad):
    code, _, err = _main(["generate", "--run", dcgan_run, "--seeds", bad, "--out",
                          tmp_path / "gen"], capsys)
    assert code == 2 and "--seeds" in err
    assert not (tmp_path / "gen").exists()


@pytest.mark.parametrize("argv", [["--n", "4", "--seeds", "0-3"], []])
def test_generate_needs_exactly_one_of_n_and_seeds(dcgan_run, tmp_path, capsys, argv):
    code, _, err = _main(["generate", "--run", dcgan_run, "--out", tmp_path / "gen", *argv],
                         capsys)
    assert code == 2 and "--n" in err and "--seeds" in err
    assert not (tmp_path / "gen").exists()


def test_a_seeds_image_is_the_same_on_every_call_whatever_the_other_seeds(dcgan_run,
                                                                          tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    code, out, err = _main(["generate", "--run", dcgan_run, "--seeds", "0-3", "--out", a],
                           capsys)
    assert code == 0, err
    assert sorted(p.name for p in a.iterdir()) == [f"seed{s:04d}.png" for s in range(4)]
    assert "4 images" in out
    assert _main(["generate", "--run", dcgan_run, "--seeds", "9,2", "--out", b], capsys)[0] == 0
    assert sorted(p.name for p in b.iterdir()) == ["seed0002.png", "seed0009.png"]
    assert _digest(a / "seed0002.png") == _digest(b / "seed0002.png")
    assert len({_digest(p) for p in a.iterdir()}) == 4          # seeds differ
    # the documented mapping: seed s's image is TrainedGAN.sample(1, seed=s)
    run = engine.load_run(dcgan_run)
    assert torch.equal(run.sample_seeds([2]), run.sample(1, seed=2))


def test_trunc_is_refused_for_a_model_without_it(dcgan_run, tmp_path, capsys):
    for argv in (["--seeds", "0-1"], ["--n", "2"]):
        code, _, err = _main(["generate", "--run", dcgan_run, *argv, "--trunc", "0.7",
                              "--out", tmp_path / "gen"], capsys)
        assert code == 2 and "--trunc" in err and "dcgan" in err and "stylegan2" in err
    assert not (tmp_path / "gen").exists()


def test_trunc_psi_1_is_untruncated_and_psi_0_one_image(sg_run, tmp_path, capsys):
    def gen(name, *flags):
        code, _, err = _main(["generate", "--run", sg_run, "--seeds", "0-3", "--out",
                              tmp_path / name, *flags], capsys)
        assert code == 0, err
        return [_digest(tmp_path / name / f"seed{s:04d}.png") for s in range(4)]

    plain, one, zero, half = gen("plain"), gen("one", "--trunc", "1"), \
        gen("zero", "--trunc", "0"), gen("half", "--trunc", "0.5")
    assert one == plain and len(set(plain)) == 4
    assert len(set(zero)) == 1                                   # every seed: w = w_avg
    assert half != plain
    run = engine.load_run(sg_run)                                # --n takes --trunc too
    assert torch.equal(run.sample(3, seed=1, psi=1.0), run.sample(3, seed=1))
    z0 = run.sample(3, seed=1, psi=0.0)
    assert torch.equal(z0[0], z0[2])


# ----------------------------------------------------------------------------- fid
@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    return _flat_images(tmp_path_factory.mktemp("field_flat") / "flat", 12)


def test_fid_of_a_folder_with_itself_is_zero_and_of_another_positive(images, flat, tmp_path,
                                                                     capsys):
    js = tmp_path / "out" / "fid.json"
    code, out, err = _main(["fid", images, images, "--json", js], capsys)
    assert code == 0, err
    assert "FID" in out and "KID" in out and "±" in out
    same = json.loads(js.read_text())
    assert same["n_a"] == same["n_b"] == 20 and same["res"] == 32
    code, _, err = _main(["fid", images, flat, "--json", js], capsys)
    assert code == 0, err
    other = json.loads(js.read_text())
    assert other["n_b"] == 12
    assert abs(same["fid"]) < 1e-3 and other["fid"] > 10
    # KID's unbiased estimator of a set against itself is -2 (mean k(x,x) - mean k(x,y)) / m,
    # small against the distance to another set
    assert abs(same["kid"]) < 0.1 * other["kid"] and other["kid"] > 0


def test_fid_n_subsamples_each_folder(images, flat, tmp_path, capsys):
    js = tmp_path / "fid.json"
    code, _, err = _main(["fid", images, flat, "--n", "8", "--res", "32", "--json", js],
                         capsys)
    assert code == 0, err
    got = json.loads(js.read_text())
    assert got["n_a"] == got["n_b"] == 8


def test_fid_refuses_missing_empty_and_tiny_folders(images, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    one = _write_images(tmp_path / "one", 1)
    for argv, needle in (([tmp_path / "missing", images], "DIR_A"),
                         ([images, tmp_path / "missing"], "DIR_B"),
                         ([images, empty], "0 image"), ([one, images], "1 image"),
                         ([images, images, "--n", "1"], "--n")):
        code, _, err = _main(["fid", *argv], capsys)
        assert code == 2 and needle in err, err


# ----------------------------------------------------------------------------- --init-from
def _source_weights(path):
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return {k: ckpt[k] for k in ("latent", "G", "D")}


def test_init_from_starts_from_the_source_weights(dcgan_run, images, tmp_path, capsys,
                                                  monkeypatch):
    seen = []
    real_epoch = engine.loop.train_epoch

    def spy(images_, batch_size, trainer, *rest):
        if not seen:   # the weights before the first step
            seen.append({k: {n: t.clone() for n, t in m.state_dict().items()}
                         for k, m in trainer.modules.items()})
        return real_epoch(images_, batch_size, trainer, *rest)

    monkeypatch.setattr(engine.loop, "train_epoch", spy)
    run = tmp_path / "run"
    code, _, err = _main(["train", "--model", "dcgan", "--data", images, "--out", run,
                          "--epochs", "1", "--batch-size", "10", "--init-from", dcgan_run,
                          "--epoch", "1", "--seed", "5", *TINY], capsys)
    assert code == 0, err
    source = dcgan_run / "checkpoints" / "epoch_0001.pt"
    assert engine.read_config(run)["config"]["init_from"] == str(source.resolve())
    want = _source_weights(source)
    for net, state in want.items():
        assert state.keys() == seen[0][net].keys()
        assert all(torch.equal(state[k], seen[0][net][k]) for k in state), net
    later = _source_weights(dcgan_run / "checkpoints" / "epoch_0002.pt")   # --epoch counts
    assert not all(torch.equal(later["G"][k], seen[0]["G"][k]) for k in later["G"])


def test_init_from_defaults_to_the_latest_checkpoint(dcgan_run, images, tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = _main(["train", "--model", "dcgan", "--data", images, "--out", run,
                          "--epochs", "1", "--batch-size", "10", "--init-from", dcgan_run,
                          *TINY], capsys)
    assert code == 0, err
    assert engine.read_config(run)["config"]["init_from"].endswith("epoch_0002.pt")


@pytest.mark.parametrize("argv, needles", [
    (["--model", "dcgan", "--ngf", "8"], ["ngf", "4", "8"]),
    (["--model", "dcgan", "--res", "64"], ["res", "32", "64"]),
    (["--model", "stylegan2"], ["dcgan", "stylegan2"]),
    (["--model", "dcgan", "--epoch", "7"], ["epoch 7", "[1, 2]"]),
])
def test_init_from_refuses_another_model_or_other_sizes(dcgan_run, images, tmp_path, capsys,
                                                        argv, needles):
    sizes = {"--res": "32", "--ngf": "4", "--ndf": "4"}
    sizes.update(dict(zip(argv[2::2], argv[3::2])))
    code, _, err = _main(["train", "--data", images, "--out", tmp_path / "run", "--epochs",
                          "1", "--init-from", dcgan_run, *argv[:2],
                          *[x for kv in sizes.items() for x in kv], "--no-progress"], capsys)
    assert code == 2 and "--init-from" in err and all(n in err for n in needles), err
    assert not (tmp_path / "run").exists()


def test_init_from_needs_a_run_and_epoch_needs_init_from(images, tmp_path, capsys):
    base = ["train", "--model", "dcgan", "--data", images, "--out", tmp_path / "run",
            "--epochs", "1", *TINY]
    code, _, err = _main([*base, "--init-from", tmp_path / "nothing"], capsys)
    assert code == 2 and "--init-from" in err and "nothing" in err
    code, _, err = _main([*base, "--epoch", "1"], capsys)
    assert code == 2 and "--epoch" in err and "--init-from" in err
    assert not (tmp_path / "run").exists()
