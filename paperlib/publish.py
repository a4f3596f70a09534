"""Publishing a reproduction: copy its executed notebooks over ``notebooks/`` (the cell
papermill injected dropped, saved widget state stripped, each under a size limit), so
readers of the repository see outputs. ``reproduce --publish`` calls
:func:`publish_executed` after the notebooks ran (:mod:`paperlib.reproduce`)."""
from __future__ import annotations

import json
from pathlib import Path

from . import config
from .utils.io import atomic_write

#: Largest executed notebook :func:`publish_executed` copies into the repository (bytes).
MAX_PUBLISHED_BYTES = 2_000_000


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def executed_dir(profile: str) -> Path:
    """Where :func:`paperlib.reproduce.reproduce` writes a profile's executed notebooks
    (``runs/<profile>/executed/``), which :func:`publish_executed` copies."""
    return config.runs_dir(profile) / "executed"


class NotebookTooLarge(ValueError):
    """A notebook to publish is over :data:`MAX_PUBLISHED_BYTES`; the message names it, its
    size and its largest outputs."""


def strip_widget_state(nb) -> int:
    """Remove saved ipywidgets state from a notebook (in place); return how many items went:
    ``metadata.widgets`` and every widget-view output (its fallback stays; an output left
    empty is dropped)."""
    removed = 0
    if "widgets" in nb.metadata:
        del nb.metadata["widgets"]
        removed += 1
    for cell in nb.cells:
        cell.metadata.pop("widgets", None)
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None and WIDGET_MIME in data:
                del data[WIDGET_MIME]
                removed += 1
                if not data:
                    continue
            kept.append(out)
        cell.outputs = kept
    return removed


def _largest_outputs(nb, n: int = 3) -> list[str]:
    """The ``n`` largest outputs of a notebook, described for an error message."""
    sizes = []
    for i, cell in enumerate(nb.cells):
        for k, out in enumerate(cell.get("outputs", [])):
            size = len(json.dumps(out))
            first = next((line for line in cell.source.splitlines() if line.strip()), "")[:60]
            kinds = ", ".join(sorted(out.get("data", {}))) or out.get("output_type", "?")
            sizes.append((size, f"cell {i} output {k} ({kinds}; {size / 1e6:.2f} MB; "
                                f"cell starts {first!r})"))
    return [text for _, text in sorted(sizes, key=lambda t: -t[0])[:n]]


def check_notebook_size(nb, name: str, max_bytes: int = MAX_PUBLISHED_BYTES) -> int:
    """The notebook's size in bytes as written; :class:`NotebookTooLarge` above
    ``max_bytes``, naming it, its size and its largest outputs."""
    import nbformat

    size = len(nbformat.writes(nb).encode())
    if size > max_bytes:
        raise NotebookTooLarge(
            f"{name} is {size / 1e6:.2f} MB with outputs, over the {max_bytes / 1e6:.1f} MB "
            f"limit for published notebooks; largest outputs: "
            + "; ".join(_largest_outputs(nb)))
    return size


def publish_executed(profile: str, notebooks_dir: Path = config.NOTEBOOKS_DIR,
                     max_bytes: int = MAX_PUBLISHED_BYTES,
                     names: list[str] | None = None) -> list[Path]:
    """Copy a profile's executed notebooks over ``notebooks/`` so readers see outputs.

    Drops papermill's injected cell (the profile still comes from ``$PAPERLIB_PROFILE``) and
    widget state (:func:`strip_widget_state`). If any notebook is over ``max_bytes``, nothing
    is written and :class:`NotebookTooLarge` names each. ``names``: only these notebooks.
    """
    import nbformat

    ready, too_large = [], []
    for executed in sorted(executed_dir(profile).glob("[0-9][0-9]*_*.ipynb")):
        target = notebooks_dir / executed.name
        if not target.exists() or (names is not None and executed.name not in names):
            continue
        nb = nbformat.read(executed, as_version=4)
        nb.cells = [c for c in nb.cells
                    if "injected-parameters" not in c.metadata.get("tags", [])]
        nb.metadata.get("papermill", {}).pop("parameters", None)
        strip_widget_state(nb)
        try:
            check_notebook_size(nb, executed.name, max_bytes)
        except NotebookTooLarge as err:
            too_large.append(str(err))
        ready.append((nb, target))
    if too_large:
        raise NotebookTooLarge("not published (nothing written): " + "\n".join(too_large))
    for nb, target in ready:   # each atomically: a reader never sees half a notebook
        atomic_write(target, lambda f, nb=nb: nbformat.write(nb, f), binary=False)
    return [target for _, target in ready]
