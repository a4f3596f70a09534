# Two commands do all set-up on a fresh clone:
#   make reproduce [PROFILE=cpu|smoke|paper]   run every notebook in order, regenerate figures/
#   make test                                  ruff, pytest over tests/, nbval over every notebook (smoke)
#   make release-check                         the committed results' run is this paperlib/ (run
#                                              when the reference results are regenerated)
PYTHON ?= python3
VENV := .venv
PROFILE ?= cpu
STAMP := $(VENV)/.paperlib-installed
KERNEL := paperlib

.PHONY: venv reproduce test release-check real-emoji clean-runs

# (Re)create the virtual environment when pyproject.toml or constraints.txt changes: paperlib
# editable, with the extras the notebooks, the tests and the Dask scheduler need, at the
# versions constraints.txt pins (torch/torchvision; pip finds them on this machine's disk).
# The Jupyter kernel "paperlib" is registered inside the venv (--sys-prefix), where
# papermill, nbval and the venv's JupyterLab all look. pip installs without byte-compiling,
# then compileall byte-compiles the venv on every core (pip uses one: 74 s against 95 s).
# (torch's py312_intrinsics.py is Python 3.12 syntax, which pip also leaves uncompiled.)
$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --no-compile -c constraints.txt -e ".[notebooks,test,cluster]"
	$(VENV)/bin/python -m compileall -q -j 0 -x py312_intrinsics $(VENV)/lib
	$(VENV)/bin/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (paperlib)"
	touch $@

venv: $(STAMP)

reproduce: $(STAMP)
	$(VENV)/bin/python -m paperlib reproduce --profile $(PROFILE) $(if $(FORCE),--force,) $(if $(PUBLISH),--publish,)
	@# compare the rerun's tables with the committed reference (profiles that have one)
	@if git ls-files --error-unmatch figures/$(PROFILE) >/dev/null 2>&1; then \
		$(VENV)/bin/python -m paperlib verify --profile $(PROFILE); fi

# make test: ruff; the unit tests on 2 xdist workers, one torch thread each (so that the two
# never fight over the 2 cores); then the notebooks in order under nbval (smoke profile).
# (Running the notebooks beside the unit tests was measured slower: 13 min against 11.)
test: $(STAMP)
	$(VENV)/bin/ruff check paperlib tests benchmarks
	PAPERLIB_PROFILE=smoke OMP_NUM_THREADS=1 $(VENV)/bin/python -m pytest tests -m "not release" -p no:cacheprovider -n 2 --dist worksteal
	PAPERLIB_PROFILE=smoke $(VENV)/bin/python -m pytest notebooks --nbval-lax -p no:cacheprovider

# Release check (tests marked `release`): the committed reference results' manifest names a
# commit whose paperlib/ is this checkout's. Fails as soon as paperlib/ changes, so it is not
# part of `make test`; run it when the reference results are regenerated (after
# `make reproduce PUBLISH=1` and committing them).
release-check: $(STAMP)
	$(VENV)/bin/python -m pytest tests -m release -p no:cacheprovider
	$(VENV)/bin/python -m paperlib verify --profile $(PROFILE) --strict

# Real face emoji for paper A (docs/DATA_REAL_EMOJI.md): installs the extra "real-emoji"
# (cairosvg) into the venv, fetches the pinned OpenMoji, Fluent Emoji and Twemoji packages
# once with `npm pack` into data/real_emoji/packages/ (needs npm and the npm registry), then
# rasterises their face emoji into one labelled set per vendor plus data/real_emoji/combined/.
# No other code path downloads them.
real-emoji: $(STAMP)
	$(VENV)/bin/python -m pip install --quiet --no-compile -c constraints.txt -e ".[real-emoji]"
	$(VENV)/bin/python -m paperlib.data.real_emoji

clean-runs:
	rm -rf runs/smoke data/smoke
