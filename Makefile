# The two commands of the README: `make demo` and `make test`; and `make compose-test`, the
# docker-compose lab run for real (deploy/compose-test/run.sh: installs the engine, as root).
# Each creates .venv when missing and installs the project into it; the stamp file makes
# that step a no-op until pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HYPOTHESIS_PROFILE ?= ci

.PHONY: demo test lint typecheck pytest bench clean compose-test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m chaoslab.demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two passes: the CPU-only tests (no socket timing, no lab) on every core, then the rest one
# at a time, because the live tests' latencies must not compete with other tests for the CPU.
# A --junitxml=X.xml in PYTEST_ARGS gets X-cpu.xml for the first pass, X.xml for the second.
CPU_TESTS := tests/sim tests/scenario tests/policies
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

pytest: $(STAMP)
	$(PYTEST) -n auto $(CPU_TESTS) $(PYTEST_ARGS:.xml=-cpu.xml)
	$(PYTEST) $(addprefix --ignore=,$(CPU_TESTS)) $(PYTEST_ARGS)

compose-test: $(STAMP)
	@PYTHON=$(BIN)/python bash deploy/compose-test/run.sh

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .mypy_cache .ruff_cache
