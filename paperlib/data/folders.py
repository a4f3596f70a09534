"""Data folders: writing a set safely, manifests, and loading any folder of images.

A set is a folder of PNGs plus ``manifest.json`` (:func:`read_manifest`). Every stand-in
set is drawn by code from a seed (same seed and arguments -> byte-identical PNGs and
manifest). :func:`write_set` writes to a temporary sibling folder renamed into place and
never overwrites a non-empty folder that is not one of our sets. :func:`load_folder` reads
any folder of images (png, jpg/jpeg, webp, bmp; hidden files and folders skipped) into a
tensor in [-1, 1]; :func:`manifest_hash` identifies a folder for caches.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm.auto import tqdm

from .. import __version__
from ..utils.images import pil_to_rgb
from ..utils.io import atomic_write_bytes, atomic_write_text
from .draw import png_bytes, sha256_hex

#: Bump whenever rendering or the manifest layout changes (invalidates reuse of old sets).
DATA_FORMAT_VERSION = 1


CODE_VERSION = f"{__version__}+data{DATA_FORMAT_VERSION}"


ARTIST_STYLES = ("donglein", "geometric")


SHAPE_KINDS = ("circle", "ellipse", "ring", "concentric", "plane", "rectangle")


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


MANIFEST = "manifest.json"


# Writing a set safely ------------------------------------------------------------------
def set_header(name: str, kind: str, seed: int, res: int, items: list, params: dict,
            note: str) -> dict:
    counts: dict[str, int] = {}
    for _, label, _ in items:
        counts[label] = counts.get(label, 0) + 1
    return {"name": name, "kind": kind, "note": note, "params": params, "count": len(items),
            "counts": counts, "seed": int(seed), "res": res, "code_version": CODE_VERSION}


def manifest_text(manifest: dict) -> str:
    """A manifest as ``manifest.json`` holds it (so its sha256 is the file's)."""
    return json.dumps(manifest, sort_keys=True, indent=1) + "\n"



def write_set(out, header: dict, items: list, render: Callable[[dict, int], Image.Image],
               progress: bool) -> dict:
    """Render ``items`` (file, label, recipe) into ``out`` unless an identical set is there."""
    out = Path(out)
    previous = _previous_set(out)
    if previous is not None and _same_set(previous, header, items, out):
        return previous
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        images = []
        for file, label, recipe in tqdm(items, desc=header["name"], unit="img",
                                        disable=not progress):
            data = png_bytes(render(recipe, header["res"]))
            atomic_write_bytes(tmp / file, data)
            images.append({"file": file, "sha256": sha256_hex(data), "label": label,
                           "recipe": recipe})
        text = manifest_text({**header, "images": sorted(images, key=lambda e: e["file"])})
        atomic_write_text(tmp / MANIFEST, text)
        tmp.chmod(0o755)
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return json.loads(text)


def _previous_set(out: Path) -> dict | None:
    """The manifest of the set already in ``out``; None if ``out`` is missing or empty.

    Raises ``FileExistsError`` for anything that is not one of our sets, so user data is
    never replaced: a file, a non-empty folder without a readable manifest of ours, or a
    set folder holding files its manifest does not list.
    """
    if not out.exists():
        return None
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; refusing to replace it")
    if not any(out.iterdir()):
        return None
    refuse = f"refusing to write into {out}: it is not empty and"
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise FileExistsError(f"{refuse} has no readable {MANIFEST} ({err}), so it is not "
                              "a data set built by paperlib.data") from None
    if not (isinstance(manifest, dict) and "code_version" in manifest
            and isinstance(manifest.get("images"), list)):
        raise FileExistsError(f"{refuse} its {MANIFEST} was not written by paperlib.data")
    listed = {e["file"] for e in manifest["images"]} | {MANIFEST}
    unknown = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                     if not p.is_dir() and p.relative_to(out).as_posix() not in listed)
    if unknown:
        raise FileExistsError(f"{refuse} holds files its {MANIFEST} does not list: "
                              f"{', '.join(unknown[:5])}")
    return manifest


def _same_set(manifest: dict, header: dict, items: list, out: Path) -> bool:
    """Whether ``manifest`` is exactly what building ``items`` would write, files intact."""
    head = {k: v for k, v in manifest.items() if k != "images"}
    wanted = json.loads(json.dumps([[f, label, r] for f, label, r in items]))
    have = [[e["file"], e["label"], e["recipe"]] for e in manifest["images"]]
    if head != json.loads(json.dumps(header)) or have != wanted:
        return False
    return all((out / e["file"]).is_file() and file_sha256(out / e["file"]) == e["sha256"]
               for e in manifest["images"])


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``, replacing an empty folder or a previous set of ours."""
    if out.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        out.rename(trash / out.name)
        tmp.rename(out)
        shutil.rmtree(trash)
    else:
        tmp.rename(out)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Loading a user folder -----------------------------------------------------------------
@dataclass
class LoadedImages:
    """Images loaded by :func:`load_folder`."""

    images: torch.Tensor                 # float32 (N, 3, res, res) in [-1, 1]
    paths: list[Path]                    # the loaded files, sorted
    labels: list[str | None]             # manifest label, else sub-folder name, else None
    skipped: list[tuple[Path, str]]      # (file, reason) for files that could not be read

    def __len__(self) -> int:
        return len(self.paths)


def image_files(path, recursive: bool = True) -> list[Path]:
    """Sorted files under ``path`` with an image extension; hidden files/folders skipped."""
    root = Path(path)
    found = root.rglob("*") if recursive else root.glob("*")
    return sorted(p for p in found if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


#: What decoding a bad image file raises.
UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def decode_image(path: Path) -> Image.Image:
    """The image in ``path`` fully decoded as 8-bit RGB (:func:`paperlib.utils.images.
    pil_to_rgb`), opened read-only; a bad file raises one of :data:`UNREADABLE`."""
    if path.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    with open(path, "rb") as f:
        with Image.open(f) as im:
            im.verify()
        f.seek(0)
        with Image.open(f) as im:
            im.load()
            return pil_to_rgb(im)


def read_image(path: Path, res: int) -> np.ndarray:
    """(res, res, 3) uint8 from an image file (:func:`decode_image`, centre-cropped square,
    Lanczos-resized); raises on bad files."""
    rgb = decode_image(path)
    return np.asarray(ImageOps.fit(rgb, (res, res), Image.LANCZOS, centering=(0.5, 0.5)))


def readable_images(path, recursive: bool = True) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``(files that decode, [(file, reason)] for those that do not)`` among
    :func:`image_files`; each image is decoded and dropped, so memory stays one image."""
    good, bad = [], []
    for file in image_files(path, recursive):
        try:
            decode_image(file)
            good.append(file)
        except UNREADABLE as err:
            bad.append((file, f"{type(err).__name__}: {err}"))
    return good, bad


def _manifest_labels(root: Path) -> dict[str, str] | None:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        return {e["file"]: e["label"] for e in manifest["images"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_folder(path, res: int = 64, strict: bool = False,
                recursive: bool = True) -> LoadedImages:
    """Load every image under ``path`` as a float tensor (N, 3, res, res) in [-1, 1].

    Reads png, jpg, jpeg, webp and bmp (any case); other and hidden files are ignored.
    Transparency goes on white, grey becomes RGB, each image is centre-cropped square and
    resized with Lanczos. Undecodable files are skipped with a warning naming each
    (``strict=True``: ``ValueError``). No image files: ``FileNotFoundError``; all failing:
    ``ValueError``. The folder is only read.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"image folder not found: {root}")
    if not root.is_dir():
        raise ValueError(f"not a folder: {root}")
    files = image_files(root, recursive)
    if not files:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {root}")
    arrays, paths, skipped = [], [], []
    for file in files:
        try:
            arrays.append(read_image(file, res))
            paths.append(file)
        except UNREADABLE as err:
            reason = f"{type(err).__name__}: {err}"
            if strict:
                raise ValueError(f"cannot load image {file}: {reason}") from err
            skipped.append((file, reason))
    report = "\n".join(f"  {p}: {why}" for p, why in skipped)
    if not paths:
        raise ValueError(f"no loadable images in {root}; every image file failed:\n{report}")
    if skipped:
        warnings.warn(f"load_folder({root}): skipped {len(skipped)} unreadable file(s):\n"
                      f"{report}", stacklevel=2)
    by_file = _manifest_labels(root)
    rels = [p.relative_to(root) for p in paths]
    labels = ([by_file.get(r.as_posix()) for r in rels] if by_file is not None
              else [r.parts[0] if len(r.parts) > 1 else None for r in rels])
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return LoadedImages(images.contiguous(), paths, labels, skipped)


#: What a labelled folder looks like (the messages of :func:`load_class_folders`).
CLASS_LAYOUT = ("its images in class sub-folders, one per class, at least 2 (e.g. "
                "DIR/cats/001.png, DIR/dogs/001.png; the sorted sub-folder names are the "
                "classes), none at its top level")


def class_folders(path) -> tuple[list[str], list[Path]]:
    """``(sorted class names, image files)`` of a labelled folder: every image file
    (:func:`image_files`) in a class sub-folder (the first path part below ``path``; images
    deeper inside count for it). ``ValueError`` naming the folder and :data:`CLASS_LAYOUT`
    when images lie at its top level or fewer than 2 sub-folders hold images."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    files = image_files(root)
    loose = [p.name for p in files if len(p.relative_to(root).parts) == 1]
    classes = sorted({p.relative_to(root).parts[0] for p in files} - set(loose))
    why = (f"{len(loose)} image(s) lie at its top level ({', '.join(loose[:3])}"
           f"{', ...' if len(loose) > 3 else ''})" if loose
           else f"it has {len(classes)} class sub-folder(s) with images"
           + (f" ({classes[0]})" if classes else ""))
    if loose or len(classes) < 2:
        raise ValueError(f"{root} is not a labelled folder ({why}); class-conditional "
                         f"training needs {CLASS_LAYOUT.replace('DIR', str(root))}")
    return classes, files


def load_class_folders(path, res: int = 64) -> tuple[LoadedImages, torch.Tensor, list[str]]:
    """A labelled folder (:func:`class_folders`, checked before any image is decoded)
    loaded by :func:`load_folder`: ``(images, class index per image (N,) int64, sorted
    class names)``. ``ValueError`` naming a class none of whose images decode."""
    root = Path(path)
    classes, _ = class_folders(root)
    loaded = load_folder(root, res, strict=False)
    names = [p.relative_to(root).parts[0] for p in loaded.paths]
    empty = [c for c in classes if c not in names]
    if empty:
        raise ValueError(f"{root}: class sub-folder(s) {', '.join(empty)} hold no readable "
                         "image; every class needs at least one")
    labels = torch.tensor([classes.index(n) for n in names], dtype=torch.int64)
    return loaded, labels, classes


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] (any shape) to uint8 in [0, 255], clamped and rounded."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def save_images(x: torch.Tensor, folder, prefix: str = "img") -> list[Path]:
    """Save (N, C, H, W) or (C, H, W) images in [-1, 1] (C = 1 or 3) as numbered PNGs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    batch = to_uint8(x if x.dim() == 4 else x.unsqueeze(0)).cpu()
    paths = []
    for i, img in enumerate(batch):
        arr = img.permute(1, 2, 0).numpy()
        pil = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
        path = folder / f"{prefix}_{i:05d}.png"
        atomic_write_bytes(path, png_bytes(pil))
        paths.append(path)
    return paths


def manifest_hash(path) -> str:
    """Identity of a data folder (the FID cache key).

    sha256 of ``manifest.json`` when present, else of the sorted (relative path, file
    sha256) list of the folder's image files.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if (root / MANIFEST).is_file():
        return file_sha256(root / MANIFEST)
    h = hashlib.sha256()
    for file in image_files(root):
        h.update(f"{file.relative_to(root).as_posix()}\t{file_sha256(file)}\n".encode())
    return h.hexdigest()


def read_manifest(folder) -> dict:
    """A data folder's ``manifest.json`` (``images[]`` with each image's file, label and
    recipe); a folder without one is a ``FileNotFoundError``."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {MANIFEST}")
    return json.loads(path.read_text(encoding="utf-8"))
