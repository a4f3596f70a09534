"""Data: the stand-in sets (emoji: :mod:`.emoji`; shapes and artists: :mod:`.shapes`; all
sets, mixes and held-out splits: :mod:`.sets`), image folders and manifests (:mod:`.folders`)
and paired (map, image) data for conditional models (:mod:`.paired`). Real face emoji from
vendor sets (``make real-emoji``): :mod:`.real_emoji`, imported on its own (it is also the
command ``python -m paperlib.data.real_emoji``). Imports only :mod:`paperlib.config`,
:mod:`paperlib.utils` and :mod:`paperlib.forms` (layers below)."""

from . import draw, emoji, folders, paired, sets, shapes
from .emoji import (
    build_emoji_heldout,
    build_emoji_set,
    emoji_key,
    emoji_label,
    emoji_recipes,
    render_emoji,
)
from .folders import (
    class_folders,
    file_sha256,
    image_files,
    load_class_folders,
    load_folder,
    manifest_hash,
    read_manifest,
    readable_images,
    save_images,
    to_uint8,
)
from .sets import HeldOutSplit, build_all, build_mixed_set, profile_sets, split_held_out
from .shapes import build_artist_set, build_shape_set, render_artist

__all__ = [
    "draw",
    "emoji",
    "folders",
    "paired",
    "sets",
    "shapes",
    "HeldOutSplit",
    "build_all",
    "build_artist_set",
    "build_emoji_heldout",
    "build_emoji_set",
    "build_mixed_set",
    "build_shape_set",
    "class_folders",
    "emoji_key",
    "emoji_label",
    "emoji_recipes",
    "file_sha256",
    "image_files",
    "load_class_folders",
    "load_folder",
    "manifest_hash",
    "profile_sets",
    "read_manifest",
    "readable_images",
    "render_artist",
    "render_emoji",
    "save_images",
    "split_held_out",
    "to_uint8",
]
