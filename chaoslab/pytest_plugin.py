"""A pytest plugin for chaos tests on the live lab, usable on anyone's services.

Load it with `pytest_plugins = ["chaoslab.pytest_plugin"]` (root conftest) or `-p
chaoslab.pytest_plugin`. It gives:

- `chaos_labs` (session): `chaos_labs("resilient")` -> a running lab whose services run that
  policy preset (or any set: a name, a file, or a resolved `PolicySet`; one lab per distinct
  set, by digest, each handed the resolved file), started on first use, reset (every process
  up, proxies clean, upstream admin faults off) on every call, stopped at session end (and at
  exit, as a backstop);
- `chaos_lab`: the `resilient` lab, healthy;
- `injector`: an `Injector` on the healthy lab, recording into its own history; whatever the
  test does, every fault is healed at teardown (`lab_injector(lab)` for any other lab);
- `fault`: `with fault(SwitchFailure(switch="switch-a")): ...` applies and always heals;
- `run_scenario(path, policies, speed=..., seed=...)`: one live run of a scenario file on
  a lab running the set `chaoslab lab run` resolves (the preset plus the scenario's
  overrides) -> its `Report` (the same report `chaoslab lab run` writes).

Outputs go under pytest's own paths, never the caller's working directory: labs and
`run_scenario`'s reports under its temporary directory (`--basetemp`); a run selecting the
`chaos` marker (`-m chaos`) without `--junitxml` writes its JUnit XML where the ini option
`chaoslab_junit_xml` says (relative to the rootdir; unset: no file). Another project imports
all it needs from `chaoslab.testing`, which is also this plugin.

Attach mode: with `--lab PATH` (or $CHAOSLAB_LAB) naming a running lab's map, the fixtures
use that lab instead of starting any (`chaoslab.compose_lab.attach`; the compose lab's
`chaos` service runs so). The lab runs one policy set: a test asking for another is skipped,
and so is a chaos test that starts a lab of its own (one using none of these fixtures).
Sets are compared by the digest of the resolved set, not by name. The
attached lab is healed between tests and never stopped.
"""

from __future__ import annotations

import atexit
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chaoslab.compose_lab import attach, lab_path
from chaoslab.live.plan import build_plan
from chaoslab.live.runner import execute, heal_lab
from faults.admin import HttpUpstreamAdmin
from faults.catalog import Fault
from faults.client import ToxiproxyClient
from faults.injector import Applied, Injector
from mock_services.lab.breakdowns import LabBreakdowns
from mock_services.lab.faultsview import faults_topology
from mock_services.lab.operations import LabSupervisor
from mock_services.lab.state import NoLab
from mock_services.lab.state import load as load_map
from mock_services.lab.supervisor import Lab, LabConfig, LabError, up
from mock_services.lab.topology import default_topology
from policies.presets import PolicySet
from policies.resolve import (
    POLICIES_FILE,
    describe_differences,
    policies_digest,
    resolve_policies,
    write_policies,
)
from scenario.history import History
from scenario.invariants import build_checkers
from scenario.report import Report, build_report, write_report
from scenario.report_model import RunMeta
from scenario.schema import load_scenario
from sim.policyset import policy_set

READY_TIMEOUT_S = 30.0
JUNIT_INI = "chaoslab_junit_xml"  # where a chaos-only run's JUnit XML goes (rootdir-relative)
LabFactory = Callable[[str | PolicySet], Lab]
RunScenario = Callable[..., Report]
FaultContext = Callable[[Fault], contextlib.AbstractContextManager[Applied]]
LAB_FIXTURES = frozenset({"chaos_labs", "chaos_lab", "injector", "fault", "run_scenario"})


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--lab PATH`: attach to a running lab instead of starting one; the ini option
    `chaoslab_junit_xml`."""
    parser.addini(JUNIT_INI, default="",
                  help="JUnit XML of a chaos-only run (-m chaos) without --junitxml, relative "
                       "to the rootdir (default: none)")
    parser.addoption("--lab", default=None, metavar="PATH",
                     help="a running lab's map (lab.json, or its run directory) the chaos "
                          "fixtures attach to instead of starting labs (default $CHAOSLAB_LAB)")


def attached_path(config: pytest.Config) -> Path | None:
    """The map of the lab to attach to, from --lab or $CHAOSLAB_LAB; None: start labs."""
    option = config.getoption("--lab", default=None)
    return Path(str(option)) if option else lab_path()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; give a chaos-only run its own JUnit XML; refuse a bad --lab."""
    config.addinivalue_line("markers", "chaos: live chaos tests against the running lab")
    path = attached_path(config)
    if path is not None:
        try:
            load_map(path)
        except NoLab as exc:
            raise pytest.UsageError(f"--lab/$CHAOSLAB_LAB: {exc}") from None
    markexpr = str(getattr(config.option, "markexpr", "") or "")
    junit = str(config.getini(JUNIT_INI) or "")
    if junit and "chaos" in markexpr and "not chaos" not in markexpr and \
            getattr(config.option, "xmlpath", None) is None:
        path = config.rootpath / junit  # an absolute setting stays as it is
        path.parent.mkdir(parents=True, exist_ok=True)
        config.option.xmlpath = str(path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In attach mode, skip the chaos tests that would start a lab of their own."""
    path = attached_path(config)
    if path is None:
        return
    skip = pytest.mark.skip(reason=f"starts its own lab; the run is attached to {path}")
    for item in items:
        if item.get_closest_marker("chaos") is not None and \
                not LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chaos_labs(tmp_path_factory: pytest.TempPathFactory,
               pytestconfig: pytest.Config) -> Iterator[LabFactory]:
    """A lab per policy preset, started on first use, healthy on every call (in attach
    mode: the attached lab, for its own policy set only)."""
    path = attached_path(pytestconfig)
    if path is not None:
        yield attached_factory(path)
        return
    labs: dict[str, Lab] = {}  # digest of the resolved set -> its lab

    def stop_all() -> None:
        for lab in labs.values():
            lab.down()
        labs.clear()

    def get(policies: str | PolicySet) -> Lab:
        label, resolved = _resolved(policies)
        digest = policies_digest(resolved)
        if digest not in labs:
            run_dir = tmp_path_factory.mktemp(f"lab-{resolved.name}")
            labs[digest] = up(LabConfig(run_dir, default_topology(), label,
                                        ready_timeout_s=READY_TIMEOUT_S, policy_set=resolved))
        heal_lab(labs[digest])
        return labs[digest]

    atexit.register(stop_all)
    try:
        yield get
    finally:
        stop_all()
        atexit.unregister(stop_all)


def attached_factory(path: Path) -> LabFactory:
    """The lab factory of attach mode: the lab of `path`, healed, for its policy set."""
    try:
        lab = attach(path)
    except LabError as exc:
        raise pytest.UsageError(f"--lab/$CHAOSLAB_LAB: {exc}") from None

    def get(policies: str | PolicySet) -> Lab:
        label, resolved = _resolved(policies)
        if policies_digest(resolved) != lab.state.digest():
            differs = describe_differences(lab.state.policy_set(), resolved)
            pytest.skip(f"needs a lab running {label!r}; the attached lab {path} runs "
                        f"{lab.state.policies!r} ({differs or 'names differ'})")
        heal_lab(lab)
        return lab

    return get


def _resolved(policies: str | PolicySet) -> tuple[str, PolicySet]:
    """(label, resolved set) of what a test asked for."""
    if isinstance(policies, PolicySet):
        return policies.name, policies
    return policies, resolve_policies(policies)


@pytest.fixture
def chaos_lab(chaos_labs: LabFactory) -> Lab:
    """The healthy `resilient` lab. Named, not `policies.presets.DEFAULT_PRESET`: the chaos
    tests that take it judge the resilient set (their verdicts say "resilient"), whatever a
    lab runs when not told."""
    return chaos_labs("resilient")


@contextlib.contextmanager
def lab_injector(lab: Lab) -> Iterator[Injector]:
    """An injector on `lab` (its own history, a monotonic clock); heals everything at the end
    and leaves the lab healthy (every process up, proxies clean, admin faults off)."""
    t0 = time.monotonic()
    admin = HttpUpstreamAdmin(token=lab.admin().token)
    with ToxiproxyClient(lab.state.toxiproxy_url) as proxies:
        inj = Injector(faults_topology(lab.state), History(),
                       lambda: time.monotonic() - t0, proxies,
                       supervisor=LabSupervisor(lab), admin=admin,
                       breakdowns=LabBreakdowns(lab))
        try:
            yield inj
        finally:
            try:
                inj.heal_all()
            finally:
                admin.close()
                heal_lab(lab)


@pytest.fixture
def injector(chaos_lab: Lab) -> Iterator[Injector]:
    """An injector on the healthy `resilient` lab; heals at the end."""
    with lab_injector(chaos_lab) as inj:
        yield inj


@pytest.fixture
def fault(injector: Injector) -> FaultContext:
    """`with fault(f): ...` keeps `f` in effect for the body and heals it however it ends."""
    return injector.fault


@pytest.fixture
def run_scenario(chaos_labs: LabFactory, tmp_path: Path) -> RunScenario:
    """`run_scenario(path, policies, speed=1.0, seed=1)`: one live run -> its report (also
    written, with the history and the HTML, to the test's tmp_path/<policies>)."""

    def run(path: Path, policies: str, *, speed: float = 1.0, seed: int = 1) -> Report:
        scenario = load_scenario(path)
        policy = policy_set(policies, scenario)
        plan = build_plan(scenario, speed, default_topology())
        checkers = build_checkers(plan.compressed.invariants)  # as played (live_scale)
        t0 = time.perf_counter()
        history = execute(chaos_labs(policy), plan, policy, seed)
        out = tmp_path / policies
        meta = RunMeta(scenario=scenario.name, mode="live", policies=policies, seed=seed,
                       duration_s=plan.horizon_s, wall_s=time.perf_counter() - t0,
                       description=scenario.description, start=scenario.start,
                       policies_digest=write_policies(policy, out / POLICIES_FILE))
        report = build_report([history], meta, checkers)
        write_report(report, [history], out)
        return report

    return run
