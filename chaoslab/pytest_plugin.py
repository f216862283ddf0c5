"""A pytest plugin for chaos tests on the live lab, usable on anyone's services.

Load it with `pytest_plugins = ["chaoslab.pytest_plugin"]` (root conftest) or `-p
chaoslab.pytest_plugin`. It gives:

- `chaos_labs` (session): `chaos_labs("resilient")` -> a running lab whose services run that
  policy preset, started on first use, reset (every process up, proxies clean, upstream
  admin faults off) on every call, stopped at session end (and at exit, as a backstop);
- `chaos_lab`: the `resilient` lab, healthy;
- `injector`: an `Injector` on the healthy lab, recording into its own history; whatever the
  test does, every fault is healed at teardown (`lab_injector(lab)` for any other lab);
- `fault`: `with fault(SwitchFailure(switch="switch-a")): ...` applies and always heals;
- `run_scenario(path, policies, speed=..., seed=...)`: one live run of a scenario file on
  the lab of that preset -> its `Report` (the same report `chaoslab lab run` writes).

A run selecting the `chaos` marker (`-m chaos`) without `--junitxml` writes its JUnit XML to
runs/chaos/junit.xml.
"""

from __future__ import annotations

import atexit
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chaoslab.live.plan import build_plan
from chaoslab.live.runner import execute, heal_lab
from faults.admin import HttpUpstreamAdmin
from faults.catalog import Fault
from faults.client import ToxiproxyClient
from faults.injector import Applied, Injector
from mock_services.lab.faultsview import faults_topology
from mock_services.lab.operations import LabSupervisor
from mock_services.lab.supervisor import Lab, LabConfig, up
from mock_services.lab.topology import default_topology
from scenario.history import History
from scenario.invariants import build_checkers
from scenario.report import Report, build_report, write_report
from scenario.report_model import RunMeta
from scenario.schema import load_scenario
from sim.policyset import policy_set

READY_TIMEOUT_S = 30.0
JUNIT_PATH = Path("runs/chaos/junit.xml")
LabFactory = Callable[[str], Lab]
RunScenario = Callable[..., Report]
FaultContext = Callable[[Fault], contextlib.AbstractContextManager[Applied]]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; give a chaos-only run its own JUnit XML."""
    config.addinivalue_line("markers", "chaos: live chaos tests against the running lab")
    markexpr = str(getattr(config.option, "markexpr", "") or "")
    if "chaos" in markexpr and "not chaos" not in markexpr and \
            getattr(config.option, "xmlpath", None) is None:
        JUNIT_PATH.parent.mkdir(parents=True, exist_ok=True)
        config.option.xmlpath = str(JUNIT_PATH)


@pytest.fixture(scope="session")
def chaos_labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """A lab per policy preset, started on first use, healthy on every call."""
    labs: dict[str, Lab] = {}

    def stop_all() -> None:
        for lab in labs.values():
            lab.down()
        labs.clear()

    def get(policies: str) -> Lab:
        if policies not in labs:
            run_dir = tmp_path_factory.mktemp(f"lab-{policies}")
            labs[policies] = up(LabConfig(run_dir, default_topology(), policies,
                                          ready_timeout_s=READY_TIMEOUT_S))
        heal_lab(labs[policies])
        return labs[policies]

    atexit.register(stop_all)
    try:
        yield get
    finally:
        stop_all()
        atexit.unregister(stop_all)


@pytest.fixture
def chaos_lab(chaos_labs: LabFactory) -> Lab:
    """The healthy `resilient` lab."""
    return chaos_labs("resilient")


@contextlib.contextmanager
def lab_injector(lab: Lab) -> Iterator[Injector]:
    """An injector on `lab` (its own history, a monotonic clock); heals everything at the end
    and leaves the lab healthy (every process up, proxies clean, admin faults off)."""
    t0 = time.monotonic()
    admin = HttpUpstreamAdmin()
    with ToxiproxyClient(lab.state.toxiproxy_url) as proxies:
        inj = Injector(faults_topology(lab.state), History(),
                       lambda: time.monotonic() - t0, proxies,
                       supervisor=LabSupervisor(lab), admin=admin)
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
        checkers = build_checkers(scenario.invariants)
        t0 = time.perf_counter()
        history = execute(chaos_labs(policies), plan, policy, seed)
        meta = RunMeta(scenario=scenario.name, mode="live", policies=policies, seed=seed,
                       duration_s=plan.horizon_s, wall_s=time.perf_counter() - t0)
        report = build_report([history], meta, checkers)
        write_report(report, [history], tmp_path / policies)
        return report

    return run
