"""Rate profiles: open-loop arrivals drawn from the rates, reproducibly."""

from __future__ import annotations

import random

import pytest

from mock_services.lab.clients.profile import Phase, ProfileError, month_end_rush, steady


def test_arrivals_follow_the_rates_and_replay_with_the_seed() -> None:
    profile = steady(200.0, {"citizen": 5.0, "doctor": 1.0})
    a = profile.arrivals(random.Random(7))
    assert a == profile.arrivals(random.Random(7))
    n_citizens = sum(1 for x in a if x.kind == "citizen")
    # Poisson(1000): 5 standard deviations is about ±160
    assert 840 < n_citizens < 1160
    assert 120 < sum(1 for x in a if x.kind == "doctor") < 280
    assert [x.time_s for x in a] == sorted(x.time_s for x in a)
    assert len({x.process for x in a}) == len(a)


def test_month_end_rush_multiplies_list_submissions_only() -> None:
    profile = month_end_rush(100.0, 100.0, {"employer": 1.0, "citizen": 1.0}, list_factor=9.0)
    a = profile.arrivals(random.Random(1))
    normal = sum(1 for x in a if x.kind == "employer" and x.time_s < 100)
    rush = sum(1 for x in a if x.kind == "employer" and x.time_s >= 100)
    assert rush > 5 * normal
    citizens_rush = sum(1 for x in a if x.kind == "citizen" and x.time_s >= 100)
    assert citizens_rush < 2 * sum(1 for x in a if x.kind == "citizen" and x.time_s < 100)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"duration_s": 0.0}, "must be > 0"),
     ({"duration_s": 1.0, "rates_per_s": {"tourist": 1.0}}, "unknown user kind 'tourist'"),
     ({"duration_s": 1.0, "rates_per_s": {"citizen": -1.0}}, "expected >= 0")],
)
def test_bad_phases_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ProfileError, match=fragment):
        Phase(**kwargs)  # type: ignore[arg-type]
