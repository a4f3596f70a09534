# Two commands do all set-up on a fresh clone:
#   make reproduce [PROFILE=cpu|smoke|paper]   run every notebook in order, regenerate figures/
#   make test                                  ruff, pytest over tests/ and nbval over every notebook
#                                              (smoke), side by side
#   make release-check                         the committed results' run is this paperlib/ (run
#                                              when the reference results are regenerated)
PYTHON ?= python3
VENV := .venv
PROFILE ?= cpu
STAMP := $(VENV)/.paperlib-installed
KERNEL := paperlib

.PHONY: venv reproduce test release-check clean-runs

# (Re)create the virtual environment when pyproject.toml or constraints.txt changes: paperlib
# editable, with the extras the notebooks, the tests and the Dask scheduler need, at the
# versions constraints.txt pins (torch/torchvision; pip finds them on this machine's disk).
# The Jupyter kernel "paperlib" is registered inside the venv (--sys-prefix), where
# papermill, nbval and the venv's JupyterLab all look.
$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[notebooks,test,cluster]"
	$(VENV)/bin/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (paperlib)"
	touch $@

venv: $(STAMP)

reproduce: $(STAMP)
	$(VENV)/bin/python -m paperlib reproduce --profile $(PROFILE) $(if $(FORCE),--force,) $(if $(PUBLISH),--publish,)
	@# compare the rerun's tables with the committed reference (profiles that have one)
	@if git ls-files --error-unmatch figures/$(PROFILE) >/dev/null 2>&1; then \
		$(VENV)/bin/python -m paperlib verify --profile $(PROFILE); fi

# make test: ruff; then the notebooks in order under nbval (smoke profile) in the background,
# beside the unit tests on 2 xdist workers: one torch thread per process, 3 processes on the
# 2 cores, so neither waits for the other's tail. The benchmarks' smoke runs come last: they
# check that they leave the repository's data/, runs/ and figures/ untouched, which holds
# only once the notebooks no longer write there. The notebooks' log is printed after the
# unit tests'; the target fails when any of the three fails.
TEST_ENV := PAPERLIB_PROFILE=smoke OMP_NUM_THREADS=1
PYTEST := $(VENV)/bin/python -m pytest -p no:cacheprovider

test: $(STAMP)
	$(VENV)/bin/ruff check paperlib tests benchmarks
	@log=$$(mktemp); \
	$(TEST_ENV) $(PYTEST) notebooks --nbval-lax >$$log 2>&1 & nb=$$!; \
	$(TEST_ENV) $(PYTEST) tests -m "not release" -n 2 --ignore=tests/test_benchmarks.py; \
	unit=$$?; wait $$nb; nbrc=$$?; \
	echo "================ notebooks (nbval, smoke profile) ================"; \
	cat $$log; rm -f $$log; \
	$(TEST_ENV) $(PYTEST) tests/test_benchmarks.py -n 2; bench=$$?; \
	echo "make test: unit tests exit $$unit, notebooks $$nbrc, benchmarks $$bench"; \
	test "$$unit$$nbrc$$bench" = 000

# Release check (tests marked `release`): the committed reference results' manifest names a
# commit whose paperlib/ is this checkout's. Fails as soon as paperlib/ changes, so it is not
# part of `make test`; run it when the reference results are regenerated (after
# `make reproduce PUBLISH=1` and committing them).
release-check: $(STAMP)
	$(VENV)/bin/python -m pytest tests -m release -p no:cacheprovider
	$(VENV)/bin/python -m paperlib verify --profile $(PROFILE) --strict

clean-runs:
	rm -rf runs/smoke data/smoke
