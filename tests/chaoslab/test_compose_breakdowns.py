"""A `replica_failure` on the compose lab, against the in-memory engine of test_docker_lab:
"drop" kills the replica's container and starts it at the repair (as a power loss does to a
rack's), and pausing freezes the container through the engine (its `pause`), never a
signal to a host pid that the chaos container cannot see."""

from __future__ import annotations

import pytest

from mock_services.lab.breakdowns import LabBreakdowns
from tests.chaoslab.test_compose_lab import attached, engine, readied
from tests.chaoslab.test_docker_lab import FakeEngine, posts

__all__ = ["engine", "readied"]  # the fixtures, imported to be used here


def test_a_dropped_replica_is_killed_and_started_through_the_engine(
        engine: FakeEngine, readied: list[list[str]]) -> None:
    lab = attached(engine)
    port = LabBreakdowns(lab)
    port.stop_replica("portal-a", "drop")
    assert posts(engine) == ["POST /containers/c-portal-a/kill?signal=SIGKILL"]
    assert lab.running()["portal-a"] is False and lab.running()["portal-b"] is True
    engine.calls.clear()
    port.start_replica("portal-a", "drop")
    assert posts(engine) == ["POST /containers/c-portal-a/start"]
    assert readied == [["portal-a"]] and lab.running()["portal-a"] is True


@pytest.mark.parametrize("frozen", [True, False])
def test_pausing_freezes_the_container_through_the_engine(engine: FakeEngine,
                                                          frozen: bool) -> None:
    lab = attached(engine)
    (lab.pause if frozen else lab.resume)(["portal-b"])
    assert posts(engine) == [f"POST /containers/c-portal-b/{'pause' if frozen else 'unpause'}"]
