"""The pure parts of the server: Go's JSON and address rules, toxicity printing, slicer cuts."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faults.toxiserver.channel import Channel, Chunk
from faults.toxiserver.entry import float32, float32_json
from faults.toxiserver.gojson import BodyError, decode, encode, fields
from faults.toxiserver.listen import ListenError, resolve, split_host_port
from faults.toxiserver.toxics import REGISTRY
from faults.toxiserver.toxics.slicer import SlicerToxic


@pytest.mark.parametrize(("body", "message"), [
    (b"", "EOF"), (b"  \n", "EOF"), (b'{"a": ', "unexpected EOF"), (b"NaN", None),
])
def test_decode_errors_read_like_go(body: bytes, message: str | None) -> None:
    with pytest.raises(BodyError) as caught:
        decode(body)
    if message is not None:
        assert str(caught.value) == message


def test_decode_takes_the_first_value_and_ignores_the_rest() -> None:
    assert decode(b' {"a": 1} trailing junk') == {"a": 1}


def test_fields_match_keys_case_insensitively_and_skip_null() -> None:
    spec = {"name": "string", "enabled": "bool"}
    assert fields({"NAME": "x", "enabled": None, "other": 5}, spec, "T") == {"name": "x"}
    assert fields({"Name": "a", "name": "b"}, spec, "T") == {"name": "b"}  # the last wins


@pytest.mark.parametrize("value", [1.0, 1.5, "1", True, 2**63])
def test_int64_fields_refuse_what_go_refuses(value: object) -> None:
    with pytest.raises(BodyError, match="cannot unmarshal"):
        fields({"latency": value}, {"latency": "int64"}, "LatencyToxic")


def test_encode_escapes_like_go() -> None:
    assert encode({"a": "<&>é"}) == '{"a":"\\u003c\\u0026\\u003eé"}'.encode()


@pytest.mark.parametrize(("value", "printed"), [(1.0, 1), (0.5, 0.5), (0.1, 0.1), (0, 0),
                                                 (0.3, 0.3), (2.0, 2)])
def test_toxicity_prints_minimally(value: float, printed: float) -> None:
    assert float32_json(float32(value)) == printed


@given(st.floats(-1e30, 1e30, allow_nan=False))
def test_toxicity_printing_round_trips_through_float32(value: float) -> None:
    stored = float32(value)
    assert float32(float(float32_json(stored))) == stored


@pytest.mark.parametrize(("address", "message"), [
    ("nocolon", "address nocolon: missing port in address"),
    ("::1:80", "address ::1:80: too many colons in address"),
    ("[::1:80", "address [::1:80: missing ']' in address"),
])
def test_split_host_port_errors_read_like_go(address: str, message: str) -> None:
    with pytest.raises(ListenError) as caught:
        split_host_port(address)
    assert str(caught.value) == message


@pytest.mark.parametrize(("address", "resolved"), [
    ("localhost:0", "127.0.0.1:0"), ("127.0.0.1:80", "127.0.0.1:80"), ("[::1]:5", "[::1]:5"),
    (":7", ":7"), ("", "127.0.0.1:0"),
    pytest.param("127.0.0.1:http", "127.0.0.1:80", marks=pytest.mark.skipif(
        not Path("/etc/services").exists(), reason="service names need /etc/services")),
])
def test_resolve_prints_like_go(address: str, resolved: str) -> None:
    assert str(asyncio.run(resolve(address))) == resolved


@given(size=st.integers(0, 5000), average=st.integers(1, 300), data=st.data())
def test_slicer_cuts_cover_the_chunk_in_bounded_pieces(size: int, average: int,
                                                       data: st.DataObject) -> None:
    variation = data.draw(st.integers(0, average))
    toxic = SlicerToxic(average_size=average, size_variation=variation)
    cuts = toxic.cuts(size, random.Random(data.draw(st.integers(0, 9))))
    assert cuts[-1] == size
    assert cuts == sorted(cuts)
    pieces = [b - a for a, b in zip([0, *cuts], cuts, strict=False)]
    smallest = 0 if variation == average else 1  # equal: a cut may fall on the span's start
    assert all(smallest <= p <= average + variation for p in pieces) or size == 0


def test_registry_has_the_eight_wire_names() -> None:
    assert sorted(REGISTRY) == sorted(["latency", "bandwidth", "slow_close", "timeout",
                                       "reset_peer", "slicer", "limit_data", "noop"])
    assert all(cls.wire_name == name for name, cls in REGISTRY.items())


def test_retired_channel_forwards_items_and_blocked_puts_in_order() -> None:
    async def scenario() -> list[bytes]:
        first, second = Channel(max_bytes=1), Channel(max_bytes=8)
        second.push(Chunk(b"a", 0))
        first.push(Chunk(b"b", 0))
        blocked = asyncio.create_task(first.put(Chunk(b"c", 0)))  # full: waits
        await asyncio.sleep(0)
        first.retire_into(second)
        await blocked
        return [(await second.get()).data for _ in range(3)]  # type: ignore[union-attr]

    assert asyncio.run(scenario()) == [b"a", b"b", b"c"]
