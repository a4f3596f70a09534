"""Paired data for paper B's conditional route (Pix2pixHD): one *map* per image.

Map sources (``map_source``; the design: docs/DECISIONS.md, "Paired data"): ``"recipe"``
(stand-in artist sets: soft one-hot :data:`MAP_CLASSES` of the recipe's forms),
``"forms"`` (:func:`form_map`), ``"edges"`` (:func:`edge_map`), ``"identity"`` (the image
in [0, 1], a diagnostic), a folder path (the user's maps, ``<maps>/a/b.png`` for
``<data>/a/b.png``, RGB in [0, 1], outside the image folder), or ``"auto"`` (``"recipe"``
on a stand-in artist set, else ``"edges"``). Label maps (recipe, forms, a folder) carry
instance ids, to which ``boundary=True`` appends pix2pixHD's instance-boundary channel.
:class:`MapSource` feeds maps to the generator in place of noise.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..forms import main_form
from ..utils.images import pil_to_rgb, to_rgb01
from .folders import MANIFEST, image_files, load_folder

#: Classes of a recipe map (channel order).
MAP_CLASSES = ("background", "plane", "disc", "ring", "main form", "eye", "pupil", "cheek")


FORM_CLASSES = ("background", "main form", "inner marks")


MAP_SOURCES = ("auto", "recipe", "forms", "edges", "identity")

#: Map sources that are label maps: they have instance ids and take a boundary channel.
LABEL_SOURCES = ("recipe", "forms")


SUPERSAMPLE = 4


def _class(name: str) -> int:
    return MAP_CLASSES.index(name)


def recipe_style(recipe: dict) -> str | None:
    """``"donglein"`` or ``"geometric"`` for a stand-in artist recipe, else None."""
    if isinstance(recipe, dict) and "main_circle" in recipe:
        if isinstance(recipe.get("eyes"), list) and "inner_circles" in recipe:
            return "donglein"
        if isinstance(recipe.get("circles"), list) and "planes" in recipe:
            return "geometric"
    return None


def _forms(recipe: dict) -> list[tuple]:
    """The recipe's forms in drawing order: ``("circle", class, cx, cy, r, width)`` or
    ``("polygon", class, vertices)`` (coordinates in the recipe's pixels)."""
    style = recipe_style(recipe)
    if style == "donglein":
        m = recipe["main_circle"]
        forms = [("circle", _class("main form"), m["cx"], m["cy"], m["r"], 0.0)]
        forms += [("circle", _class("eye"), e["cx"], e["cy"], e["r"], 0.0) for e in recipe["eyes"]]
        forms += [("circle", _class("pupil" if c.get("role") == "pupil" else "cheek"),
                   c["cx"], c["cy"], c["r"], 0.0) for c in recipe["inner_circles"]]
        return forms
    if style == "geometric":
        forms = [("polygon", _class("plane"), p["vertices"]) for p in recipe["planes"]]
        forms += [("circle", _class("ring" if c["kind"] == "ring" else "disc"), c["cx"], c["cy"],
                   c["r"], float(c["width"]) if c["kind"] == "ring" else 0.0)
                  for c in recipe["circles"]]
        return forms
    raise ValueError("not a stand-in artist recipe (no donglein or geometric layout): "
                     f"keys {sorted(recipe) if isinstance(recipe, dict) else type(recipe)}")


def _rasterise(recipe: dict, res: int, recipe_res: int | None,
               supersample: int) -> tuple[np.ndarray, np.ndarray]:
    """``(class index, instance id)`` of every sub-pixel (int arrays ``(res * s,) * 2``):
    form ``k`` (drawing order) is instance ``k + 1``, the background 0."""
    from matplotlib.path import Path as MplPath

    n = int(res) * int(supersample)
    k = (res / float(recipe_res or res)) * supersample   # recipe px -> sub-pixels
    c = np.arange(n) + 0.5
    gy, gx = np.meshgrid(c, c, indexing="ij")
    label = np.zeros((n, n), dtype=np.int64)
    inst = np.zeros((n, n), dtype=np.int64)
    for i, form in enumerate(_forms(recipe)):
        if form[0] == "circle":
            _, cls, cx, cy, r, width = form
            d = np.hypot(gx - cx * k, gy - cy * k)
            inside = d <= r * k
            if width > 0:
                inside &= d >= (r - width) * k
        else:
            _, cls, vertices = form
            poly = MplPath(np.asarray(vertices, dtype=np.float64) * k)
            inside = poly.contains_points(np.c_[gx.ravel(), gy.ravel()]).reshape(n, n)
        label[inside] = cls
        inst[inside] = i + 1
    return label, inst


def render_label(recipe: dict, res: int, recipe_res: int | None = None,
                 supersample: int = SUPERSAMPLE) -> np.ndarray:
    """The class index (into :data:`MAP_CLASSES`) of every sub-pixel: an int array
    ``(res * supersample,) * 2``. Coordinates are scaled by ``res / recipe_res`` (the
    resolution the recipe was made at; default ``res``). A sub-pixel belongs to a circle
    when its centre lies within ``r`` of the centre (a ring: between ``r - width`` and
    ``r``), to a plane when its centre is inside the polygon."""
    return _rasterise(recipe, res, recipe_res, supersample)[0]


def render_instances(recipe: dict, res: int, recipe_res: int | None = None,
                     supersample: int = SUPERSAMPLE) -> np.ndarray:
    """A recipe's instance map: int array ``(res, res)``, each pixel the instance covering
    most of its sub-pixels (form ``k`` in drawing order is ``k + 1``, the background 0;
    ties go to the lower id). Overlapping forms of one class stay separate instances."""
    inst = _rasterise(recipe, res, recipe_res, supersample)[1]
    s, n_inst = int(supersample), int(inst.max()) + 1
    counts = np.zeros((res, res, n_inst), dtype=np.int64)
    blocks = inst.reshape(res, s, res, s).transpose(0, 2, 1, 3).reshape(res, res, s * s)
    for j in range(n_inst):
        counts[..., j] = (blocks == j).sum(-1)
    return counts.argmax(-1)


def instance_edges(inst) -> torch.Tensor:
    """pix2pixHD's ``get_edges``: float tensor of ``inst``'s shape (``(..., H, W)``, integer
    instance ids), 1 at every pixel whose id differs from one of its 4 neighbours (both
    pixels of each such pair), else 0."""
    t = torch.as_tensor(np.asarray(inst) if not isinstance(inst, torch.Tensor) else inst)
    edge = torch.zeros(t.shape, dtype=torch.bool)
    dx = t[..., :, 1:] != t[..., :, :-1]
    dy = t[..., 1:, :] != t[..., :-1, :]
    edge[..., :, 1:] |= dx
    edge[..., :, :-1] |= dx
    edge[..., 1:, :] |= dy
    edge[..., :-1, :] |= dy
    return edge.float()


def map_components(m: torch.Tensor) -> np.ndarray:
    """Instance ids for a map without them (``(C, H, W)``: a one-hot or colour-coded label
    map): the 4-connected components of pixels with the same map value, numbered 0, 1, ...
    in raster order of their first pixel (int array ``(H, W)``). The fallback for a user's
    maps and ``"forms"``: two touching forms of one class (one colour) are one instance."""
    from scipy import ndimage as ndi

    arr = np.ascontiguousarray(m.float().numpy().transpose(1, 2, 0))
    _, value = np.unique(arr.reshape(-1, arr.shape[-1]), axis=0, return_inverse=True)
    value = value.reshape(arr.shape[:2])
    inst = np.zeros(value.shape, dtype=np.int64)
    n = 0
    for v in range(int(value.max()) + 1):
        lab, k = ndi.label(value == v)     # 4-connectivity
        inst[lab > 0] = lab[lab > 0] + n
        n += k
    # renumber in raster order of each component's first pixel (stable, source-independent)
    _, first, inv = np.unique(inst.ravel(), return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inv].reshape(inst.shape)


def render_map(recipe: dict, res: int, recipe_res: int | None = None,
               supersample: int = SUPERSAMPLE) -> torch.Tensor:
    """A recipe's map: float tensor ``(len(MAP_CLASSES), res, res)``, each pixel the share
    of its sub-pixels in each class (sums to 1; deterministic, pure numpy)."""
    label = render_label(recipe, res, recipe_res, supersample)
    onehot = np.eye(len(MAP_CLASSES), dtype=np.float32)[label]          # (n, n, C)
    s = int(supersample)
    pooled = onehot.reshape(res, s, res, s, -1).mean(axis=(1, 3))
    return torch.from_numpy(np.ascontiguousarray(pooled.transpose(2, 0, 1)))


def edge_map(image: torch.Tensor) -> torch.Tensor:
    """``(1, H, W)`` Sobel gradient magnitude of an image in [-1, 1] (3, H, W), grey =
    channel mean, scaled to [0, 1] by the image's own maximum (0 for a flat image)."""
    from scipy import ndimage as ndi

    g = image.float().mean(0).numpy().astype(np.float64)
    mag = np.hypot(ndi.sobel(g, axis=0, mode="nearest"), ndi.sobel(g, axis=1, mode="nearest"))
    top = mag.max()
    return torch.from_numpy((mag / top if top > 0 else mag).astype(np.float32))[None]


def form_map(image: torch.Tensor, inner_contrast: float = 0.15) -> torch.Tensor:
    """``(3, H, W)`` one-hot map of :data:`FORM_CLASSES` from :mod:`paperlib.forms`'
    form finder: the filled main form, and inside it the pixels whose colour is more than
    ``inner_contrast`` (RGB distance in [0, 1]) from the form's median colour. An image in
    which no main form is found is all background."""

    x = to_rgb01(image)
    H, W, _ = x.shape
    label = np.zeros((H, W), dtype=np.int64)
    found = main_form(x, 0.1, 9, 0.7)
    if found is not None:
        xc, filled, _, (oy, ox) = found
        med = np.median(xc[filled], axis=0)
        marks = filled & (np.sqrt(((xc - med) ** 2).sum(-1)) > inner_contrast)
        win = label[oy:oy + filled.shape[0], ox:ox + filled.shape[1]]
        win[filled] = 1
        win[marks] = 2
    return torch.from_numpy(np.eye(3, dtype=np.float32)[label].transpose(2, 0, 1).copy())


def _read_map(path: Path, res: int) -> torch.Tensor:

    try:
        with Image.open(path) as im:
            im = pil_to_rgb(im).resize((res, res), Image.NEAREST)
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read map {path}: {err}") from None
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


@dataclass
class Pairs:
    """A folder's (map, image) pairs: ``images`` (N, 3, res, res) in [-1, 1], ``maps``
    (N, C, res, res) in [0, 1] (with the boundary channel last when ``boundary``),
    ``files`` (relative names), ``map_source`` (what made the maps: recipe | forms | edges |
    identity | a folder), ``instances`` (N, 1, res, res) integer instance ids as floats, or
    None for a source without instances."""

    images: torch.Tensor
    maps: torch.Tensor
    files: list
    map_source: str
    instances: torch.Tensor | None = None
    boundary: bool = False

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: slice) -> "Pairs":
        """The pairs ``index`` selects (a slice): every tensor and the file list cut alike."""
        if not isinstance(index, slice):
            raise TypeError(f"Pairs take a slice, e.g. pairs[:8]; got {type(index).__name__}")
        return Pairs(self.images[index], self.maps[index], list(self.files[index]),
                     self.map_source,
                     None if self.instances is None else self.instances[index], self.boundary)

    def joined(self, instances: bool = False) -> torch.Tensor:
        """One tensor per pair (what the engine trains on): image channels, then the map's
        (then, with ``instances``, the instance ids as one more channel)."""
        parts = [self.images, self.maps]
        if instances:
            if self.instances is None:
                raise ValueError(f"map source {self.map_source!r} has no instance ids "
                                 f"(only label maps have: {LABEL_SOURCES} or a folder of maps)")
            parts.append(self.instances)
        return torch.cat(parts, 1)


def folder_recipes(folder: Path) -> dict:
    """Relative file name -> recipe from the folder's manifest (empty without one)."""

    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {e["file"]: (e.get("recipe"), manifest.get("res")) for e in manifest.get("images", [])
            if isinstance(e, dict) and "file" in e}


def resolve_map_source(folder, map_source: str = "auto") -> str:
    """``map_source`` made concrete for ``folder``: "auto" -> "recipe" when every image has
    a stand-in recipe in the folder's manifest, else "edges"; a folder path is checked."""
    folder = Path(folder)
    if map_source not in MAP_SOURCES:
        maps = Path(map_source)
        if not maps.is_dir():
            raise ValueError(f"map_source {map_source!r} is neither one of {MAP_SOURCES} nor "
                             "an existing folder of maps")
        if maps.resolve() == folder.resolve() or folder.resolve() in maps.resolve().parents:
            raise ValueError(f"the map folder {maps} lies inside the image folder {folder}: "
                             "images are read recursively, so the maps would be trained on "
                             "as images; put them beside it")
        return str(maps)
    if map_source != "auto":
        return map_source
    recipes = folder_recipes(folder)
    ok = recipes and all(recipe_style(r) for r, _ in recipes.values())
    return "recipe" if ok else "edges"


def has_instances(folder, map_source: str = "auto") -> bool:
    """Whether ``folder``'s maps from ``map_source`` carry instance ids (label maps: recipe,
    forms, a folder of maps; not edges or identity), which the instance-boundary channel and
    the feature encoder need."""
    src = resolve_map_source(folder, map_source)
    return src in LABEL_SOURCES or src not in MAP_SOURCES


def load_pairs(folder, res: int, map_source: str = "auto", boundary: bool = True) -> Pairs:
    """Every image of ``folder`` (:func:`load_folder`; a broken image is an error) with its
    map (module docstring) and, for label maps, its instance ids; ``boundary`` appends the
    instance-boundary channel (:func:`instance_edges`) to label maps. Raises ``ValueError``
    naming the problem: no images, an image without a recipe (``"recipe"``), a missing map."""

    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"data {folder} is not a folder")
    source = resolve_map_source(folder, map_source)
    loaded = load_folder(folder, res)
    if len(loaded.images) == 0:
        raise ValueError(f"no usable images found in {folder}")
    files = [p.relative_to(folder).as_posix() for p in image_files(folder)]
    if len(files) != len(loaded.images):
        raise ValueError(f"{folder}: {len(files)} image files but {len(loaded.images)} loaded")
    images = loaded.images.float()
    inst = None
    if source == "recipe":
        recipes = folder_recipes(folder)
        missing = [f for f in files if f not in recipes or not recipe_style(recipes[f][0])]
        if missing:
            raise ValueError(f"{folder}: {len(missing)} image(s) have no stand-in recipe in "
                             f"its manifest (e.g. {missing[0]}); use map_source='edges', "
                             "'forms' or a folder of maps")
        maps = torch.stack([render_map(recipes[f][0], res, recipes[f][1]) for f in files])
        inst = np.stack([render_instances(recipes[f][0], res, recipes[f][1]) for f in files])
    elif source == "edges":
        maps = torch.stack([edge_map(im) for im in images])
    elif source == "identity":
        maps = (images + 1) / 2
    elif source == "forms":
        maps = torch.stack([form_map(im) for im in images])
        inst = np.stack([map_components(m) for m in maps])
    else:
        paths = [Path(source) / f for f in files]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise ValueError(f"{len(missing)} image(s) of {folder} have no map in {source} "
                             f"(e.g. {missing[0]}): a map needs the image's relative name")
        maps = torch.stack([_read_map(p, res) for p in paths])
        inst = np.stack([map_components(m) for m in maps])
    maps = maps.float()
    instances = None if inst is None else torch.from_numpy(inst[:, None].astype(np.float32))
    with_boundary = bool(boundary) and instances is not None
    if with_boundary:
        maps = torch.cat([maps, instance_edges(instances)], 1)
    return Pairs(images, maps.contiguous(), files, source, instances, with_boundary)


class MapSource(nn.Module):
    """What a conditional generator is fed instead of noise: maps from a bank.

    ``sample_noise(n, generator, device)`` returns ``(indices,)``: the bank's maps in order,
    cycling past the last (deterministic; ``generator`` is unused); ``forward(indices)``
    returns those maps. The bank is not saved in checkpoints: set it with :meth:`set_bank`.
    ``accept``: other channel counts a bank may have."""

    def __init__(self, channels: int, accept: tuple[int, ...] = ()):
        super().__init__()
        self.channels = int(channels)
        self.accept = (self.channels, *(int(c) for c in accept))
        self.register_buffer("bank", torch.empty(0, self.channels, 1, 1), persistent=False)

    def set_bank(self, maps: torch.Tensor) -> "MapSource":
        if maps.ndim != 4 or maps.shape[1] not in self.accept:
            want = " or ".join(map(str, self.accept))
            raise ValueError(f"maps must be (N, {want}, H, W); got {tuple(maps.shape)}")
        self.bank = maps.detach().float().to(self.bank.device)
        return self

    def sample_noise(self, n: int, generator=None, device="cpu") -> tuple[torch.Tensor]:
        if len(self.bank) == 0:
            raise ValueError("this Pix2pixHD model has no maps to translate: give it maps "
                             "(MapSource.set_bank, or evaluate it on a paired folder)")
        return ((torch.arange(int(n)) % len(self.bank)).to(device),)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.bank[idx.to(self.bank.device)]

    def extra_loss(self) -> torch.Tensor:
        return self.bank.new_zeros(())

    def log_stats(self) -> dict:
        return {}


def map_to_rgb(maps: torch.Tensor) -> torch.Tensor:
    """Maps (N, C, H, W) as viewable images in [-1, 1]: a recipe map in one colour per
    class (a fixed palette; soft maps blended), a 1-channel map as grey, a 3-channel map
    (forms, a user's RGB maps, identity) as RGB; with a boundary channel (recipe 8 + 1,
    forms/RGB 3 + 1) its pixels are drawn black."""
    maps = maps.float()
    c = maps.shape[1]
    edge = None
    if c in (len(MAP_CLASSES) + 1, 4):
        maps, edge = maps[:, :-1], maps[:, -1:]
        c -= 1
    if c == len(MAP_CLASSES):
        rgb = torch.einsum("nchw,cd->ndhw", maps, _PALETTE)
    elif c in (1, 3):
        rgb = maps.expand(-1, 3, -1, -1)
    else:
        raise ValueError(f"cannot show a {maps.shape[1]}-channel map")
    if edge is not None:
        rgb = rgb * (1 - edge)
    return rgb * 2 - 1


_PALETTE = torch.tensor([[1.0, 1.0, 1.0], [0.55, 0.75, 0.95], [0.95, 0.55, 0.25],
                         [0.35, 0.75, 0.4], [0.98, 0.85, 0.3], [0.85, 0.85, 0.85],
                         [0.1, 0.1, 0.35], [0.95, 0.45, 0.6]])
