"""`lab run` turns a fault the lab could not apply or heal into one sentence, not a traceback:
exit 1 for a lab that failed, 2 for a fault the scenario got wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import chaoslab.live.cli as live_cli
from chaoslab.cli import main
from faults.errors import FaultError, SupervisorError, UnknownTarget


@pytest.mark.parametrize(("error", "code"), [
    (SupervisorError("rack-a: portal-a did not come back within 20 s"), 1),
    (UnknownTarget("replica_failure: replica 'portal-z' is not in the topology"), 2),
])
def test_a_fault_error_is_one_sentence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str], error: FaultError,
                                       code: int) -> None:
    def failing_play(*_args: Any, **_kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(live_cli, "_play", failing_play)
    assert main(["lab", "run", "switch_failure", "--new-lab", "--out",
                 str(tmp_path / "out")]) == code
    err = capsys.readouterr().err
    assert f"chaoslab: {error}" in err and "Traceback" not in err
