"""paperlib's shape: imports run one way through its layers, with no cycle, and the engine,
the evaluation and the CLI never branch on a model's name.

The import graph is built from the source (every ``import`` in the AST, inside functions
too), so a lazy import cannot hide an edge."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "paperlib"

#: Layer of each module (by dotted-name prefix, longest prefix wins). A module may import
#: from its own layer and from lower ones only.
LAYERS = {
    "paperlib": 0, "paperlib.config": 0, "paperlib.utils": 0,
    "paperlib.forms": 1,
    "paperlib.data": 2,
    "paperlib.models": 3,
    "paperlib.engine": 4,
    "paperlib.metrics": 5,
    "paperlib.paper_a": 6, "paperlib.paper_b": 6,
    "paperlib.plots": 7, "paperlib.reproduce": 7, "paperlib.publish": 7,
    "paperlib.doc_tables": 7, "paperlib.cli": 7, "paperlib.cli_field": 7,
    "paperlib.__main__": 7,
    "paperlib.verify": 7, "paperlib.selfcheck": 7, "paperlib.plan": 7,
}
#: Imports inside functions that are allowed: heavy or optional third-party modules only
#: (never a paperlib module). Each is lazy so that importing paperlib stays cheap and works
#: without the optional piece.
ALLOWED_LAZY = {
    "fcntl": "POSIX only: imported in a try block so that run folders work unlocked elsewhere",
    "distributed": "Dask is only needed when runs execute on a cluster",
    "dask": "as distributed",
    "papermill": "only `reproduce` runs notebooks",
    "nbformat": "only `reproduce` reads notebooks",
    "scipy": "scipy.linalg / scipy.stats load in ~0.3 s; only some statistics need them",
    "torchvision": "the VGG19 layout is only needed with user-supplied VGG weights",
    "matplotlib": "data.paired rasterises polygons with matplotlib.path only for recipe maps",
    "ipywidgets": "widgets are only built in notebooks",
    "cairosvg": "an optional extra (real-emoji): only installing the real emoji rasterises SVGs",
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def resolve(mod: str, is_pkg: bool, node: ast.ImportFrom, known: set[str]) -> list[str]:
    """The paperlib modules an ``ImportFrom`` imports (a name that is a submodule counts as
    that submodule)."""
    if node.level:
        base = mod.split(".") if is_pkg else mod.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("paperlib"):
        return []
    out = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.append(sub if sub in known else target)
    return out


def import_graph() -> tuple[dict[str, set[str]], dict[str, list[tuple[str, int]]]]:
    """``({module: modules it imports}, {module: [(lazy third-party import, line)]})``."""
    mods = modules()
    known = set(mods)
    graph, lazy = {m: set() for m in mods}, {m: [] for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
                graph[mod] |= {n for n in names if n.startswith("paperlib")}
                ext = [n for n in names if not n.startswith("paperlib")]
            elif isinstance(node, ast.ImportFrom):
                targets = resolve(mod, path.name == "__init__.py", node, known)
                graph[mod] |= set(targets)
                ext = [] if targets or node.level else [node.module or ""]
            else:
                continue
            if id(node) not in top and ext and not _in_type_checking(tree, node):
                lazy[mod] += [(e, node.lineno) for e in ext]
            if id(node) not in top and (targets if isinstance(node, ast.ImportFrom) else
                                        [n for n in names if n.startswith("paperlib")]):
                lazy[mod].append(("paperlib-internal", node.lineno))
        graph[mod].discard(mod)
    return graph, lazy


def _in_type_checking(tree, node) -> bool:
    return False


def layer(mod: str) -> int:
    best = max((p for p in LAYERS if mod == p or mod.startswith(p + ".")), key=len)
    return LAYERS[best]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None (iterative DFS)."""
    state, stack_of = {}, {}
    for root in sorted(graph):
        if root in state:
            continue
        path, iters = [root], [iter(sorted(graph[root]))]
        state[root], stack_of[root] = 1, 0
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_every_module_has_a_layer():
    for mod in modules():
        assert layer(mod) is not None, mod


def test_no_import_cycle():
    graph, _ = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_run_one_way():
    graph, _ = import_graph()
    upward = sorted(f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
                    for m, targets in graph.items() for t in targets if layer(t) > layer(m))
    assert not upward, "imports from a lower layer into a higher one:\n" + "\n".join(upward)


def test_papers_do_not_import_each_other():
    graph, _ = import_graph()
    crossing = sorted(f"{m} imports {t}" for m, targets in graph.items() for t in targets
                      if {(m.split(".") + [""])[1], (t.split(".") + [""])[1]} == {"paper_a", "paper_b"})
    assert not crossing, crossing


def test_lazy_imports_only_for_heavy_optional_modules():
    _, lazy = import_graph()
    bad = sorted(f"{m}:{line} imports {name} inside a function"
                 for m, items in lazy.items() for name, line in items
                 if name.split(".")[0] not in ALLOWED_LAZY)
    assert not bad, "\n".join(bad)


def _model_names() -> set[str]:
    from paperlib.models import model_names
    return set(model_names())


def _names_a_model(path: Path) -> list[str]:
    """Places where code branches on a model's name: a string constant that *is* a model
    name (``cfg.model == "stylegan2"``, ``{"pix2pixhd": ...}``, ``in ("dcgan", ...)``)."""
    names = _model_names()
    tree = ast.parse(path.read_text())
    return [f"{path.relative_to(PKG)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value in names]


@pytest.mark.parametrize("where", ["engine", "metrics", "cli.py", "cli_field.py", "verify.py",
                                   "selfcheck.py"])
def test_engine_evaluation_and_cli_never_name_a_model(where):
    paths = [PKG / where] if where.endswith(".py") else sorted((PKG / where).rglob("*.py"))
    hits = [h for p in paths for h in _names_a_model(p)]
    assert not hits, hits


def test_the_model_name_check_can_fail(tmp_path):
    bad = PKG / "engine" / "_tmp_probe.py"
    try:
        bad.write_text('def f(cfg):\n    return cfg.model == "stylegan2"\n')
        assert _names_a_model(bad)
    finally:
        bad.unlink()


def test_no_module_over_800_lines():
    long = {module_name(p): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 800}
    assert not long, long


def test_a_deliberate_cycle_is_caught(tmp_path):
    """The cycle finder itself: a graph with a back edge is reported."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


#: The subpackages, lowest layer first.
IMPORT_ORDER = ("paperlib.forms", "paperlib.data", "paperlib.models", "paperlib.engine",
          "paperlib.metrics", "paperlib.paper_a", "paperlib.paper_b", "paperlib.cli")

#: In a fresh interpreter: import the layers lowest first; after each, no layer above it may
#: have been loaded (so each imports without the layers above it).
_IMPORT_BOTTOM_UP = """
import importlib, sys
layers = sys.argv[1:]
for i, mod in enumerate(layers):
    importlib.import_module(mod)
    above = [m for m in layers[i + 1:] if m in sys.modules]
    assert not above, f"importing {mod} loaded {above}"
    print("ok", mod)
"""


def test_importing_each_layer_alone_works():
    """Every subpackage imports without the layers above it (one fresh interpreter,
    lowest layer first)."""
    r = subprocess.run([sys.executable, "-c", _IMPORT_BOTTOM_UP, *IMPORT_ORDER], capture_output=True,
                       text=True, cwd=PKG.parent)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == [w for mod in IMPORT_ORDER for w in ("ok", mod)]


def test_no_submodule_shadows_a_function_of_its_package():
    """A package re-exports its modules' functions; a submodule with the same name as one
    (``paper_b.table1`` the module vs ``table1`` the function) would make the package's
    attribute depend on import order."""
    clashes = []
    for pkg in [p for p in PKG.iterdir() if (p / "__init__.py").is_file()]:
        subs = {p.stem for p in pkg.glob("*.py")} - {"__init__"}
        for mod in pkg.glob("*.py"):
            tree = ast.parse(mod.read_text())
            defined = {n.name for n in tree.body
                       if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            clashes += [f"{pkg.name}.{name} ({mod.stem})" for name in defined & subs]
    assert not clashes, clashes


def _branches_on_a_model(source: str) -> list[str]:
    """``if``/ternary/comprehension conditions comparing with a model's name."""
    names = _model_names()
    tree = ast.parse(source)
    tests = [n.test for n in ast.walk(tree) if isinstance(n, (ast.If, ast.IfExp, ast.While))]
    tests += [c for n in ast.walk(tree) if isinstance(n, ast.comprehension) for c in n.ifs]
    return [ast.unparse(t) for t in tests for n in ast.walk(t)
            if isinstance(n, ast.Constant) and n.value in names]


def test_notebooks_never_branch_on_a_model_name():
    import json

    hits = []
    for nb in sorted((PKG.parent / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        src = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        src = "\n".join(line for line in src.splitlines()
                        if not line.lstrip().startswith(("%", "!")))
        hits += [f"{nb.name}: {h}" for h in _branches_on_a_model(src)]
    assert not hits, hits
    assert _branches_on_a_model('if cfg.model == "deligan":\n    pass\n')   # the check works
