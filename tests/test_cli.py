import json
import subprocess
import sys

import pytest

from paperlib import cli, config, data, engine, metrics

SUBCOMMANDS = ("build-data", "train", "generate", "evaluate", "split", "reproduce")


def _run(*args):
    return subprocess.run([sys.executable, "-m", "paperlib", *args], capture_output=True,
                          text=True, timeout=300)


def test_help_documents_every_subcommand(capsys):
    """``python -m paperlib --help`` (the real entry point) names every subcommand; each
    subcommand's ``--help`` (in-process) prints its usage and flags."""
    top = _run("--help")
    assert top.returncode == 0
    for name in SUBCOMMANDS:
        assert name in top.stdout
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        out = capsys.readouterr().out
        assert exit_.value.code == 0 and "usage:" in out and "--" in out, name


def test_build_data_twice_gives_identical_manifests(tmp_path):
    for run in ("a", "b"):
        proc = _run("build-data", "--out", str(tmp_path / run), "--seed", "0", "--res", "32",
                    "--n-shapes", "12", "--n-artist", "6")
        assert proc.returncode == 0, proc.stderr
    for name in ("emoji", "shapes", "artist_donglein", "artist_geometric"):
        a = (tmp_path / "a" / name / "manifest.json").read_bytes()
        assert a == (tmp_path / "b" / name / "manifest.json").read_bytes()
    emoji = json.loads((tmp_path / "a" / "emoji" / "manifest.json").read_text())
    assert emoji["counts"] == {"positive": 402, "negative": 402} and emoji["seed"] == 0


def test_unknown_profile_is_a_clear_error(capsys):
    assert cli.main(["reproduce", "--profile", "huge"]) == 2
    err = capsys.readouterr().err
    assert "huge" in err and "smoke, cpu, paper" in err


def test_build_data_refuses_a_foreign_folder(tmp_path, capsys):
    mine = tmp_path / "photos" / "emoji"
    mine.mkdir(parents=True)
    (mine / "holiday.jpg").write_bytes(b"not really a jpeg")
    assert cli.main(["build-data", "--out", str(tmp_path / "photos"), "--res", "32",
                     "--n-shapes", "6", "--n-artist", "6"]) == 2
    assert "emoji" in capsys.readouterr().err
    assert (mine / "holiday.jpg").read_bytes() == b"not really a jpeg"


@pytest.mark.parametrize("bad", [["--res", "8"], ["--n-shapes", "0"]])
def test_build_data_rejects_bad_values(tmp_path, bad):
    proc = _run("build-data", "--out", str(tmp_path / "x"), *bad)
    assert proc.returncode == 2 and proc.stderr.strip()
    assert not (tmp_path / "x" / "emoji" / "manifest.json").exists()


@pytest.fixture(scope="module")
def small_emoji(tmp_path_factory):


    out = tmp_path_factory.mktemp("cli") / "emoji"
    data.build_emoji_set(out, seed=0, res=32, n_per_class=20)
    return out


def test_train_resumes_with_more_epochs(tmp_path, small_emoji):
    run = tmp_path / "run"
    common = ["train", "--model", "proposed", "--data", str(small_emoji), "--out", str(run),
              "--res", "32", "--ngf", "8", "--ndf", "8", "--ckpt-every", "1", "--no-progress"]
    first = _run(*common, "--epochs", "2")
    assert first.returncode == 0, first.stderr
    assert "finished (2 epochs)" in first.stdout
    second = _run(*common, "--epochs", "3")
    assert second.returncode == 0, second.stderr
    assert "finished (3 epochs)" in second.stdout
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "finished" and status["epochs_done"] == 3
    epochs = [line.split(",")[0] for line in (run / "log.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3"]


@pytest.mark.parametrize("bad, needle", [
    (["--model", "stylegan"], "stylegan"),
    (["--config", "fast"], "fast"),
    (["--res", "48"], "res"),
    (["--epochs", "0"], "epochs"),
])
def test_train_rejects_bad_values_before_training(tmp_path, small_emoji, bad, needle):
    args = {"--model": "dcgan", "--data": str(small_emoji), "--out": str(tmp_path / "run"),
            "--epochs": "1", "--res": "32"}
    args.update(dict(zip(bad[::2], bad[1::2])))
    assert cli.main(["train", *[x for kv in args.items() for x in kv]]) == 2
    assert not (tmp_path / "run").exists()


def test_train_rejects_a_bad_folder(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (empty, tmp_path / "missing"):
        assert cli.main(["train", "--model", "dcgan", "--data", str(folder), "--out",
                         str(tmp_path / "run"), "--epochs", "1", "--res", "32"]) == 2
        assert str(folder) in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def own_images(tmp_path_factory):
    """~30 unlabelled PNGs (no manifest.json: a user's own folder) and a tiny run on them."""
    import numpy as np
    from PIL import Image



    root = tmp_path_factory.mktemp("own")
    folder = root / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    for i in range(30):
        img = np.empty((32, 32, 3))
        for c in range(3):     # a random colour gradient plus noise and a random block
            a, b, base = rng.uniform(-4, 4, 3)
            img[..., c] = 128 + 30 * base + a * (xx - 16) + b * (yy - 16)
        x0, y0 = rng.integers(0, 24, 2)
        img[y0:y0 + 8, x0:x0 + 8] = rng.uniform(0, 255, 3)
        img += rng.normal(0, 12, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype("uint8")).save(folder / f"img_{i:02d}.png")
    cfg = engine.make_config(model="dcgan", epochs=1, res=32, ngf=4, ndf=4, batch_size=8)
    engine.train(cfg, folder, root / "run", progress=False)
    return root


def test_evaluate_own_images_without_labels_gives_no_is(own_images, tmp_path, capsys,
                                                        monkeypatch):


    monkeypatch.delenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, raising=False)
    monkeypatch.setattr(metrics.features, "DEFAULT_CACHE_DIR", tmp_path / "cache")
    out = tmp_path / "eval.json"
    assert cli.main(["evaluate", "--run", str(own_images / "run"), "--data",
                     str(own_images / "photos"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())
    assert res["is"] is None and res["is_std"] is None and res["is_kind"] == "none"
    assert "no emoji part labels" in res["is_note"] and "--is" in res["is_note"]
    # the profile's Table-1 sizes ($PAPERLIB_PROFILE's n_fake; n_real caps the 30 reals)
    assert res["n_real"] == 30 and res["n_fake"] == config.get_profile().n_fake
    for key in ("fid", "kid", "precision", "recall", "density", "coverage"):
        assert isinstance(res[key], float) and key in printed
    assert "is_kind    none" in printed and "no emoji part labels" in printed


@pytest.mark.parametrize("choice, needle", [("emoji-parts", "part labels"),
                                            ("tf-inception", "PAPERLIB_INCEPTION_LOGITS")])
def test_evaluate_unsatisfiable_is_choice_is_an_error(own_images, tmp_path, capsys,
                                                      monkeypatch, choice, needle):


    monkeypatch.delenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, raising=False)
    monkeypatch.setattr(metrics.features, "DEFAULT_CACHE_DIR", tmp_path / "cache")
    out = tmp_path / "eval.json"
    assert cli.main(["evaluate", "--run", str(own_images / "run"), "--data",
                     str(own_images / "photos"), "--is", choice, "--json", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "cache").exists()   # failed before any work


def test_evaluate_rejects_an_unknown_is_choice(own_images, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["evaluate", "--run", str(own_images / "run"), "--data",
                  str(own_images / "photos"), "--is", "bogus"])
    assert exc.value.code == 2 and "bogus" in capsys.readouterr().err
