"""The CLI surface: help, version, scenarios, validation and not-yet-landed subcommands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaoslab import __version__
from chaoslab.cli import HANDLERS, list_scenarios, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"chaoslab {__version__}"


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("scenarios", "sim", "proxy", "lab", "report"):
        assert command in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: chaoslab" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["sim", "x", "--seeds", "0"], "expected a whole number >= 1"),
        (["sim", "x", "--executor", "dask://nohost"], "expected 'local' or 'dask://HOST:PORT'"),
        (["proxy", "--port", "70000"], "expected a port 0..65535"),
        (["lab", "run", "x", "--speed", "-1"], "expected a finite number > 0"),
    ],
)
def test_bad_flags_exit_2_with_one_sentence(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err


def test_scenarios_lists_name_and_description(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text('description = "second"\n')
    (tmp_path / "a.toml").write_text('description = """first line\nmore"""\n')
    assert list_scenarios(tmp_path) == [("a", "first line"), ("b", "second")]


def test_scenarios_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios"]) == 0
    assert capsys.readouterr().out.strip()


def test_every_handler_is_either_landed_or_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """A subcommand either resolves to a callable or exits 2 naming its issue: no fake output."""
    import importlib

    for command, (module, func, issue) in HANDLERS.items():
        try:
            handler = getattr(importlib.import_module(module), func)
        except ModuleNotFoundError:
            argv = {"sim": ["sim", "s"], "proxy": ["proxy"], "report": ["report", "d"],
                    "lab run": ["lab", "run", "s"]}.get(command, command.split())
            assert main(argv) == 2, command
            assert issue in capsys.readouterr().err
        else:
            assert callable(handler), command


def test_every_handler_is_in_chaoslab() -> None:
    """ARCHITECTURE.md: the command line is chaoslab/'s; the layers below are its libraries."""
    assert {c: m for c, (m, _, _) in HANDLERS.items() if not m.startswith("chaoslab.")} == {}


def test_console_script_entry_point_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "chaoslab", "--version"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0
    assert proc.stdout.startswith("chaoslab ")


def test_a_reader_that_leaves_early_is_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already exited: every write is EPIPE
    with os.fdopen(write_end, "w") as gone:
        monkeypatch.setattr(sys, "stdout", gone)
        assert main(["scenarios"]) == 1
