"""The client programs' common ending: an exit code, one line for bad input or Ctrl-C."""

from __future__ import annotations

import pytest

from mock_services.lab.clients.program import run_program


async def _returns(code: int) -> int:
    return code


async def _raises(exc: BaseException) -> int:
    raise exc


def test_the_coroutine_s_code_is_the_exit_code() -> None:
    assert run_program("prog", _returns(1), bad_input=(ValueError,)) == 1


@pytest.mark.parametrize(("exc", "code", "line"), [
    (ValueError("no --rate given"), 2, "prog: no --rate given\n"),
    (KeyboardInterrupt(), 130, "prog: interrupted\n"),
])
def test_bad_input_and_ctrl_c_are_one_line(exc: BaseException, code: int, line: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run_program("prog", _raises(exc), bad_input=(ValueError,)) == code
    assert capsys.readouterr().err == line


def test_anything_else_is_not_hidden() -> None:
    with pytest.raises(RuntimeError):
        run_program("prog", _raises(RuntimeError("a bug")), bad_input=(ValueError,))
