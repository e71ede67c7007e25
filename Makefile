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

# The stamp makes a second `make test` skip the install; it is redone when a pin changes.
$(VENV)/.stack-stamp: requirements/stack.txt requirements/tests.txt tools/install_stack.sh | $(VENV)/bin/python
	PYTHON=$(PYTHON) bash tools/install_stack.sh
	touch $@

ifeq ($(PYTHON),$(VENV)/bin/python)
stack: $(VENV)/.stack-stamp
else
stack:
	PYTHON=$(PYTHON) bash tools/install_stack.sh
endif

test: stack
	$(PYTHON) -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS) tests

demo: stack
	$(PYTHON) demo/wsss_demo.py $(DEMO_ARGS)

bench: stack
	$(PYTHON) benchmarks/pseudo_label_pipeline.py

clean:
	rm -rf $(VENV) work_dirs demo_out
