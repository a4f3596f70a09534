"""Unit-test set-up: one torch thread per xdist worker, and metric caches out of the
repository.

`make test` runs the unit tests on two xdist workers of a 2-core machine. Each worker (and
every process it starts: CLI subprocesses, Dask workers, benchmarks) runs one torch thread,
so two workers never fight over the cores. A test that compares the repository before and
after a command (tests/test_benchmarks.py) must not see another test's cache files there,
so every in-process cache goes to a temporary folder of the session.
"""
import os

import pytest
import torch

from paperlib.metrics import features

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _metric_cache_outside_the_repository(tmp_path_factory):
    old = features.DEFAULT_CACHE_DIR
    features.DEFAULT_CACHE_DIR = tmp_path_factory.mktemp("metric_cache")
    yield
    features.DEFAULT_CACHE_DIR = old
