"""The lab refuses bad input before anything starts, with the reason; nothing is left.

The library's side (`start_lab`, the topology); the command line's (`chaoslab lab up|down|
status`: exit codes, messages, the run directory a failed `up` made) is tests/chaoslab/
test_lab.py.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mock_services.lab import procs
from mock_services.lab.supervisor import LabConfig, LabError, up
from mock_services.lab.topology import CLIENT, LabTopology, LabTopologyError, LinkSpec, ServiceSpec


def _nothing_left(run_dir: Path) -> None:
    assert not any(procs.alive(pid) for pid in procs.read_pids(run_dir).values())
    assert not (run_dir / "lab.json").exists()


def test_a_port_in_use_fails_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        topology = LabTopology((ServiceSpec("portal-a", "portal", "r", port),),
                               (LinkSpec(CLIENT, "portal-a", "s"),), ("r",), ("s",))
        with pytest.raises(LabError, match=f"port {port} on 127.0.0.1 is already in use") as e:
            up(LabConfig(tmp_path, topology))
    assert e.value.bad_input
    assert not (tmp_path / "logs").exists()  # not a single process was started
    _nothing_left(tmp_path)


def test_an_unknown_service_is_refused_with_the_reason() -> None:
    with pytest.raises(LabTopologyError, match="unknown kind 'ledger'"):
        LabTopology((ServiceSpec("portal-a", "portal", "r"), ServiceSpec("l", "ledger", "r")),
                    (), ("r",), ("s",))
