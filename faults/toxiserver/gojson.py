"""Request bodies read the way Go's encoding/json reads them, and JSON written the Go way.

What clients of the real server rely on: the first JSON value of the body is decoded and the
rest ignored; keys match struct fields exactly or case-insensitively (the last one wins);
`null` leaves a field as it was; unknown keys are ignored; a wrong type is an error. Messages
follow Go's (`EOF`, `unexpected EOF`, `json: cannot unmarshal string into ...`).
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

Kind = Literal["string", "bool", "int64", "float32", "object"]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class BodyError(Exception):
    """A body Go's decoder would reject; the message follows `bad request body: `."""


class _Constant(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode(body: bytes) -> Any:
    """The first JSON value of `body`; BodyError with Go's message otherwise."""
    text = body.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    if not text:
        raise BodyError("EOF")
    try:
        value, _ = _DECODER.raw_decode(text)
    except _Constant as exc:
        first = str(exc)[0]
        raise BodyError(f"invalid character '{first}' looking for beginning of value") from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise BodyError("unexpected EOF") from None
        raise BodyError(f"invalid character {_quote(text[exc.pos])} ({exc.msg.lower()})") from None
    except RecursionError:
        raise BodyError("exceeded max depth") from None
    return value


def _quote(char: str) -> str:
    return f"'{char}'" if char.isprintable() else repr(char)


def json_kind(value: Any) -> str:
    """Go's name for the JSON type of `value` in unmarshal errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_GO_TYPES = {"string": "string", "bool": "bool", "int64": "int64", "float32": "float32",
             "object": "map[string]interface {}"}


def _convert(kind: Kind, value: Any) -> tuple[bool, Any]:
    if kind == "string":
        return isinstance(value, str), value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "object":
        return isinstance(value, dict), value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False, value
    if kind == "int64":
        ok = isinstance(value, int) and INT64_MIN <= value <= INT64_MAX
        return ok, value
    if not math.isfinite(value) or abs(value) > 3.4028234663852886e38:
        return False, value
    return True, float(value)


def expect_object(value: Any, go_type: str) -> dict[str, Any]:
    """`value` as an object, or Go's error for decoding it into struct `go_type`."""
    if not isinstance(value, dict):
        raise BodyError(f"json: cannot unmarshal {json_kind(value).split()[0]} "
                        f"into Go value of type {go_type}")
    return value


def fields(obj: dict[str, Any], spec: dict[str, Kind], go_type: str) -> dict[str, Any]:
    """The values of the fields in `spec` found in `obj`, matched as Go's decoder matches."""
    found: dict[str, Any] = {}
    error: str | None = None
    for key, value in obj.items():
        name = key if key in spec else next((n for n in spec if n.lower() == key.lower()), None)
        if name is None or value is None:
            continue
        ok, converted = _convert(spec[name], value)
        if ok:
            found[name] = converted
        elif error is None:
            error = (f"json: cannot unmarshal {json_kind(value)} into Go struct field "
                     f"{go_type}.{name} of type {_GO_TYPES[spec[name]]}")
    if error is not None:
        raise BodyError(error)
    return found


def encode(value: Any) -> bytes:
    """Compact JSON as Go's json.Marshal writes it (UTF-8, <, >, & escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8", errors="surrogatepass")
