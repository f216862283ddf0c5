"""A third party's chaos tests against the portal lab, written only against `chaoslab.testing`.

Run it from anywhere: `pytest examples/third_party` (add `-m chaos` for the lab tests only).
The lab is started on first use under pytest's temporary directory and stopped at the end;
every fault is healed however a test ends.
"""

from __future__ import annotations

import httpx
import pytest

from chaoslab.testing import FaultContext, Lab, SwitchFailure, demo_accounts

TIMEOUT_S = 30.0  # a login waits on Shahkar through the portal's own policies


def login(portal_url: str, national_id: str, password: str) -> httpx.Response:
    """POST /auth/login on one portal replica, through its client proxy."""
    return httpx.post(f"{portal_url}/auth/login",
                      json={"national_id": national_id, "password": password},
                      timeout=TIMEOUT_S)


def test_the_demo_accounts_are_the_same_for_the_same_seed() -> None:
    first, again = demo_accounts(), demo_accounts()
    assert first.citizens[0] == again.citizens[0]
    assert first.citizens and first.doctors and first.pharmacies


@pytest.mark.chaos
def test_replica_b_serves_while_switch_a_is_down(chaos_lab: Lab, fault: FaultContext) -> None:
    citizen = demo_accounts().citizens[0]
    portals = chaos_lab.state.portal_urls()
    with fault(SwitchFailure(switch="switch-a")):
        assert login(portals["portal-b"], citizen.national_id,
                     citizen.password).status_code == 200
        with pytest.raises(httpx.TransportError):  # portal-a's switch is down: no answer
            login(portals["portal-a"], citizen.national_id, citizen.password)
    # healed on leaving the block: portal-a answers again
    assert login(portals["portal-a"], citizen.national_id, citizen.password).status_code == 200
