"""Every stand-in set at once (:func:`build_all`, :func:`profile_sets`), mixes of folders
(:func:`build_mixed_set`) and seeded held-out splits (:func:`split_held_out`)."""
from __future__ import annotations

import json
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..config import data_dir, get_profile
from .emoji import build_emoji_set
from .folders import (
    ARTIST_STYLES,
    MANIFEST,
    UNREADABLE,
    decode_image,
    file_sha256,
    image_files,
    manifest_hash,
    read_image,
    set_header,
    write_set,
)
from .shapes import build_artist_set, build_shape_set

#: Folder names written by :func:`build_all`.
SET_NAMES = ("emoji", "shapes", "artist_donglein", "artist_geometric")


def build_all(out, seed: int = 0, res: int = 64, n_shapes: int = 1000,
              n_artist: int = 400) -> dict[str, dict]:
    """Build every set under ``out`` (folders :data:`SET_NAMES`); return name -> manifest."""
    out = Path(out)
    return {
        "emoji": build_emoji_set(out / "emoji", seed=seed, res=res, progress=True),
        "shapes": build_shape_set(out / "shapes", n=n_shapes, res=res, seed=seed,
                                  progress=True),
        **{f"artist_{s}": build_artist_set(out / f"artist_{s}", s, n=n_artist, res=res,
                                           seed=seed, progress=True) for s in ARTIST_STYLES},
    }


def build_mixed_set(out, parts: dict, res: int = 64, seed: int = 0,
                    progress: bool = False, labelled: bool = False) -> dict:
    """Mix image folders into one set, e.g. paper B's shape learning "artist + shapes".

    ``parts`` maps a name to ``(folder, n)``: ``n`` images drawn without replacement (or
    all, when ``n`` is None) from that folder with a seeded shuffle. Each image's recipe
    records its source name, original file and that file's sha256 (the provenance); the
    label is the source name. Deterministic from the seed like every other set.
    ``labelled``: each part's images in a sub-folder of its name (a labelled folder,
    :func:`paperlib.data.folders.class_folders`; the same images as without it).
    """
    rng = np.random.default_rng(seed)
    items, params = [], {}
    for name, (folder, n) in parts.items():
        files = image_files(folder)
        if not files:
            raise FileNotFoundError(f"no images in {folder} (part {name!r} of the mix)")
        take = len(files) if n is None else int(n)
        if not 0 < take <= len(files):
            raise ValueError(f"part {name!r} asks for {n} images; {folder} has {len(files)}")
        chosen = [files[i] for i in sorted(rng.permutation(len(files))[:take])]
        params[name] = {"folder": str(folder), "n": take}
        for path in chosen:
            recipe = {"source": name, "file": path.relative_to(folder).as_posix(),
                      "path": str(path), "source_sha256": file_sha256(path)}
            file = f"{name}/{len(items):05d}.png" if labelled else f"{len(items):05d}_{name}.png"
            items.append((file, name, recipe))
    kind = "labelled" if labelled else "mixed"
    header = set_header(kind, kind, seed, res, items, params,
                     "mixture of image folders; each recipe names its source file"
                     + ("; one sub-folder per source" if labelled else ""))

    def render(recipe: dict, size: int) -> Image.Image:
        return Image.fromarray(read_image(Path(recipe["path"]), size))

    return write_set(out, header, items, render, progress)


@dataclass
class HeldOutSplit:
    """A set split by :func:`split_held_out`: ``train`` and ``held_out`` folders."""

    source: Path
    train: Path
    held_out: Path
    n_train: int
    n_held_out: int


#: Default share of an artist set held out from every model (our choice; why:
#: docs/DECISIONS.md, "Data sets and stand-ins").
HELD_OUT_FRAC = 0.2


def split_held_out(folder, held_out_frac: float = HELD_OUT_FRAC, seed: int = 0,
                   out_root=None) -> HeldOutSplit:
    """Split an image folder into a training part and a held-out part no model trains on.

    ``k = round(frac * n)`` images (at least 1, leaving at least 1), chosen by a seeded
    permutation of the sorted files, go to ``<folder>_heldout``, the other ``n - k`` to
    ``<folder>_train`` (siblings of ``folder``, or under ``out_root``): disjoint, together
    every image once. Both are sets in the usual form; each image keeps the source
    manifest's label and recipe (e.g. ``n_inner_circles``; without a manifest the
    sub-folder name, else ``"image"``) plus its provenance (``source_file``, ``path``,
    ``source_sha256``). Pixels are copied at the source's resolution. The source is only
    read; each part is renamed into place, and a call with the same source, fraction and
    seed reuses both parts. Raises ``FileNotFoundError`` for a missing folder, ``ValueError``
    for ``frac`` not in (0, 1), fewer than 2 images, any unreadable image (all named;
    nothing is written) or an ``out_root`` inside ``folder``. Streams: one image in memory
    at a time (each is decoded once to check it, once to write it).
    """
    src = Path(folder)
    files, k, root = _split_inputs(src, held_out_frac, out_root)
    _check_readable(src, files)
    by_file, res = _source_manifest(src, files)
    order = np.random.default_rng(seed).permutation(len(files))
    held_idx = set(order[:k].tolist())
    params = {"source": str(src.resolve()), "source_hash": manifest_hash(src),
              "held_out_frac": float(held_out_frac), "seed": int(seed)}

    def render(recipe: dict, size: int) -> Image.Image:
        return Image.fromarray(read_image(Path(recipe["path"]), size))

    out = {}
    for part, wanted in (("train", False), ("heldout", True)):
        items = _part_items(src, files, by_file,
                            [i for i in range(len(files)) if (i in held_idx) == wanted])
        header = set_header(f"{src.name}_{part}", "held-out split", seed, res, items,
                         {**params, "part": part},
                         f"{part} part of {src.name}: a seeded split, {k} of {len(files)} "
                         "images held out from every model")
        write_set(root / f"{src.name}_{part}", header, items, render, False)
        out[part] = root / f"{src.name}_{part}"
    return HeldOutSplit(src, out["train"], out["heldout"], len(files) - k, k)


def _split_inputs(src: Path, held_out_frac, out_root) -> tuple[list[Path], int, Path]:
    """The source's image files, the held-out count and the output root; bad input raises."""
    if not src.is_dir():
        raise FileNotFoundError(f"data folder not found: {src}")
    if isinstance(held_out_frac, bool) or not isinstance(held_out_frac, numbers.Real) \
            or not 0.0 < float(held_out_frac) < 1.0:
        raise ValueError(f"held_out_frac must be in (0, 1), got {held_out_frac!r}")
    root = Path(out_root) if out_root is not None else src.parent
    if root.resolve() == src.resolve() or src.resolve() in root.resolve().parents:
        raise ValueError(f"out_root {root} is inside the folder being split ({src}); "
                         "the parts would become part of the source")
    files = image_files(src)
    if len(files) < 2:
        raise ValueError(f"{src} has {len(files)} image(s): a held-out split needs at least 2 "
                         "(one to train on, one to hold out)")
    k = min(len(files) - 1, max(1, int(round(float(held_out_frac) * len(files)))))
    return files, k, root


def _source_manifest(src: Path, files: list[Path]) -> tuple[dict, int]:
    """``({file: manifest entry}, res)``: from the source's manifest, else ``({}, the first
    image's width)``."""
    try:
        manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
        return {e["file"]: e for e in manifest["images"]}, int(manifest["res"])
    except (OSError, ValueError, KeyError, TypeError):
        try:
            with Image.open(files[0]) as im:
                return {}, int(im.size[0])
        except (OSError, SyntaxError, ValueError) as err:
            raise ValueError(f"cannot split {src}: image {files[0].name} cannot be read "
                             f"({type(err).__name__}: {err})") from err


def _check_readable(src: Path, files: list[Path]) -> None:
    """Decode every image once, keeping no pixels; any that fail raise ``ValueError`` naming
    each (before anything is written)."""
    bad = []
    for path in files:
        try:
            decode_image(path)
        except UNREADABLE as err:
            bad.append(f"  {path.relative_to(src).as_posix()}: {type(err).__name__}: {err}")
    if bad:
        raise ValueError(f"cannot split {src}: {len(bad)} of {len(files)} image file(s) cannot "
                         f"be read ({len(files) - len(bad)} readable); fix or remove them:\n"
                         + "\n".join(bad))


def _part_items(src: Path, files: list[Path], by_file: dict, indices: list[int]) -> list:
    """``[(file name, label, recipe with provenance)]`` of one part, numbered in order."""
    items = []
    for i in indices:
        path = files[i]
        rel = path.relative_to(src)
        entry = by_file.get(rel.as_posix(), {})
        label = entry.get("label", rel.parts[0] if len(rel.parts) > 1 else "image")
        recipe = {**entry.get("recipe", {}), "source_file": rel.as_posix(),
                  "path": str(path.absolute()), "source_sha256": file_sha256(path)}
        items.append((f"{len(items):05d}.png", label, recipe))
    return items


def profile_sets(profile, seed: int = 0) -> dict[str, Path]:
    """The data sets of a profile under ``data/<profile>/``, built on first use (a second
    call reuses them); returns set name -> folder."""

    prof = get_profile(profile)
    out = data_dir(prof)
    build_all(out, seed=seed, res=prof.res, n_shapes=prof.n_shapes, n_artist=prof.n_artist)
    return {name: out / name for name in SET_NAMES}
