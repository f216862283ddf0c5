"""The scenario file reference (docs/scenarios.md), generated so that it cannot lie.

Every table comes from the code: the schema's models (each field's name, type, default and
docstring), the fault catalog's dataclasses and the invariant registry's threshold models.
tests/scenario/test_docs.py fails when the file differs from what this module writes;
regenerate it with

    python -m scenario.docs > docs/scenarios.md
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import AfterValidator, BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from faults.catalog import FAULT_TYPES, RawToxic
from faults.toxics import ToxicSpec
from scenario.checkers.params import parse_duration_s
from scenario.invariants import REGISTRY
from scenario.schema import Scenario
from scenario.schema.distributions import Dist
from scenario.schema.fields import (
    check_name,
    check_start,
    parse_duration,
    parse_positive_duration,
    parse_time_of_day,
    time_of_day_text,
)

COMMAND = "python -m scenario.docs > docs/scenarios.md"
LONG = 60  # a default longer than this goes below its table, as TOML
_UNITS = (("d", 86_400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 0.001))
_VALIDATED: dict[object, str] = {
    parse_duration: "duration", parse_positive_duration: "duration > 0",
    parse_time_of_day: '"HH:MM"',
    parse_duration_s: "seconds, or a duration", check_start: '"YYYY-MM-DDTHH:MM" (Solar Hijri)',
    check_name: "letters, digits, `_`, `-`, `.`"}
_FILE_DEFAULTS: dict[tuple[type[BaseModel], str], str] = {
    (Scenario, "name"): "the file's name"}  # what loading fills in
_SCALARS = {str: "text", int: "integer", float: "number", bool: "boolean"}

HEAD = f"""# Scenario file reference

Generated from the code by `{COMMAND}`: the schema's models
(`scenario/schema/`), the fault catalog (`faults/catalog.py`) and the invariant registry
(`scenario/invariants.py`); `tests/scenario/test_docs.py` fails when this file drifts from
them. The rules that span sections are in `scenarios/README.md`.

Start a scenario from a shipped one with `chaoslab new NAME --from switch_failure`, and check
it with `chaoslab validate FILE`, which lists every problem at once (file, key, expected).

Values: a *duration* carries a unit (`"300ms"`, `"90s"`, `"20m"`, `"2h"`, `"1d"`, `"1h30m"`,
at most `"400d"`); `"HH:MM"` is a time of day; a *distribution* is a table with a `dist` key
(below). No number may be `inf` or `nan`. A key the schema does not have is an error.
"""


def main() -> int:
    """Print the reference."""
    sys.stdout.write(render())
    return 0


def render() -> str:
    """The whole of docs/scenarios.md."""
    parts = [HEAD, "## Sections\n"]
    parts += [_table(title, model, note) for title, model, note in _sections()]
    parts += ["## Distributions\n", *_distributions()]
    parts += ["## Fault kinds\n", _FAULTS_NOTE, *_fault_kinds()]
    parts += ["## Invariants\n", _INVARIANTS_NOTE, *_invariants()]
    return "\n".join(parts)


_FAULTS_NOTE = """Each `[[faults]]` table has `kind`, `start` and `duration`, and the kind's fields
beside them; a field with no default must be given. A `link` is `client-REPLICA` or
`REPLICA-UPSTREAM` (`portal-a-sms`); a `switch`, `rack` or `replica` a name of the topology.
"""
_INVARIANTS_NOTE = """`[invariants]` names the invariants a run checks, each with its
thresholds, e.g. `login_p99 = { slo_ms = 2500 }`; `{}` takes every default. A threshold in
seconds also takes a duration (`"90s"`).
"""


# -- the schema's sections -------------------------------------------------------------------

def _sections() -> Iterator[tuple[str, type[BaseModel], str]]:
    """Every model of the schema under its TOML header, from the top down."""
    yield "top level", Scenario, ""
    yield from _below(Scenario, "")


def _below(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, type[BaseModel], str]]:
    for name, field in model.model_fields.items():
        sub, header = _section_of(field.annotation, f"{prefix}{name}")
        if sub is not None:
            yield header, sub, (sub.__doc__ or "").strip()
            yield from _below(sub, header.strip("[]") + ".")


def _section_of(annotation: Any, key: str) -> tuple[type[BaseModel] | None, str]:
    """The model a field opens (a table, an array of tables, a table of tables) and its header."""
    ann = _plain(annotation)
    origin, args = get_origin(ann), get_args(ann)
    if _is_model(ann):
        return ann, f"[{key}]"
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if _is_model(a)]
        return (models[0], f"[{key}]") if len(models) == 1 and len(args) == 2 else (None, "")
    if origin is list and args and _is_model(_plain(args[0])):
        return _plain(args[0]), f"[[{key}]]"
    if origin is dict and _is_model(_plain(args[1])):
        label = "KIND" if get_origin(_plain(args[0])) is Literal else "NAME"
        return _plain(args[1]), f"[{key}.{label}]"
    return None, ""


def _table(title: str, model: type[BaseModel], note: str) -> str:
    lines = [f"### {title}\n"]
    if note:
        lines.append(_paragraph(note) + "\n")
    lines += ["| key | type | default | what |", "|---|---|---|---|"]
    below: list[str] = []
    for name, field in model.model_fields.items():
        default = _FILE_DEFAULTS.get((model, name)) or _default_text(field)
        if isinstance(field.get_default(call_default_factory=True), BaseModel):
            default = "its own defaults"  # a section, whose table follows
        elif len(default) > LONG:
            below += [f"`{name}` defaults to:", "", "```toml",
                      *_block(title.strip("[]"), name, field), "```", ""]
            default = "(below)"
        lines.append(f"| `{name}` | {_cell(_type_text(field.annotation, field.metadata))} | "
                     f"{_cell(default)} | {_cell(_paragraph(field.description or ''))} |")
    return "\n".join([*lines, "", *below])


def _block(section: str, name: str, field: FieldInfo) -> list[str]:
    """A long default as TOML lines: a table of tables under its header, an array by row."""
    value = field.get_default(call_default_factory=True)
    inner = get_args(_plain(field.annotation))
    if isinstance(value, dict):
        return [f"[{section}.{name}]", *(f"{_key(k)} = {_toml(v, inner[1])}"
                                         for k, v in value.items())]
    if isinstance(value, list):
        return [f"{name} = [", *(f"  {_toml(v, inner[0])}," for v in value), "]"]
    return [f"{name} = {_toml(value, field.annotation, field.metadata)}"]


def _distributions() -> Iterator[str]:
    for model in get_args(get_args(Dist)[0]):
        tag = get_args(model.model_fields["dist"].annotation)[0]
        fields = ", ".join(f"`{n}` ({_type_text(f.annotation, f.metadata)}"
                           f"{'' if f.is_required() else ', default ' + _default_text(f)})"
                           for n, f in model.model_fields.items() if n != "dist")
        yield f"- `dist = \"{tag}\"`: {fields}. {_paragraph(model.__doc__ or '')}"
    yield ""


# -- the fault catalog and the invariant registry ---------------------------------------------

def _fault_kinds() -> Iterator[str]:
    for kind, cls in FAULT_TYPES.items():
        yield f"### `{kind}`\n\n{_paragraph(_first(cls.__doc__))}\n"
        yield "| field | type | default |\n|---|---|---|"
        for name, hint, default in _fault_fields(cls):
            yield f"| `{name}` | {_cell(_type_text(hint, []))} | {_cell(default)} |"
        yield ""


def _fault_fields(cls: type) -> Iterator[tuple[str, Any, str]]:
    if cls is RawToxic:  # its record spells the toxic out (faults/records.py)
        yield "link", str, "required"
        cls = ToxicSpec
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "attributes" and cls is ToxicSpec:
            yield f.name, dict[str, int], "{}"
            continue
        default = "required" if f.default is dataclasses.MISSING else _toml(f.default, Any)
        yield f.name, hints[f.name], default


def _invariants() -> Iterator[str]:
    for name, entry in REGISTRY.items():
        summary = entry.summary[:1].upper() + entry.summary[1:]
        yield f"### `{name}`\n\n{summary}. {_paragraph(entry.params.__doc__ or '')}\n"
        if not entry.params.model_fields:
            yield "No thresholds.\n"
            continue
        yield "| threshold | type | default |\n|---|---|---|"
        for key, field in entry.params.model_fields.items():
            yield (f"| `{key}` | {_cell(_type_text(field.annotation, field.metadata))} | "
                   f"{_cell(_default_text(field))} |")
        yield ""


# -- types and values as a scenario's author writes them ---------------------------------------

def _plain(annotation: Any) -> Any:
    """`annotation` without its `Annotated` wrapper."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _type_text(annotation: Any, metadata: list[Any]) -> str:
    """"duration > 0", "array of text", "table of number", "\"flat\" or \"office\""..."""
    if get_origin(annotation) is Annotated:
        inner, *more = get_args(annotation)
        return _type_text(inner, [*metadata, *more])
    for item in metadata:
        if isinstance(item, BeforeValidator | AfterValidator) and item.func in _VALIDATED:
            return _VALIDATED[item.func]
    return _base_text(annotation) + _bounds(metadata)


def _base_text(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " or ".join(f'"{a}"' for a in args)
    if origin in (typing.Union, types.UnionType):
        if all(_is_model(a) and "dist" in a.model_fields for a in args):
            return "distribution"
        rest = [a for a in args if a is not type(None)]
        text = " or ".join(_type_text(a, []) for a in rest)
        return f"{text} or none" if len(rest) < len(args) else text
    if origin in (list, tuple):
        return f"array of {_plural(_type_text(args[0], []))}"
    if origin is dict:
        return f"table of {_plural(_type_text(args[1], []))}"
    if _is_model(annotation):
        return "table"
    return _SCALARS.get(annotation, "any")


def _plural(text: str) -> str:
    """"tables" for a table of tables ("table of table of any" says too much)."""
    return "tables" if text.startswith("table") else text


def _bounds(metadata: list[Any]) -> str:
    found = [m for item in metadata for m in ([item, *getattr(item, "metadata", [])])]
    signs = {Ge: (">=", "ge"), Gt: (">", "gt"), Le: ("<=", "le"), Lt: ("<", "lt")}
    return ",".join(f" {sign} {getattr(m, attr):g}" for m in found
                    for kind, (sign, attr) in signs.items() if isinstance(m, kind))


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    return _toml(field.get_default(call_default_factory=True), field.annotation, field.metadata)


def _toml(value: Any, annotation: Any, metadata: list[Any] | None = None) -> str:
    """`value` as a scenario file would write it (durations with units, times of day as "HH:MM")."""
    kind = _type_text(annotation, metadata or []) if annotation is not Any else ""
    if value is None:
        return "none"
    if isinstance(value, float) and kind.startswith("duration"):
        return f'"{_duration(value)}"'
    if isinstance(value, float) and kind == '"HH:MM"':
        return f'"{time_of_day_text(value)}"'
    if isinstance(value, BaseModel):
        return _inline({n: (getattr(value, n), f.annotation, f.metadata)
                        for n, f in type(value).model_fields.items()})
    if isinstance(value, dict):
        inner = get_args(_plain(annotation))[1] if get_args(_plain(annotation)) else Any
        return _inline({k: (v, inner, []) for k, v in value.items()})
    if isinstance(value, list | tuple):
        inner = get_args(_plain(annotation))[0] if get_args(_plain(annotation)) else Any
        return "[" + ", ".join(_toml(v, inner) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def _inline(items: dict[str, tuple[Any, Any, list[Any]]]) -> str:
    if not items:
        return "{}"
    return "{ " + ", ".join(f"{_key(k)} = {_toml(v, a, m)}" for k, (v, a, m) in items.items()
                            ) + " }"


def _key(name: str) -> str:
    return name if name.replace("_", "").isalnum() else f'"{name}"'


def _duration(seconds: float) -> str:
    """The shortest way to write `seconds` with one unit ("15m", "1500ms")."""
    for unit, size in _UNITS:
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _first(doc: str | None) -> str:
    return (doc or "").strip().split("\n\n")[0]


def _paragraph(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


if __name__ == "__main__":
    sys.exit(main())
