"""The paper quota and the reconciler at their edges: the law's 20 %, decimals, empty periods.

Paper may be at most max_share of a pharmacy's prescriptions in a period, counting the one
asked for: exactly 20 % is allowed, one more is deferred (never lost).
"""

from __future__ import annotations

import re

import pytest

from policies.decisions import Admit, Reject
from policies.errors import PolicyConfigError
from policies.quota import PaperQuota, Reconciler


def test_the_default_share_is_the_laws_twenty_percent_inclusive() -> None:
    quota = PaperQuota()
    assert quota.max_share == 0.2
    for _ in range(4):
        quota.record_electronic("ph1", "1404-01")
    assert quota.request_paper("ph1", "1404-01") == Admit()  # 1 of 5 = 20 %
    assert quota.request_paper("ph1", "1404-01") == Reject("deferred", None)  # 2 of 6
    assert quota.counts("ph1", "1404-01") == (4, 1, 1)
    assert quota.share("ph1", "1404-01") == 0.2


def test_the_share_is_honoured_as_the_decimal_written() -> None:
    quota = PaperQuota(0.01)  # one paper prescription in a hundred, not one in ninety
    for _ in range(98):
        quota.record_electronic("ph1", "p")
    assert quota.request_paper("ph1", "p") == Reject("deferred", None)  # 1 of 99
    quota.record_electronic("ph1", "p")
    assert quota.request_paper("ph1", "p") == Admit()  # 1 of 100


def test_pharmacies_and_periods_are_counted_apart() -> None:
    quota = PaperQuota(0.5)
    quota.record_electronic("ph1", "1404-01")
    assert quota.request_paper("ph1", "1404-01") == Admit()
    assert quota.request_paper("ph1", "1404-02") == Reject("deferred", None)
    assert quota.request_paper("ph2", "1404-01") == Reject("deferred", None)
    assert quota.counts("ph1", "1404-01") == (1, 1, 0)
    assert quota.counts("ph1", "1404-02") == (0, 0, 1)


def test_a_pharmacy_never_seen_has_nothing_and_a_share_of_zero() -> None:
    quota = PaperQuota()
    assert quota.counts("ph9", "1404-01") == (0, 0, 0)
    assert quota.share("ph9", "1404-01") == 0.0


def test_a_pharmacy_with_only_deferred_paper_still_has_a_share_of_zero() -> None:
    quota = PaperQuota()
    assert quota.request_paper("ph1", "p") == Reject("deferred", None)  # paper alone: 100 %
    assert quota.counts("ph1", "p") == (0, 0, 1)
    assert quota.share("ph1", "p") == 0.0


def test_the_share_counts_paper_over_all_prescriptions() -> None:
    quota = PaperQuota(1.0)
    quota.record_electronic("ph1", "p")
    assert quota.request_paper("ph1", "p") == Admit()
    assert quota.share("ph1", "p") == 0.5


@pytest.mark.parametrize("share", [0.0, 1.5, -0.2])
def test_a_share_outside_zero_to_one_is_refused_in_one_sentence(share: float) -> None:
    message = f"quota.max_share must be in (0, 1] (got {share!r})"
    with pytest.raises(PolicyConfigError, match="^" + re.escape(message) + "$"):
        PaperQuota(share)


def test_reconciliation_registers_each_prescription_once_per_pharmacy() -> None:
    reconciler = Reconciler()
    assert reconciler.register("ph1", "100")
    assert not reconciler.register("ph1", "100")
    assert reconciler.register("ph2", "100")  # the same control number at another pharmacy
    assert len(reconciler) == 2
