"""A tiny stand-in for ``make real-emoji``'s download: three fake npm tarballs in the vendors'
layouts (hand-written face SVGs and an ``openmoji.json``), built without network or npm.

Shared by tests/test_real_emoji.py and notebook 08 (at the smoke profile, when the real sets
are not installed): :func:`build_real_emoji_fixture` runs the real install step
(:func:`paperlib.data.real_emoji.build_real_emoji`) on these tarballs, so the same code path
is exercised. The images are not the vendors' art; the fixture's ``ATTRIBUTION.md`` says so.
"""
from __future__ import annotations

import dataclasses
import gzip
import io
import json
import tarfile
from pathlib import Path

from ..utils.io import atomic_write_bytes
from . import real_emoji as re_


def _entry(code, name, subgroup, skintone=""):
    return {"emoji": "", "hexcode": code, "group": "smileys-emotion", "subgroups": subgroup,
            "annotation": name, "skintone": skintone}


#: The fixture's ``openmoji.json``: four faces of the mapped subgroups (two positive, two
#: negative), one of another subgroup and one skin-tone variant (made up: real faces have
#: none), so the labelling and the exclusions are both exercised.
FIXTURE_METADATA = (
    _entry("1F600", "grinning face", "face-smiling"),
    _entry("1F618", "face blowing a kiss", "face-affection"),
    _entry("1F621", "enraged face", "face-negative"),
    _entry("1F622", "crying face", "face-concerned"),
    _entry("1F914", "thinking face", "face-hand"),
    _entry("1F600-1F3FB", "grinning face: light skin tone", "face-smiling", "1F3FB"),
)

#: Face colours: every face yellow but the enraged one (red), so a test can tell them apart
#: by the colour at the image centre, which no eye or mouth covers.
RED, YELLOW = "#ff0000", "#ffcc00"


def face_svg(fill: str = YELLOW, mood: str = "positive", box: int = 36) -> bytes:
    """A hand-written face emoji on a transparent background, ``box`` x ``box`` viewBox: a
    filled circle, two eyes and a smile (``mood`` "positive") or a frown ("negative");
    "plain" draws the circle only. The centre of the image is always the face colour."""
    if mood not in ("positive", "negative", "plain"):
        raise ValueError(f"mood must be positive, negative or plain, got {mood!r}")
    s = box / 36
    r = box / 2
    parts = [f'<circle cx="{r:g}" cy="{r:g}" r="{r - 2 * s:g}" fill="{fill}"/>']
    if mood != "plain":
        parts += [f'<circle cx="{12 * s:g}" cy="{13 * s:g}" r="{2.5 * s:g}" fill="#3d2b1f"/>',
                  f'<circle cx="{24 * s:g}" cy="{13 * s:g}" r="{2.5 * s:g}" fill="#3d2b1f"/>']
        y0, y1 = (24, 29) if mood == "positive" else (28, 23)   # mouth corners, middle
        parts.append(f'<path d="M{10 * s:g} {y0 * s:g} Q{18 * s:g} {2 * y1 * s - y0 * s:g} '
                     f'{26 * s:g} {y0 * s:g}" stroke="#3d2b1f" stroke-width="{2 * s:g}" '
                     'fill="none" stroke-linecap="round"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {box} {box}">'
            + "".join(parts) + "</svg>").encode()


def _face(code: str, box: int) -> bytes:
    entry = next(e for e in FIXTURE_METADATA if e["hexcode"] == code)
    mood = re_.SUBGROUP_LABELS.get(entry["subgroups"], "plain")
    return face_svg(RED if code == "1F621" else YELLOW, mood, box)


def fixture_files() -> dict[str, dict[str, bytes]]:
    """``{vendor: {tarball member: bytes}}`` in each vendor's layout: OpenMoji has every
    face and the metadata (viewBox 72); Twemoji lacks the crying face (viewBox 36); Fluent
    names the enraged face by its older name ``pouting-face`` and has a flat style that is
    left out (viewBox 32)."""
    om = {f"package/color/svg/{e['hexcode']}.svg": _face(e["hexcode"].split("-")[0], 72)
          for e in FIXTURE_METADATA}
    om["package/data/openmoji.json"] = json.dumps(list(FIXTURE_METADATA)).encode()
    om["package/LICENSE.txt"] = b"CC BY-SA 4.0 (fixture)"
    tw = {f"package/{c.lower()}.svg": _face(c, 36) for c in ("1F600", "1F618", "1F621",
                                                            "1F914")}
    tw["package/license"] = b"MIT (fixture)"
    fl = {f"package/icons/modern/{n}.svg": _face(c, 32)
          for c, n in (("1F600", "grinning-face"), ("1F618", "face-blowing-a-kiss"),
                       ("1F622", "crying-face"), ("1F914", "thinking-face"),
                       ("1F621", "pouting-face"))}
    fl["package/icons/flat/grinning-face.svg"] = _face("1F600", 32)
    fl["package/LICENSE"] = b"MIT (fixture)"
    return {"openmoji": om, "fluent": fl, "twemoji": tw}


def _tarball(path: Path, files: dict[str, bytes]) -> None:
    """A gzipped tar of ``files``, byte-identical on every call (no times, owners)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, out.getvalue())


def write_fixture_packages(packages_dir) -> tuple[re_.Vendor, ...]:
    """Write the three fixture tarballs into ``packages_dir`` under the pinned vendors'
    tarball names; return those vendors pinned to the fixture's integrity instead, with a
    credit line saying the images are a fixture."""
    packages_dir = Path(packages_dir)
    files = fixture_files()
    vendors = []
    for vendor in re_.VENDORS:
        path = packages_dir / vendor.tarball
        _tarball(path, files[vendor.name])
        vendors.append(dataclasses.replace(
            vendor, integrity=re_.npm_integrity(path),
            credit=f"FIXTURE (paperlib.data.real_emoji_fixture): hand-written SVGs in the "
                   f"layout of {vendor.spec}, not its art."))
    return tuple(vendors)


def build_real_emoji_fixture(out_root, res: int = 64, progress: bool = False) -> dict:
    """The fixture's sets under ``out_root`` (``<vendor>/``, ``combined/``, licences,
    ``ATTRIBUTION.md``; tarballs in ``out_root/packages``), built by the real install step;
    returns set name -> manifest. Needs cairosvg (:class:`~paperlib.data.real_emoji.
    MissingTool` otherwise, before anything is written); a rebuild leaves the sets as
    they are."""
    re_._cairosvg()
    out_root = Path(out_root)
    vendors = write_fixture_packages(out_root / "packages")
    return re_.build_real_emoji(out_root, out_root / "packages", res, vendors=vendors,
                                progress=progress)
