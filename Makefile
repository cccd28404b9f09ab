# pnn_jax: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Extra arguments, e.g. `make run ARGS="train.steps=500"` or `make test ARGS="-k freezing"`.
ARGS   ?=

.PHONY: venv run test test-all lint docs bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml scripts/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pnn_jax needs Python >= 3.11; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c scripts/constraints.txt -e '.[dev]'
	@touch $(STAMP)

## Main job: the PathNet thesis study S+S vs P+S (experiment thesis_first_path, preset quick).
run: venv
	$(VENV)/bin/pnn-jax run experiment=thesis_first_path $(ARGS)

## Fast tests (CPU, minutes). `slow` tests are skipped here. loadgroup: the tests of a file that share
## a module-scoped reference run (marked xdist_group) go to one worker, so the run is made once.
test: venv
	$(PY) -m pytest -q -m "not slow" -n 2 --dist loadgroup $(ARGS)

## All tests, including the slow ones.
test-all: venv
	$(PY) -m pytest -q -n 2 --dist loadgroup $(ARGS)

lint: venv
	$(VENV)/bin/ruff check pnn_jax tests benchmarks experiments scripts
	$(VENV)/bin/ruff format --check pnn_jax tests benchmarks experiments scripts

## The documentation site (mkdocs-material, API and configuration reference from the docstrings) into
## site/; --strict: a broken link or anchor fails the build. `make test` runs the same build.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

## Benchmarks (benchmarks/run_all.py): each prints its table and appends it to benchmarks/RESULTS.md
## and its figures to benchmarks/results.jsonl; then the README's figures are regenerated.
## ARGS="--only bench_sweep" runs some of them; ARGS="--quick" uses tiny sizes (nothing shown).
bench: venv
	$(PY) benchmarks/run_all.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs site
