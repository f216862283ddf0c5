"""A history indexed and written as it is recorded (`scenario.streamed`) gives the index and
the history.jsonl of the whole history kept to the end, wherever its chunks fall."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scenario import streamed
from scenario.checkers.index import Indexer, build_index, index
from scenario.history import (
    FAULT_START,
    FAULT_STOP,
    FINAL,
    GAUGE,
    LIST_QUEUE,
    NEMESIS,
    POLICY,
    SHORT_CIRCUIT,
    History,
    Op,
)
from scenario.invariants import build_checkers
from scenario.schema import load_scenario
from scenario.streamed import StreamedHistory
from scenario.summary import summarize
from sim.model import simulate
from sim.policyset import policy_set

ROOT = Path(__file__).resolve().parents[2]

# every branch of the index: faults, upstream attempts and short-circuits, breaker events,
# final counts (and an unreadable one), list waits, gauges (and a bad one), client calls
# left open, completed or cut by the next invoke, attackers
ops = st.builds(
    Op,
    type=st.sampled_from(["invoke", "ok", "fail", "info"]),
    process=st.sampled_from([NEMESIS, "upstream:shahkar@portal-a", "upstream:payment", POLICY,
                             FINAL, LIST_QUEUE, GAUGE, "citizen-1", "citizen-2",
                             "attacker-1"]),
    f=st.sampled_from([FAULT_START, FAULT_STOP, "call", SHORT_CIRCUIT, "breaker", "applied",
                       "queue_length", "login", "submit_list"]),
    time_s=st.floats(min_value=-10, max_value=1e6, allow_nan=False),
    key=st.sampled_from(["", "k1", "k2", "shahkar", "portal-a"]),
    value=st.sampled_from(["", "ok", "2", "x", "1.5", "inf", "closed -> open", "latency"]),
    error=st.sampled_from(["", "timeout", "shed"]),
    priority=st.integers(min_value=-1, max_value=2),
)
cuts = st.lists(st.integers(min_value=0, max_value=40), max_size=6)


@given(st.lists(ops, max_size=40), cuts)
def test_an_index_fed_in_chunks_is_the_whole_historys(records: list[Op],
                                                     at: list[int]) -> None:
    indexer = Indexer()
    bounds = sorted({0, len(records), *(min(a, len(records)) for a in at)})
    for lo, hi in itertools.pairwise(bounds):
        indexer.feed(records[lo:hi])
    assert indexer.finish() == build_index(History(list(records)))


@given(st.lists(ops, max_size=40), st.integers(min_value=1, max_value=7),
       st.sampled_from([float("inf"), float("-inf"), float("nan")]), st.data())
def test_a_time_that_is_not_finite_is_the_same_error_in_chunks(
        records: list[Op], chunk: int, bad: float, data: st.DataObject) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(records)))
    records = [*records[:at], records[at]._replace(time_s=bad) if at < len(records)
               else Op("info", "citizen-1", "login", bad), *records[at + 1:]]
    with pytest.raises(ValueError) as whole:
        build_index(History(list(records)))
    indexer = Indexer()
    for lo in range(0, len(records), chunk):
        indexer.feed(records[lo:lo + chunk])
    with pytest.raises(ValueError) as pieces:
        indexer.finish()
    assert str(pieces.value) == str(whole.value)


@given(st.lists(ops, max_size=30), st.integers(min_value=1, max_value=5))
def test_a_streamed_history_writes_the_whole_historys_lines(
        tmp_path_factory: pytest.TempPathFactory, records: list[Op], chunk: int) -> None:
    # an invoke is recorded by `invoke`, which sets no value or error
    records = [op._replace(value="", error="") if op.type == "invoke" else op
               for op in records]
    out = tmp_path_factory.mktemp("streamed")
    History(list(records)).write_jsonl(out / "whole.jsonl")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(streamed, "CHUNK", chunk)
        with StreamedHistory(out / "streamed.jsonl") as history:
            for op in records:  # through the recording methods the simulator calls
                if op.type == "invoke":
                    history.invoke(op.process, op.f, op.time_s, op.key, op.priority)
                else:
                    history.append(op)
    assert len(history) == len(records)
    assert (out / "streamed.jsonl").read_bytes() == (out / "whole.jsonl").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["streamed.jsonl", "whole.jsonl"]


def test_a_simulated_day_streamed_is_the_day_kept(tmp_path: Path) -> None:
    """The simulator recording into a StreamedHistory: the same history.jsonl, the same
    index and the same summary as recording into a History (chunks of 64 ops, so that a
    short run crosses many chunk boundaries)."""
    scenario = load_scenario(ROOT / "scenarios" / "switch_failure.toml").scaled(8)
    policies = policy_set("resilient", scenario)
    kept = simulate(scenario, policies, 3).history
    kept.write_jsonl(tmp_path / "kept.jsonl")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(streamed, "CHUNK", 64)
        with StreamedHistory(tmp_path / "streamed.jsonl") as history:
            simulate(scenario, policies, 3, history)
    assert len(kept) > 1000 and len(history) == len(kept)
    assert (tmp_path / "streamed.jsonl").read_bytes() == (tmp_path / "kept.jsonl").read_bytes()
    assert index(history) == build_index(kept)
    checkers = build_checkers(scenario.invariants)
    assert summarize(history, checkers) == summarize(kept, checkers)


def test_a_failed_run_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="the model broke"), \
            StreamedHistory(tmp_path / "history.jsonl") as history:
        for n in range(10_000):  # past a chunk: something was written already
            history.append(Op("info", GAUGE, "queue_length", float(n), "portal-a", "1"))
        raise RuntimeError("the model broke")
    assert list(tmp_path.iterdir()) == []


def test_a_streamed_history_is_read_only_through_its_index() -> None:
    history = StreamedHistory()
    history.append(Op("info", GAUGE, "queue_length", 1.0, "portal-a", "1"))
    with pytest.raises(RuntimeError, match="indexed when its block ends"):
        index(history)
    with history:
        pass
    assert index(history).gauges == {("queue_length", "portal-a"): [(1.0, 1.0)]}
    for read in (lambda: list(history), history.client_ops, history.pairs):
        with pytest.raises(TypeError, match="keeps none of its ops"):
            read()
