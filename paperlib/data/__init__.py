"""Data: the stand-in sets (emoji: :mod:`.emoji`; shapes and artists: :mod:`.shapes`; all
sets, mixes and held-out splits: :mod:`.sets`), image folders and manifests (:mod:`.folders`)
and paired (map, image) data for conditional models (:mod:`.paired`). Imports only
:mod:`paperlib.config` and :mod:`paperlib.utils`."""

from . import draw, emoji, folders, paired, sets, shapes
from .draw import (  # noqa: F401
    SUPERSAMPLE,
    WHITE,
)
from .emoji import (  # noqa: F401
    BROW_VALENCE,
    EMOJI_BROWS,
    EMOJI_EXTRAS,
    EMOJI_EYES,
    EMOJI_FACE_COLORS,
    EMOJI_FACE_SHAPES,
    EMOJI_GRADIENTS,
    EMOJI_LABELS,
    EMOJI_MOUTHS,
    EXTRA_VALENCE,
    EYE_VALENCE,
    MOUTH_VALENCE,
    build_emoji_set,
    emoji_label,
    emoji_recipes,
    emoji_score,
    render_emoji,
)
from .folders import (  # noqa: F401
    ARTIST_STYLES,
    CODE_VERSION,
    DATA_FORMAT_VERSION,
    IMAGE_EXTENSIONS,
    MANIFEST,
    SHAPE_KINDS,
    LoadedImages,
    file_sha256,
    image_files,
    load_folder,
    manifest_hash,
    read_manifest,
    save_images,
    to_uint8,
)
from .paired import (  # noqa: F401
    FORM_CLASSES,
    LABEL_SOURCES,
    MAP_CLASSES,
    MAP_SOURCES,
    MapSource,
    Pairs,
    edge_map,
    folder_recipes,
    form_map,
    has_instances,
    instance_edges,
    load_pairs,
    map_components,
    map_to_rgb,
    recipe_style,
    render_instances,
    render_label,
    render_map,
    resolve_map_source,
)
from .sets import (  # noqa: F401
    HELD_OUT_FRAC,
    SET_NAMES,
    HeldOutSplit,
    build_all,
    build_mixed_set,
    profile_sets,
    split_held_out,
)
from .shapes import (  # noqa: F401
    DONGLEIN_FACE_COLORS,
    GEOMETRIC_BACKGROUNDS,
    GEOMETRIC_PALETTE,
    build_artist_set,
    build_shape_set,
    render_artist,
    render_shape,
)
