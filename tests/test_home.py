"""Where data, runs and caches live (paperlib.config: the home folder) and where the
notebooks and figures are (the checkout)."""
import os

import pytest

from paperlib import config, reproduce


def _checkout(folder):
    (folder / "notebooks").mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return folder


@pytest.mark.skipif(bool(os.environ.get(config.HOME_ENV)), reason="$PAPERLIB_HOME is set")
def test_a_source_checkout_keeps_every_path_in_the_repository():
    root = config.PACKAGE_PARENT
    assert config.is_checkout(root)
    assert config.HOME == config.CHECKOUT == config.ROOT == root
    assert config.DATA_DIR == root / "data" and config.RUNS_DIR == root / "runs"
    assert config.FIGURES_DIR == root / "figures"
    assert config.NOTEBOOKS_DIR == root / "notebooks"
    assert config.require_checkout("reproduce") == root


def test_home_is_paperlib_home_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv(config.HOME_ENV, str(tmp_path / "home"))
    assert config.find_home() == (tmp_path / "home").resolve()


def test_home_outside_a_checkout_is_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(config.HOME_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site-packages"   # an installed package's parent: not a checkout
    site.mkdir()
    monkeypatch.setattr(config, "PACKAGE_PARENT", site)
    assert config.find_home() == tmp_path.resolve()
    assert config.find_checkout(tmp_path) is None
    # run from inside a clone, the clone is the checkout
    clone = _checkout(tmp_path / "clone")
    monkeypatch.chdir(clone)
    assert config.find_home() == clone.resolve()
    assert config.find_checkout(config.find_home()) == clone.resolve()


def test_paperlib_home_pointing_at_a_checkout_owns_notebooks_and_figures(tmp_path, monkeypatch):
    clone = _checkout(tmp_path / "clone")
    monkeypatch.setattr(config, "PACKAGE_PARENT", tmp_path / "site-packages")
    assert config.find_checkout(clone) == clone
    # a home that is not a checkout: the notebooks still come from the source checkout
    monkeypatch.setattr(config, "PACKAGE_PARENT", clone)
    assert config.find_checkout(tmp_path / "elsewhere") == clone


def test_reproduce_without_a_checkout_says_what_it_needs(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CHECKOUT", None)
    monkeypatch.setattr(config, "runs_dir", lambda profile: tmp_path / "runs")
    monkeypatch.setattr(reproduce, "figures_dir", lambda profile: tmp_path / "figs")
    with pytest.raises(config.CheckoutRequired) as err:
        reproduce.reproduce("smoke")
    msg = str(err.value)
    assert "reproduce needs a source checkout" in msg and config.HOME_ENV in msg
    assert isinstance(err.value, FileNotFoundError)   # the CLI: "error: ...", exit 2
    assert not (tmp_path / "runs").exists() and not (tmp_path / "figs").exists()
