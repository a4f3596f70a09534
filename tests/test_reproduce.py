import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from paperlib import config, reproduce


def _write_nb(path, *sources):
    cells = [new_code_cell(src) for src in sources]
    cells[0].metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "paperlib", "display_name": "paperlib",
                                 "language": "python"}
    nbformat.write(nb, path)


def test_notebooks_are_numbered_and_ordered():
    paths = reproduce.notebook_paths()
    names = [p.name for p in paths]
    assert names == sorted(names) and names[0].startswith("00_")


def test_every_notebook_has_a_profile_parameter_cell():
    for path in reproduce.notebook_paths():
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        assert "PAPERLIB_PROFILE" in tagged[0].source and "profile" in tagged[0].source


def test_papermill_injects_profile(tmp_path):
    nb = tmp_path / "01_ok.ipynb"
    _write_nb(nb, "profile = 'cpu'", "from pathlib import Path\nPath('seen.txt').write_text(profile)")
    out = reproduce.run_notebook(nb, "smoke", tmp_path / "executed", progress=False)
    assert out.exists() and (tmp_path / "seen.txt").read_text() == "smoke"


def test_failing_notebook_names_notebook_and_cell_and_keeps_copy(tmp_path):
    nb = tmp_path / "02_bad.ipynb"
    _write_nb(nb, "profile = 'cpu'", "x = 1", "raise RuntimeError('boom')")
    with pytest.raises(reproduce.NotebookFailed) as err:
        reproduce.run_notebook(nb, "smoke", tmp_path / "executed", progress=False)
    msg = str(err.value)
    assert "02_bad.ipynb" in msg and "boom" in msg and "cell" in msg
    assert (tmp_path / "executed" / "02_bad.ipynb").exists()


def test_environment_info_names_versions():
    info = reproduce.environment_info()
    assert info["versions"]["torch"].startswith("2.14.1")
    assert info["machine"]["cpu_count"] >= 1
    json.dumps(info)  # serialisable


def test_figures_dir_is_per_profile():
    assert reproduce.figures_dir("smoke") == config.FIGURES_DIR / "smoke"


def test_publish_drops_the_injected_profile(tmp_path, monkeypatch):
    src = tmp_path / "notebooks"
    src.mkdir()
    _write_nb(src / "01_ok.ipynb", "import os\nprofile = os.environ.get('PAPERLIB_PROFILE', 'cpu')",
              "print(profile)")
    monkeypatch.setattr(reproduce, "executed_dir", lambda profile: tmp_path / "executed")
    reproduce.run_notebook(src / "01_ok.ipynb", "smoke", tmp_path / "executed", progress=False)
    executed = nbformat.read(tmp_path / "executed" / "01_ok.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert reproduce.publish_executed("smoke", src) == [src / "01_ok.ipynb"]
    published = nbformat.read(src / "01_ok.ipynb", as_version=4)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in published.cells)
    assert published.cells[-1].outputs[0]["text"].strip() == "smoke"   # outputs kept


def test_readme_results_are_the_committed_tables():
    tables = reproduce.readme_tables(reproduce.README.read_text())
    for name, body in tables.items():
        committed = config.FIGURES_DIR / "cpu" / f"{name}.md"
        if committed.exists():
            assert body == committed.read_text(), f"README table {name} differs from {committed}"


def test_sync_readme_tables_refills_blocks(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- table: t1 -->\nold\n<!-- /table -->\ny\n")
    fig = tmp_path / "figs"
    fig.mkdir()
    (fig / "t1.md").write_text("| a |\n|---|\n| 1 |\n")
    monkeypatch.setattr(reproduce, "figures_dir", lambda profile: fig)
    assert reproduce.sync_readme_tables("cpu", readme) == ["t1"]
    assert reproduce.readme_tables(readme.read_text()) == {"t1": "| a |\n|---|\n| 1 |\n"}
