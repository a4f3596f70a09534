"""Every file paperlib publishes goes through utils/io.py's one atomic write: a static check
of the package's source, and what an error in the middle of a write leaves behind."""
from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

import paperlib
from paperlib import doc_tables, plots, publish
from paperlib.utils import io as uio

PKG = Path(paperlib.__file__).parent

#: (module, function) -> why a direct write there is fine. Keep each entry commented.
ALLOWED = {
    # encodes a PNG into an io.BytesIO buffer, no file
    ("data/draw.py", "png_bytes"): "in-memory buffer",
    # encodes a PNG into an io.BytesIO buffer, no file
    ("utils/images.py", "png_thumb"): "in-memory buffer",
    # the training log, rewritten atomically up to the resumed epoch, then appended to row
    # by row as epochs finish: an append-only log cannot be replaced whole each epoch
    ("engine/loop.py", "_open_log"): "append-only log",
    # the force token of `reproduce --force`: engine/loop.py is another worktree's scope
    # (run folders); a torn token only makes the run retrain once more. To route next.
    ("engine/loop.py", "train_cached"): "outside this change's scope",
}

#: Methods that write a file when given a path (``.save(...)`` / ``to_csv(path)`` ...).
WRITE_METHODS = {"write_text", "write_bytes", "savefig", "save", "savez", "savez_compressed",
                 "to_csv", "to_json", "to_parquet", "to_excel", "to_pickle", "copyfile",
                 "copy", "copy2", "copytree", "dump"}
#: Plain names that write a file.
WRITE_NAMES = {"save_image", "savefig", "copyfile"}


def _writes(tree: ast.AST):
    """(line, function, what) of each direct file write outside an ``atomic_*`` call."""
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def inside_atomic(node) -> bool:
        while node in parents:
            up = parents[node]
            if isinstance(up, ast.Call) and node is not up.func:
                f = up.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name.startswith("atomic_"):
                    return True
            node = up
        return False

    def function_of(node) -> str:
        while node in parents:
            node = parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node.name
        return "<module>"

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or inside_atomic(node):
            continue
        f, what = node.func, None
        if isinstance(f, ast.Name) and f.id == "open":
            mode = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "mode"), None)
            if isinstance(mode, ast.Constant) and set(str(mode.value)) & set("wax+"):
                what = f"open(..., {mode.value!r})"
        elif isinstance(f, ast.Name) and f.id in WRITE_NAMES:
            what = f"{f.id}()"
        elif isinstance(f, ast.Attribute) and f.attr in WRITE_METHODS:
            has_target = bool(node.args) or any(k.arg in ("path_or_buf", "path", "fname")
                                                for k in node.keywords)
            if f.attr == "dump" and not (isinstance(f.value, ast.Name)
                                         and f.value.id in ("json", "pickle", "yaml")):
                has_target = False
            if has_target:
                what = f".{f.attr}(...)"
        elif isinstance(f, ast.Attribute) and f.attr == "write" \
                and isinstance(f.value, ast.Name) and f.value.id == "nbformat":
            what = "nbformat.write(...)"
        if what:
            yield node.lineno, function_of(node), what


def test_no_direct_file_writes_outside_utils_io():
    found, used = [], set()
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if rel == "utils/io.py":
            continue
        for line, func, what in _writes(ast.parse(path.read_text(), str(path))):
            if (rel, func) in ALLOWED:
                used.add((rel, func))
                continue
            found.append(f"paperlib/{rel}:{line} in {func}: {what}")
    assert not found, ("write through paperlib.utils.io (atomic_write and its helpers), or "
                       "add a commented ALLOWED entry:\n" + "\n".join(found))
    assert used == set(ALLOWED), f"stale ALLOWED entries: {set(ALLOWED) - used}"


def test_the_static_check_sees_direct_writes():
    src = ("def f(p, df, fig, im):\n"
           "    open(p, 'w')\n    p.write_text('x')\n    df.to_csv(p)\n"
           "    fig.savefig(p)\n    im.save(p)\n    df.to_csv()\n"
           "    atomic_write(p, lambda f: fig.savefig(f, format='png'))\n")
    whats = [w for _, _, w in _writes(ast.parse(src))]
    assert whats == ["open(..., 'w')", ".write_text(...)", ".to_csv(...)", ".savefig(...)",
                     ".save(...)"]


class Boom(RuntimeError):
    pass


def _explode(*_a, **_k):
    raise Boom("disk full, say")


@pytest.mark.parametrize("helper", ["text", "bytes", "image", "fig", "copy"])
def test_an_error_mid_write_leaves_the_old_file(tmp_path, helper, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old content")
    src = tmp_path / "src.bin"
    src.write_bytes(b"new" * 1000)

    class HalfFile:   # writes part of the data, then fails
        def save(self, f, **_kw):
            f.write(b"half")
            raise Boom("killed")

        savefig = save

    with pytest.raises(Boom):
        if helper == "text":
            uio.atomic_write(target, lambda f: (f.write("half"), _explode()), binary=False)
        elif helper == "bytes":
            uio.atomic_write(target, lambda f: (f.write(b"half"), _explode()))
        elif helper == "image":
            uio.atomic_save_image(target, HalfFile(), format="PNG")
        elif helper == "fig":
            uio.atomic_savefig(target, HalfFile())
        else:
            monkeypatch.setattr(uio.shutil, "copyfileobj", lambda s, f: (f.write(b"x"),
                                                                         _explode()))
            uio.atomic_copy(src, target)
    assert target.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "src.bin"]  # no temp


def test_helpers_write_what_the_direct_calls_would(tmp_path):
    uio.atomic_write_text(tmp_path / "a.txt", "héllo\n")
    assert (tmp_path / "a.txt").read_bytes() == "héllo\n".encode()
    uio.atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    im = Image.new("RGB", (5, 4), (10, 20, 30))
    uio.atomic_save_image(tmp_path / "c.png", im)
    im.save(tmp_path / "d.png")
    assert (tmp_path / "c.png").read_bytes() == (tmp_path / "d.png").read_bytes()
    uio.atomic_copy(tmp_path / "c.png", tmp_path / "sub" / "e.png")
    assert (tmp_path / "sub" / "e.png").read_bytes() == (tmp_path / "d.png").read_bytes()


def test_published_files_survive_a_failed_write(tmp_path, monkeypatch):
    """A table, a doc and a notebook: an error while writing keeps the old file whole."""
    monkeypatch.setattr(plots, "figures_dir", lambda profile: tmp_path / "fig")
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    csv, md = plots.save_table(df, "t", "smoke")
    assert pd.read_csv(csv).equals(df) and md.read_text().startswith("|")
    old_csv, old_md = csv.read_bytes(), md.read_bytes()

    class Exploding(pd.DataFrame):
        def to_markdown(self, *a, **k):
            raise Boom("mid-table")

    with pytest.raises(Boom):
        plots.save_table(Exploding({"a": [9.0]}), "t", "smoke")
    assert md.read_bytes() == old_md
    # the CSV is already replaced, whole (each file is atomic on its own)
    assert csv.read_bytes() != old_csv and pd.read_csv(csv).a.tolist() == [9.0]

    doc = tmp_path / "doc.md"
    doc.write_text("before\n<!-- table: t -->\nold\n<!-- /table -->\nafter\n")
    before = doc.read_bytes()
    monkeypatch.setattr(doc_tables, "figures_dir", lambda profile: tmp_path / "fig")
    monkeypatch.setattr(doc_tables, "atomic_write_text",
                        lambda p, text: uio.atomic_write(p, lambda f: (f.write(text[:5]),
                                                                        _explode()),
                                                         binary=False))
    with pytest.raises(Boom):
        doc_tables.sync_table_blocks(doc, "smoke")
    assert doc.read_bytes() == before

    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setattr(publish, "executed_dir", lambda profile: tmp_path / "executed")
    (tmp_path / "executed").mkdir()
    (tmp_path / "nbs").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, tmp_path / "executed" / "01_x.ipynb")
    (tmp_path / "nbs" / "01_x.ipynb").write_text("old notebook")
    monkeypatch.setattr(nbformat, "write", lambda nb, f: (f.write("{half"), _explode()))
    with pytest.raises(Boom):
        publish.publish_executed("smoke", notebooks_dir=tmp_path / "nbs")
    assert (tmp_path / "nbs" / "01_x.ipynb").read_text() == "old notebook"
    assert [p.name for p in (tmp_path / "nbs").iterdir()] == ["01_x.ipynb"]


def test_atomic_files_get_ordinary_permissions(tmp_path):
    """Not mkstemp's 0600: a new file as ``open()`` makes it, a replaced one keeps its own."""
    import os

    mask = os.umask(0o022)
    try:
        uio.atomic_write_text(tmp_path / "new.md", "x")
        assert (tmp_path / "new.md").stat().st_mode & 0o777 == uio._NEW_FILE_MODE \
            == 0o666 & ~mask                       # the process's umask, read at import
        old = tmp_path / "old.md"
        old.write_text("y")
        old.chmod(0o640)
        uio.atomic_write_text(old, "z")
        assert old.stat().st_mode & 0o777 == 0o640 and old.read_text() == "z"
    finally:
        os.umask(mask)
