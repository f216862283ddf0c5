"""`chaoslab lab up | down | status` (chaoslab/lab.py), through `main` as a user runs them.

Exit codes and sentences on bad input (2), a failure (1) and a lab that is not up (`status`
1); a failed `up` leaves nothing, not even the run directory it made. The lab's library
refusing bad input is tests/mock_services/lab/test_bad_input.py; a whole lab up, used and
down, tests/mock_services/lab/test_lifecycle.py.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chaoslab import lab
from chaoslab.cli import main
from mock_services.lab import procs
from mock_services.lab.config import LabConfig, LabError
from mock_services.lab.supervisor import Lab


def _lab(command: str, run_dir: Path) -> int:
    """`chaoslab lab COMMAND --dir RUN_DIR` (`up` detached), in this process."""
    return main(["lab", command, *(["--detach"] if command == "up" else []),
                 "--dir", str(run_dir)])


def _unreachable_toxiproxy(monkeypatch: pytest.MonkeyPatch) -> int:
    """Point $TOXIPROXY_URL at a port nobody listens on; returns the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = int(s.getsockname()[1])
    monkeypatch.setenv("TOXIPROXY_URL", f"http://127.0.0.1:{dead}")
    return dead


def _nothing_left(run_dir: Path) -> None:
    assert not any(procs.alive(pid) for pid in procs.read_pids(run_dir).values())
    assert not (run_dir / "lab.json").exists()


def test_an_unreachable_external_toxiproxy_is_bad_input(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    dead = _unreachable_toxiproxy(monkeypatch)
    code = _lab("up", tmp_path)
    assert code == 2
    err = capsys.readouterr().err
    assert f"Toxiproxy is unreachable for GET http://127.0.0.1:{dead}/version" in err
    assert "expected a Toxiproxy server at $TOXIPROXY_URL" in err
    assert "Traceback" not in err
    assert not (tmp_path / "logs").exists()
    _nothing_left(tmp_path)


def test_down_and_status_without_a_lab_say_so(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert _lab("down", tmp_path) == 2  # no lab to stop: bad input
    assert _lab("status", tmp_path) == 1
    out = capsys.readouterr()
    assert f"chaoslab: no lab in {tmp_path}; nothing to stop" in out.err
    assert "lab is down" in out.out


def test_down_twice_is_bad_input_the_second_time(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A stopped lab leaves its logs and an empty pids/: nothing is running there."""
    (tmp_path / "pids").mkdir()
    (tmp_path / "logs").mkdir()
    assert _lab("down", tmp_path) == 2
    assert "nothing to stop" in capsys.readouterr().err


def test_a_failed_up_leaves_no_directory_it_made(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _unreachable_toxiproxy(monkeypatch)
    run_dir = tmp_path / "new" / "lab"
    assert _lab("up", run_dir) == 2
    assert "Toxiproxy is unreachable" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the run directory nor its parent
    (tmp_path / "mine").mkdir()  # a directory that was there before stays
    assert _lab("up", tmp_path / "mine") == 2
    assert (tmp_path / "mine").is_dir()


def test_a_dir_under_a_file_is_one_sentence(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("")
    code = _lab("up", tmp_path / "afile" / "lab")
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
    assert _lab("status", tmp_path) == 1
    assert says in capsys.readouterr().out
    assert _lab("down", tmp_path) == 0
    out = capsys.readouterr()
    assert says in out.err and "stopping the processes its pid files name" in out.err
    assert "lab is down (0 processes stopped)" in out.out


def test_a_lab_that_fails_to_start_exits_1_with_its_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure, not bad input: the lab's sentence (it names the log), exit 1."""
    def failing(config: LabConfig) -> Lab:
        raise LabError(f"portal-a exited before it was ready; see {config.run_dir}/logs")

    monkeypatch.setattr(lab, "start_lab", failing)
    assert _lab("up", tmp_path / "lab") == 1
    assert capsys.readouterr().err == (f"chaoslab: portal-a exited before it was ready; see "
                                       f"{tmp_path / 'lab'}/logs\n")
    assert not (tmp_path / "lab").exists()  # no process left a log: the directory goes
