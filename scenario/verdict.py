"""Verdicts and the checker protocol, after Jepsen's checkers.

A checker is a pure function of a history that returns a `Verdict`: valid is True, False or
"unknown". Checkers compose (`compose`), and a checker that raises gives "unknown" with the
error, never a crash of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from scenario.history import History

Validity = bool | Literal["unknown"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of one invariant over one history."""

    name: str
    valid: Validity
    detail: str = ""


Checker = Callable[[History], Verdict]


def safely(name: str, checker: Checker, history: History) -> Verdict:
    """Run a checker; an exception becomes an "unknown" verdict carrying the error."""
    try:
        return checker(history)
    except Exception as exc:  # a broken checker must not crash the run
        return Verdict(name, "unknown", f"checker raised {type(exc).__name__}: {exc}")


def compose(checkers: Sequence[tuple[str, Checker]], history: History) -> list[Verdict]:
    """Run every named checker over the same history."""
    return [safely(name, checker, history) for name, checker in checkers]


def overall(verdicts: Sequence[Verdict]) -> Validity:
    """False if any verdict is false, else unknown if any is unknown, else True."""
    if any(v.valid is False for v in verdicts):
        return False
    if any(v.valid == "unknown" for v in verdicts):
        return "unknown"
    return True
