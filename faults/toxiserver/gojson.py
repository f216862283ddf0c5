"""Request bodies read the way Go's encoding/json reads them, and JSON written the Go way.

What clients of the real server rely on: the first JSON value of the body is decoded and the
rest ignored; keys match struct fields exactly or case-insensitively (the last one wins);
`null` leaves a field as it was; unknown keys are ignored; a wrong type is an error. Messages
follow Go's (`EOF`, `unexpected EOF`, `json: cannot unmarshal string into ...`): Python's
decoder reads the body and `goscan` names the syntax error when it refuses one; numbers keep
their text, which Go quotes when a number does not fit an integer or float field.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import struct
from typing import Any

from faults.toxiserver.goscan import syntax_error

# a field's Go type; "struct:NAME" is a struct of that name whose fields a body cannot set
# (zerolog.Logger, toxics.NoopToxic) or that is decoded apart (a toxic's attributes)
Kind = str
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class BodyError(Exception):
    """A body Go's decoder would reject; the message follows `bad request body: `."""


class _Constant(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


class _Int(int):
    """An integer that remembers how the body wrote it."""

    text: str


class _Float(float):
    """A number with a fraction or exponent that remembers how the body wrote it."""

    text: str


def _number(cls: type[_Int] | type[_Float]) -> Any:
    def parse(text: str) -> _Int | _Float:
        number = cls(text)
        number.text = text
        return number
    return parse


class _Object(dict[str, Any]):
    """An object that keeps every key as written, repeats included, for Go's field-by-field
    decoding (a repeated key is decoded, and can fail, each time)."""

    pairs: list[tuple[str, Any]]


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: Any) -> Any:
    """A lone surrogate escape (`"\\ud800"`) decodes in Go as U+FFFD."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def _go_replace(exc: UnicodeError) -> tuple[str, int]:
    """Go replaces each byte of invalid UTF-8 with U+FFFD (Python: each maximal subpart)."""
    assert isinstance(exc, UnicodeDecodeError)
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("go-replace", _go_replace)


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    pairs = [(_text(key), _text(value)) for key, value in pairs]
    obj = _Object(pairs)
    obj.pairs = pairs
    return obj


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_number(_Int),
                            parse_float=_number(_Float), object_pairs_hook=_object)


def decode(body: bytes) -> Any:
    """The first JSON value of `body`; BodyError with Go's message otherwise."""
    text = body.decode("utf-8", errors="go-replace").lstrip(" \t\r\n")
    try:
        value, _ = _DECODER.raw_decode(text)
    except (_Constant, json.JSONDecodeError, RecursionError):
        # Go's scanner accepts nesting up to 10,000 deep, Python's decoder about 1,000: the one
        # body Go takes that we refuse (named in faults/README.md)
        raise BodyError(syntax_error(body) or "exceeded max depth") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Python stops a number at its longest valid prefix ("7e" is 7); Go reads on
        problem = syntax_error(body)
        if problem is not None:
            raise BodyError(problem)
    return value


def json_kind(value: Any, numeric: bool = False) -> str:
    """Go's name for the JSON type of `value` in unmarshal errors; a number is quoted from
    the body when it failed to fit a `numeric` (integer or float) field."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        text = getattr(value, "text", None) or repr(value)
        return f"number {text}" if numeric else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_GO_TYPES = {"string": "string", "bool": "bool", "int64": "int64", "int": "int",
             "float32": "float32", "object": "map[string]interface {}"}


def float32(value: float) -> float:
    """`value` rounded to nearest float32, as Go's ParseFloat(s, 32) reads it (the toxicity the
    real server keeps); OverflowError if it rounds past the largest."""
    try:
        packed = struct.pack("<f", value)
    except (OverflowError, struct.error):
        raise OverflowError(value) from None
    rounded: float = struct.unpack("<f", packed)[0]
    return rounded


def _go_type(kind: Kind) -> str:
    return _GO_TYPES.get(kind) or kind.removeprefix("struct:")


def _convert(kind: Kind, value: Any) -> tuple[bool, Any]:
    if kind == "string":
        return isinstance(value, str), value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "object" or kind.startswith("struct:"):
        return isinstance(value, dict), value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False, value
    if kind in ("int64", "int"):  # Go's int is 64 bits here
        ok = isinstance(value, int) and INT64_MIN <= value <= INT64_MAX
        return ok, int(value)
    if not math.isfinite(value):
        return False, value
    try:
        return True, float32(value)
    except OverflowError:
        return False, value


def expect_object(value: Any, go_type: str) -> dict[str, Any]:
    """`value` as an object, or Go's error for decoding it into struct `go_type` (`null`
    decodes into a struct as nothing at all)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BodyError(f"json: cannot unmarshal {json_kind(value)} "
                        f"into Go value of type {go_type}")
    return value


def fields(obj: dict[str, Any], spec: dict[str, Kind], go_type: str) -> dict[str, Any]:
    """The values of the fields in `spec` found in `obj`, matched as Go's decoder matches."""
    found: dict[str, Any] = {}
    error: str | None = None
    for key, value in getattr(obj, "pairs", obj.items()):
        name = key if key in spec else next((n for n in spec if n.lower() == key.lower()), None)
        if name is None or value is None:
            continue
        ok, converted = _convert(spec[name], value)
        if ok:
            found[name] = converted
        elif error is None:
            numeric = spec[name] in ("int64", "int", "float32")
            error = (f"json: cannot unmarshal {json_kind(value, numeric)} into Go struct field "
                     f"{go_type}.{name} of type {_go_type(spec[name])}")
    if error is not None:
        raise BodyError(error)
    return found


def encode(value: Any) -> bytes:
    """Compact JSON as Go's json.Marshal writes it (UTF-8, <, >, & escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8", errors="surrogatepass")
