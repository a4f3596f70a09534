"""Published notebooks a reader can trust: progress bars at their final state, no machine
paths (paperlib.publish.sanitise_outputs), checked on the committed notebooks and on a
notebook papermill really executed."""
import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from paperlib import config, publish, reproduce

#: A progress bar frozen at its first state ("  0%|"; "100%|" is a finished one).
FROZEN = re.compile(r"(?<![0-9])0%\|")
#: An absolute path of some machine's checkout, home or temporary folder.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|root|tmp|Users)/")


def _readable_text(nb) -> list[tuple[str, str]]:
    """(where, text) for every output and the notebook's metadata; images left out (their
    base64 may contain anything)."""
    found = [("metadata", json.dumps(nb.metadata))]
    for i, cell in enumerate(nb.cells):
        for k, out in enumerate(cell.get("outputs", [])):
            kept = {key: val for key, val in out.items() if key != "data"}
            kept["data"] = {m: v for m, v in (out.get("data") or {}).items()
                            if not m.startswith("image/") or m == "image/svg+xml"}
            found.append((f"cell {i} output {k}", json.dumps(kept, ensure_ascii=False)))
    return found


@pytest.mark.parametrize("path", reproduce.notebook_paths(), ids=lambda p: p.name)
def test_committed_notebooks_show_no_frozen_bars_or_machine_paths(path):
    nb = nbformat.read(path, as_version=4)
    for where, text in _readable_text(nb):
        assert not FROZEN.search(text), f"{path.name} {where}: a progress bar frozen at 0 %"
        match = MACHINE_PATH.search(text)
        assert not match, (f"{path.name} {where}: an absolute path "
                           f"{text[match.start():match.start() + 60]!r}")


def _tqdm_nb(value=804.0, top=804.0, left="emoji:\u2007100%"):
    """A notebook with one tqdm.notebook bar (its widget state saved, as papermill does),
    one frozen bar without state and one other widget."""
    widget = "application/vnd.jupyter.widget-view+json"

    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls",
                "model_module_version": "2.0.0", "state": state}

    states = {
        "box": model("HBoxModel", children=["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]),
        "l": model("HTMLModel", value=left),
        "p": model("FloatProgressModel", value=value, max=top, bar_style="success"),
        "r": model("HTMLModel", value="\u2007804/804\u2007[00:01&lt;00:00,\u2007600.00img/s]"),
        "slider": model("IntSliderModel", value=3),
        "box2": model("HBoxModel", children=["IPY_MODEL_l2", "IPY_MODEL_p2", "IPY_MODEL_r2"]),
        "l2": model("HTMLModel", value=""),
        "p2": model("FloatProgressModel", value=3, max=1, bar_style="info"),
        "r2": model("HTMLModel", value="runs:\u20073run\u2007[00:02,\u2007\u20071.50run/s]"),
    }
    nb = new_notebook(cells=[new_code_cell("build()"), new_code_cell("slider")])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": states}}
    nb.cells[0].outputs = [
        new_output("display_data", data={
            widget: {"model_id": "box", "version_major": 2, "version_minor": 0},
            "text/plain": "emoji:   0%|          | 0/804 [00:00<?, ?img/s]"}),
        new_output("display_data", data={
            widget: {"model_id": "gone", "version_major": 2, "version_minor": 0},
            "text/plain": "shapes:   0%|          | 0/120 [00:00<?, ?img/s]"}),
        new_output("display_data", data={"text/plain": "ablation runs: 0run [00:00, ?run/s]"}),
        new_output("stream", name="stdout", text="built\n"),
        new_output("display_data", data={
            widget: {"model_id": "box2", "version_major": 2, "version_minor": 0},
            "text/plain": "runs: 0run [00:00, ?run/s]"}),
    ]
    nb.cells[1].outputs = [new_output("display_data", data={
        widget: {"model_id": "slider", "version_major": 2, "version_minor": 0},
        "text/plain": "IntSlider(value=3)"})]
    return nb


def test_progress_bars_show_their_final_state():
    nb = _tqdm_nb()
    assert publish.finish_progress_bars(nb) == {"finished": 2, "dropped": 2}
    texts = [o.get("data", {}).get("text/plain", o.get("text")) for o in nb.cells[0].outputs]
    assert texts == ["emoji: 100%|██████████| 804/804 [00:01<00:00, 600.00img/s]", "built\n",
                     "runs: 3run [00:02,  1.50run/s]"]   # no total: a count, as tqdm prints
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "IntSlider(value=3)"  # not a bar
    publish.strip_widget_state(nb)
    nbformat.validate(nb)
    assert not FROZEN.search(nbformat.writes(nb))


def test_an_unfinished_bar_shows_where_it_stopped():
    nb = _tqdm_nb(value=402.0, left="emoji:\u2007\u200750%")
    publish.finish_progress_bars(nb)
    assert nb.cells[0].outputs[0]["data"]["text/plain"].startswith("emoji:  50%|█████     | ")


def test_paths_become_relative_to_the_repository(tmp_path):
    root = tmp_path / "checkout"
    nb = new_notebook(cells=[new_code_cell("x")])
    nb.cells[0].outputs = [
        new_output("stream", name="stdout", text=[f"data in {root}/data/cpu\n", f"at {root}\n"]),
        new_output("display_data", data={"text/html": f"<small>{root}/runs/a</small>",
                                         "image/png": "iVBORw0KGgo=",
                                         "text/plain": f"{root}2/other"}),
        new_output("error", ename="E", evalue=f"{root}/x", traceback=[f"File {root}/y.py"]),
    ]
    nb.metadata["papermill"] = {"input_path": f"{root}/notebooks/a.ipynb",
                                "output_path": f"{root}/runs/cpu/executed/a.ipynb"}
    assert publish.relative_paths(nb, [(root, ".")]) == 6
    out = nb.cells[0].outputs
    assert "".join(out[0]["text"]) == "data in data/cpu\nat .\n"
    assert out[1]["data"] == {"text/html": "<small>runs/a</small>", "image/png": "iVBORw0KGgo=",
                              "text/plain": f"{root}2/other"}   # another folder: untouched
    assert (out[2]["evalue"], out[2]["traceback"]) == ("x", ["File y.py"])
    assert nb.metadata["papermill"] == {"input_path": "notebooks/a.ipynb",
                                        "output_path": "runs/cpu/executed/a.ipynb"}


def test_published_notebook_from_papermill_has_final_bars_and_relative_paths(
        tmp_path, monkeypatch):
    """A notebook executed by papermill (tqdm.auto draws a widget there) and published."""
    src = tmp_path / "notebooks"
    src.mkdir()
    cells = [new_code_cell("profile = 'cpu'"),
             new_code_cell("from pathlib import Path\nfrom tqdm.auto import tqdm\n"
                           "for _ in tqdm(range(3), desc='steps'):\n    pass\n"
                           "print('here:', Path.cwd())")]
    cells[0].metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "paperlib", "display_name": "paperlib",
                                 "language": "python"}
    nbformat.write(nb, src / "01_bars.ipynb")
    monkeypatch.setattr(publish, "executed_dir", lambda profile: tmp_path / "executed")
    monkeypatch.setattr(config, "ROOT", tmp_path)
    reproduce.run_notebook(src / "01_bars.ipynb", "smoke", tmp_path / "executed",
                           progress=False)
    assert publish.publish_executed("smoke", src) == [src / "01_bars.ipynb"]
    text = (src / "01_bars.ipynb").read_text()
    published = nbformat.read(src / "01_bars.ipynb", as_version=4)
    outputs = published.cells[-1].outputs
    bars = [o["data"]["text/plain"] for o in outputs if "data" in o]
    assert bars and bars[0].startswith("steps: 100%|██████████| 3/3 ["), bars
    assert "here: notebooks\n" in [o.get("text") for o in outputs]
    assert not FROZEN.search(text) and str(tmp_path) not in text
