# Two commands do all set-up on a fresh clone:
#   make reproduce [PROFILE=cpu|smoke|paper]   run every notebook in order, regenerate figures/
#   make test                                  pytest over tests/ + nbval over every notebook (smoke)
PYTHON ?= python3
VENV := .venv
PROFILE ?= cpu
STAMP := $(VENV)/.paperlib-installed
KERNEL := paperlib

.PHONY: venv reproduce test clean-runs

# (Re)create the virtual environment when pyproject.toml changes. torch/torchvision are
# pinned there; pip finds them on this machine's disk. The Jupyter kernel "paperlib" is
# registered inside the venv (--sys-prefix), where papermill, nbval and the venv's
# JupyterLab all look.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e .
	$(VENV)/bin/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (paperlib)"
	touch $@

venv: $(STAMP)

reproduce: $(STAMP)
	$(VENV)/bin/python -m paperlib reproduce --profile $(PROFILE) $(if $(FORCE),--force,) $(if $(PUBLISH),--publish,)
	@# compare the rerun's tables with the committed reference (profiles that have one)
	@if git ls-files --error-unmatch figures/$(PROFILE) >/dev/null 2>&1; then \
		$(VENV)/bin/python -m paperlib verify --profile $(PROFILE); fi

test: $(STAMP)
	PAPERLIB_PROFILE=smoke $(VENV)/bin/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider

clean-runs:
	rm -rf runs/smoke data/smoke
