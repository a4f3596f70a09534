"""Tests for paperlib.data: deterministic synthetic sets, safe writing, the folder loader."""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import __version__, data


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                                p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- emoji set
def test_emoji_set_is_deterministic_and_seed_dependent(tmp_path):
    a = data.build_emoji_set(tmp_path / "a", seed=3, res=32, n_per_class=12)
    b = data.build_emoji_set(tmp_path / "b", seed=3, res=32, n_per_class=12)
    c = data.build_emoji_set(tmp_path / "c", seed=4, res=32, n_per_class=12)
    assert a == b
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert [e["recipe"] for e in a["images"]] != [e["recipe"] for e in c["images"]]
    assert _tree(tmp_path / "a") != _tree(tmp_path / "c")


def test_emoji_manifest_format(tmp_path):
    man = data.build_emoji_set(tmp_path / "e", seed=0, res=32, n_per_class=5)
    text = (tmp_path / "e" / "manifest.json").read_text()
    assert text == json.dumps(man, sort_keys=True, indent=1) + "\n"
    assert man["name"] == "emoji" and man["seed"] == 0 and man["res"] == 32
    assert man["count"] == 10 and man["counts"] == {"negative": 5, "positive": 5}
    assert str(__version__) in man["code_version"]
    assert str(data.folders.DATA_FORMAT_VERSION) in man["code_version"]
    files = [e["file"] for e in man["images"]]
    assert files == sorted(files)
    for entry in man["images"]:
        raw = (tmp_path / "e" / entry["file"]).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
        recipe = entry["recipe"]
        for key in ("face_shape", "face_color", "gradient", "eyes", "brows", "mouth", "extras"):
            assert key in recipe
        with Image.open(tmp_path / "e" / entry["file"]) as im:
            assert im.mode == "RGB" and im.size == (32, 32)
            assert im.getpixel((0, 0)) == (255, 255, 255)


def test_full_emoji_set_counts_balance_labels_and_uniqueness(tmp_path):
    man = data.build_emoji_set(tmp_path / "emoji", seed=0, res=32)
    assert man["count"] == 804 == len(man["images"])
    assert man["counts"] == {"positive": 402, "negative": 402}
    recipes = [e["recipe"] for e in man["images"]]
    for entry in man["images"]:
        assert entry["label"] == data.emoji_label(entry["recipe"])
    keys = {(r["face_shape"], r["face_color"], r["gradient"], r["eyes"], r["brows"], r["mouth"],
             tuple(r["extras"])) for r in recipes}
    assert len(keys) == 804
    assert len(data.emoji.EMOJI_EYES) >= 8 and len(data.emoji.EMOJI_MOUTHS) >= 8
    assert {r["eyes"] for r in recipes} == set(data.emoji.EMOJI_EYES)
    assert {r["mouth"] for r in recipes} == set(data.emoji.EMOJI_MOUTHS)
    assert {r["brows"] for r in recipes} == set(data.emoji.EMOJI_BROWS)
    assert {x for r in recipes for x in r["extras"]} == set(data.emoji.EMOJI_EXTRAS)
    assert any(not r["extras"] for r in recipes)
    assert len(list((tmp_path / "emoji").glob("*.png"))) == 804


def test_emoji_label_rule():
    base = {"eyes": "dots", "brows": "none", "mouth": "flat", "extras": []}
    assert data.emoji_label({**base, "mouth": "smile"}) == "positive"
    assert data.emoji_label({**base, "mouth": "frown"}) == "negative"
    assert data.emoji_label({**base, "brows": "angry"}) == "negative"
    assert data.emoji_label({**base, "extras": ["tears"]}) == "negative"
    assert data.emoji_label({**base, "extras": ["blush"]}) == "positive"
    assert data.emoji_label({**base, "mouth": "smile", "extras": ["tears", "hearts"]}) \
        == "positive"
    with pytest.raises(ValueError):
        data.emoji_label(base)  # score 0 is ambiguous


def test_emoji_render_sizes():
    recipe = data.emoji_recipes(seed=1, n_per_class=1)[0]
    for res in (16, 48, 128):
        assert data.render_emoji(recipe, res).size == (res, res)
    with pytest.raises(ValueError):
        data.build_emoji_set("unused", res=8)


# ------------------------------------------------------------------ shapes and artist sets
def test_shape_set_balanced_and_deterministic(tmp_path):
    a = data.build_shape_set(tmp_path / "a", n=60, res=32, seed=1)
    b = data.build_shape_set(tmp_path / "b", n=60, res=32, seed=1)
    data.build_shape_set(tmp_path / "c", n=60, res=32, seed=2)
    assert a == b and _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert _tree(tmp_path / "a") != _tree(tmp_path / "c")
    assert a["count"] == 60
    assert a["counts"] == {k: 10 for k in data.folders.SHAPE_KINDS}
    assert all(e["label"] == e["recipe"]["kind"] for e in a["images"])
    odd = data.build_shape_set(tmp_path / "odd", n=13, res=16, seed=0)
    assert max(odd["counts"].values()) - min(odd["counts"].values()) <= 1


@pytest.mark.parametrize("style", data.folders.ARTIST_STYLES)
def test_artist_sets_are_labelled_standins(tmp_path, style):
    a = data.build_artist_set(tmp_path / "a", style, n=20, res=32, seed=0)
    b = data.build_artist_set(tmp_path / "b", style, n=20, res=32, seed=0)
    assert a == b and _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert a["kind"] == "artist-standin" and "stand-in" in a["note"].lower()
    assert a["count"] == 20 and a["counts"] == {style: 20}
    for entry in a["images"]:
        circle = entry["recipe"]["main_circle"]
        assert 0 < circle["r"] <= 16 and 0 <= circle["cx"] <= 32 and 0 <= circle["cy"] <= 32
    first = a["images"][0]
    with Image.open(tmp_path / "a" / first["file"]) as im:
        drawn = data.render_artist(first["recipe"], 32, style)
        assert np.array_equal(np.array(im), np.array(drawn))
    if style == "donglein":
        counts = [e["recipe"]["n_inner_circles"] for e in a["images"]]
        assert min(counts) >= 2 and set(counts) == {2, 4}
        assert all(len(e["recipe"]["inner_circles"]) == e["recipe"]["n_inner_circles"]
                   for e in a["images"])
    else:
        assert all(e["recipe"]["circles"] for e in a["images"])


def test_unknown_artist_style(tmp_path):
    with pytest.raises(ValueError, match="cubist"):
        data.build_artist_set(tmp_path / "x", "cubist", n=2, res=16)


def test_build_all_and_reuse(tmp_path):
    mans = data.build_all(tmp_path, seed=0, res=16, n_shapes=12, n_artist=4)
    assert tuple(mans) == data.sets.SET_NAMES
    assert all((tmp_path / name / "manifest.json").is_file() for name in data.sets.SET_NAMES)
    before = _snapshot(tmp_path / "shapes")
    again = data.build_shape_set(tmp_path / "shapes", n=12, res=16, seed=0)
    assert again == mans["shapes"] and _snapshot(tmp_path / "shapes") == before  # reused
    other = data.build_shape_set(tmp_path / "shapes", n=12, res=16, seed=5)  # replaces ours
    assert other["seed"] == 5 and other != mans["shapes"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


# ------------------------------------------------------------------------ writing safety
def test_refuses_to_overwrite_user_folder(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "photo.png").write_bytes(b"precious")
    (user / "notes.txt").write_text("keep me")
    before = _snapshot(user)
    with pytest.raises(FileExistsError, match="mine"):
        data.build_emoji_set(user, res=16, n_per_class=2)
    assert _snapshot(user) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_refuses_set_folder_with_extra_user_files(tmp_path):
    data.build_shape_set(tmp_path / "s", n=6, res=16)
    (tmp_path / "s" / "added_by_user.png").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="added_by_user"):
        data.build_shape_set(tmp_path / "s", n=6, res=16, seed=9)
    assert (tmp_path / "s" / "added_by_user.png").read_bytes() == b"x"


def test_empty_folder_is_filled(tmp_path):
    (tmp_path / "empty").mkdir()
    man = data.build_shape_set(tmp_path / "empty", n=6, res=16)
    assert man["count"] == 6 and (tmp_path / "empty" / "manifest.json").is_file()


# ----------------------------------------------------------------------------- the loader
@pytest.fixture()
def messy_folder(tmp_path):
    root = tmp_path / "user"
    (root / "cats").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / "good.png")
    Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(
        root / "cats" / "cat.JPG", quality=90)
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[5:15, 5:15] = (255, 0, 0, 255)  # opaque red square on a transparent field
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    Image.fromarray(np.full((24, 24), 60, dtype=np.uint8), "L").save(root / "grey.png")
    wide = np.zeros((50, 200, 3), dtype=np.uint8)
    wide[:, 60:140] = 255  # white centre band wider than the 50x50 centre crop
    Image.fromarray(wide).save(root / "wide.bmp")
    (root / "zero.png").write_bytes(b"")
    full = (root / "good.png").read_bytes()
    (root / "truncated.png").write_bytes(full[: len(full) // 2])
    (root / "text.jpg").write_text("this is not a jpeg\n" * 20)
    (root / "noise.webp").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    (root / "README.txt").write_text("not an image")
    return root


GOOD = ["cats/cat.JPG", "good.png", "grey.png", "rgba.png", "wide.bmp"]
BAD = ["noise.webp", "text.jpg", "truncated.png", "zero.png"]


def test_loader_loads_good_files_and_warns_once(messy_folder):
    before = _snapshot(messy_folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = data.load_folder(messy_folder, res=16)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert all(name in message for name in BAD) and "README" not in message
    assert [p.relative_to(messy_folder).as_posix() for p in loaded.paths] == GOOD
    assert sorted(p.name for p, _ in loaded.skipped) == sorted(Path(b).name for b in BAD)
    assert loaded.images.shape == (5, 3, 16, 16) and loaded.images.dtype == torch.float32
    assert loaded.images.min() >= -1 and loaded.images.max() <= 1
    assert loaded.labels == ["cats", None, None, None, None]
    rgba = loaded.images[GOOD.index("rgba.png")]
    assert torch.all(rgba[:, 0, 0] > 0.99)                           # transparent -> white
    assert rgba[0, 8, 8] > 0.9 and rgba[1, 8, 8] < -0.9             # opaque red kept
    grey = loaded.images[GOOD.index("grey.png")]
    assert torch.allclose(grey[0], grey[1]) and torch.allclose(grey[1], grey[2])
    assert torch.all(loaded.images[GOOD.index("wide.bmp")] > 0.95)    # centre-cropped
    assert _snapshot(messy_folder) == before                          # folder untouched


def test_loader_strict_raises_on_first_bad_file(messy_folder):
    with pytest.raises(ValueError, match="noise.webp"):
        data.load_folder(messy_folder, res=16, strict=True)


def test_loader_non_recursive(messy_folder):
    with pytest.warns(UserWarning):
        loaded = data.load_folder(messy_folder, res=16, recursive=False)
    assert "cat.JPG" not in [p.name for p in loaded.paths] and len(loaded) == 4


def test_loader_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.load_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty"):
        data.load_folder(tmp_path / "empty")
    bad = tmp_path / "allbad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="allbad"):
        data.load_folder(bad)


def test_loader_uses_manifest_labels_and_roundtrips_a_set(tmp_path):
    man = data.build_emoji_set(tmp_path / "e", res=16, n_per_class=3)
    loaded = data.load_folder(tmp_path / "e", res=16)
    assert loaded.labels == [e["label"] for e in man["images"]]
    with Image.open(tmp_path / "e" / man["images"][0]["file"]) as im:
        expected = torch.from_numpy(np.array(im)).permute(2, 0, 1)
    assert torch.equal(data.to_uint8(loaded.images[0]), expected)


def test_loader_scales_16_bit_greyscale(tmp_path):
    Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(tmp_path / "deep.png")
    loaded = data.load_folder(tmp_path, res=8)
    assert torch.all(loaded.images > 0.99)


def test_save_images_to_uint8_and_manifest_hash(tmp_path):
    x = torch.linspace(-1, 1, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    assert data.to_uint8(torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0])).tolist() == \
        [0, 0, 128, 255, 255]
    paths = data.save_images(x, tmp_path / "out", prefix="fake")
    assert [p.name for p in paths] == ["fake_00000.png", "fake_00001.png"]
    loaded = data.load_folder(tmp_path / "out", res=4)
    assert torch.equal(data.to_uint8(loaded.images), data.to_uint8(x))
    h1 = data.manifest_hash(tmp_path / "out")
    os.utime(paths[0], (0, 0))
    assert data.manifest_hash(tmp_path / "out") == h1                 # content, not mtime
    data.save_images(-x, tmp_path / "out", prefix="fake")
    assert data.manifest_hash(tmp_path / "out") != h1
    data.build_shape_set(tmp_path / "s", n=6, res=16)
    raw = (tmp_path / "s" / "manifest.json").read_bytes()
    assert data.manifest_hash(tmp_path / "s") == hashlib.sha256(raw).hexdigest()


def test_mixed_set_is_deterministic_with_provenance(tmp_path):


    shapes = tmp_path / "shapes"
    data.build_shape_set(shapes, n=12, res=32, seed=0)
    art = tmp_path / "art"
    data.build_artist_set(art, "donglein", n=8, res=32, seed=0)
    parts = {"artist": (art, None), "shapes": (shapes, 5)}
    a = data.build_mixed_set(tmp_path / "mix_a", parts, res=32, seed=1)
    data.build_mixed_set(tmp_path / "mix_b", parts, res=32, seed=1)
    assert a["counts"] == {"artist": 8, "shapes": 5}
    assert (tmp_path / "mix_a" / "manifest.json").read_bytes() == \
        (tmp_path / "mix_b" / "manifest.json").read_bytes()
    for entry in a["images"]:
        src = Path(entry["recipe"]["path"])
        assert src.is_file() and entry["label"] == entry["recipe"]["source"]
    with pytest.raises(ValueError, match="asks for 99"):
        data.build_mixed_set(tmp_path / "mix_c", {"shapes": (shapes, 99)}, res=32)


# ----------------------------------------------------------------------------- held-out split
@pytest.fixture()
def artist20(tmp_path):
    """A 20-image donglein stand-in at 32 px in tmp/sets/artist_donglein."""
    data.build_artist_set(tmp_path / "sets" / "artist_donglein", "donglein", n=20, res=32, seed=0)
    return tmp_path / "sets" / "artist_donglein"


def _split_sources(folder: Path) -> list[str]:
    man = json.loads((folder / "manifest.json").read_text())
    return [e["recipe"]["source_file"] for e in man["images"]]


def test_split_held_out_default_location_copies_pixels_and_metadata(artist20, monkeypatch):
    from paperlib.forms import inner_counts_of

    before = _snapshot(artist20)
    sp = data.split_held_out(artist20)                       # default: 20 %, seed 0
    assert data.sets.HELD_OUT_FRAC == 0.2 and (sp.n_train, sp.n_held_out) == (16, 4)
    assert sp.train == artist20.parent / "artist_donglein_train"
    assert sp.held_out == artist20.parent / "artist_donglein_heldout"
    assert _snapshot(artist20) == before                     # the source is only read
    # nothing else was left beside them (no temporary folders)
    assert sorted(p.name for p in artist20.parent.iterdir()) == \
        ["artist_donglein", "artist_donglein_heldout", "artist_donglein_train"]
    train, held = _split_sources(sp.train), _split_sources(sp.held_out)
    assert not set(train) & set(held) and len(train) + len(held) == 20
    assert sorted(train + held) == [p.name for p in data.image_files(artist20)]
    # pixels copied unchanged, labels and recipes (inner-circle counts) kept in both parts
    src_man = {e["file"]: e for e in json.loads((artist20 / "manifest.json").read_text())["images"]}
    src_imgs = dict(zip([p.name for p in data.image_files(artist20)],
                        data.load_folder(artist20, 32).images))
    for part, names in ((sp.train, train), (sp.held_out, held)):
        loaded = data.load_folder(part, 32, strict=True)
        assert len(loaded) == len(names) and set(loaded.labels) == {"donglein"}
        assert data.manifest_hash(part) == data.file_sha256(part / "manifest.json")
        man = json.loads((part / "manifest.json").read_text())
        for img, entry in zip(loaded.images, man["images"]):
            name = entry["recipe"]["source_file"]
            assert torch.equal(img, src_imgs[name])
            assert entry["recipe"]["n_inner_circles"] == \
                src_man[name]["recipe"]["n_inner_circles"]
        counts = {src_man[n]["recipe"]["n_inner_circles"] for n in names}
        assert inner_counts_of(part) == tuple(sorted(counts))
    # a second call, also with a relative path, reuses both parts without writing
    snap = {p: _snapshot(p) for p in (sp.train, sp.held_out)}
    monkeypatch.chdir(artist20.parent)
    again = data.split_held_out(Path("artist_donglein"))
    assert (again.n_train, again.n_held_out) == (16, 4)
    assert {p: _snapshot(p) for p in (sp.train, sp.held_out)} == snap


def test_split_held_out_is_deterministic_and_seed_dependent(artist20, tmp_path):
    a = data.split_held_out(artist20, 0.25, seed=3, out_root=tmp_path / "a")
    b = data.split_held_out(artist20, 0.25, seed=3, out_root=tmp_path / "b")
    c = data.split_held_out(artist20, 0.25, seed=4, out_root=tmp_path / "c")
    assert (a.n_train, a.n_held_out) == (15, 5)
    assert a.train == tmp_path / "a" / "artist_donglein_train"
    assert _tree(a.train) == _tree(b.train) and _tree(a.held_out) == _tree(b.held_out)
    assert set(_split_sources(a.held_out)) != set(_split_sources(c.held_out))


def test_split_held_out_rebuilds_when_an_image_changes(tmp_path):
    src = tmp_path / "mine"
    data.save_images(torch.rand(10, 3, 16, 16) * 2 - 1, src)   # a user folder, no manifest
    sp = data.split_held_out(src, 0.3, out_root=tmp_path / "out")
    assert (sp.n_train, sp.n_held_out) == (7, 3)
    changed = sorted(src.glob("*.png"))[0]
    part = sp.held_out if changed.name in _split_sources(sp.held_out) else sp.train
    old = _tree(part)
    data.save_images(torch.zeros(1, 3, 16, 16), tmp_path / "z")
    changed.write_bytes((tmp_path / "z" / "img_00000.png").read_bytes())   # same count
    sp2 = data.split_held_out(src, 0.3, out_root=tmp_path / "out")
    assert (sp2.n_train, sp2.n_held_out) == (7, 3)
    assert _tree(part) != old
    man = json.loads((part / "manifest.json").read_text())
    i = [e["recipe"]["source_file"] for e in man["images"]].index(changed.name)
    assert man["images"][i]["recipe"]["source_sha256"] == data.file_sha256(changed)
    assert torch.equal(data.load_folder(part, 16).images[i],
                       data.load_folder(tmp_path / "z", 16).images[0])


@pytest.mark.parametrize("frac", [0, 0.0, 1, 1.0, -0.2, 1.5, float("nan"), True, None, "0.2"])
def test_split_held_out_rejects_bad_fractions(artist20, tmp_path, frac):
    with pytest.raises(ValueError, match=r"held_out_frac must be in \(0, 1\)"):
        data.split_held_out(artist20, frac, out_root=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_split_held_out_rejects_bad_folders(tmp_path, artist20):
    with pytest.raises(FileNotFoundError, match="not found"):
        data.split_held_out(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has 0 image"):
        data.split_held_out(tmp_path / "empty")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "README.txt").write_text("not an image")
    with pytest.raises(ValueError, match="has 0 image"):
        data.split_held_out(tmp_path / "texts")
    data.save_images(torch.zeros(1, 3, 16, 16), tmp_path / "one")
    with pytest.raises(ValueError, match="has 1 image.*at least 2"):
        data.split_held_out(tmp_path / "one")
    with pytest.raises(ValueError, match="inside the folder"):
        data.split_held_out(artist20, out_root=artist20 / "parts")
    assert not (artist20 / "parts").exists()


def test_split_held_out_small_sets_keep_one_image_each_side(tmp_path):
    data.save_images(torch.rand(2, 3, 16, 16) * 2 - 1, tmp_path / "two")
    data.save_images(torch.rand(3, 3, 16, 16) * 2 - 1, tmp_path / "three")
    sp = data.split_held_out(tmp_path / "two", 0.01, out_root=tmp_path / "o")
    assert (sp.n_train, sp.n_held_out) == (1, 1)
    sp = data.split_held_out(tmp_path / "three", 0.99, out_root=tmp_path / "o")
    assert (sp.n_train, sp.n_held_out) == (1, 2)


def test_split_held_out_with_an_unreadable_image_writes_nothing(tmp_path):
    src = tmp_path / "src"
    data.save_images(torch.rand(5, 3, 16, 16) * 2 - 1, src)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match="broken.png"):
        data.split_held_out(src, 0.4, out_root=tmp_path / "out")
    assert not (tmp_path / "out").exists()              # checked before any write


def test_split_held_out_labels_sub_folders_without_manifest(tmp_path):
    src = tmp_path / "src"
    data.save_images(torch.rand(4, 3, 16, 16) * 2 - 1, src / "cats")
    data.save_images(torch.rand(4, 3, 16, 16) * 2 - 1, src / "dogs")
    sp = data.split_held_out(src, 0.5, out_root=tmp_path / "out")
    labels = data.load_folder(sp.train, 16).labels + data.load_folder(sp.held_out, 16).labels
    assert sorted(labels) == ["cats"] * 4 + ["dogs"] * 4
