"""The layers of ARCHITECTURE.md, held against every import of our six packages.

Arrows point down only: a module may import its own package or a package of a lower layer,
never a package of a layer above nor one beside it on its own layer. Every import counts: at
the top, inside a function, under `TYPE_CHECKING`, and `importlib.import_module("name")`
with a literal name. One more rule keeps the fault catalog where both the scenario layer and
the injector can use it without a cycle: scenario/ reads only the fault model of faults/
(pure data: what a fault is and the steps it plans), and that model imports none of the
machinery that applies it (injector, Toxiproxy client, toxiserver, ...). And inside sim/, the
modules keep an order of their own, bottom first (`SIM_LAYERS`): the state every process
shares below the processes, the runner on top, so sim/ has no import cycle.

The packages are read as text with `ast` (nothing is imported), so the test is fast and sees
imports that a run would not reach.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Bottom first. Packages on one layer sit side by side: neither imports the other.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"policies", "faults"}),  # fallback policies; faults as data and their appliers
    frozenset({"scenario"}),  # the shared language: schema, history, checkers, report, errors
    frozenset({"sim", "mock_services"}),  # the two runtimes: SimPy model | live services, lab
    frozenset({"chaoslab"}),  # the CLI, its subcommand handlers, the live runner, the plugin
)
# The part of faults/ the scenario layer may read: pure data, no I/O.
FAULT_MODEL = frozenset({"faults.actions", "faults.catalog", "faults.errors", "faults.records",
                         "faults.schedule", "faults.topology", "faults.toxics"})
NOT_PACKAGES = frozenset({"tests", "benchmarks", "examples"})  # may import anything
# The order inside sim/, bottom first, with the same rules as LAYERS: a module imports only
# modules of lower rows; modules side by side never import each other.
SIM_LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"sim.engine", "sim.links", "sim.policystate", "sim.policyset",
               "sim.interpreter"}),  # the event loop | the links' toxics | the policies'
    # state | the policy set's scenario checks | which interpreter simulates
    frozenset({"sim.world"}),  # the state every process shares, built in one step
    frozenset({"sim.upstream"}),  # the portal's calls to its upstreams
    frozenset({"sim.portal"}),  # admission, worker threads, service, commit
    frozenset({"sim.client", "sim.ports"}),  # user operations | the injector's ports
    frozenset({"sim.pharmacy", "sim.nemesis"}),  # paper fallback | faults as nemesis processes
    frozenset({"sim.workload"}),  # arrivals: every operation of the run
    frozenset({"sim.model"}),  # one replication
    frozenset({"sim.runner", "sim.validation"}),  # replications | the queueing-theory checks
    frozenset({"sim.worker"}),  # a replication in another interpreter's process
)


def _layer(package: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) if package in layer), None)


def _sim_row(module: str) -> int | None:
    name = ".".join(module.split(".")[:2])
    return next((i for i, row in enumerate(SIM_LAYERS) if name in row), None)


def _sim_rule(module: str, imported: str) -> str | None:
    """Why sim's `module` may not import `imported` of sim/, in one sentence; None when it may
    (the package itself, `sim`, has no row: it imports nothing)."""
    low, high = _sim_row(imported), _sim_row(module)
    if low is None or high is None or low < high:
        return None
    if low > high:
        return (f"{module} (row {high} of sim/) imports {imported} (row {low}): an import goes "
                f"up sim/'s order")
    if module == ".".join(imported.split(".")[:2]):
        return None
    return (f"{module} imports {imported}: they sit side by side on row {low} of sim/'s "
            f"order and never import each other")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute name `from ... import` reads from (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_module(name: str, root: Path) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _import_module_call(node: ast.Call) -> str | None:
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called in ("import_module", "__import__") and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """Every module `path` imports, as (line, absolute dotted name), wherever it appears."""
    module = _module_name(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, path.name == "__init__.py")
            for alias in node.names:  # `from faults import catalog` imports faults.catalog
                sub = f"{source}.{alias.name}"
                yield node.lineno, sub if _is_module(sub, root) else source
        elif isinstance(node, ast.Call) and (name := _import_module_call(node)):
            yield node.lineno, name


def _in_model(name: str) -> bool:
    return name == "faults" or any(name == m or name.startswith(f"{m}.") for m in FAULT_MODEL)


def broken_rule(module: str, imported: str) -> str | None:
    """Why `module` may not import `imported`, in one sentence; None when it may."""
    source, target = module.split(".", maxsplit=1)[0], imported.split(".", maxsplit=1)[0]
    low, high = _layer(target), _layer(source)
    if low is None or high is None:
        return None  # the standard library or a third party
    if source == target:
        if source == "faults" and _in_model(module) and not _in_model(imported):
            return (f"{module} is the fault model and imports {imported}, the machinery that "
                    f"applies faults: the model must stay pure data")
        return _sim_rule(module, imported) if source == "sim" else None
    if low > high:
        return (f"{source} (layer {high}) imports {imported} (layer {low}): an import goes up "
                f"the layers")
    if low == high:
        return (f"{source} imports {imported}: {source}/ and {target}/ sit side by side on "
                f"layer {low} and never import each other")
    if source == "scenario" and target == "faults" and not _in_model(imported):
        return (f"scenario imports {imported}: the scenario layer reads only the fault model "
                f"of faults/ ({', '.join(sorted(FAULT_MODEL))})")
    return None


def violations(root: Path) -> list[str]:
    """Every import of the packages under `root` that goes against the layers, as
    'file:line: rule'."""
    found = []
    for package in sorted(set().union(*LAYERS)):
        for path in sorted((root / package).rglob("*.py")):
            module = _module_name(path, root)
            for line, imported in imports(path, root):
                rule = broken_rule(module, imported)
                if rule is not None:
                    found.append(f"{path.relative_to(root)}:{line}: {rule}")
    return found


def test_no_import_goes_against_the_layers() -> None:
    found = violations(ROOT)
    assert not found, "imports against the layers of ARCHITECTURE.md:\n" + "\n".join(found)


def test_every_package_has_a_layer() -> None:
    """A new top-level package must be placed in LAYERS (and ARCHITECTURE.md) to be checked."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - NOT_PACKAGES
    assert packages == set().union(*LAYERS)


def test_every_sim_module_has_a_row() -> None:
    """A new module of sim/ must be placed in SIM_LAYERS (and ARCHITECTURE.md) to be
    checked."""
    modules = {_module_name(p, ROOT) for p in (ROOT / "sim").glob("*.py")} - {"sim"}
    assert modules == set().union(*SIM_LAYERS)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for package in set().union(*LAYERS):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("files", "expected"), [
    ({"scenario/schema.py": "import os\n\nfrom chaoslab.errors import BadInput\n"},
     "scenario/schema.py:3: scenario (layer 1) imports chaoslab.errors (layer 3): an import "
     "goes up the layers"),
    ({"sim/model.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    import mock_services.lab\n"},
     "sim/model.py:3: sim imports mock_services.lab: sim/ and mock_services/ sit side by "
     "side on layer 2 and never import each other"),
    ({"faults/injector.py": "def f():\n    from scenario import history\n",
      "scenario/history.py": ""},
     "faults/injector.py:2: faults (layer 0) imports scenario.history (layer 1): an import "
     "goes up the layers"),
    ({"policies/retry.py": "import importlib\nimportlib.import_module('faults.catalog')\n"},
     "policies/retry.py:2: policies imports faults.catalog: policies/ and faults/ sit side by "
     "side on layer 0 and never import each other"),
    ({"scenario/docs.py": "from faults.injector import Injector\n"},
     "scenario/docs.py:1: scenario imports faults.injector: the scenario layer reads only the "
     "fault model of faults/ (faults.actions, faults.catalog, faults.errors, faults.records, "
     "faults.schedule, faults.topology, faults.toxics)"),
    ({"faults/catalog.py": "from .client import ToxiproxyClient\n", "faults/client.py": ""},
     "faults/catalog.py:1: faults.catalog is the fault model and imports faults.client, the "
     "machinery that applies faults: the model must stay pure data"),
    ({"sim/world.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from sim.pharmacy import Pharmacies\n"},
     "sim/world.py:3: sim.world (row 1 of sim/) imports sim.pharmacy (row 5): an import goes "
     "up sim/'s order"),
    ({"sim/world.py": "def f():\n    from sim.client import operation\n"},
     "sim/world.py:2: sim.world (row 1 of sim/) imports sim.client (row 4): an import goes up "
     "sim/'s order"),
    ({"sim/client.py": "from . import ports\n", "sim/ports.py": ""},
     "sim/client.py:1: sim.client imports sim.ports: they sit side by side on row 4 of sim/'s "
     "order and never import each other"),
])
def test_an_import_against_the_layers_is_named_with_its_place_and_rule(
        tmp_path: Path, files: dict[str, str], expected: str) -> None:
    assert violations(_tree(tmp_path, files)) == [expected]


def test_imports_down_the_layers_pass(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "chaoslab/cli.py": "import sim.runner\nfrom scenario.errors import BadInput\n",
        "sim/runner.py": "from faults.injector import Injector\nfrom policies import retry\n",
        "sim/client.py": "import sim\nfrom sim.world import World\nfrom . import portal\n",
        "sim/portal.py": "",
        "scenario/schema.py": "from faults.catalog import Fault\nfrom . import errors\n",
        "faults/injector.py": "from faults.catalog import Fault\nimport json\n",
    })
    assert violations(root) == []
