"""`lab up` on bad input fails before anything starts, with the reason; nothing is left."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from mock_services.lab import cli, procs
from mock_services.lab.supervisor import LabConfig, LabError, up
from mock_services.lab.topology import CLIENT, LinkSpec, ServiceSpec, Topology, TopologyError


def _nothing_left(run_dir: Path) -> None:
    assert not any(procs.alive(pid) for pid in procs.read_pids(run_dir).values())
    assert not (run_dir / "lab.json").exists()


def test_a_port_in_use_fails_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        topology = Topology((ServiceSpec("portal-a", "portal", "r", port),),
                            (LinkSpec(CLIENT, "portal-a", "s"),), ("r",), ("s",))
        with pytest.raises(LabError, match=f"port {port} on 127.0.0.1 is already in use") as e:
            up(LabConfig(tmp_path, topology))
    assert e.value.bad_input
    assert not (tmp_path / "logs").exists()  # not a single process was started
    _nothing_left(tmp_path)


def test_an_unknown_service_is_refused_with_the_reason() -> None:
    with pytest.raises(TopologyError, match="unknown kind 'ledger'"):
        Topology((ServiceSpec("portal-a", "portal", "r"), ServiceSpec("l", "ledger", "r")),
                 (), ("r",), ("s",))


def test_an_unreachable_external_toxiproxy_is_bad_input(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    monkeypatch.setenv("TOXIPROXY_URL", f"http://127.0.0.1:{dead}")
    code = cli.up(argparse.Namespace(dir=tmp_path, detach=True))
    assert code == 2
    err = capsys.readouterr().err
    assert f"Toxiproxy is unreachable for GET http://127.0.0.1:{dead}/version" in err
    assert "expected a Toxiproxy server at $TOXIPROXY_URL" in err
    assert "Traceback" not in err
    assert not (tmp_path / "logs").exists()
    _nothing_left(tmp_path)


def test_down_and_status_without_a_lab_say_so(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.down(argparse.Namespace(dir=tmp_path)) == 2  # no lab to stop: bad input
    assert cli.status(argparse.Namespace(dir=tmp_path)) == 1
    out = capsys.readouterr()
    assert f"chaoslab: no lab in {tmp_path}; nothing to stop" in out.err
    assert "lab is down" in out.out


def test_down_twice_is_bad_input_the_second_time(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A stopped lab leaves its logs and an empty pids/: nothing is running there."""
    (tmp_path / "pids").mkdir()
    (tmp_path / "logs").mkdir()
    assert cli.down(argparse.Namespace(dir=tmp_path)) == 2
    assert "nothing to stop" in capsys.readouterr().err


def test_a_failed_up_leaves_no_directory_it_made(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    monkeypatch.setenv("TOXIPROXY_URL", f"http://127.0.0.1:{dead}")
    run_dir = tmp_path / "new" / "lab"
    assert cli.up(argparse.Namespace(dir=run_dir, detach=True)) == 2
    assert "Toxiproxy is unreachable" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the run directory nor its parent
    (tmp_path / "mine").mkdir()  # a directory that was there before stays
    assert cli.up(argparse.Namespace(dir=tmp_path / "mine", detach=True)) == 2
    assert (tmp_path / "mine").is_dir()


def test_a_dir_under_a_file_is_one_sentence(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("")
    code = cli.up(argparse.Namespace(dir=tmp_path / "afile" / "lab", detach=True))
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"chaoslab: --dir {tmp_path / 'afile' / 'lab'}: cannot create it (")
    assert "Traceback" not in err


@pytest.mark.parametrize(("text", "says"), [
    ("{not json", "is unreadable"),
    ("[1, 2]", "is not a lab map (a JSON array); expected the JSON object written by 'lab up'"),
])
def test_a_corrupt_lab_map_is_said_by_down_and_status(tmp_path: Path, text: str, says: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lab.json").write_text(text)
    assert cli.status(argparse.Namespace(dir=tmp_path)) == 1
    assert says in capsys.readouterr().out
    assert cli.down(argparse.Namespace(dir=tmp_path)) == 0
    out = capsys.readouterr()
    assert says in out.err and "stopping the processes its pid files name" in out.err
    assert "lab is down (0 processes stopped)" in out.out
