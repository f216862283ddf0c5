# The two commands of the README: `make demo` and `make test`; and `make compose-test`, the
# docker-compose lab run for real (deploy/compose-test/run.sh: installs the engine, as root).
# Each creates .venv when missing and installs the project into it, and PyPy for the
# simulator's workers into .venv/pypy (deploy/pypy/install.sh; on failure the simulator runs
# on CPython); the stamp file makes that step a no-op until either file changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HYPOTHESIS_PROFILE ?= ci

.PHONY: demo test lint typecheck pytest bench clean compose-test mutate

$(STAMP): pyproject.toml deploy/pypy/install.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@bash deploy/pypy/install.sh $(VENV) || echo "make: PyPy was not installed (above);" \
	  "chaoslab sim simulates on CPython, about 2.5x slower"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m chaoslab.demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two lanes (tests/conftest.py): every test that needs no real process's timing on every core,
# then the live tests (real processes and sockets, outside tests/sim, scenario and policies)
# one at a time, because their latencies must not compete with other tests for the CPU.
# A --junitxml=X.xml in PYTEST_ARGS gets X-cpu.xml for the first lane, X.xml for the second.
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

pytest: $(STAMP)
	$(PYTEST) -n auto --lane cpu $(PYTEST_ARGS:.xml=-cpu.xml)
	$(PYTEST) --lane live $(PYTEST_ARGS)

compose-test: $(STAMP)
	@PYTHON=$(BIN)/python bash deploy/compose-test/run.sh

# Mutation testing of policies/, scenario/checkers/ and the proxy's toxics ([tool.mutmut] in
# pyproject.toml); a fresh run each time, about 11 minutes on two cores. Not part of `make test`.
# The table it prints is the one MUTATION.md keeps; mutants/survivors.md has every survivor's diff.
mutate: $(STAMP)
	rm -rf mutants
	HYPOTHESIS_PROFILE=mutate $(BIN)/mutmut run --max-children $(or $(MUTATE_CHILDREN),$(shell nproc)) >/dev/null 2>mutants.log || { tail -20 mutants.log; exit 1; }
	$(BIN)/python benchmarks/mutation_report.py

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .mypy_cache .ruff_cache mutants mutants.log
