"""Everything another project's tests need from chaoslab, from one import.

It is also the pytest plugin: `pytest_plugins = ["chaoslab.testing"]` in a root conftest.py
(or `-p chaoslab.testing`) registers the hooks and fixtures of `chaoslab.pytest_plugin`,
imported here — `chaos_labs`, `chaos_lab`, `injector`, `fault`, `run_scenario` and the
`--lab` option — and this module re-exports what a test names next to them: the fault
classes of the catalog, the lab, the report and the demo accounts the lab is seeded with,
so a third party imports nothing from our top-level packages (`faults`, `mock_services`,
`scenario`, `policies`), whose layout may change. Load either this module or
`chaoslab.pytest_plugin`, not both.

Outputs stay under pytest's own paths: the labs' run directories and `run_scenario`'s
reports under its temporary directory (`--basetemp`), and a chaos-only run's JUnit XML only
where the ini option `chaoslab_junit_xml` says (relative to the rootdir), never in the
caller's working directory.
"""

from __future__ import annotations

from chaoslab.pytest_plugin import (  # the hooks and fixtures: this module is the plugin
    FaultContext,
    LabFactory,
    RunScenario,
    chaos_lab,
    chaos_labs,
    fault,
    injector,
    lab_injector,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    run_scenario,
)
from faults.catalog import (
    DeploymentWindow,
    Fault,
    NetworkLoss,
    PeakLoad,
    PowerLoss,
    RawToxic,
    RefreshStorm,
    ReplicaFailure,
    SlowUpstream,
    SwitchFailure,
    UpstreamOutage,
)
from faults.injector import Applied, Injector
from faults.toxics import ToxicSpec
from mock_services.lab.supervisor import Lab
from mock_services.seed import DEFAULT_SEED, Person, Population
from mock_services.seed import demo_population as _demo_population
from scenario.report_model import Report

__all__ = [
    "Applied", "DeploymentWindow", "Fault", "FaultContext", "Injector", "Lab", "LabFactory",
    "NetworkLoss", "PeakLoad", "Person", "Population", "PowerLoss", "RawToxic", "RefreshStorm",
    "ReplicaFailure", "Report", "RunScenario", "SlowUpstream", "SwitchFailure", "ToxicSpec",
    "UpstreamOutage", "chaos_lab", "chaos_labs", "demo_accounts", "fault", "injector",
    "lab_injector", "pytest_addoption", "pytest_collection_modifyitems", "pytest_configure",
    "run_scenario",
]


def demo_accounts(seed: int = DEFAULT_SEED) -> Population:
    """The people the lab's services are seeded with (citizens, employers, doctors,
    pharmacies, each with a national id, password and mobile), the same for the same seed:
    the accounts a test logs in as."""
    return _demo_population(seed)
