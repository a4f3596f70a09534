"""User folders the pipeline must survive: images counted by whether they decode, a split
of big photos in bounded memory, and selections files checked against their round."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import cli, data
from paperlib.paper_b import load_selections, selections_or_auto

ROOT = Path(__file__).resolve().parents[1]


def _one_good_one_corrupt(folder: Path) -> Path:
    data.save_images(torch.zeros(1, 3, 16, 16), folder)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    return folder


# ------------------------------------------------------------------ counting images
def test_readable_images_counts_what_decodes(tmp_path):
    folder = _one_good_one_corrupt(tmp_path / "f")
    (folder / "empty.jpg").write_bytes(b"")
    good, bad = data.readable_images(folder)
    assert [p.name for p in good] == ["img_00000.png"]
    assert sorted(p.name for p, _ in bad) == ["broken.png", "empty.jpg"]
    assert all(why for _, why in bad)


def test_train_refuses_one_good_and_one_corrupt_image(tmp_path, capsys):
    folder = _one_good_one_corrupt(tmp_path / "f")
    code = cli.main(["train", "--model", "dcgan", "--data", str(folder),
                     "--out", str(tmp_path / "run"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "1 readable image" in err and "broken.png" in err and "at least 2" in err
    assert not (tmp_path / "run").exists()


def test_split_refuses_one_good_and_one_corrupt_image_naming_it(tmp_path):
    folder = _one_good_one_corrupt(tmp_path / "f")
    data.save_images(torch.zeros(1, 3, 16, 16), folder, prefix="more")
    (folder / "bad.jpg").write_text("not a jpeg")
    with pytest.raises(ValueError, match=r"2 of 4 image file\(s\) cannot be read") as err:
        data.split_held_out(folder, 0.5, out_root=tmp_path / "out")
    assert "broken.png" in str(err.value) and "bad.jpg" in str(err.value)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ split memory
SPLIT_SCRIPT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import numpy as np
    from PIL import Image
    from paperlib.data import split_held_out

    src, out, n, px = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    src.mkdir()
    for i in range(n):      # flat colour blocks: big images, small files, quick to encode
        if i >= 8:          # (8 distinct ones, hard-linked to n names: a quicker test)
            os.link(src / f"photo_{i % 8:03d}.png", src / f"photo_{i:03d}.png")
            continue
        a = np.empty((px, px, 3), np.uint8)
        a[: px // 2], a[px // 2:] = (30 * i, 40, 200), (10, 25 * i, 90)
        Image.fromarray(a).save(src / f"photo_{i:03d}.png", compress_level=1)
    def hwm():   # this process's peak RSS in KiB: VmHWM, not ru_maxrss, which on Linux
        # keeps the forking parent's (pytest's) peak across exec
        status = Path("/proc/self/status").read_text()
        return int(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM")))
    base = hwm()
    sp = split_held_out(src, 0.2, out_root=out)
    print(sp.n_train, sp.n_held_out, base, hwm())
""")


def test_split_of_big_photos_streams_in_bounded_memory(tmp_path):
    """200 images of 3,000 px (24 GB if all were held at once) split under 1.5 GB."""
    proc = subprocess.run(
        [sys.executable, "-c", SPLIT_SCRIPT, str(tmp_path / "photos"), str(tmp_path / "out"),
         "200", "3000"], capture_output=True, text=True, timeout=900,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    n_train, n_held, _base, peak_kib = map(int, proc.stdout.split())
    assert (n_train, n_held) == (160, 40)
    print(f"split peak RSS: {peak_kib / 1024:.0f} MiB (before the split: {_base / 1024:.0f})")
    assert peak_kib < 1.5 * 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
    part = tmp_path / "out" / "photos_heldout"
    with Image.open(next(part.glob("*.png"))) as im:
        assert im.size == (3000, 3000)       # copied at the source's resolution


def test_split_output_matches_the_loader_pixels(tmp_path):
    """Each part image is the loader's reading of its source (the streamed render)."""
    src = tmp_path / "src"
    data.save_images(torch.rand(6, 3, 20, 20) * 2 - 1, src)
    sp = data.split_held_out(src, 0.5, out_root=tmp_path / "o")
    man = data.read_manifest(sp.train)
    for e in man["images"]:
        want = data.folders.read_image(Path(e["recipe"]["path"]), 20)
        with Image.open(sp.train / e["file"]) as im:
            assert np.array_equal(np.asarray(im), want)


# ------------------------------------------------------------------ selections
def _write(path: Path, rounds: dict) -> Path:
    path.write_text(json.dumps({"version": 1, "rounds": rounds}))
    return path


@pytest.mark.parametrize("entry, match", [
    ({"selected": [3, 12], "n_shown": 12}, r"\[12\] out of range.*showed 12 images"),
    ({"selected": [-1], "n_shown": 12}, r"\[-1\] out of range"),
    ({"selected": [2, 2], "n_shown": 12}, r"\[2\] selected more than once"),
    ({"selected": ["2"], "n_shown": 12}, "list of integer"),
    ({"selected": [1.5], "n_shown": 12}, "list of integer"),
    ({"selected": [1], "n_shown": 0}, "n_shown must be a positive integer"),
    ({"selected": [1], "n_shown": 3, "image_hashes": ["a"]}, "one hash per shown image"),
    ({"selected": [1]}, "lacks"),
])
def test_bad_selections_are_refused_with_the_round_named(tmp_path, entry, match):
    path = _write(tmp_path / "sel.json", {"0": entry})
    with pytest.raises(ValueError, match=match) as err:
        load_selections(path)
    assert "round '0'" in str(err.value)


def test_an_index_past_n_shown_is_an_error_not_an_index_error(tmp_path):
    path = _write(tmp_path / "sel.json", {"0": {"selected": [0, 14], "n_shown": 12}})
    images = np.zeros((12, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="out of range") as err:
        selections_or_auto(path, 0, images, np.zeros(12), top_k=2, verbose=False)
    assert not isinstance(err.value, IndexError)


def test_round_keys_are_numbers(tmp_path):
    with pytest.raises(ValueError, match="round key"):
        load_selections(_write(tmp_path / "s.json", {"first": {"selected": [], "n_shown": 2}}))
    assert load_selections(_write(tmp_path / "t.json", {"0": {"selected": [], "n_shown": 2}}))


def test_curate_selections_out_of_range_is_a_usage_error(tmp_path):
    """``curate --selections`` turns a bad file into a usage error (exit 2) naming it."""
    from types import SimpleNamespace

    path = _write(tmp_path / "sel.json", {"0": {"selected": [12], "n_shown": 12}})
    with pytest.raises(cli._UsageError, match="--selections.*out of range"):
        cli._check_selections(path, SimpleNamespace(rounds=1, n_generate=12))
