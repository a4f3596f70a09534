"""Test-session set-up for `make test`: the notebooks run under nbval in one xdist group.

`make test` runs pytest with ``-n 2 --dist loadgroup``: every notebook cell goes to the same
worker, in order (a notebook's cells share one kernel, and later notebooks read the runs of
earlier ones), while the other worker takes the unit tests.
"""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group("notebooks"))
