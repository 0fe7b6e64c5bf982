# Developer entry points. `make test` and `make example` work on a fresh
# machine: they create .venv and install what they need first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; set TORCH_SPEC to another requirement for a GPU build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup test test-fast example example-local docker bench clean

# editable_mode=compat puts a plain path in a .pth file; the default editable
# finder is a module imported at every interpreter start (12-18 ms of each
# `repro` command here).
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet '$(TORCH_SPEC)'
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $@

setup: $(VENV)/.installed

test: setup
	$(PY) -m pytest -ra

test-fast: setup
	$(PY) -m pytest -ra -m 'not slow and not docker'

docker: setup
	scripts/docker-up

# The main job: the VPG example under `repro run`, in its pinned container.
example: docker
	$(VENV)/bin/repro run examples/cartpole_vpg.py --seed 0

# The same launcher without a container (the library alone).
example-local: setup
	$(PY) examples/cartpole_vpg.py --seed 0

bench: docker
	$(PY) bench/all.py --write docs/BENCHMARKS.md

clean:
	rm -rf $(VENV) data .pytest_cache *.egg-info
