"""Test-suite configuration: Hypothesis profiles chosen by HYPOTHESIS_PROFILE."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

pytest_plugins = ["chaoslab.pytest_plugin"]  # the chaos fixtures (tests/chaos)

# ci: bounded so `make test` fits its budget; dev: quick local runs; thorough: overnight;
# mutate (`make mutate`): ci's examples without shrinking — a mutant is caught by the first
# failing example, and shrinking it would only spend the run's time.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("mutate", settings.get_profile("ci"),
                          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
                          database=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# `make test` runs the suite in two lanes (Makefile): `--lane cpu` on every core, then
# `--lane live` one test at a time. The live lane is every test outside CPU_DIRS that opens
# sockets to real processes (marked network or chaos): their latencies must not compete with
# other tests for the CPU. Everything else, wherever it lives, runs in the cpu lane.
CPU_DIRS = ("tests/sim/", "tests/scenario/", "tests/policies/")
LIVE_MARKS = ("network", "chaos")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--lane", choices=("cpu", "live"), default=None,
                     help="run only the tests of one lane of `make test` (tests/conftest.py)")


def _lane(item: pytest.Item) -> str:
    if item.nodeid.startswith(CPU_DIRS):
        return "cpu"
    return "live" if any(item.get_closest_marker(m) for m in LIVE_MARKS) else "cpu"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    lane = config.getoption("--lane")
    if lane is None:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (keep if _lane(item) == lane else drop).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep
