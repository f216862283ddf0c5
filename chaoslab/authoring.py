"""Writing scenarios: `chaoslab validate FILE...` and `chaoslab new NAME --from SCENARIO`.

`validate` tells every problem of each file at once, one line each (file, key, expected),
and exits 2 when there is any: the schema's problems (`scenario.schema.check_file`), then,
for a file the schema accepts, what a run would refuse before starting: each invariant's
thresholds, the policy overrides under each preset, and the fault timeline the simulator
plays. `new` copies a scenario file with its comments under a new name, so an author starts
from a working, commented scenario; it never overwrites a file.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path
from typing import Any

from chaoslab.cli import SCENARIO_DIR
from policies.presets import PRESETS
from scenario.errors import BadInput
from scenario.invariants import InvariantError, build_checker
from scenario.schema import Scenario, ScenarioError, check_table, find_scenario
from scenario.schema.fields import check_name
from scenario.schema.loading import read_table

DEFAULT_SOURCE = "switch_failure"
_TOP_KEY = re.compile(r"^(name|description)\s*=\s*(.*)$")


def validate(args: argparse.Namespace) -> int:
    """Print every problem of each scenario named in `args.files`; 2 if any, else 0."""
    bad = 0
    for name in args.files:
        path, lines = problems(name)
        print("\n".join(lines) if lines else f"{path}: ok")
        bad += bool(lines)
    return 2 if bad else 0


def problems(name_or_path: str) -> tuple[str, list[str]]:
    """The file a name stands for, and every problem of it, each a line "FILE: key K:
    expected E, got G"."""
    try:
        path = find_scenario(name_or_path, SCENARIO_DIR)
        scenario, found = check_table(path, read_table(path))
    except ScenarioError as exc:  # no such scenario, unreadable, not TOML
        return name_or_path, [str(exc)]
    if scenario is None:  # the invariants' thresholds are still worth checking
        lines = [p.sentence() for p in found] + invariant_problems(read_table(path))
        return str(path), [f"{path}: {line}" for line in lines]
    return str(path), [f"{path}: {line}" for line in run_problems(scenario)]


def invariant_problems(table: dict[str, Any]) -> list[str]:
    """Each invariant's unknown name or bad threshold, from the registry's own models."""
    spec = table.get("invariants")
    found: list[str] = []
    for name, raw in (spec.items() if isinstance(spec, dict) else ()):
        try:
            build_checker(name, raw)
        except InvariantError as exc:
            found.append(f"key invariants.{name}: "
                         f"{str(exc).removeprefix(f'invariant {name!r}: ')}")
    return found


def run_problems(scenario: Scenario) -> list[str]:
    """What a run would refuse in a scenario the schema accepts: invariant thresholds, policy
    overrides under each preset, the simulated fault timeline."""
    from sim.nemesis import timeline  # the simulator, loaded only once the schema passes
    from sim.policyset import policy_set

    found = invariant_problems({"invariants": scenario.invariants})
    for preset in sorted(PRESETS):
        try:
            policy_set(preset, scenario)
        except ScenarioError as exc:
            found.append(str(exc))
    try:
        timeline(scenario, 1)
    except ScenarioError as exc:
        found.append(str(exc))
    return found


def new(args: argparse.Namespace) -> int:
    """Write a new scenario `args.name` from `args.source`, comments kept; never overwrite."""
    name: str = args.name
    try:
        check_name(name)
    except ValueError as exc:
        raise BadInput(f"NAME {name!r}: expected {str(exc).split(', got')[0]}") from None
    source = find_scenario(args.source, SCENARIO_DIR)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--from {source}: cannot read it ({exc}); expected a scenario "
                       f"file") from None
    out: Path = args.out if args.out is not None else Path(f"{name}.toml")
    _write_new(out, template(text, name, source))
    print(f"wrote {out} (from {source}); check it with `chaoslab validate {out}`, run it "
          f"with `chaoslab sim {out}`; every key is in docs/scenarios.md")
    return 0


def template(text: str, name: str, source: Path) -> str:
    """`text` (a scenario file) renamed `name`, its description to be written, its comments
    and everything else kept, under a header that says where to look."""
    head, rest = _split_top(text.splitlines())
    header = [f"# {name}: a new scenario, begun from {source.name} (`chaoslab new`).",
              "# Every key, its type and default: docs/scenarios.md. `chaoslab validate FILE`",
              "# lists every problem of the file at once.",
              f'name = "{name}"',
              f'description = "What {name} shows, in one line (begun from {source.stem})"']
    out = "\n".join([*header, *_without_top_keys(head), *rest]) + "\n"
    try:  # the rewrite must leave a TOML file named `name`
        renamed = tomllib.loads(out).get("name") == name
    except tomllib.TOMLDecodeError:
        renamed = False
    if not renamed:
        raise BadInput(f"--from {source}: cannot rename it; expected a TOML file whose "
                       f"top-level name and description are plain keys")
    return out


def _split_top(lines: list[str]) -> tuple[list[str], list[str]]:
    """The top-level lines (before the first table header) and the rest."""
    for i, line in enumerate(lines):
        if line.lstrip().startswith("["):
            return lines[:i], lines[i:]
    return lines, []


def _without_top_keys(head: list[str]) -> list[str]:
    """`head` without its name and description keys (one line, or a multi-line string)."""
    out: list[str] = []
    closing = ""
    for line in head:
        if closing:
            closing = "" if closing in line else closing
            continue
        m = _TOP_KEY.match(line)
        if m is None:
            out.append(line)
            continue
        value = m.group(2)
        quote = value[:3] if value[:3] in ('"""', "'''") else ""
        if quote and quote not in value[3:]:
            closing = quote
    return out


def _write_new(out: Path, text: str) -> None:
    try:
        with out.open("x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise BadInput(f"--out {out}: the file exists; expected a new file (chaoslab new "
                       f"never overwrites)") from None
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot write it ({exc.strerror}); expected a writable "
                       f"path") from None
