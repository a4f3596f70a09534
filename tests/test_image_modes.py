"""Every image mode a user folder may hold converts to 8-bit RGB through the one function
(utils.images.pil_to_rgb) that both the loader and curation use: 16-bit scaled by mode,
CMYK converted, transparency composited on white."""
from __future__ import annotations

import struct
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from paperlib import data
from paperlib.data.folders import decode_image
from paperlib.paper_b import curation
from paperlib.utils.images import pil_to_rgb, to_rgb01, to_uint8_hwc

DEEP = np.array([[65535, 32768], [0, 257]], dtype=np.uint16)
DEEP_8 = np.array([[255, 128], [0, 1]], dtype=np.uint8)


def _rgb(im) -> np.ndarray:
    out = pil_to_rgb(im)
    assert out.mode == "RGB"
    return np.asarray(out)


def _grey_is(rgb: np.ndarray, want: np.ndarray) -> None:
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert rgb[..., 0].tolist() == want.tolist()


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_16_bit_greyscale_scales_by_mode(mode):
    if mode == "I;16B":
        im = Image.frombytes("I;16B", (2, 2), DEEP.astype(">u2").tobytes())
    elif mode == "I":
        im = Image.fromarray(DEEP.astype(np.int32))
    else:
        im = Image.fromarray(DEEP)
    assert im.mode == mode
    _grey_is(_rgb(im), DEEP_8)


def test_a_dark_16_bit_image_stays_dark():
    """No value heuristic: a 16-bit image whose brightest sample is 255 is nearly black."""
    dark = Image.fromarray(np.full((2, 2), 255, dtype=np.uint16))
    _grey_is(_rgb(dark), np.ones((2, 2), np.uint8))


def _png16_rgb(path, arr: np.ndarray) -> None:
    """A 16-bit-per-channel RGB PNG, written by hand (Pillow writes no 48-bit PNG)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_16_bit_files_through_the_loader(tmp_path):
    Image.fromarray(DEEP).save(tmp_path / "grey16.png")
    _grey_is(np.asarray(decode_image(tmp_path / "grey16.png")), DEEP_8)
    rgb = np.zeros((2, 2, 3), np.uint16)
    rgb[0, 0] = (65535, 32768, 0)
    rgb[1, 1] = (0, 65535, 32768)
    _png16_rgb(tmp_path / "rgb16.png", rgb)
    got = np.asarray(decode_image(tmp_path / "rgb16.png"))
    assert got[0, 0].tolist() == [255, 128, 0] and got[1, 1].tolist() == [0, 255, 128]
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(flat / "half.png")
    loaded = data.load_folder(flat, res=8)
    assert (data.to_uint8(loaded.images) == 128).all()


def test_cmyk_jpeg_pure_cyan(tmp_path):
    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(tmp_path / "cyan.jpg", quality=95)
    with Image.open(tmp_path / "cyan.jpg") as im:
        assert im.mode == "CMYK"
    got = np.asarray(decode_image(tmp_path / "cyan.jpg")).astype(int)
    assert np.abs(got - [0, 255, 255]).max() <= 8


def _palette_with_transparency(path):
    im = Image.new("P", (4, 4), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    im.putpixel((1, 1), 1)
    im.save(path, transparency=0)     # index 0 (black) is transparent: a tRNS chunk


def test_palette_with_trns_goes_on_white(tmp_path):
    _palette_with_transparency(tmp_path / "p.png")
    with Image.open(tmp_path / "p.png") as im:
        assert im.mode == "P" and "transparency" in im.info
    got = np.asarray(decode_image(tmp_path / "p.png"))
    assert got[0, 0].tolist() == [255, 255, 255] and got[1, 1].tolist() == [255, 0, 0]


def test_la_and_rgba_composite_on_white():
    la = np.array([[[0, 0], [100, 255]], [[0, 128], [0, 255]]], np.uint8)
    got = _rgb(Image.fromarray(la, "LA"))
    assert got[0, 0].tolist() == [255] * 3 and got[0, 1].tolist() == [100] * 3
    assert abs(int(got[1, 0, 0]) - 127) <= 1 and got[1, 1].tolist() == [0] * 3
    rgba = np.array([[[255, 0, 0, 0], [0, 0, 255, 255]]], np.uint8)
    got = _rgb(Image.fromarray(rgba, "RGBA"))
    assert got[0, 0].tolist() == [255, 255, 255] and got[0, 1].tolist() == [0, 0, 255]


def test_16_bit_with_a_transparent_key_goes_on_white():
    im = Image.fromarray(DEEP)
    im.info["transparency"] = 0
    _grey_is(_rgb(im), np.array([[255, 128], [255, 1]]))


def test_arrays_with_alpha_composite_on_white():
    rgba = np.array([[[255, 0, 0, 0], [0, 0, 255, 255]]], np.uint8)
    assert to_uint8_hwc(rgba).tolist() == [[[255, 255, 255], [0, 0, 255]]]
    assert np.allclose(to_rgb01(rgba), [[[1, 1, 1], [0, 0, 1]]])
    rgb = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert (to_uint8_hwc(rgb) == rgb).all()


def test_curation_converts_human_images_as_the_loader_does(tmp_path):
    """Curation's human images read back like the loader reads their originals."""
    human = tmp_path / "human"
    human.mkdir()
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[2:6, 2:6] = (0, 0, 255, 255)
    Image.fromarray(rgba, "RGBA").save(human / "a.webp", lossless=True)
    Image.new("CMYK", (8, 8), (255, 0, 0, 0)).save(human / "b.jpg", quality=95)
    _palette_with_transparency(human / "c.png")
    Image.fromarray(DEEP).save(human / "d.png")
    paths = sorted(human.iterdir())
    plan = SimpleNamespace(entries=[SimpleNamespace(source="human-similar", index=i,
                                                    distance=0.0) for i in range(len(paths))])
    out = tmp_path / "set"
    out.mkdir()
    files = curation._write_set_files(plan, np.zeros((1, 8, 8, 3), np.uint8), paths, out)
    for rec, src in zip(files, paths):
        assert np.array_equal(np.asarray(decode_image(out / rec["file"])),
                              np.asarray(decode_image(src))), src.name
    webp = np.asarray(decode_image(out / files[0]["file"]))
    assert webp[0, 0].tolist() == [255, 255, 255] and webp[3, 3].tolist() == [0, 0, 255]
