"""The one resolver of a run's policy set, and the resolved set as a canonical file.

`resolve_policies(source, overrides)` turns what a person types (a preset name, a policy TOML
file, or a resolved `policies.json`) plus a scenario's overrides into the `PolicySet` both
runners use. `dump_policies(ps)` is its canonical text: JSON of every field, keys sorted, two-
space indent, floats in Python's shortest round-trip form (`repr`), one trailing newline, so
equal sets give byte-identical files; `policies_digest(ps)` is the sha256 of that text. A
resolved file is loaded back exactly (`load_policies(path)`: load(dump(ps)) == ps) and is
what the lab's processes are handed (`<run_dir>/policies.json`) and what every report directory
keeps (`OUT/policies.json`). `policy_differences(a, b)` names the dotted keys two sets differ
in, for one-sentence refusals.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from policies.errors import PolicyConfigError, from_validation_error
from policies.presets import PolicySet, load_policy_set, with_overrides

POLICIES_FILE = "policies.json"  # the resolved set in a lab's run directory and in OUT
SHORT_DIGEST = 12  # hex digits of a digest shown in messages


def resolve_policies(source: str | Path,
                     overrides: Mapping[str, Any] | None = None) -> PolicySet:
    """The set `source` names (a preset, a policy TOML file, or a resolved .json file) with
    `overrides` merged on top; `PolicyConfigError` (one sentence) on bad input."""
    if Path(source).suffix == ".json":
        return with_overrides(load_policies(Path(source)), overrides)
    return load_policy_set(source, overrides)


def dump_policies(ps: PolicySet) -> str:
    """The canonical text of `ps`: sorted keys, two-space indent, shortest float repr."""
    return json.dumps(_canonical(ps.model_dump()), sort_keys=True, indent=2,
                      ensure_ascii=True, allow_nan=False) + "\n"


def _canonical(value: Any) -> Any:
    """Plain JSON data; sets sorted, since their iteration order changes with the process's
    string hash seed."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_canonical(v) for v in value), key=lambda v: (str(type(v)), v))
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def policies_digest(ps: PolicySet) -> str:
    """The sha256 (hex) of `dump_policies(ps)`: equal sets, equal digests."""
    return hashlib.sha256(dump_policies(ps).encode("ascii")).hexdigest()


def short_digest(digest: str) -> str:
    """The first hex digits of a digest, for messages."""
    return digest[:SHORT_DIGEST]


def write_policies(ps: PolicySet, path: Path) -> str:
    """Write the canonical text of `ps` to `path` atomically; return its digest."""
    text = dump_policies(ps)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="ascii")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def load_policies(path: Path) -> PolicySet:
    """The resolved set written by `write_policies` (every field present, nothing merged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyConfigError(f"resolved policy file {path} does not exist; expected the "
                                f"{POLICIES_FILE} a run or a lab wrote") from None
    except IsADirectoryError:
        raise PolicyConfigError(f"resolved policy file {path} is a directory; expected a "
                                "JSON file") from None
    except (ValueError, OSError) as error:
        raise PolicyConfigError(f"resolved policy file {path} is not valid JSON: {error}"
                                ) from None
    if not isinstance(data, dict):
        raise PolicyConfigError(f"resolved policy file {path} holds no JSON object; expected "
                                "every field of a policy set")
    try:
        return PolicySet.model_validate(data)
    except ValidationError as error:
        message = str(from_validation_error(error, "policies."))
        raise PolicyConfigError(f"{path}: {message}") from None


def policy_differences(have: PolicySet, want: PolicySet,
                       limit: int = 3) -> list[tuple[str, str, str]]:
    """The first `limit` dotted keys where `have` and `want` differ, in key order, each with
    its value in both as short text ("off" = switched off); [] when they are the same set.

    A table on in one set and off in the other differs once, at the table's key."""
    out: list[tuple[str, str, str]] = []
    _diff(_canonical(have.model_dump()), _canonical(want.model_dump()), "", out)
    return out[:limit]


def describe_differences(have: PolicySet, want: PolicySet, have_label: str = "lab has",
                         want_label: str = "run wants", limit: int = 3) -> str:
    """One clause naming where two sets differ, e.g. "admission: lab has on (algorithm
    "aimd", ...), run wants off"; "" when they are the same set (names aside)."""
    return "; ".join(f"{key}: {have_label} {x}, {want_label} {y}"
                     for key, x, y in policy_differences(have, want, limit))


_ABSENT = object()


def _diff(a: Any, b: Any, key: str, out: list[tuple[str, str, str]]) -> None:
    if a == b or key == "name":  # the name is a label, not a policy
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(a.keys() | b.keys()):
            _diff(a.get(k, _ABSENT), b.get(k, _ABSENT), f"{key}.{k}" if key else k, out)
        return
    out.append((key, _show(a), _show(b)))


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "none"
    if value is None:
        return "off"
    if isinstance(value, dict):
        items = [f"{k} {_show(v)}" for k, v in sorted(value.items())
                 if not isinstance(v, dict)][:2]
        return f"on ({', '.join(items)}, ...)" if items else "on"
    return json.dumps(value, sort_keys=True)
