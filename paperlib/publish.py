"""Publishing a reproduction: copy its executed notebooks over ``notebooks/`` (the cell
papermill injected dropped, progress bars at their final state, paths relative to the
repository, saved widget state stripped, each under a size limit), so readers of the
repository see outputs. ``reproduce --publish`` calls
:func:`publish_executed` after the notebooks ran (:mod:`paperlib.reproduce`)."""
from __future__ import annotations

import html
import json
import re
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


# ------------------------------------------------------------------ sanitising the outputs
#: A tqdm bar's text before its first update (``desc:   0%|          | 0/804 [00:00<?, ?img/s]``,
#: or ``desc: 0it [00:00, ?it/s]`` without a total): the text/plain fallback a notebook's
#: progress widget leaves once its widget state is gone.
FROZEN_BAR = re.compile(r"^(?:.*: *)?(?:\s*0%\|[^|]*\| *0/\d+ \[00:00<\?, \?[^\]]*\]"
                        r"|0[^ ]* \[00:00, \?[^\]]*\])\s*$", re.DOTALL)


#: Width of the bar in a progress bar's final text (tqdm's own in a notebook's fallback).
BAR_WIDTH = 10


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _widget_states(nb) -> dict:
    """model id -> saved widget model (``{"model_name": ..., "state": {...}}``)."""
    saved = nb.metadata.get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {})
    return saved.get("state", {}) if isinstance(saved, dict) else {}


def _html_text(value) -> str:
    """An HTML widget's value as plain text (tqdm pads with figure spaces)."""
    return html.unescape(re.sub(r"<[^>]*>", "", str(value or ""))).replace("\u2007", " ")


def progress_bar_text(states: dict, model_id: str) -> str | None:
    """The final text of the tqdm notebook bar saved as widget ``model_id`` (an HBox of an
    HTML description, a progress bar and an HTML count), as tqdm prints it in a terminal:
    ``emoji: 100%|██████████| 804/804 [00:01<00:00, 600img/s]``; ``None`` when the widget is
    not such a bar or its state was not saved."""
    box = states.get(model_id)
    if not box or box.get("model_name") != "HBoxModel":
        return None
    kids = [states.get(str(ref).removeprefix("IPY_MODEL_"))
            for ref in box.get("state", {}).get("children", [])]
    if len(kids) != 3 or any(k is None for k in kids):
        return None
    names = [k.get("model_name") for k in kids]
    if names[0] != "HTMLModel" or names[2] != "HTMLModel" or "Progress" not in str(names[1]):
        return None
    left, bar, right = (k.get("state", {}) for k in kids)
    left, right = _html_text(left.get("value")), _html_text(right.get("value"))
    if not left.strip():   # tqdm draws no bar without a total: the whole text is on the right
        return right.strip()
    value, top = float(bar.get("value") or 0), float(bar.get("max") or 0)
    fill = min(BAR_WIDTH, int(BAR_WIDTH * value / top)) if top > 0 else 0
    return f"{left}|{'█' * fill}{' ' * (BAR_WIDTH - fill)}|{right}".strip()


def finish_progress_bars(nb) -> dict:
    """Make every progress bar show its final state (in place), before the widget state is
    stripped: a tqdm widget output's text/plain becomes the bar's final text
    (:func:`progress_bar_text`); a bar whose final state is not saved (its text/plain the
    frozen first state, :data:`FROZEN_BAR`) is dropped rather than shown at 0 %. Returns
    ``{"finished": n, "dropped": n}``."""
    states = _widget_states(nb)
    counts = {"finished": 0, "dropped": 0}
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            view = data.get(WIDGET_MIME)
            final = progress_bar_text(states, str(view.get("model_id"))) if view else None
            if final is not None:
                data["text/plain"] = final
                counts["finished"] += 1
            elif "text/plain" in data and FROZEN_BAR.match(_text(data["text/plain"])):
                counts["dropped"] += 1
                continue
            kept.append(out)
        cell.outputs = kept
    return counts


def _replace_all(value, roots):
    """``value`` (a string, a list of strings or nested JSON) with each root replaced."""
    if isinstance(value, str):
        for pattern, repl in roots:
            value = pattern.sub(repl, value)
        return value
    if isinstance(value, list):
        return [_replace_all(v, roots) for v in value]
    if isinstance(value, dict):
        return {k: _replace_all(v, roots) for k, v in value.items()}
    return value


def _root_patterns(roots) -> list:
    """(pattern, replacement) for each (root, replacement) pair, longest root first:
    ``root/x`` -> ``x`` (or ``replacement/x``), a bare ``root`` -> ``replacement``; never
    inside a longer name (``/a/root2``); a root's resolved form too where it differs."""
    forms = {}
    for root, new in roots:
        for form in {str(Path(root)), str(Path(root).resolve())}:
            if form not in ("/", "."):
                forms[form] = new

    def repl(new):
        return lambda m: (new + "/" if new != "." else "") if m.group(1) else new

    return [(re.compile(re.escape(form) + r"(?:(/)|(?![\w.\-]))"), repl(new))
            for form, new in sorted(forms.items(), key=lambda kv: -len(kv[0]))]


def relative_paths(nb, roots=None) -> int:
    """Rewrite absolute paths under the repository root (and the home folder, when it is
    elsewhere: ``$PAPERLIB_HOME``) in every output and in papermill's input/output path
    metadata, so outputs read ``data/cpu``, not ``/home/me/paperlib/data/cpu``. Images are
    left alone. ``roots``: (absolute root, replacement) pairs instead. Returns the number of
    changed outputs and metadata fields."""
    if roots is None:
        roots = [(config.ROOT, ".")]
        if config.HOME != config.ROOT:
            roots.append((config.HOME, "$" + config.HOME_ENV))
    pairs = _root_patterns(roots)
    changed = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            for key in ("text", "traceback", "evalue"):
                if key in out:
                    new = _replace_all(out[key], pairs)
                    changed += new != out[key]
                    out[key] = new
            for mime, value in (out.get("data") or {}).items():
                if mime.startswith("image/") and mime != "image/svg+xml":
                    continue
                new = _replace_all(value, pairs)
                changed += new != value
                out["data"][mime] = new
    pm = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if isinstance(pm.get(key), str):
            new = _replace_all(pm[key], pairs)
            changed += new != pm[key]
            pm[key] = new
    return changed


def sanitise_outputs(nb, roots=None) -> dict:
    """What a published notebook's reader should see (in place): progress bars at their
    final state (:func:`finish_progress_bars`), paths relative to the repository
    (:func:`relative_paths`). Only outputs and papermill's path metadata change; the
    cells' code stays. Returns the counts."""
    counts = finish_progress_bars(nb)
    counts["paths"] = relative_paths(nb, roots)
    return counts


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

    Drops papermill's injected cell (the profile still comes from ``$PAPERLIB_PROFILE``),
    shows progress bars at their final state and paths relative to the repository
    (:func:`sanitise_outputs`) and drops widget state (:func:`strip_widget_state`). If any notebook is over ``max_bytes``, nothing
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
        sanitise_outputs(nb)      # needs the widget state: before stripping it
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
