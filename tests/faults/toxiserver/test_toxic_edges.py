"""Each toxic's rule to the byte and the microsecond, on its own stub under a virtual clock.

The socket suites (test_toxics.py, test_toxic_edges_sockets.py) show the toxics on the wire
with margins a loaded machine needs; here `drive` (virtual.py) runs a toxic between real
Channels on an event loop whose clock jumps from timer to timer, so every figure is exact:
the boundaries (limit_data's last byte, bandwidth's 100 ms slice, the slicer's leaf size),
jitter's band, the units of every attribute, timeout 0, and what the stub hands back to the
pipeline when a toxic is interrupted. Figures follow Toxiproxy 2.12's toxics/*.go.
"""

from __future__ import annotations

import pytest

from faults.toxiserver.channel import Channel, Chunk
from faults.toxiserver.toxics import REGISTRY, Toxic, ToxicStub
from faults.toxiserver.toxics.bandwidth import BandwidthToxic
from faults.toxiserver.toxics.latency import LatencyToxic
from faults.toxiserver.toxics.limit_data import LimitDataToxic, LimitState
from faults.toxiserver.toxics.noop import NoopToxic
from faults.toxiserver.toxics.reset_peer import ResetToxic
from faults.toxiserver.toxics.slicer import SlicerToxic
from faults.toxiserver.toxics.slow_close import SlowCloseToxic
from faults.toxiserver.toxics.timeout import TimeoutToxic
from tests.faults.toxiserver.virtual import START_S, Trace, drive

NS = 1e-9  # float sums of virtual seconds are exact to far better than a nanosecond


def at(*times_s: float) -> object:
    """Send times as a test expects them, exact to the nanosecond."""
    return pytest.approx(list(times_s), abs=NS)


def sizes(trace: Trace) -> list[int]:
    return [len(s.data) for s in trace.sent]


def delays_ms(trace: Trace, arrivals_s: list[float]) -> set[int]:
    """The whole milliseconds each chunk was held, the chunks sent in arrival order."""
    return {round((s.at_s - a) * 1000) for s, a in zip(trace.sent, arrivals_s, strict=True)}


# -- noop ------------------------------------------------------------------------------------


def test_noop_passes_every_chunk_at_once_and_ends_with_the_stream() -> None:
    trace = drive(NoopToxic(), [(0.0, b"a"), (0.25, b"bc")])
    assert [(s.data, s.stamp_s) for s in trace.sent] == [(b"a", 0.0), (b"bc", 0.25)]
    assert trace.times == at(0.0, 0.25)
    assert trace.ended_s == pytest.approx(0.25, abs=NS)


# -- latency ---------------------------------------------------------------------------------


def test_latency_releases_each_chunk_at_its_arrival_plus_latency() -> None:
    # The deadline counts from arrival: a chunk that queued behind another is not held again.
    trace = drive(LatencyToxic(latency=100), [(0.0, b"a"), (0.05, b"b"), (0.5, b"c")])
    assert trace.data == b"abc"
    assert trace.times == at(0.1, 0.15, 0.6)
    # Each goes on stamped with its deadline, so a second latency toxic counts from there.
    assert [s.stamp_s for s in trace.sent] == at(0.1, 0.15, 0.6)
    assert trace.ended_s == pytest.approx(0.6, abs=NS)


def test_latency_zero_passes_at_once() -> None:
    trace = drive(LatencyToxic(latency=0), [(0.0, b"a"), (0.3, b"b")])
    assert trace.times == at(0.0, 0.3)


@pytest.mark.parametrize(("jitter", "band"), [(0, {50}), (1, {49, 50}), (3, set(range(47, 53)))])
def test_latency_jitter_is_uniform_over_latency_plus_or_minus_jitter(jitter: int,
                                                                     band: set[int]) -> None:
    # toxics/latency.go: latency + rand.Int63n(2*jitter) - jitter, in whole milliseconds:
    # [latency - jitter, latency + jitter). 80 seeded draws meet every value of the band.
    arrivals = [float(i) for i in range(80)]  # a second apart: no chunk queues behind another
    trace = drive(LatencyToxic(latency=50, jitter=jitter), [(a, b"j") for a in arrivals], seed=5)
    assert delays_ms(trace, arrivals) == band


def test_latency_jitter_larger_than_latency_releases_late_chunks_at_once() -> None:
    # A negative delay is a deadline already past: the chunk goes out as it arrives.
    arrivals = [float(i) for i in range(40)]
    trace = drive(LatencyToxic(latency=1, jitter=5), [(a, b"j") for a in arrivals], seed=1)
    held = delays_ms(trace, arrivals)
    assert held == {0, 1, 2, 3, 4, 5}


def test_latency_holds_a_burst_of_1024_toxiproxy_chunks_without_delaying_it_again() -> None:
    # Ahead of latency a channel holds 1024 of Toxiproxy's 32 KB chunks (latency.go
    # GetBufferSize), plus the one the toxic holds: that burst leaves once, at the latency;
    # the chunk after it gets in only when the toxic takes the next, and waits its own.
    chunk = bytes(32 * 1024)
    trace = drive(LatencyToxic(latency=100), [(0.0, chunk)] * 1026)
    assert len(trace.sent) == 1026
    assert trace.times[:1025] == at(*[0.1] * 1025)
    assert trace.times[1025] == pytest.approx(0.2, abs=NS)


# -- bandwidth -------------------------------------------------------------------------------


def test_bandwidth_sends_in_100_ms_slices_then_the_rest() -> None:
    # 1 KB/s = 1000 bytes/s: a 100 ms slice is 100 bytes; 250 bytes take 0.25 s. The next
    # chunk (queued meanwhile) waits its own 0.1 s after that.
    trace = drive(BandwidthToxic(rate=1), [(0.0, b"x" * 250), (0.1, b"y" * 100)])
    assert sizes(trace) == [100, 100, 50, 100]
    assert trace.times == at(0.1, 0.2, 0.25, 0.35)
    assert trace.data == b"x" * 250 + b"y" * 100
    assert [s.stamp_s for s in trace.sent] == [0.0, 0.0, 0.0, pytest.approx(0.1, abs=NS)]


@pytest.mark.parametrize(("size", "pieces", "times"), [
    (100, [100], [0.1]),  # exactly one slice's worth: one piece, no empty tail
    (101, [100, 1], [0.1, 0.101]),
    (99, [99], [0.099]),
])
def test_bandwidth_slice_boundary(size: int, pieces: list[int], times: list[float]) -> None:
    trace = drive(BandwidthToxic(rate=1), [(0.0, b"z" * size)])
    assert sizes(trace) == pieces
    assert trace.times == at(*times)


def test_bandwidth_does_not_bank_idle_time() -> None:
    # Like toxics/bandwidth.go, a pause does not earn credit: each chunk waits size / rate.
    trace = drive(BandwidthToxic(rate=1), [(0.0, b"a" * 50), (1.0, b"b" * 50), (1.0, b"c" * 50)])
    assert trace.times == at(0.05, 1.05, 1.1)


def test_bandwidth_makes_up_late_wake_ups_on_the_next_chunk() -> None:
    # Every timer fires 4 ms late; the error is carried over (bandwidth.go: sleep -=
    # time.Since(start)), so ten 50-byte chunks at 1 KB/s end 4 ms late, not 40 ms.
    trace = drive(BandwidthToxic(rate=1), [(0.0, b"q" * 50)] * 10, late_s=0.004)
    assert trace.times == at(*(0.05 * (i + 1) + 0.004 for i in range(10)))


def test_bandwidth_rate_scales_the_pace() -> None:
    # 1000 KB/s: 10 kB take 10 ms, one piece (a slice is 100 kB).
    trace = drive(BandwidthToxic(rate=1000), [(0.0, b"r" * 10_000), (0.0, b"s" * 5_000)])
    assert sizes(trace) == [10_000, 5_000]
    assert trace.times == at(0.01, 0.015)


def test_bandwidth_zero_holds_everything_and_never_ends() -> None:
    trace = drive(BandwidthToxic(rate=0), [(0.0, b"held")])
    assert (trace.sent, trace.ended_s) == ([], None)
    assert trace.stub is not None and trace.stub.held == Chunk(b"held", START_S)


# -- slicer ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "average", "pieces"), [
    (25, 10, [6, 6, 6, 7]),  # 25 -> 12 + 13 -> 6 + 6, 6 + 7: halves, the left rounded down
    (30, 10, [7, 8, 7, 8]),
    (10, 10, [10]),  # exactly the average: one piece
    (11, 10, [5, 6]),
    (1, 1, [1]),
])
def test_slicer_without_variation_halves_until_pieces_fit(size: int, average: int,
                                                           pieces: list[int]) -> None:
    data = bytes(range(size))
    trace = drive(SlicerToxic(average_size=average), [(0.0, data)])
    assert sizes(trace) == pieces
    assert trace.data == data


def test_slicer_keeps_a_chunk_of_average_plus_variation_whole() -> None:
    trace = drive(SlicerToxic(average_size=10, size_variation=4), [(0.0, b"w" * 14)])
    assert sizes(trace) == [14]


def test_slicer_cuts_uniformly_within_variation_of_the_middle() -> None:
    # 15 bytes, average 10 +- 4: one cut at 15 // 2 + rand(8) - 4, so the first piece is
    # 3 to 10 bytes, every value met over 100 seeded chunks, and the second the rest.
    trace = drive(SlicerToxic(average_size=10, size_variation=4),
                  [(float(i), b"v" * 15) for i in range(100)], seed=2)
    firsts = sizes(trace)[0::2]
    assert len(trace.sent) == 200
    assert set(firsts) == set(range(3, 11))
    assert all(a + b == 15 for a, b in zip(firsts, sizes(trace)[1::2], strict=True))


def test_slicer_pieces_replay_with_the_seed_and_differ_with_another() -> None:
    toxic = SlicerToxic(average_size=8, size_variation=6)
    feed = [(0.0, bytes(range(200)))]
    assert sizes(drive(toxic, feed, seed=1)) == sizes(drive(toxic, feed, seed=1))
    assert sizes(drive(toxic, feed, seed=1)) != sizes(drive(toxic, feed, seed=2))
    # a stub's own generator (before the pipeline seeds it) is seeded too
    assert sizes(drive(toxic, feed, seed=None)) == sizes(drive(toxic, feed, seed=None))


def test_slicer_waits_delay_microseconds_after_each_piece() -> None:
    # toxics/slicer.go waits `delay` µs after every piece, the last one too.
    trace = drive(SlicerToxic(average_size=10, delay=3000), [(0.0, bytes(range(25)))])
    assert trace.times == at(0.0, 0.003, 0.006, 0.009)
    assert [s.stamp_s for s in trace.sent] == [0.0] * 4  # every piece keeps the arrival time
    assert trace.ended_s == pytest.approx(0.012, abs=NS)


def test_slicer_without_delay_sends_every_piece_at_once() -> None:
    trace = drive(SlicerToxic(average_size=3), [(0.5, b"abcdefgh")])
    assert trace.data == b"abcdefgh"
    assert trace.times == at(*[0.5] * len(trace.sent))


# -- limit_data ------------------------------------------------------------------------------


def test_limit_data_forwards_exactly_its_bytes_then_ends() -> None:
    trace = drive(LimitDataToxic(bytes=1000), [(0.0, b"a" * 600), (0.1, b"b" * 600),
                                               (0.2, b"c" * 10)], close=False)
    assert trace.data == b"a" * 600 + b"b" * 400
    assert trace.ended_s == pytest.approx(0.1, abs=NS)  # at the last byte, not at the next read


def test_limit_data_ends_on_a_chunk_that_reaches_the_limit_exactly() -> None:
    trace = drive(LimitDataToxic(bytes=1000), [(0.0, b"e" * 1000)], close=False)
    assert sizes(trace) == [1000]
    assert trace.ended_s == 0.0


def test_limit_data_forwards_the_last_byte() -> None:
    trace = drive(LimitDataToxic(bytes=1000), [(0.0, b"n" * 999), (0.1, b"m" * 5)], close=False)
    assert trace.data == b"n" * 999 + b"m"
    assert trace.ended_s == pytest.approx(0.1, abs=NS)


def test_limit_data_counts_every_chunk() -> None:
    trace = drive(LimitDataToxic(bytes=1000), [(0.0, b"k" * 300)] * 5, close=False)
    assert sizes(trace) == [300, 300, 300, 100]


def test_limit_data_zero_forwards_nothing_and_ends_at_the_first_data() -> None:
    trace = drive(LimitDataToxic(bytes=0), [(0.2, b"lost")], close=False)
    assert trace.sent == []
    assert trace.ended_s == pytest.approx(0.2, abs=NS)
    idle = drive(LimitDataToxic(bytes=0), [], close=False)
    assert idle.ended_s is None  # like limit_data.go: it acts on data, not before


def test_limit_data_counts_what_earlier_runs_sent() -> None:
    # An update restarts the toxic on the same per-connection state (link.go UpdateToxic).
    state = LimitState(sent_bytes=600)
    trace = drive(LimitDataToxic(bytes=1000), [(0.0, b"u" * 1000)], state=state, close=False)
    assert sizes(trace) == [400]
    assert state.sent_bytes == 1000
    lowered = drive(LimitDataToxic(bytes=500), [(0.0, b"v" * 10)], state=LimitState(600),
                    close=False)
    assert (lowered.sent, lowered.ended_s) == ([], 0.0)


def test_limit_data_under_its_limit_ends_with_the_stream() -> None:
    trace = drive(LimitDataToxic(bytes=1000), [(0.0, b"s" * 10)])
    assert (trace.data, trace.ended_s) == (b"s" * 10, 0.0)


# -- reset_peer, slow_close, timeout ---------------------------------------------------------


def test_reset_peer_drops_the_first_data_and_ends_timeout_ms_later() -> None:
    trace = drive(ResetToxic(timeout=300), [(0.2, b"x"), (0.3, b"y")], close=False)
    assert trace.sent == []
    assert trace.ended_s == pytest.approx(0.5, abs=NS)


def test_reset_peer_zero_ends_at_the_first_data_and_idle_never() -> None:
    assert drive(ResetToxic(timeout=0), [(0.2, b"x")], close=False).ended_s == pytest.approx(
        0.2, abs=NS)
    assert drive(ResetToxic(timeout=50), [], close=False).ended_s is None


def test_slow_close_passes_data_at_once_and_delays_the_end() -> None:
    trace = drive(SlowCloseToxic(delay=300), [(0.0, b"a"), (0.1, b"b")])
    assert trace.times == at(0.0, 0.1)
    assert trace.ended_s == pytest.approx(0.4, abs=NS)
    assert drive(SlowCloseToxic(delay=300), [(0.0, b"a")], close=False).ended_s is None


def test_timeout_drops_data_and_ends_after_timeout_ms_of_silence() -> None:
    trace = drive(TimeoutToxic(timeout=300), [(0.0, b"a"), (0.15, b"b")], close=False)
    assert trace.sent == []
    assert trace.ended_s == pytest.approx(0.45, abs=NS)  # the timer restarts on each chunk
    assert drive(TimeoutToxic(timeout=300), [], close=False).ended_s == pytest.approx(0.3, abs=NS)
    assert drive(TimeoutToxic(timeout=1), [], close=False).ended_s == pytest.approx(0.001, abs=NS)


def test_timeout_zero_never_ends_while_the_stream_is_open() -> None:
    trace = drive(TimeoutToxic(timeout=0), [(0.0, b"a"), (5.0, b"b")], close=False)
    assert (trace.sent, trace.ended_s) == ([], None)
    closed = drive(TimeoutToxic(timeout=0), [(0.0, b"a")])
    assert closed.ended_s == 0.0  # the end of the stream still ends it


# -- what the stub hands back when the pipeline interrupts a toxic ---------------------------


def test_a_fresh_stub_holds_nothing() -> None:
    # An interrupt before the toxic ever ran puts nothing back into the stream.
    stub = ToxicStub(Channel(), Channel(), None)
    assert (stub.held, stub.saw_eof) == (None, False)


def test_interrupted_mid_chunk_the_stub_holds_exactly_the_unsent_rest() -> None:
    data = bytes(range(250))
    trace = drive(BandwidthToxic(rate=1), [(0.3, data)], stop_s=0.45)
    assert trace.stub is not None and trace.stub.held is not None
    assert sizes(trace) == [100]
    assert trace.data + trace.stub.held.data == data  # nothing lost, nothing twice
    # what is held keeps its arrival time
    assert trace.stub.held.arrival_s == pytest.approx(START_S + 0.3, abs=NS)


def test_interrupted_between_pieces_the_slicer_holds_the_rest() -> None:
    data = bytes(range(30))
    trace = drive(SlicerToxic(average_size=10, delay=1000), [(0.0, data)], stop_s=0.0015)
    assert trace.stub is not None and trace.stub.held is not None
    assert sizes(trace) == [7, 8]
    assert trace.stub.held.data == data[15:]


def test_interrupted_after_the_last_piece_nothing_is_held() -> None:
    trace = drive(SlicerToxic(average_size=10, delay=1000), [(0.0, bytes(25))], stop_s=0.0035)
    assert trace.stub is not None
    assert (sizes(trace), trace.stub.held) == ([6, 6, 6, 7], None)


def test_interrupted_while_waiting_for_data_nothing_is_held() -> None:
    trace = drive(LatencyToxic(latency=10), [(0.0, b"a")], close=False, stop_s=1.0)
    assert trace.stub is not None
    assert (trace.data, trace.stub.held, trace.stub.saw_eof) == (b"a", None, False)


def test_interrupted_after_the_end_of_stream_the_stub_says_so() -> None:
    # slow_close holds the end of the stream: the pipeline must put the end marker back.
    trace = drive(SlowCloseToxic(delay=500), [(0.0, b"a")], stop_s=0.1)
    assert trace.stub is not None
    assert (trace.ended_s, trace.stub.held, trace.stub.saw_eof) == (None, None, True)


def test_a_chunk_in_hand_is_held_until_sent() -> None:
    trace = drive(LatencyToxic(latency=100), [(0.0, b"wait")], stop_s=0.05)
    assert trace.stub is not None
    assert (trace.sent, trace.stub.held, trace.stub.saw_eof) == ([], Chunk(b"wait", START_S),
                                                                 False)


# -- attributes and refusals -----------------------------------------------------------------


@pytest.mark.parametrize(("toxic", "attributes"), [
    (LatencyToxic(latency=5), {"latency": 5, "jitter": 0}),
    (SlicerToxic(average_size=3, delay=7), {"average_size": 3, "size_variation": 0, "delay": 7}),
    (NoopToxic(), {}),
])
def test_attributes_list_every_field_in_wire_order(toxic: Toxic,
                                                   attributes: dict[str, int]) -> None:
    assert toxic.attributes() == attributes
    assert list(toxic.attributes()) == list(attributes)


def test_with_attributes_changes_only_the_given_keys() -> None:
    toxic = SlicerToxic(average_size=10, size_variation=2, delay=5)
    assert toxic.with_attributes({"delay": 9}) == SlicerToxic(10, 2, 9)
    assert toxic.with_attributes({}) == toxic


@pytest.mark.parametrize("toxic", [
    BandwidthToxic(rate=0), SlicerToxic(average_size=1), SlicerToxic(average_size=5),
    SlicerToxic(average_size=5, size_variation=5),
    *(cls() for cls in REGISTRY.values() if cls is not SlicerToxic),  # every default but its
])
def test_boundary_attributes_are_accepted(toxic: Toxic) -> None:
    assert toxic.problem() is None


@pytest.mark.parametrize(("toxic", "problem"), [
    (BandwidthToxic(rate=-1), "bandwidth rate must be >= 0 KB/s, got -1"),
    (SlicerToxic(average_size=0), "slicer average_size must be > 0 bytes, got 0"),
    (SlicerToxic(average_size=-3), "slicer average_size must be > 0 bytes, got -3"),
    (SlicerToxic(average_size=5, size_variation=-1),
     "slicer size_variation must be >= 0 bytes, got -1"),
    (SlicerToxic(average_size=5, size_variation=6),
     "slicer size_variation (6) must be at most average_size (5)"),
])
def test_crashing_attributes_are_refused_in_one_sentence(toxic: Toxic, problem: str) -> None:
    assert toxic.problem() == problem
