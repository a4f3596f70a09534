"""pyproject.toml, constraints.txt, the Makefile and environment.yml agree; the command line
imports with the runtime dependencies alone."""
import re
import subprocess
import sys

import pytest

from paperlib import config

tomllib = pytest.importorskip("tomllib")   # Python 3.11+

ROOT = config.PACKAGE_PARENT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return dict(line.split("#")[0].strip().split("==") for line in lines
                if line.split("#")[0].strip())


def test_torch_is_a_range_and_the_tested_pins_fall_in_it():
    deps = {_name(d): d for d in _project()["dependencies"]}
    pins = _pins()
    assert set(pins) == {"torch", "torchvision"}
    for name, pinned in pins.items():
        spec = deps[name]
        assert "==" not in spec and ">=" in spec and "<" in spec, spec
        low = re.search(r">=([\d.]+)", spec).group(1)
        high = re.search(r"<([\d.]+)", spec).group(1)
        version = tuple(int(x) for x in pinned.split("."))
        assert tuple(int(x) for x in low.split(".")) <= version < tuple(
            int(x) for x in high.split(".")), (name, pinned, spec)


def test_extras_and_the_makefile_install():
    project = _project()
    extras = project["optional-dependencies"]
    assert {"notebooks", "test", "cluster"} <= set(extras)
    runtime = {_name(d) for d in project["dependencies"]}
    assert not runtime & {"papermill", "jupyterlab", "pytest", "nbval", "ruff", "dask",
                          "distributed"}
    assert {"papermill", "jupyterlab", "ipykernel"} <= {_name(d) for d in extras["notebooks"]}
    assert {"pytest", "nbval", "ruff"} <= {_name(d) for d in extras["test"]}
    assert {"dask", "distributed"} <= {_name(d) for d in extras["cluster"]}
    assert project["license"] == "MIT" and (ROOT / "LICENSE").is_file()
    makefile = (ROOT / "Makefile").read_text()
    assert '-c constraints.txt -e ".[notebooks,test,cluster]"' in makefile


def test_environment_yml_lists_the_same_packages():
    text = (ROOT / "environment.yml").read_text()
    listed = {_name(m.group(1)) for m in re.finditer(r"^\s*-\s+([A-Za-z][\w.-]*)", text, re.M)}
    project = _project()
    extras = project["optional-dependencies"]
    # the test extra is left out here: a test-only package may be added there first
    wanted = [*project["dependencies"], *extras["notebooks"], *extras["cluster"]]
    assert {_name(d) for d in wanted} - listed == set()
    for name, pinned in _pins().items():
        assert re.search(rf"-\s+{name}=={re.escape(pinned)}\b", text), name


def test_the_command_line_imports_without_the_extras():
    """``import paperlib.cli`` loads none of the extras' packages (they are imported where
    used: papermill in reproduce, dask in the scheduler, nbformat in publishing)."""
    extras = ("dask", "distributed", "papermill", "nbformat", "nbval", "jupyterlab",
              "pytest", "ruff")
    code = ("import sys, paperlib.cli\n"
            f"print(sorted(m for m in {extras!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
