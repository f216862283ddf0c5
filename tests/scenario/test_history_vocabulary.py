"""The history's packed names (scenario/names.py): each reader takes apart what its
constructor wrote, and answers None (or False) for a string of any other format.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from scenario.history import FINAL, GAUGE, NEMESIS, POLICY
from scenario.names import (
    UpstreamRef,
    attacker_number,
    attacker_source,
    is_attacker,
    is_client,
    is_stale,
    pharmacy_of,
    pharmacy_process,
    process_name,
    reconcile_key,
    reconciled_control,
    site_number,
    site_source,
    source_of,
    stale_age_s,
    stale_value,
    upstream_key,
    upstream_of,
    upstream_process,
    upstream_ref,
)

# a name as the scenario schema allows: no "@", "/" or ":" (the separators)
NAMES = st.from_regex(r"\A[\w-][\w.-]{0,30}\Z")
WORKERS = st.one_of(st.integers(min_value=0, max_value=10**9), NAMES)
AGES = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)
# look-alikes of the formats under another name ("registry:12.5", "citizen-4/7", "x@y")
LOOKALIKES = st.builds(lambda head, sep, tail: f"{head}{sep}{tail}", NAMES,
                       st.sampled_from(":@/-"),
                       st.one_of(NAMES, st.integers(0, 99).map(str), AGES.map(str)))
# strings of any other format: none starts with a prefix the readers look for
FOREIGN = st.one_of(st.text(max_size=30), LOOKALIKES).filter(
    lambda s: not s.startswith(("upstream:", "attacker-", "stale", "reconcile:", "pharmacy-")))


@given(NAMES, st.one_of(st.just(""), NAMES))
def test_an_upstream_process_and_key_read_back_as_written(name: str, replica: str) -> None:
    ref = UpstreamRef(name, replica)
    assert upstream_of(upstream_process(name, replica)) == ref
    assert upstream_ref(upstream_key(name, replica)) == ref
    assert ref.key == upstream_key(name, replica)


def test_upstream_names_on_the_wire() -> None:
    assert upstream_process("shahkar") == "upstream:shahkar"
    assert upstream_process("shahkar", "portal-a") == "upstream:shahkar@portal-a"
    assert upstream_ref("shahkar@portal-a@x") == UpstreamRef("shahkar", "portal-a@x")
    assert upstream_ref("shahkar") == UpstreamRef("shahkar")


@given(FOREIGN)
def test_no_other_process_names_an_upstream(process: str) -> None:
    assert upstream_of(process) is None


@given(NAMES, st.integers(min_value=0, max_value=10**9))
def test_a_site_source_reads_back_its_number(population: str, site: int) -> None:
    assert site_number(site_source(population, site)) == site


@given(st.text(max_size=30).filter(lambda s: not s.rpartition("-")[2].isdecimal()))
def test_a_source_without_a_number_names_no_site(source: str) -> None:
    assert site_number(source) is None


@given(st.integers(min_value=0, max_value=10**9), st.one_of(st.just(""), WORKERS))
def test_an_attacker_is_known_by_its_source_and_processes(n: int, worker: int | str) -> None:
    source = attacker_source(n)
    assert is_attacker(source) and attacker_number(source) == n
    process = process_name(source, worker) if worker != "" else source
    assert is_attacker(process) and not is_client(process)


@given(FOREIGN)
def test_no_other_source_is_an_attacker(source: str) -> None:
    assert not is_attacker(source) and attacker_number(source) is None


def test_a_bare_attacker_prefix_is_stream_zero_and_a_word_is_no_stream() -> None:
    assert attacker_number("attacker-") == 0
    assert attacker_number("attacker-x") is None
    assert attacker_number("attacker-²") is None


@given(NAMES, WORKERS)
def test_a_process_names_its_source_before_the_slash(source: str, worker: int | str) -> None:
    assert source_of(process_name(source, worker)) == source
    assert source_of(source) == source


@given(NAMES, st.one_of(st.just(""), WORKERS))
def test_a_pharmacy_process_reads_back_its_pharmacy(pharmacy_id: str,
                                                      worker: int | str) -> None:
    process = pharmacy_process(pharmacy_id, worker)
    assert pharmacy_of(process) == pharmacy_process(pharmacy_id) == f"pharmacy-{pharmacy_id}"
    assert is_client(process)


def test_pharmacy_names_on_the_wire() -> None:
    assert pharmacy_process("3", "p17") == "pharmacy-3/p17"
    assert pharmacy_of("pharmacy-3/2/1") == "pharmacy-3"
    assert pharmacy_of(site_source("pharmacy", 12)) == "pharmacy-12"
    assert pharmacy_of("pharmacy") is None  # the population, not a pharmacy
    assert pharmacy_of("clinic-3/2") is None


@given(FOREIGN)
def test_no_other_process_belongs_to_a_pharmacy(process: str) -> None:
    assert pharmacy_of(process) is None


def test_who_is_a_client() -> None:
    assert is_client("citizen-1") and is_client("pharmacy-3/2") and is_client("citizen/4")
    for process in (NEMESIS, POLICY, FINAL, GAUGE, upstream_process("shahkar"),
                    upstream_process("shahkar", "portal-a"), attacker_source(1)):
        assert not is_client(process), process


@given(AGES)
def test_a_stale_value_reads_back_its_age_to_a_tenth_of_a_second(age_s: float) -> None:
    value = stale_value(age_s)
    assert is_stale(value)
    assert stale_age_s(value) == float(f"{age_s:.1f}")
    assert math.isclose(stale_age_s(value) or 0.0, age_s, abs_tol=0.05 + age_s * 1e-12)


def test_stale_values_on_the_wire() -> None:
    assert stale_value(42.5) == "stale:42.5"
    assert is_stale("stale") and stale_age_s("stale") is None  # a stale read of unknown age
    for value in ("stale:", "stale:old", "stale:inf", "stale:nan", "stale:1:2", "stale42"):
        assert stale_age_s(value) is None, value
    assert not is_stale("stale42") and not is_stale("stalemate")


@given(FOREIGN)
def test_no_other_value_is_stale(value: str) -> None:
    assert not is_stale(value) and stale_age_s(value) is None


@given(st.text(max_size=40))
def test_a_reconcile_key_reads_back_its_paper_record(control: str) -> None:
    assert reconciled_control(reconcile_key(control)) == control


def test_a_reconcile_key_on_the_wire() -> None:
    assert reconcile_key("C-pharmacy-3-17") == "reconcile:C-pharmacy-3-17"


@given(FOREIGN)
def test_no_other_key_is_a_reconciliation(key: str) -> None:
    assert reconciled_control(key) is None
