"""One default policy set: every place that picks a set when not told reads `DEFAULT_PRESET`.

Two checks. Each known default (the CLI's `--policies`, the lab's `LabConfig`, a scenario's
`[policies] preset`, a bare portal's settings and flag, explore's and tune's options, the
test lab, the compose lab) equals the constant. And no module of our packages writes a
preset's name where a default goes (a parameter's default, a field's, `default=`,
`policies=`/`preset=`, the fallback of `getattr`/`.get`/`.pop`), so a new default that
drifts from the constant fails here too, named by file and line.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from chaoslab import compose, explore, tune
from chaoslab.cli import build_parser
from mock_services.cli import _parser as service_parser
from mock_services.lab.config import LabConfig
from mock_services.lab.testing import running_lab
from mock_services.lab.topology import default_topology
from mock_services.portal.settings import PortalSettings
from policies.presets import DEFAULT_PRESET, PRESETS
from scenario.schema.policy import Policies

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("chaoslab", "faults", "mock_services", "policies", "scenario", "sim")
HOME = Path("policies/presets.py")  # where the presets, and the default, are written
DEFAULT_KEYWORDS = frozenset({"default", "policies", "preset"})
FALLBACK_CALLS = {"getattr": 2, "get": 1, "pop": 1, "setdefault": 1}  # name -> the fallback


def test_the_default_is_a_preset() -> None:
    assert DEFAULT_PRESET in PRESETS


@pytest.mark.parametrize("argv", [["sim", "s"], ["lab", "up"], ["lab", "run", "s"],
                                  ["twin", "s"], ["explore", "s"], ["tune", "s"]])
def test_every_subcommand_defaults_to_it(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).policies == DEFAULT_PRESET


def test_every_layer_defaults_to_it() -> None:
    portal_flag = service_parser().parse_args(["portal", "--port", "1", "--data-dir", "d"])
    defaults = {
        "LabConfig": LabConfig(Path("lab")).policies,
        "scenario [policies] preset": Policies().preset,
        "PortalSettings": PortalSettings.model_fields["policies"].default,
        "python -m mock_services portal": portal_flag.policies,
        "explore": explore.Options().policies,
        "tune": tune.Options().policies,
        "running_lab": inspect.signature(running_lab).parameters["policies"].default,
        "the compose lab's map": compose.lab_state(default_topology()).policies,
        "the compose file": compose.POLICIES,
    }
    expected = dict.fromkeys(defaults, DEFAULT_PRESET)
    expected["the compose file"] = f"${{CHAOSLAB_POLICIES:-{DEFAULT_PRESET}}}"
    assert {k: v for k, v in defaults.items() if v != expected[k]} == {}


def _preset(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value in PRESETS


def _fallback(call: ast.Call) -> ast.expr | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    at = FALLBACK_CALLS.get(name)
    return call.args[at] if at is not None and len(call.args) > at else None


def written_defaults(tree: ast.AST) -> list[int]:
    """The lines where a preset's name is written as a default."""
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arguments):
            found = [d for d in (*node.defaults, *node.kw_defaults) if _preset(d)]
        elif isinstance(node, ast.AnnAssign):
            found = [node.value] if _preset(node.value) else []
        elif isinstance(node, ast.keyword):
            found = [node.value] if node.arg in DEFAULT_KEYWORDS and _preset(node.value) else []
        elif isinstance(node, ast.Call):
            found = [f] if _preset(f := _fallback(node)) else []
        else:
            continue
        lines += [d.lineno for d in found if d is not None]
    return lines


def drifted(root: Path) -> list[str]:
    """Every default written as a preset's name outside HOME, as 'file:line'."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if path.relative_to(root) == HOME:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            found += [f"{path.relative_to(root)}:{line}" for line in written_defaults(tree)]
    return found


def test_no_default_is_written_outside_its_home() -> None:
    found = drifted(ROOT)
    assert not found, ("a preset's name written as a default; read policies.presets."
                       "DEFAULT_PRESET instead:\n" + "\n".join(found))


@pytest.mark.parametrize("text", [
    "def up(policies: str = 'resilient') -> None: ...\n",
    "def up(*, policies: str = 'baseline') -> None: ...\n",
    "class Options: policies: str = 'resilient'\n",
    "p.add_argument('--policies', default='resilient')\n",
    "State(policies='baseline')\n",
    "getattr(args, 'policies', 'resilient')\n",
    "table.pop('preset', 'baseline')\n",
])
def test_a_planted_default_is_found(tmp_path: Path, text: str) -> None:
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "x.py").write_text(f"import os\n{text}", encoding="utf-8")
    assert drifted(tmp_path) == ["sim/x.py:2"]


def test_a_preset_named_as_a_value_is_not_a_default(tmp_path: Path) -> None:
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "x.py").write_text(
        "RESILIENT = PolicySet(name='resilient')\nfor p in ('baseline', 'resilient'): ...\n"
        "run(policy_set('resilient'))\n", encoding="utf-8")
    assert drifted(tmp_path) == []
