"""Unit-test set-up: metric caches stay out of the repository.

`make test` runs the unit tests on two xdist workers; a test that compares the repository
before and after a command (tests/test_benchmarks.py) must not see another test's cache
files there, so every in-process cache goes to a temporary folder of the session.
"""
import pytest

from paperlib.metrics import features


@pytest.fixture(autouse=True, scope="session")
def _metric_cache_outside_the_repository(tmp_path_factory):
    old = features.DEFAULT_CACHE_DIR
    features.DEFAULT_CACHE_DIR = tmp_path_factory.mktemp("metric_cache")
    yield
    features.DEFAULT_CACHE_DIR = old
