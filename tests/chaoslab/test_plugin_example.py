"""The plugin for other projects: `examples/third_party` runs as a project of its own, from
another working directory, importing only `chaoslab.testing`, and leaves nothing in the
caller's working directory (its outputs go under pytest's --basetemp and the configured
`chaoslab_junit_xml`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import chaoslab.testing as testing
from faults import catalog
from mock_services.seed import demo_population

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "third_party"


def test_testing_exports_the_catalog_and_the_labs_accounts() -> None:
    assert testing.SwitchFailure is catalog.SwitchFailure
    assert testing.demo_accounts() == demo_population()
    missing = [name for name in testing.__all__ if not hasattr(testing, name)]
    assert missing == []


def test_the_example_imports_nothing_but_chaoslab() -> None:
    """A third party names no top-level package of ours but `chaoslab`."""
    for path in EXAMPLE.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(("import ", "from ")):
                module = line.split()[1].split(".")[0]
                assert module not in {"faults", "mock_services", "scenario", "policies",
                                      "sim"}, f"{path.name}: {line}"


@pytest.mark.chaos
def test_the_example_runs_from_another_directory_and_writes_there_nothing(
        tmp_path: Path) -> None:
    caller = tmp_path / "caller"
    caller.mkdir()
    junit = tmp_path / "reports" / "chaos.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLE), "-m", "chaos", "-q",
         "--basetemp", str(tmp_path / "basetemp"), "-o", f"chaoslab_junit_xml={junit}"],
        cwd=caller, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    assert list(caller.iterdir()) == []  # no runs/, no junit.xml in the caller's directory
    assert junit.exists()  # where it was configured
    assert any((tmp_path / "basetemp").glob("lab-*"))  # the lab ran under pytest's temp dir
