"""Real face emoji for paper A from three open-licensed vendor sets (OpenMoji, Microsoft's
Fluent Emoji, Twemoji): the install step behind ``make real-emoji`` and a loader.

:func:`build_real_emoji` takes each vendor's pinned npm tarball (fetched once with
``npm pack`` by :func:`fetch_packages` into a cache, checked against its pinned sha512),
extracts only the metadata, licence and face SVGs it needs, rasterises them with cairosvg
and writes one labelled set per vendor plus a combined one (class sub-folders ``positive/``
and ``negative/``, labels and counts in ``manifest.json``). Labels come from the Unicode
subgroup (:data:`SUBGROUP_LABELS`); the Fluent and Twemoji packages ship no metadata, so all
three vendors take the subgroup from OpenMoji's ``openmoji.json``. Nothing is downloaded
outside :func:`fetch_packages`; :func:`load_real_emoji` only reads. Mapping, licences and
counts: docs/DATA_REAL_EMOJI.md.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from ..config import DATA_DIR
from ..utils.images import check_res, pil_to_rgb
from ..utils.io import atomic_write_bytes, atomic_write_text
from .draw import sha256_hex
from .folders import LoadedImages, load_class_folders, set_header, write_set

#: Unicode emoji subgroup -> label. Every other subgroup is left out (docs/DATA_REAL_EMOJI.md).
SUBGROUP_LABELS = {
    "face-smiling": "positive",
    "face-affection": "positive",
    "face-negative": "negative",
    "face-concerned": "negative",
    "face-unwell": "negative",
}

#: Where ``make real-emoji`` puts the sets (``<vendor>/``, ``combined/``), the licences and
#: ``ATTRIBUTION.md``.
REAL_EMOJI_DIR = DATA_DIR / "real_emoji"

#: The npm tarball cache (``npm pack`` output) and the files extracted from it.
PACKAGES_DIR = REAL_EMOJI_DIR / "packages"

#: The set that holds every vendor's images.
COMBINED = "combined"


@dataclass(frozen=True)
class Vendor:
    """One vendor's pinned npm package and where its files are inside the tarball."""

    name: str            # set folder name
    package: str         # npm package name
    version: str         # pinned version
    integrity: str       # the registry's dist.integrity of that version (sha512, base64)
    licence: str         # SPDX id of the emoji graphics
    licence_file: str    # tarball member copied beside the data
    credit: str          # attribution line (ATTRIBUTION.md)

    @property
    def tarball(self) -> str:
        """The file name ``npm pack`` gives the tarball."""
        return f"{self.package.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


#: The three vendors, pinned (OpenMoji first: its metadata labels all three).
VENDORS = (
    Vendor("openmoji", "openmoji", "17.0.0",
           "sha512-EBnYrNGdcdw+OSXmENeNE1yBNRu6tOraTmoOyUbJkTmvT/+XETp8RZLSJFzD3lrPc5N9CzsyPnRT"
           "k0Vp4UaI9w==",
           "CC-BY-SA-4.0", "package/LICENSE.txt",
           "All emojis designed by OpenMoji (https://openmoji.org/) - the open-source emoji "
           "and icon project. License: CC BY-SA 4.0 "
           "(https://creativecommons.org/licenses/by-sa/4.0/)."),
    Vendor("fluent", "fluentui-emoji", "1.3.0",
           "sha512-JTXXwqIie2rWTgOkIJDJxr0WtwTz2WU4kdOq8buLVThYwQ264aFR2jdTyuon2oEbLqqGMT64zI4b"
           "tyn1saB2xw==",
           "MIT", "package/LICENSE",
           "Fluent Emoji (https://github.com/microsoft/fluentui-emoji), Copyright (c) "
           "Microsoft Corporation, MIT License; SVGs as repackaged in the npm package "
           "fluentui-emoji by Mohammad Abu Mattar (MIT, Copyright (c) 2022; its LICENSE is "
           "copied here)."),
    Vendor("twemoji", "@twemoji/svg", "15.0.0",
           "sha512-ZSPef2B6nBaYnfgdTbAy4jgW95o7pi2xPGwGCU+WMTxo7J6B1lMPTWwSq/wTuiMq+N0khQ90CcvY"
           "p1wFoQpo/w==",
           "CC-BY-4.0", "package/license",
           "Twemoji (https://github.com/jdecked/twemoji), Copyright Twitter, Inc and other "
           "contributors; graphics licensed under CC BY 4.0 "
           "(https://creativecommons.org/licenses/by/4.0/). SVGs from the npm package "
           "@twemoji/svg by Samuel Kopp (packaging MIT; its licence file is copied here)."),
)

#: OpenMoji's metadata: Unicode group, subgroup, CLDR name and skin tone per emoji.
OPENMOJI_METADATA = "package/data/openmoji.json"

#: Fluent file names that are not the slug of the CLDR name OpenMoji gives (older names).
FLUENT_NAMES = {"1F621": "pouting-face", "1F635": "knocked-out-face"}


class MissingTool(RuntimeError):
    """A tool the install step needs (npm, cairosvg) is not available."""


# Metadata -> labels (pure) ---------------------------------------------------------------
def face_labels(metadata: list[dict]) -> list[dict]:
    """The labelled faces of openmoji.json-style metadata, in its order: ``{"codepoint",
    "name", "subgroup", "label"}`` for each entry whose ``subgroups`` is a key of
    :data:`SUBGROUP_LABELS`; skin-tone variants (``skintone`` set) are left out."""
    out, seen = [], set()
    for entry in metadata:
        label = SUBGROUP_LABELS.get(entry.get("subgroups"))
        code = str(entry.get("hexcode", "")).upper()
        if label is None or entry.get("skintone") or not code or code in seen:
            continue
        seen.add(code)
        out.append({"codepoint": code, "name": entry["annotation"],
                    "subgroup": entry["subgroups"], "label": label})
    return out


def slug(name: str) -> str:
    """A CLDR name as Fluent's file names spell it: ``"face with head-bandage"`` ->
    ``"face-with-head-bandage"``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def member_candidates(vendor: str, face: dict) -> list[str]:
    """Tarball members that may hold ``face``'s SVG in ``vendor``'s package, preferred first.

    OpenMoji: ``color/svg/<HEX>.svg``; Twemoji: lower-case codepoints, without U+FE0F
    first; Fluent: the colour style ``icons/modern/<slug of the name>.svg`` only (its flat
    and high-contrast styles would repeat each emoji)."""
    code = face["codepoint"]
    if vendor == "openmoji":
        return [f"package/color/svg/{code}.svg"]
    if vendor == "twemoji":
        full = code.lower()
        bare = "-".join(p for p in full.split("-") if p != "fe0f")
        return list(dict.fromkeys([f"package/{bare}.svg", f"package/{full}.svg"]))
    if vendor == "fluent":
        return [f"package/icons/modern/{FLUENT_NAMES.get(code, slug(face['name']))}.svg"]
    raise ValueError(f"unknown vendor {vendor!r}; known: {[v.name for v in VENDORS]}")


def vendor_faces(vendor: str, faces: list[dict], members) -> tuple[list[dict], list[str]]:
    """``(faces found, with their "member", codepoints the package lacks)``: one image per
    face, so a vendor's set holds no duplicate."""
    members = set(members)
    found, missing = [], []
    for face in faces:
        member = next((m for m in member_candidates(vendor, face) if m in members), None)
        if member is None:
            missing.append(face["codepoint"])
        else:
            found.append({**face, "member": member})
    return found, missing


# SVG -> PNG ----------------------------------------------------------------------------
def _cairosvg():
    """The cairosvg module; :class:`MissingTool` when it (or the libcairo it loads) is
    absent."""
    try:
        import cairosvg
    except (ImportError, OSError) as err:
        raise MissingTool(
            f"cairosvg is not available ({type(err).__name__}: {err}); rasterising the emoji "
            "SVGs needs it. `make real-emoji` installs it (pip install -e \".[real-emoji]\"); "
            "it also needs the cairo library (e.g. apt install libcairo2).") from None
    return cairosvg


def cairosvg_available() -> bool:
    """Whether :func:`_cairosvg` finds cairosvg and its libcairo (the rasteriser)."""
    try:
        _cairosvg()
    except MissingTool:
        return False
    return True


def svg_to_png(svg: bytes, res: int = 64) -> Image.Image:
    """An SVG rasterised by cairosvg at ``res`` x ``res`` and composited on white: 8-bit RGB,
    like the stand-in emoji (:func:`paperlib.data.emoji.render_emoji`). ``unsafe=False``:
    cairosvg (>= 2.7) then fetches no external resource (only ``data:`` URLs)."""
    res = check_res(res)
    png = _cairosvg().svg2png(bytestring=svg, output_width=res, output_height=res,
                              unsafe=False)
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        return pil_to_rgb(im)


# Fetching the packages -----------------------------------------------------------------
def npm_integrity(path: Path) -> str:
    """npm's ``dist.integrity`` of a file: ``"sha512-"`` + base64 of its sha512."""
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha512-" + base64.b64encode(h.digest()).decode("ascii")


def _check_integrity(path: Path, vendor: Vendor) -> None:
    got = npm_integrity(path)
    if got != vendor.integrity:
        raise ValueError(f"{path} is not {vendor.spec} as pinned: its integrity is {got}, "
                         f"the pin {vendor.integrity}; delete it to fetch it again")


def fetch_packages(packages_dir=PACKAGES_DIR, vendors=VENDORS, npm: str = "npm") -> dict:
    """Vendor name -> its tarball in ``packages_dir``: ``npm pack`` fetches those missing
    (the only download in this module), and every tarball must match its pinned integrity.
    :class:`MissingTool` when one is missing and ``npm`` is not on the PATH."""
    packages_dir = Path(packages_dir)
    absent = [v for v in vendors if not (packages_dir / v.tarball).is_file()]
    exe = shutil.which(npm) if absent else None
    if absent and exe is None:
        raise MissingTool(
            f"npm not found (looked for {npm!r} on the PATH); it fetches the pinned packages "
            f"{', '.join(v.spec for v in absent)} with `npm pack`. Install Node.js with npm, "
            f"or put their tarballs ({', '.join(v.tarball for v in absent)}) in {packages_dir}.")
    out = {}
    for vendor in vendors:
        path = packages_dir / vendor.tarball
        if not path.is_file():
            _npm_pack(exe, vendor, packages_dir)
        _check_integrity(path, vendor)
        out[vendor.name] = path
    return out


def _npm_pack(exe: str, vendor: Vendor, packages_dir: Path) -> None:
    """``npm pack`` one pinned package into a temporary folder, check it, move it in place."""
    packages_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".npm-pack.", dir=packages_dir))
    try:
        run = subprocess.run([exe, "pack", vendor.spec, "--pack-destination", str(tmp),
                              "--ignore-scripts", "--silent"],
                             capture_output=True, text=True, timeout=900)
        got = tmp / vendor.tarball
        if run.returncode != 0 or not got.is_file():
            raise RuntimeError(f"`npm pack {vendor.spec}` failed (exit {run.returncode}):\n"
                               f"{run.stderr.strip() or run.stdout.strip()}")
        _check_integrity(got, vendor)
        os.replace(got, packages_dir / vendor.tarball)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Building the sets ---------------------------------------------------------------------
def _extract(tarball: Path, wanted: set[str], dest: Path) -> dict[str, bytes]:
    """The ``wanted`` regular-file members of ``tarball`` (read in one pass), each also
    written under ``dest`` at its member path."""
    out = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            if member.name in wanted and member.isfile():
                out[member.name] = tar.extractfile(member).read()
    for name, data in out.items():
        atomic_write_bytes(dest / name, data)
    return out


def _members(tarball: Path) -> list[str]:
    with tarfile.open(tarball, "r:gz") as tar:
        return tar.getnames()


def build_real_emoji(out_root=REAL_EMOJI_DIR, packages_dir=PACKAGES_DIR, res: int = 64,
                     vendors=VENDORS, npm: str = "npm", progress: bool = False) -> dict:
    """Build the real-emoji sets under ``out_root``; return set name -> manifest.

    One labelled set per vendor (``out_root/<vendor>/``) and ``combined/``, each with class
    sub-folders ``positive/`` and ``negative/``; the manifests' ``counts`` are per class and
    ``params.vendor_counts`` per vendor and class. Tarballs come from ``packages_dir``
    (:func:`fetch_packages` fetches missing ones); each vendor's licence file goes to
    ``out_root/licences/`` and ``out_root/ATTRIBUTION.md`` names sources and licences.
    :class:`MissingTool` (cairosvg, npm) before anything is written; a rebuild with the same
    inputs leaves the sets as they are.
    """
    res = check_res(res)
    _cairosvg()
    reference = next((v for v in vendors if v.name == "openmoji"), None)
    if reference is None:
        raise ValueError("the openmoji package is needed: its openmoji.json labels every vendor")
    out_root, packages_dir = Path(out_root), Path(packages_dir)
    tarballs = fetch_packages(packages_dir, vendors, npm)
    metadata_tar = tarballs["openmoji"]
    faces = face_labels(json.loads(_extract(metadata_tar, {OPENMOJI_METADATA},
                                            packages_dir / "extracted" / metadata_tar.stem)
                                   [OPENMOJI_METADATA]))
    chosen, missing, licences = {}, {}, {}
    for vendor in vendors:
        found, missing[vendor.name] = vendor_faces(vendor.name, faces,
                                                   _members(tarballs[vendor.name]))
        dest = packages_dir / "extracted" / tarballs[vendor.name].stem
        files = _extract(tarballs[vendor.name],
                         {f["member"] for f in found} | {vendor.licence_file}, dest)
        licences[vendor.name] = files.get(vendor.licence_file)
        chosen[vendor.name] = [{**f, "path": str((dest / f["member"]).absolute()),
                                "source_sha256": sha256_hex(files[f["member"]])}
                               for f in found]
    manifests = {}
    for vendor in vendors:
        items = [(f"{f['label']}/{f['codepoint'].lower()}.png", f["label"],
                  _recipe(vendor, f)) for f in chosen[vendor.name]]
        manifests[vendor.name] = _write(out_root / vendor.name, f"real_emoji_{vendor.name}",
                                        res, items, [vendor], reference, missing, progress)
    items = [(f"{f['label']}/{vendor.name}_{f['codepoint'].lower()}.png", f["label"],
              _recipe(vendor, f)) for vendor in vendors for f in chosen[vendor.name]]
    manifests[COMBINED] = _write(out_root / COMBINED, f"real_emoji_{COMBINED}", res, items,
                                 list(vendors), reference, missing, progress)
    _write_licences(out_root, vendors, licences, manifests)
    return manifests


def _recipe(vendor: Vendor, face: dict) -> dict:
    return {"vendor": vendor.name, "package": vendor.spec, "licence": vendor.licence,
            "codepoint": face["codepoint"], "name": face["name"], "subgroup": face["subgroup"],
            "source_file": face["member"], "path": face["path"],
            "source_sha256": face["source_sha256"]}


def _render(recipe: dict, size: int) -> Image.Image:
    return svg_to_png(Path(recipe["path"]).read_bytes(), size)


def _write(out: Path, name: str, res: int, items: list, vendors: list[Vendor],
           reference: Vendor, missing: dict, progress: bool) -> dict:
    counts: dict[str, dict[str, int]] = {v.name: {} for v in vendors}
    for _, label, recipe in items:
        counts[recipe["vendor"]][label] = counts[recipe["vendor"]].get(label, 0) + 1
    params = {"vendors": {v.name: {"package": v.spec, "integrity": v.integrity,
                                   "licence": v.licence} for v in vendors},
              "vendor_counts": counts, "subgroup_labels": SUBGROUP_LABELS,
              "labels_from": f"{OPENMOJI_METADATA} of {reference.spec}",
              "missing": {v.name: missing[v.name] for v in vendors},
              "attribution": "../ATTRIBUTION.md"}
    # in file order, as the manifest lists them (a rebuild compares the two)
    items = sorted(items, key=lambda item: item[0])
    header = set_header(name, "real-emoji", 0, res, items, params,
                        "Real face emoji (" + ", ".join(v.name for v in vendors) + ") labelled "
                        "by Unicode subgroup; licences in ../ATTRIBUTION.md and ../licences/.")
    return write_set(out, header, items, _render, progress)


def _write_licences(out_root: Path, vendors, licences: dict, manifests: dict) -> None:
    lines = ["# Real face emoji: sources and licences", "",
             "Written by `make real-emoji` (paperlib.data.real_emoji). The PNGs in each set "
             "folder are rasterised from the SVGs of these npm packages, unchanged otherwise; "
             "they stay under the licence of their vendor. The `combined/` set holds all "
             "three (each file's vendor is in its name and in `manifest.json`), so its "
             "OpenMoji images are CC BY-SA 4.0 and any set shared with them must be too.", ""]
    for vendor in vendors:
        counts = manifests[vendor.name]["counts"]
        licence = licences.get(vendor.name)
        file = f"{vendor.name}-{Path(vendor.licence_file).name}"
        if licence is not None:
            atomic_write_bytes(out_root / "licences" / file, licence)
        lines += [f"## {vendor.name}: `{vendor.spec}` ({vendor.licence})", "",
                  vendor.credit, "",
                  f"* package: https://www.npmjs.com/package/{vendor.package} version "
                  f"{vendor.version}, integrity `{vendor.integrity}`",
                  f"* images: {sum(counts.values())} ("
                  + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) + ")",
                  f"* the package's licence file: `licences/{file}`" if licence is not None
                  else "* the package ships no licence file", ""]
    atomic_write_text(out_root / "ATTRIBUTION.md", "\n".join(lines))


# Loading -------------------------------------------------------------------------------
def real_emoji_dir(vendor: str = COMBINED, root=None) -> Path:
    """The installed set of ``vendor`` (a vendor name or ``"combined"``);
    ``FileNotFoundError`` naming ``make real-emoji`` when it is not installed."""
    names = [v.name for v in VENDORS] + [COMBINED]
    if vendor not in names:
        raise ValueError(f"unknown real-emoji set {vendor!r}; choose from {names}")
    folder = Path(root if root is not None else REAL_EMOJI_DIR) / vendor
    if not (folder / "manifest.json").is_file():
        raise FileNotFoundError(f"real emoji set {vendor!r} is not installed in {folder}; "
                                "run `make real-emoji` (it fetches the npm packages once)")
    return folder


def load_real_emoji(vendor: str = COMBINED, res: int = 64,
                    root=None) -> tuple[LoadedImages, torch.Tensor, list[str]]:
    """An installed set loaded like any labelled folder (:func:`paperlib.data.folders.
    load_class_folders`): ``(images, class index per image, ["negative", "positive"])``.
    Only reads; nothing is downloaded."""
    return load_class_folders(real_emoji_dir(vendor, root), res)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m paperlib.data.real_emoji",
        description="Fetch the pinned emoji packages (npm pack) and build the real-emoji sets.")
    parser.add_argument("--out", default=str(REAL_EMOJI_DIR), help="output root")
    parser.add_argument("--packages", default=None,
                        help="npm tarball cache (default: OUT/packages)")
    parser.add_argument("--res", type=int, default=64)
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        manifests = build_real_emoji(out, Path(args.packages or out / "packages"), args.res,
                                     progress=True)
    except MissingTool as err:
        parser.exit(2, f"error: {err}\n")
    for name, manifest in manifests.items():
        per_vendor = manifest["params"]["vendor_counts"]
        print(f"{name}: {manifest['count']} images {dict(sorted(manifest['counts'].items()))}"
              + (f" by vendor {per_vendor}" if name == COMBINED else ""))
    print(f"sets in {out}; sources and licences: {out / 'ATTRIBUTION.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
