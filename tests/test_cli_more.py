"""The CLI's generate/split commands, train --kimg/--profile/--restart, and bad input refused
up front (exit 2, the flag named, no run folder written)."""
import hashlib
import json

import pytest

from paperlib import cli, config, engine
from paperlib.models import get_model, model_names

TINY = ["--res", "32", "--ngf", "4", "--ndf", "4", "--no-progress"]


def _main(argv, capsys):
    """``(exit code, stdout, stderr)`` of ``cli.main(argv)`` (argparse's errors included)."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _write_images(folder, n, seed=0):
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
            folder / f"img_{i:02d}.png")
    return folder


def _hashes(folder):
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.png")}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return _write_images(tmp_path_factory.mktemp("cli_more") / "photos", 20)


@pytest.fixture(scope="module")
def trained(images, tmp_path_factory):
    """A 1-epoch dcgan-family run trained through the CLI."""
    run = tmp_path_factory.mktemp("cli_run") / "run"
    model = next(n for n in model_names() if get_model(n).data_kind == "images")
    assert cli.main(["train", "--model", model, "--data", str(images), "--out", str(run),
                     "--epochs", "1", "--batch-size", "10", *TINY]) == 0
    return run


def test_train_prints_where_things_are_and_the_next_command(images, tmp_path, capsys):
    model = model_names()[0]
    run = tmp_path / "run"
    code, out, err = _main(["train", "--model", model, "--data", images, "--out", run,
                            "--epochs", "1", "--batch-size", "10", *TINY], capsys)
    assert code == 0, err
    assert str(run / "samples") in out and str(run / "checkpoints") in out
    assert f"python -m paperlib evaluate --run {run} --data {images}" in out


def test_train_kimg_trains_at_least_that_many_images(images, tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = _main(["train", "--model", model_names()[0], "--data", images,
                            "--out", run, "--kimg", "1.6", "--batch-size", "20",
                            "--sample-every", "1000", "--ckpt-every", "1000", *TINY], capsys)
    assert code == 0, err
    log = engine.read_log(run)
    assert log[-1]["kimg"] >= 1.6 and log[-1]["epoch"] == 80      # 1600 / 20 images
    assert log[-2]["kimg"] < 1.6                                   # not one epoch more


def test_train_kimg_and_epochs_are_exclusive(images, tmp_path, capsys):
    code, _, err = _main(["train", "--model", model_names()[0], "--data", images, "--out",
                          tmp_path / "run", "--kimg", "1", "--epochs", "2", *TINY], capsys)
    assert code == 2 and "--kimg" in err and "--epochs" in err
    assert not (tmp_path / "run").exists()


def test_train_profile_sizes_and_explicit_override(images, tmp_path, capsys):
    prof = config.get_profile("smoke")
    model = model_names()[0]
    run = tmp_path / "run"
    code, _, err = _main(["train", "--model", model, "--data", images, "--out", run,
                          "--epochs", "1", "--profile", "smoke", "--ngf", "4",
                          "--no-progress"], capsys)
    assert code == 0, err
    saved = engine.read_config(run)["config"]
    expected = engine.profile_config("smoke", model, epochs=1)
    assert saved["res"] == prof.res and saved["batch_size"] == expected.batch_size
    assert saved["ndf"] == expected.ndf and saved["sample_every"] == prof.sample_every
    assert saved["ngf"] == 4                                       # the flag wins


def test_generate_writes_n_pngs(trained, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "gen"
    code, printed, err = _main(["generate", "--run", trained, "--n", "16", "--out", out,
                                "--seed", "3"], capsys)
    assert code == 0, err
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"{i:05d}.png" for i in range(16)] and "16 images" in printed
    with Image.open(out / "00000.png") as im:
        assert im.size == (32, 32) and im.mode == "RGB"
    assert len(_hashes(out)) > 1
    again = tmp_path / "again"
    assert _main(["generate", "--run", trained, "--n", "16", "--out", again, "--seed", "3"],
                 capsys)[0] == 0
    assert _hashes(again) == _hashes(out)                          # the seed fixes them


def test_generate_conditional_run_needs_maps(tmp_path, capsys):
    conditional = [n for n in model_names() if get_model(n).data_kind == "pairs"]
    if not conditional:
        pytest.skip("no conditional model registered")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"config": {"model": conditional[0]}}))
    code, _, err = _main(["generate", "--run", run, "--n", "4", "--out", tmp_path / "gen"],
                         capsys)
    assert code == 2 and "--maps" in err and "conditional" in err
    assert not (tmp_path / "gen").exists()


def test_split_writes_disjoint_parts(images, tmp_path, capsys):
    code, out, err = _main(["split", "--data", images, "--held-out", "0.2", "--seed", "1",
                            "--out-root", tmp_path / "parts"], capsys)
    assert code == 0, err
    train, held = tmp_path / "parts" / "photos_train", tmp_path / "parts" / "photos_heldout"
    assert f"{train}  16 images" in out and f"{held}  4 images" in out
    a, b = _hashes(train), _hashes(held)
    assert len(a) == 16 and len(b) == 4 and not a & b
    assert a | b == _hashes(images)


@pytest.mark.parametrize("argv, needle", [
    (["split", "--held-out", "1.5"], "--held-out"),
    (["split", "--held-out", "0"], "--held-out"),
])
def test_split_rejects_a_bad_fraction(images, tmp_path, capsys, argv, needle):
    code, _, err = _main([*argv, "--data", images, "--out-root", tmp_path / "p"], capsys)
    assert code == 2 and needle in err and not (tmp_path / "p").exists()


@pytest.mark.parametrize("bad, needle", [
    (["--batch-size", "0"], "--batch-size"),
    (["--batch-size", "-3"], "--batch-size"),
    (["--ngf", "0"], "--ngf"),
    (["--kimg", "0"], "--kimg"),
    (["--kimg", "nan"], "--kimg"),
    (["--epochs", "0"], "--epochs"),
])
def test_train_rejects_bad_sizes_naming_the_flag(images, tmp_path, capsys, bad, needle):
    length = [] if bad[0] in ("--kimg", "--epochs") else ["--epochs", "1"]
    code, _, err = _main(["train", "--model", model_names()[0], "--data", images, "--out",
                          tmp_path / "run", *length, *bad, *TINY], capsys)
    assert code == 2 and needle in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("n", [0, 1])
def test_train_refuses_too_few_images_for_the_metrics(tmp_path, capsys, n):
    folder = _write_images(tmp_path / "few", n)
    code, _, err = _main(["train", "--model", model_names()[0], "--data", folder, "--out",
                          tmp_path / "run", "--epochs", "1", *TINY], capsys)
    assert code == 2 and "--data" in err and "KID" in err and "at least 2" in err
    assert not (tmp_path / "run").exists()


def test_changed_config_on_a_run_folder_names_out_and_restart(images, tmp_path, capsys):
    model = model_names()[0]
    run = tmp_path / "run"
    common = ["train", "--model", model, "--data", images, "--out", run, "--epochs", "1",
              "--batch-size", "10", "--ngf", "4", "--ndf", "4", "--no-progress"]
    assert _main([*common, "--res", "32"], capsys)[0] == 0
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    code, _, err = _main([*common, "--res", "64"], capsys)
    assert code == 2 and "res" in err and "--out" in err and "--restart" in err
    assert "resume=False" not in err
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before   # nothing touched
    code, out, err = _main([*common, "--res", "64", "--restart"], capsys)
    assert code == 0, err
    assert engine.read_config(run)["config"]["res"] == 64 and "finished (1 epochs)" in out


def test_engine_mismatch_message_is_neutral(images, tmp_path):
    cfg = engine.make_config(model=model_names()[0], epochs=1, res=32, ngf=4, ndf=4,
                             batch_size=10)
    engine.train(cfg, images, tmp_path / "run", progress=False)
    with pytest.raises(engine.RunMismatch) as exc:
        engine.train(engine.make_config(**{**cfg.to_dict(), "seed": 1}), images,
                     tmp_path / "run", progress=False)
    assert "seed" in str(exc.value) and "resume=False" not in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_generate_conditional_run_translates_the_maps(images, tmp_path, capsys):
    conditional = [n for n in model_names() if get_model(n).data_kind == "pairs"]
    if not conditional:
        pytest.skip("no conditional model registered")
    run = tmp_path / "run"
    code, _, err = _main(["train", "--model", conditional[0], "--data", images, "--out", run,
                          "--maps", "edges", "--epochs", "1", "--batch-size", "10", *TINY],
                         capsys)
    assert code == 0, err
    out = tmp_path / "gen"
    code, _, err = _main(["generate", "--run", run, "--n", "5", "--out", out, "--maps",
                          images], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [f"{i:05d}.png" for i in range(5)]


def test_generate_refuses_a_folder_that_is_no_run(tmp_path, capsys):
    code, _, err = _main(["generate", "--run", tmp_path, "--n", "2", "--out",
                          tmp_path / "gen"], capsys)
    assert code == 2 and "--run" in err and "not a run folder" in err
    assert not (tmp_path / "gen").exists()
