"""The history: pairing, round-trips through JSON lines, and validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scenario import history
from scenario.history import (
    History,
    Op,
    _lines_formatted,
    _lines_joined,
    _plain_numbers,
    jsonl_bytes,
)
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


# What the simulator writes: strings without a character json escapes, finite float times.
plain = st.text(st.characters(min_codepoint=0x20, exclude_characters='"\\',
                              exclude_categories=["Cs"]), max_size=8)
plain_ops = st.builds(
    Op,
    type=st.sampled_from(["invoke", "ok", "fail", "info"]),
    process=plain,
    f=st.sampled_from(["login", "call", "fault:start", "queue_length"]),
    time_s=st.floats(allow_nan=False, allow_infinity=False),
    key=plain,
    value=plain,
    error=plain,
    priority=st.integers(min_value=-1, max_value=2),
)
# Any value of the types Op's fields are annotated with (mypy accepts an int for a float and a
# bool for an int), each field plain or not on its own: strings with quotes, backslashes and
# control characters, non-finite times. No lone surrogate: UTF-8 cannot encode one (both
# writers raise the same error on it).
text = plain | st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
any_ops = st.builds(
    Op,
    type=st.sampled_from(["invoke", "ok", "fail", "info"]),
    process=text,
    f=text,
    time_s=st.floats() | st.integers() | st.booleans(),
    key=text,
    value=text,
    error=text,
    priority=st.integers() | st.booleans(),
)


def _dumps(ops: list[Op]) -> bytes:
    """What write_jsonl wrote before jsonl_bytes: one json.dumps per op."""
    return "".join(json.dumps(op._asdict(), ensure_ascii=False, separators=(",", ":")) + "\n"
                   for op in ops).encode("utf-8")


@given(st.lists(plain_ops | any_ops, max_size=5))
def test_jsonl_bytes_are_json_dumps_bytes(records: list[Op]) -> None:
    assert jsonl_bytes(records) == _dumps(records)


@given(st.lists(plain_ops | any_ops, max_size=5))
def test_pypys_joined_lines_are_the_formatted_lines(records: list[Op]) -> None:
    # PyPy writes with _lines_joined, CPython with _lines_formatted when _plain_numbers:
    # where the numbers are plain they are the same text, and the joined lines are None
    # exactly where they are not (a time not a finite float, a priority not an int)
    plain = _plain_numbers(records)
    assert _lines_joined(records) == (_lines_formatted(records) if plain else None)


@given(st.lists(plain_ops, max_size=20))
def test_the_fast_format_of_plain_ops_is_json(records: list[Op]) -> None:
    assert _plain_numbers(records)  # the ops the simulator writes take the fast path
    assert "".join(map(history._LINE.__mod__, records)).encode("utf-8") == _dumps(records)


@pytest.mark.parametrize("op", [
    Op("ok", "p", "f", math.nan), Op("ok", "p", "f", math.inf), Op("ok", "p", "f", -math.inf),
    Op("ok", "p", "f", True), Op("ok", "p", "f", 3), Op("ok", "p", "f", 0.5, priority=True),
    Op("ok", 'say "hi"', "f", 0.5), Op("ok", "p", "f", 0.5, key="a\\b"),
    Op("ok", "p", "f", 0.5, error="\x1f"), Op("ok", "p", "f", 0.5, value="\u0627\u200c\x7f"),
])
def test_each_value_json_prints_otherwise_is_json(op: Op) -> None:
    assert jsonl_bytes([op]) == _dumps([op])


def test_a_chunk_with_one_escaped_string_is_still_json(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "JSONL_CHUNK", 3)
    ops = [Op("ok", f"p{i}", "login", i / 7, priority=1) for i in range(7)]
    ops[4] = ops[4]._replace(value='say "hi"\n', time_s=float("inf"))
    History(ops).write_jsonl(tmp_path / "h.jsonl")
    assert (tmp_path / "h.jsonl").read_bytes() == _dumps(ops)


def test_bad_record_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="history record 2: type 'done'"):
        History.from_records([
            {"type": "ok", "process": "p", "f": "x", "time_s": 0},
            {"type": "done", "process": "p", "f": "x", "time_s": 1},
        ])
