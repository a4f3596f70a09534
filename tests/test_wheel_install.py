"""A user's install: paperlib's wheel, installed (not editable) into a fresh virtual
environment, runs from that environment's site-packages and writes its data under the
working directory or ``$PAPERLIB_HOME``, never beside the installed package.

Affordable: the wheel is built without build isolation (this environment's setuptools, the
``test`` extra) and installed without dependencies; the new environment sees this one's
packages (torch, ...) through a ``.pth`` file that lists this environment's site-packages
(plain paths: an editable install of paperlib there is not activated)."""
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from paperlib import __version__, config

pytest.importorskip("setuptools", minversion="77")  # builds the wheel (the test extra has it)


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", config.HOME_ENV, "PYTHONHOME")}
    return {**env, **extra}


def _run(cmd, cwd, env=None, check=True):
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or _env(),
                         capture_output=True, text=True, timeout=600)
    if check:
        assert out.returncode == 0, f"{cmd} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the new environment's python, its site-packages, an empty working directory)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"   # a copy of what the wheel is built from: no build/ in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(config.PACKAGE_PARENT / name, src / name)
    shutil.copytree(config.PACKAGE_PARENT / "paperlib", src / "paperlib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", tmp / "dist", src], cwd=tmp)
    (wheel,) = (tmp / "dist").glob("paperlib-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("paperlib/", "paperlib-")) for n in names), names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE")
               for n in names), names

    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     cwd=tmp).stdout.strip())
    outer = [p for p in sys.path
             if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    (site / "_paperlib_test_outer.pth").write_text("".join(f"{p}\n" for p in outer))
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
          "--ignore-installed", wheel], cwd=tmp)
    work = tmp / "work"
    work.mkdir()
    return python, site, work


def test_wheel_installs_and_runs_outside_the_checkout(installed):
    python, site, work = installed
    before = sorted(p.name for p in site.iterdir())
    probe = ("import json, os, paperlib; from paperlib import config as c\n"
             "os.environ['PAPERLIB_HOME'] = 'elsewhere'\n"
             "print(json.dumps({'file': paperlib.__file__, 'home': str(c.HOME),\n"
             "  'data': str(c.DATA_DIR), 'runs': str(c.RUNS_DIR), 'checkout': c.CHECKOUT,\n"
             "  'env_home': str(c.find_home())}))")
    seen = json.loads(_run([python, "-c", probe], cwd=work).stdout.strip().splitlines()[-1])
    assert Path(seen["file"]).is_relative_to(site)          # the wheel, not the checkout
    assert seen["home"] == str(work.resolve()) and seen["checkout"] is None
    assert seen["data"] == str(work.resolve() / "data")
    assert seen["runs"] == str(work.resolve() / "runs")
    assert seen["env_home"] == str((work / "elsewhere").resolve())

    script = python.parent / "paperlib"
    version = _run([script, "--version"], cwd=work).stdout.strip()
    assert version == f"paperlib {__version__}"

    home = work.parent / "home"
    _run([script, "build-data", "--out", "data/smoke", "--res", "32", "--n-shapes", "12",
          "--n-artist", "6"], cwd=work)
    assert (work / "data" / "smoke" / "emoji" / "manifest.json").exists()
    refused = _run([script, "reproduce", "--profile", "smoke"], cwd=work,
                   env=_env(**{config.HOME_ENV: str(home)}), check=False)
    assert refused.returncode == 2, refused.stderr
    assert "needs a source checkout" in refused.stderr and config.HOME_ENV in refused.stderr
    assert not home.exists()                          # refused before writing anything
    assert sorted(p.name for p in site.iterdir()) == before   # nothing beside the package
    assert not any((site / name).exists() for name in ("data", "runs", "figures"))
