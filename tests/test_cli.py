import json
import subprocess
import sys

import pytest

from paperlib import cli

SUBCOMMANDS = ("build-data", "train", "evaluate", "reproduce")


def _run(*args):
    return subprocess.run([sys.executable, "-m", "paperlib", *args], capture_output=True,
                          text=True, timeout=300)


def test_help_documents_every_subcommand():
    top = _run("--help")
    assert top.returncode == 0
    for name in SUBCOMMANDS:
        assert name in top.stdout
        sub = _run(name, "--help")
        assert sub.returncode == 0 and "usage:" in sub.stdout and "--" in sub.stdout


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
