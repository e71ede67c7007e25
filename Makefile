# make test   - create .venv (when absent), install the pinned stack, run the tests
# make demo   - the end-to-end demo on the embedded dataset
# make stack  - only install the stack
# Use your own environment instead of .venv:  make test PYTHON=python
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
PYTEST_ARGS ?=
# two pytest-xdist workers: the suite is mostly one-core work (model steps, subprocesses)
PYTEST_WORKERS ?= 2

.PHONY: stack test demo bench clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)

# --if-needed: nothing is installed when the environment already matches the pins (its
# stamp, <env>/.stack-stamp, holds the pins' hash and the installed versions, or every pin
# is found satisfied: a fresh clone beside a ready environment, or PYTHON=python with the
# stack there); the install is redone when a pin or an installed version changes.
ifeq ($(PYTHON),$(VENV)/bin/python)
stack: | $(VENV)/bin/python
else
stack:
endif
	PYTHON=$(PYTHON) bash tools/install_stack.sh --if-needed

test: stack
	$(PYTHON) -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS) tests

demo: stack
	$(PYTHON) demo/wsss_demo.py $(DEMO_ARGS)

bench: stack
	$(PYTHON) benchmarks/pseudo_label_pipeline.py

clean:
	rm -rf $(VENV) work_dirs demo_out
