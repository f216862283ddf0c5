"""A pytest plugin: one real lab for a whole test session, always torn down.

Use it from a conftest with `pytest_plugins = ["mock_services.lab.testing"]` (root conftest)
or by importing the fixtures. `lab` starts the default topology once per session in a
temporary run directory (real processes, real sockets, the embedded Toxiproxy unless
TOXIPROXY_URL is set); `healthy_lab` hands it to a test after resetting it (every process up
and ready, no toxics, every proxy enabled). Teardown runs as the fixture's finalizer, with
`atexit` as a backstop should the session die before finalizers run.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mock_services.lab.operations import LabSupervisor
from mock_services.lab.supervisor import Lab, LabConfig, up
from policies.presets import DEFAULT_PRESET

READY_TIMEOUT_S = 30.0  # generous: a loaded 2-core CI machine starts six uvicorns slowly


@contextmanager
def running_lab(run_dir: Path, policies: str = DEFAULT_PRESET) -> Iterator[Lab]:
    """A lab in `run_dir` for the duration of the block; torn down whatever happens."""
    started = up(LabConfig(run_dir, policies=policies, ready_timeout_s=READY_TIMEOUT_S))
    atexit.register(started.down)
    try:
        yield started
    finally:
        started.down()
        atexit.unregister(started.down)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The running lab of this test session."""
    with running_lab(tmp_path_factory.mktemp("lab")) as started:
        yield started


@pytest.fixture
def healthy_lab(lab: Lab) -> Lab:
    """The session's lab, reset to healthy before the test."""
    lab.reset()
    return lab


@pytest.fixture
def lab_supervisor(healthy_lab: Lab) -> LabSupervisor:
    """The faults' supervisor interface on the healthy lab."""
    return LabSupervisor(healthy_lab)
