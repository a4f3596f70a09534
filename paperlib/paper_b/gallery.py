"""The selection gallery of notebook 05: thumbnails with like toggles, saved as a selections
JSON (:func:`paperlib.paper_b.save_selections`) that the curation loop reads on the rerun."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as W

from ..utils.images import png_thumb
from .selection_features import image_sha256
from .selections import SelectionMismatchError, save_selections, selection_for_round

#: Estimated rendered width of a toggle's label, for :func:`like_label`: the heart icon
#: with its gap (20 px), the button's side padding (2 x 6 px) and 8 px per character of
#: JupyterLab's 13 px widget font (an estimate, not measured in a browser).
LABEL_PX = {"icon": 20, "padding": 12, "char": 8}


def label_px(text: str) -> int:
    """Estimated width in pixels of a like toggle labelled ``text`` (:data:`LABEL_PX`)."""
    return LABEL_PX["icon"] + LABEL_PX["padding"] + LABEL_PX["char"] * len(text)


def like_label(i: int, thumb_px: int) -> str:
    """The like toggle's label under image ``i``, as wide as its thumbnail at most
    (:func:`label_px`): ``"like 7"``, else just the number (the heart icon says "like")."""
    for text in (f"like {i}", str(i)):
        if label_px(text) <= thumb_px:
            return text
    return str(i)


class SelectionGallery(W.VBox):
    """The widget :func:`selection_gallery` returns (a ``VBox``; display it).

    Attributes: ``image_widgets`` (one ``ipywidgets.Image`` per image), ``toggles`` (the
    "like" ``ToggleButton`` of each), ``save_button``, ``status`` (an ``HTML`` line),
    ``hashes`` (sha256 per image), ``selections_path``, ``round_idx``, ``last_error``.
    """

    def __init__(self, images: Any, selections_path: Any, round_idx: int, n_cols: int = 8,
                 thumb_px: int = 96, title: str | None = None):
        if n_cols < 1:
            raise ValueError("n_cols must be >= 1")
        n = int(images.shape[0]) if hasattr(images, "shape") else len(images)
        self.selections_path = Path(selections_path)
        self.round_idx = int(round_idx)
        self.n_shown = n
        self.last_error: Exception | None = None
        self.hashes = [image_sha256(images[i]) for i in range(n)]
        self.image_widgets = [
            W.Image(value=png_thumb(images[i], thumb_px), format="png",
                    width=thumb_px, height=thumb_px)
            for i in range(n)
        ]
        self.toggles = [
            W.ToggleButton(value=False, description=like_label(i, thumb_px), icon="heart",
                           tooltip=f"like image {i}: I am satisfied with this one",
                           layout=W.Layout(width=f"{thumb_px}px", padding="0px"))
            for i in range(n)
        ]
        cells = [W.VBox([im, tg]) for im, tg in zip(self.image_widgets, self.toggles)]
        grid = W.GridBox(cells, layout=W.Layout(
            grid_template_columns=f"repeat({n_cols}, {thumb_px + 8}px)", grid_gap="4px"))
        self.save_button = W.Button(description="Save selections", button_style="success",
                                    icon="save")
        self.clear_button = W.Button(description="Clear", icon="times")
        self.status = W.HTML()
        self.counter = W.HTML()
        header = W.HTML(
            f"<b>{html.escape(title or f'Curation round {self.round_idx}')}</b>: "
            "toggle <i>like</i> (the &#9829; button under each image, labelled with the "
            "image's number) on the images you are satisfied with, then "
            f"<i>Save selections</i> (written to <code>{html.escape(str(selections_path))}"
            "</code>). Unsaved clicks are ignored by later cells."
        )
        self.save_button.on_click(self._on_save)
        self.clear_button.on_click(self._on_clear)
        for t in self.toggles:
            t.observe(self._on_toggle, names="value")
        super().__init__([header, grid, W.HBox([self.save_button, self.clear_button,
                                                  self.counter]), self.status])
        self._preload(images)
        self._on_toggle()

    # -- state
    def selected(self) -> list[int]:
        """Indices whose "like" toggle is on."""
        return [i for i, t in enumerate(self.toggles) if t.value]

    def save(self) -> dict:
        """Write the current selection (what the Save button does); returns the file."""
        data = save_selections(
            self.selections_path, self.round_idx, self.selected(),
            meta={"n_shown": self.n_shown, "image_hashes": self.hashes,
                  "source": "selection_gallery"},
        )
        self.status.value = (f"Saved {len(self.selected())} of {self.n_shown} images for "
                             f"round {self.round_idx} to <code>"
                             f"{html.escape(str(self.selections_path))}</code>.")
        return data

    # -- callbacks
    def _preload(self, images: Any) -> None:
        try:
            sel = selection_for_round(self.selections_path, self.round_idx, images)
        except SelectionMismatchError as err:
            self.status.value = ("<span style='color:#b00'>The saved selection for this "
                                 f"round was made on other images; not loaded. "
                                 f"{html.escape(str(err))}</span>")
            return
        except (ValueError, OSError) as err:
            self.status.value = (f"<span style='color:#b00'>Could not read "
                                 f"{html.escape(str(self.selections_path))}: "
                                 f"{html.escape(str(err))}</span>")
            return
        if sel:
            for i in sel:
                self.toggles[i].value = True
            self.status.value = f"Loaded the saved selection ({len(sel)} images)."

    def _on_toggle(self, change: Any = None) -> None:
        self.counter.value = f"{len(self.selected())} liked"

    def _on_save(self, _button: Any = None) -> None:
        try:
            self.save()
            self.last_error = None
        except Exception as err:  # a widget callback must not die silently
            self.last_error = err
            self.status.value = (f"<span style='color:#b00'>Saving failed: "
                                 f"{html.escape(str(err))}</span>")

    def _on_clear(self, _button: Any = None) -> None:
        for t in self.toggles:
            t.value = False


def selection_gallery(
    images: Any,
    selections_path: Any,
    round_idx: int,
    n_cols: int = 8,
    thumb_px: int = 96,
    title: str | None = None,
) -> SelectionGallery:
    """Build the "like" gallery for one curation round and return it at once (display it).

    ``images``: the generated batch (float [-1, 1] (N, 3, H, W) tensor/array or uint8
    (N, H, W, 3)). A selection already saved for this round on the same images (checked
    by sha256) is pre-loaded. "Save selections" writes
    ``{"version": 1, "rounds": {"<r>": {"selected", "n_shown", "image_hashes", ...}}}``
    via :func:`paperlib.paper_b.save_selections`; other rounds in the file are kept.
    """
    return SelectionGallery(images, selections_path, round_idx, n_cols=n_cols,
                            thumb_px=thumb_px, title=title)
