"""Fixtures of the lab tests: one real lab for this package, and the embedded Toxiproxy.

The lab is package-scoped here (the plugin's is session-scoped), so its processes are gone
before the rest of the suite runs.
"""

from collections.abc import Iterator

import pytest

from faults.testing import toxiproxy, toxiproxy_kind, toxiproxy_url
from mock_services.lab.supervisor import Lab
from mock_services.lab.testing import healthy_lab, lab_supervisor, running_lab


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The running lab of the lab tests."""
    with running_lab(tmp_path_factory.mktemp("lab")) as started:
        yield started


__all__ = ["healthy_lab", "lab", "lab_supervisor", "toxiproxy", "toxiproxy_kind",
           "toxiproxy_url"]
