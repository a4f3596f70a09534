"""paperlib.data.real_emoji on a tiny fixture (paperlib.data.real_emoji_fixture, shared with
notebook 08): three fake npm tarballs in the vendors' layouts (hand-written SVGs, an
openmoji.json), no network and no npm."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib.data import real_emoji as re_
from paperlib.data import real_emoji_fixture as fx

HAVE_CAIRO = re_.cairosvg_available()
needs_cairo = pytest.mark.skipif(not HAVE_CAIRO, reason="cairosvg (extra real-emoji) or "
                                 "libcairo not installed")


def _svg(rgb: str, box: int = 36) -> bytes:
    """A filled circle on a transparent background."""
    return fx.face_svg(rgb, "plain", box)


#: the shared fixture's openmoji.json (paperlib.data.real_emoji_fixture)
METADATA = list(fx.FIXTURE_METADATA)

RED, YELLOW = fx.RED, fx.YELLOW


def _fixture(packages: Path) -> tuple:
    """The three tarballs in ``packages`` and the vendors pinned to them."""
    packages.mkdir()
    return fx.write_fixture_packages(packages)


# Metadata -> labels ----------------------------------------------------------------------
def test_face_labels_follow_the_subgroups_and_skip_the_rest():
    faces = re_.face_labels(METADATA)
    assert [(f["codepoint"], f["label"]) for f in faces] == [
        ("1F600", "positive"), ("1F618", "positive"), ("1F621", "negative"),
        ("1F622", "negative")]
    assert faces[0] == {"codepoint": "1F600", "name": "grinning face",
                        "subgroup": "face-smiling", "label": "positive"}
    assert set(re_.SUBGROUP_LABELS) == {"face-smiling", "face-affection", "face-negative",
                                        "face-concerned", "face-unwell"}


def test_each_vendor_names_its_files_its_own_way():
    smile = {"codepoint": "263A-FE0F", "name": "smiling face"}
    assert re_.member_candidates("openmoji", smile) == ["package/color/svg/263A-FE0F.svg"]
    assert re_.member_candidates("twemoji", smile) == ["package/263a.svg",
                                                       "package/263a-fe0f.svg"]
    assert re_.member_candidates("fluent", smile) == ["package/icons/modern/smiling-face.svg"]
    spiral = {"codepoint": "1F635-200D-1F4AB", "name": "face with spiral eyes"}
    assert re_.member_candidates("twemoji", spiral) == ["package/1f635-200d-1f4ab.svg"]
    assert re_.member_candidates("fluent", {"codepoint": "1F621", "name": "enraged face"}) \
        == ["package/icons/modern/pouting-face.svg"]
    found, missing = re_.vendor_faces("twemoji", re_.face_labels(METADATA),
                                      ["package/1f600.svg", "package/1f621.svg"])
    assert [f["member"] for f in found] == ["package/1f600.svg", "package/1f621.svg"]
    assert missing == ["1F618", "1F622"]
    with pytest.raises(ValueError, match="unknown vendor"):
        re_.member_candidates("apple", smile)


# SVG -> PNG ----------------------------------------------------------------------------
@needs_cairo
@pytest.mark.parametrize("res", [32, 64])
def test_svg_to_png_is_rgb_on_white_at_the_size_asked(res):
    img = re_.svg_to_png(_svg(RED), res)
    assert img.mode == "RGB" and img.size == (res, res)
    arr = np.asarray(img)
    assert tuple(arr[0, 0]) == (255, 255, 255)              # transparent -> white
    assert tuple(arr[res // 2, res // 2]) == (255, 0, 0)    # the circle


# Building the sets ---------------------------------------------------------------------
@needs_cairo
def test_build_writes_labelled_sets_with_counts_licences_and_attribution(tmp_path):
    vendors = _fixture(tmp_path / "packages")
    out = tmp_path / "real_emoji"
    manifests = re_.build_real_emoji(out, tmp_path / "packages", vendors=vendors)
    assert set(manifests) == {"openmoji", "fluent", "twemoji", "combined"}
    assert manifests["openmoji"]["counts"] == {"positive": 2, "negative": 2}
    assert manifests["fluent"]["counts"] == {"positive": 2, "negative": 2}
    assert manifests["twemoji"]["counts"] == {"positive": 2, "negative": 1}
    assert manifests["twemoji"]["params"]["missing"] == {"twemoji": ["1F622"]}
    assert manifests["fluent"]["params"]["labels_from"] == \
        "package/data/openmoji.json of openmoji@17.0.0"
    combined = manifests["combined"]
    assert combined["counts"] == {"positive": 6, "negative": 5} and combined["count"] == 11
    assert combined["params"]["vendor_counts"] == {
        "openmoji": {"positive": 2, "negative": 2}, "fluent": {"positive": 2, "negative": 2},
        "twemoji": {"positive": 2, "negative": 1}}
    files = sorted(e["file"] for e in manifests["twemoji"]["images"])
    assert files == ["negative/1f621.png", "positive/1f600.png", "positive/1f618.png"]
    assert "negative/fluent_1f621.png" in {e["file"] for e in combined["images"]}
    # the thinking face (another subgroup) and the skin-tone variant are left out
    codes = {e["recipe"]["codepoint"] for e in combined["images"]}
    assert codes == {"1F600", "1F618", "1F621", "1F622"}
    for entry in combined["images"]:
        with Image.open(out / "combined" / entry["file"]) as im:
            assert im.mode == "RGB" and im.size == (64, 64)
            centre = im.getpixel((32, 32))
        assert centre == ((255, 0, 0) if entry["recipe"]["codepoint"] == "1F621"
                          else (255, 204, 0)), entry
        assert entry["label"] == entry["file"].split("/")[0]
    fluent = {e["recipe"]["codepoint"]: e["recipe"]["source_file"]
              for e in manifests["fluent"]["images"]}
    assert fluent["1F621"] == "package/icons/modern/pouting-face.svg"
    assert (out / "licences" / "openmoji-LICENSE.txt").read_bytes() == b"CC BY-SA 4.0 (fixture)"
    assert (out / "licences" / "twemoji-license").read_bytes() == b"MIT (fixture)"
    attribution = (out / "ATTRIBUTION.md").read_text()
    for vendor in vendors:
        assert vendor.spec in attribution and vendor.licence in attribution
    # only what is needed was extracted: no thinking face, no flat style
    extracted = {p.name for p in (tmp_path / "packages" / "extracted").rglob("*.svg")}
    assert "thinking-face.svg" not in extracted and "1f914.svg" not in extracted
    assert not list((tmp_path / "packages" / "extracted").rglob("flat"))
    # a second build with the same inputs keeps the sets
    before = {p: p.stat().st_mtime_ns for p in (out / "combined").rglob("*.png")}
    assert re_.build_real_emoji(out, tmp_path / "packages", vendors=vendors) == manifests
    assert {p: p.stat().st_mtime_ns for p in (out / "combined").rglob("*.png")} == before


@needs_cairo
def test_the_installed_sets_load_as_labelled_folders(tmp_path):
    vendors = _fixture(tmp_path / "packages")
    re_.build_real_emoji(tmp_path / "out", tmp_path / "packages", vendors=vendors)
    loaded, labels, classes = re_.load_real_emoji("combined", res=32, root=tmp_path / "out")
    assert classes == ["negative", "positive"]
    assert tuple(loaded.images.shape) == (11, 3, 32, 32)
    assert labels.tolist().count(1) == 6 and labels.tolist().count(0) == 5
    with pytest.raises(FileNotFoundError, match="make real-emoji"):
        re_.load_real_emoji("openmoji", root=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown real-emoji set"):
        re_.real_emoji_dir("apple", root=tmp_path / "out")


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path):
    _fixture(tmp_path / "packages")    # the fixture's tarballs under the real pins' names
    with pytest.raises(ValueError, match="is not openmoji@17.0.0 as pinned"):
        re_.fetch_packages(tmp_path / "packages", npm="no-such-npm")


# Missing tools -------------------------------------------------------------------------
def test_missing_npm_is_named_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(re_.MissingTool, match="npm not found") as err:
        re_.fetch_packages(tmp_path / "packages")
    assert "openmoji@17.0.0" in str(err.value) and "twemoji-svg-15.0.0.tgz" in str(err.value)
    assert not (tmp_path / "packages").exists()
    if HAVE_CAIRO:
        with pytest.raises(SystemExit) as stop:
            re_.main(["--out", str(tmp_path / "out")])
        assert stop.value.code == 2
        assert not (tmp_path / "out").exists()


def test_missing_cairosvg_is_named_before_anything_is_fetched(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cairosvg", None)     # `import cairosvg` now fails
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))    # and npm is absent too
    with pytest.raises(re_.MissingTool, match="cairosvg is not available"):
        re_.svg_to_png(_svg(RED))
    with pytest.raises(re_.MissingTool, match="cairosvg.*real-emoji"):
        re_.build_real_emoji(tmp_path / "out", tmp_path / "packages")
    assert not (tmp_path / "out").exists() and not (tmp_path / "packages").exists()
