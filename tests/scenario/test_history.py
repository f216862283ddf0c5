"""The history: pairing, round-trips through JSON lines, and validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scenario.history import History, Op
from scenario.verdict import Verdict, compose, overall


def test_pairs_match_each_invoke_with_its_completion() -> None:
    h = History()
    a = h.invoke("c1", "login", 0.0)
    b = h.invoke("c2", "read_history", 0.1, key="k")
    h.fault(True, "switch_failure", "switch-a", 0.2)
    h.complete(b, "ok", 0.3, value="200")
    h.complete(a, "info", 0.5, error="timeout")
    h.invoke("c1", "login", 0.6)
    pairs = list(h.pairs())
    assert [(i.process, c.type if c else None) for i, c in pairs] == [
        ("c2", "ok"), ("c1", "info"), ("c1", None)
    ]
    assert pairs[0][1] is not None and pairs[0][1].key == "k"


def test_a_checker_that_raises_is_unknown_not_a_crash() -> None:
    def broken(h: History) -> Verdict:
        raise RuntimeError("boom")

    def fine(h: History) -> Verdict:
        return Verdict("fine", len(h) == 0)

    verdicts = compose([("broken", broken), ("fine", fine)], History())
    assert verdicts[0].valid == "unknown" and "boom" in verdicts[0].detail
    assert verdicts[1].valid is True
    assert overall(verdicts) == "unknown"
    assert overall([*verdicts, Verdict("bad", False)]) is False


ops = st.builds(
    Op,
    type=st.sampled_from(["invoke", "ok", "fail", "info"]),
    process=st.text(min_size=1, max_size=8),
    f=st.text(min_size=1, max_size=12),
    time_s=st.floats(min_value=0, max_value=1e7, allow_nan=False),
    key=st.text(max_size=12),
    value=st.text(max_size=12),
    error=st.text(max_size=12),
    priority=st.integers(min_value=-1, max_value=5),
)


@given(st.lists(ops, max_size=30))
def test_jsonl_round_trip(tmp_path_factory: pytest.TempPathFactory, records: list[Op]) -> None:
    path = tmp_path_factory.mktemp("h") / "history.jsonl"
    History(list(records)).write_jsonl(path)
    assert History.read_jsonl(path).ops == records


def test_bad_record_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="history record 2: type 'done'"):
        History.from_records([
            {"type": "ok", "process": "p", "f": "x", "time_s": 0},
            {"type": "done", "process": "p", "f": "x", "time_s": 1},
        ])
