"""A jittered latency toxic delays a message by the largest of one draw per chunk, as the
proxy does (each chunk drawn, a connection's chunks released in order): measured on the
embedded proxy with latency 1000 +- 1000 ms, 100 round trips of an uvicorn answer (two
chunks) averaged 1350 ms, against 1000 ms for one draw and 1333 ms for the largest of two."""

from __future__ import annotations

import random
import statistics

import pytest

from faults.toxics import ToxicSpec
from sim.links import LinkState, Message, answers_polls, cross, messages, upstream_messages

LATENCY_MS, JITTER_MS = 1000, 1000
DRAWS = 4000
# the mean of DRAWS delays is within 4 standard errors of its expectation: a uniform of
# width 2 s has sd 0.577 s, the largest of two sd 0.471 s, so 4 x 0.577 / sqrt(4000) < 0.037 s
MARGIN_S = 0.037


def _link(stream: str) -> LinkState:
    spec = ToxicSpec.of("latency", stream=stream, latency=LATENCY_MS, jitter=JITTER_MS)
    return LinkState(toxics=(spec,))


def _mean_delay(stream: str, request: Message, response: Message) -> float:
    rng = random.Random(7)
    link = _link(stream)
    passages = [cross(link, rng, request, response) for _ in range(DRAWS)]
    return statistics.fmean(p.up_delay_s if stream == "upstream" else p.down_delay_s
                            for p in passages)


@pytest.mark.parametrize(("chunks", "expected_s"), [(1, 1.0), (2, 4 / 3), (3, 1.5)])
def test_a_message_arrives_after_the_largest_of_its_chunks_draws(chunks: int,
                                                                 expected_s: float) -> None:
    # E[max of k uniforms on [0, 2 s]] = 2k / (k + 1) s
    message = Message(1000, chunks)
    assert abs(_mean_delay("downstream", message, message) - expected_s) < MARGIN_S


def test_the_exchanges_chunks_follow_their_http_messages() -> None:
    read_request, read_answer = messages("read_history")  # a GET and its answer
    login_request, _ = messages("login")  # a POST: headers and body written apart
    assert (read_request.chunks, read_answer.chunks, login_request.chunks) == (1, 2, 2)
    assert upstream_messages("registry")[0].chunks == 1  # the portal GETs from the registry
    assert upstream_messages("shahkar")[0].chunks == 2
    assert abs(_mean_delay("upstream", read_request, read_answer) - 1.0) < MARGIN_S
    assert abs(_mean_delay("upstream", login_request, read_answer) - 4 / 3) < MARGIN_S


def test_health_polls_see_the_mean_of_the_largest_draw() -> None:
    """A poll's answer (two chunks) under 0 +- 600 ms waits 200 ms on average, a poll's GET
    (one chunk) 0: the mean rule, with no draw, keeps the replica in rotation only when that
    mean is under the poll's 0.5 s timeout."""
    def link(stream: str, latency: int) -> LinkState:
        spec = ToxicSpec.of("latency", stream=stream, latency=latency, jitter=600)
        return LinkState(toxics=(spec,))

    assert answers_polls(link("downstream", 250))  # 250 + 200 ms < 500 ms
    assert not answers_polls(link("downstream", 350))  # 350 + 200 ms >= 500 ms
    assert answers_polls(link("upstream", 450))  # the GET: 450 + 0 ms
