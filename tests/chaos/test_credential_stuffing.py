"""Row "intrusion attempts (credential stuffing)", directed: attackers send wrong-password
logins back to back at a few accounts while legitimate users log in.

`resilient` limits login per account (burst 5, then one per 10 s) and per source address, so
the attack costs a few scrypt hashes and is answered 429; legitimate logins keep their SLO and
no wrong password gets in. `baseline` has no limit: every attempt costs a scrypt hash (CPU
bound, ~13 a second on the lab's 2 cores), the attackers queue the users' logins behind
theirs and the SLO breaks.
"""

from __future__ import annotations

import pytest

from chaoslab.pytest_plugin import LabFactory, lab_injector
from faults.injector import Injector
from mock_services.lab.supervisor import Lab
from tests.chaos.directed import Outcome, judge
from tests.chaos.directed_login import people, warm_logins
from tests.chaos.directed_stuffing import stuff

# On baseline every attacker keeps a scrypt hash queued and the portal hashes two at a time
# (its hashing bulkhead, one per core), so a user's login waits about ATTACKERS / 2 hashes:
# with 64 attackers that was 7.0 s p99 when a hash took ~150 ms, but on 2026-12-07 a hash
# (n = 2**14) took 29.5 ms here and the p99 was 931-988 ms, under the 1 s SLO in 5 of 7 runs.
# 160 make it about 2.4 s by that count (3 of 3 runs broke the SLO as meant); a resilient login
# measured 0.07-0.42 s (p99 0.42 s) with the load average ~3 (the few hashes the per-account
# burst allows, a healthy Shahkar, the 429s answered around it), and passed 3 of 3 with 160.
ATTACKERS = 160
LOGIN_SLO_MS = 1000.0
ATTACK_S = 5.0
USERS = 8
USER_GAP_S = 0.5  # 8 users over 4 s, inside the 5 s attack
VICTIMS = 4  # the attacked accounts: per-account limiting protects them whatever the source
# citizen ranges of their own, away from test_slow_upstream's 200-223 (per-account limits)
RESILIENT_FIRST, BASELINE_FIRST = 100, 120

INVARIANTS: dict[str, dict[str, object]] = {"login_under_attack": {"slo_ms": LOGIN_SLO_MS}}


def _run(lab: Lab, injector: Injector, group: int, first: int) -> Outcome:
    """Attack, with the citizens from `first` (users, then victims) from addresses `group`."""
    users = people(first, USERS)
    victims = people(first + USERS, VICTIMS)
    # Each owner logs in once first: the mobile is confirmed (no Shahkar burst in the run),
    # and the seed's cheap hash (n = 2**10) is upgraded to the portal's cost (n = 2**14), as
    # every account in use has been: stuffing a never-used seed hash would cost nothing.
    warm_logins(lab, [*users, *victims], group=group)
    injector.history.ops.clear()
    stuff(lab, injector, attackers=ATTACKERS, victims=victims, users=users, group=group,
          user_gap_s=USER_GAP_S, attack_s=ATTACK_S)
    return judge(lab, injector, INVARIANTS)


@pytest.mark.chaos
def test_resilient_logins_keep_their_slo_under_attack(chaos_lab: Lab,
                                                      injector: Injector) -> None:
    out = _run(chaos_lab, injector, group=4, first=RESILIENT_FIRST)
    assert out.verdicts["login_under_attack"][0] is True, out.verdicts


@pytest.mark.chaos
def test_baseline_logins_lose_their_slo(chaos_labs: LabFactory) -> None:
    lab = chaos_labs("baseline")
    with lab_injector(lab) as injector:
        out = _run(lab, injector, group=5, first=BASELINE_FIRST)
    verdict, detail = out.verdicts["login_under_attack"]
    assert verdict is False, out.verdicts
    assert "SLO" in detail and "succeeded" not in detail, detail  # slow, not broken into
