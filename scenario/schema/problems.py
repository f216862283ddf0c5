"""What is wrong with a scenario, as data: `Problem`s, raised together and read back as such.

A `Problem` names a key, what was expected there and what the file has. The models' own
checks raise `invalid(*problems)`, a pydantic error of type `PROBLEMS` that carries them as
objects (keys relative to the model that found them), so nothing is ever encoded into a
string and parsed back; `problems_of` turns a whole `ValidationError` (pydantic's own errors
and ours) into problems with keys from the top of the file. `ScenarioError` is the exception
the CLI shows: the first problem's sentence, with every problem attached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from scenario.errors import BadInput

PROBLEMS = "scenario_problems"  # the pydantic error type that carries `Problem`s
DIST_NAMES = ("deterministic", "empirical", "exponential", "lognormal", "uniform")
TOP = "(top level)"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a scenario: its key, what was expected there, what the file has.

    `what` says what is wrong when it is more than "not as expected" ("is missing"); `said`
    is a whole sentence another module wrote (the fault catalog's), shown as it is."""

    key: str
    expected: str = ""
    got: str = ""
    what: str = ""
    said: str = ""

    def under(self, prefix: str) -> Problem:
        """This problem with its key below `prefix` (the key of the model that found it)."""
        if not prefix or prefix == TOP:
            return self if self.key else Problem(TOP, self.expected, self.got, self.what,
                                                 self.said)
        key = prefix + ("" if not self.key else self.key if self.key.startswith("[")
                        else f".{self.key}")
        return Problem(key, self.expected, self.got, self.what, self.said)

    def sentence(self) -> str:
        """"key K: expected E, got G" (or "key K is missing; expected E"): one sentence."""
        if self.said:
            return f"key {self.key}: {self.said}"
        if self.what:
            return f"key {self.key} {self.what}; expected {self.expected}"
        got = f", got {self.got}" if self.got else ""
        return f"key {self.key}: expected {self.expected}{got}"


class ScenarioError(BadInput):
    """A scenario file that cannot be read or does not match the schema (exit 2).

    Its message is one sentence (the first problem's); `problems` holds every one found."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


def invalid(*problems: Problem) -> PydanticCustomError:
    """The error a model's own check raises with every problem it found."""
    text = "; ".join(p.sentence() for p in problems)
    return PydanticCustomError(PROBLEMS, "{text}", {"text": text, "problems": problems})


def nonfinite(value: object, key: str) -> list[Problem]:
    """A problem for each inf or nan inside a free-form table (policies, invariants, fault
    records), which the typed fields cannot see."""
    if isinstance(value, float) and not math.isfinite(value):
        return [Problem(key, "a finite number", repr(value))]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nonfinite(v, f"{key}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in nonfinite(v, f"{key}[{i}]")]
    return []


def where(loc: tuple[int | str, ...]) -> str:
    """A key path ("workload.kinds.login.service") from a pydantic location, without the
    tags of tagged unions and validator wrappers."""
    out = ""
    for p in (str(p) for p in loc if not (isinstance(p, str) and (
            p in DIST_NAMES or p.startswith("function-after[")))):
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or TOP


def problems_of(exc: ValidationError) -> list[Problem]:
    """Every problem of a failed validation, in pydantic's order (the file's field order)."""
    return [p for err in exc.errors(include_url=False) for p in _problems(err)]


def _problems(err: ErrorDetails) -> list[Problem]:
    key = where(err["loc"])
    kind = err["type"]
    if kind == PROBLEMS:
        found: tuple[Problem, ...] = err.get("ctx", {})["problems"]
        return [p.under(key) for p in found]
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    got = repr(err.get("input"))
    if kind == "extra_forbidden":
        return [Problem(key, "one of the schema's keys", what="is not allowed")]
    if kind == "missing":
        return [Problem(key, "it to be given", what="is missing")]
    if kind == "literal_error":
        return [Problem(key, msg, got)]
    if kind == "union_tag_invalid":
        return [Problem(key, f"dist = one of {', '.join(DIST_NAMES)}")]
    return [Problem(key, msg[0].lower() + msg[1:], "" if kind.startswith("value_error")
                    else got)]

