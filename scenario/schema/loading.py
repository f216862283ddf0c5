"""Reading scenario files: every problem of a file at once, or its model.

`check_file` finds every problem (`chaoslab validate`); `load_scenario` returns the model or
raises `ScenarioError` with the first problem's sentence (what every run command shows),
saying how many more there are.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from scenario.schema.fields import NAME
from scenario.schema.problems import Problem, ScenarioError, problems_of
from scenario.schema.root import Scenario, cross_problems

_PLACEHOLDER = "unnamed"  # stands in for a name the file lacks, so the rest is still checked


def read_table(path: Path) -> dict[str, Any]:
    """The TOML table of a scenario file; `ScenarioError` when it cannot be read as one."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ScenarioError(
            f"{path}: cannot read ({exc.strerror}); expected a scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc}); expected a scenario file") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                            f"offset {exc.start}); expected a scenario file in UTF-8 TOML"
                            ) from None


def check_table(path: Path, data: dict[str, Any]) -> tuple[Scenario | None, list[Problem]]:
    """The scenario of a file's table, or None and every problem found in it."""
    found: list[Problem] = []
    data = dict(data)
    if "name" not in data:
        if not NAME.match(path.stem):
            found.append(Problem(
                "name", "name = letters, digits, '_', '-' and '.', not starting with '.'",
                what=f"is missing and the file's name {path.stem!r} is not a plain name"))
        data["name"] = path.stem if not found else _PLACEHOLDER
    if "time_scale" in data:
        found.append(Problem("time_scale", "--speed to compress a scenario's time",
                             what="is not allowed"))
        del data["time_scale"]
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        found += problems_of(exc)
        if any(err["loc"] for err in exc.errors()):  # a section failed: the checks across
            found += cross_problems(_valid_sections(data))  # sections did not run; run them
        return None, found
    return (None, found) if found else (scenario, [])


def check_file(path: Path) -> list[Problem]:
    """Every problem of a scenario file (an unreadable file raises `ScenarioError`)."""
    return check_table(path, read_table(path))[1]


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file; raise `ScenarioError` with one sentence."""
    scenario, found = check_table(path, read_table(path))
    if scenario is None:
        more = len(found) - 1
        tail = f" (and {more} more: `chaoslab validate {path}` lists every one)" if more else ""
        raise ScenarioError(f"{path}: {found[0].sentence()}{tail}", tuple(found))
    return scenario


def _valid_sections(data: dict[str, Any]) -> dict[str, Any]:
    """The sections of `data` that validate on their own (defaults for those left out)."""
    out: dict[str, Any] = {}
    for name, field in Scenario.model_fields.items():
        if name not in data:
            if not field.is_required():
                out[name] = field.get_default(call_default_factory=True)
            continue
        try:
            out[name] = _adapter(name).validate_python(data[name])
        except ValidationError:
            continue
    return out


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(Scenario.model_fields[name].rebuild_annotation())


def find_scenario(name_or_path: str, directory: Path) -> Path:
    """A scenario name ("year_end_peak") in `directory`, or a path to a .toml file."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        return path
    candidate = directory / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(p.stem for p in directory.glob("*.toml")))
    raise ScenarioError(f"scenario {name_or_path!r} not found in {directory}; expected one of "
                        f"{known or '(none)'} or a .toml path")
