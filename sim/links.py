"""The simulated network links: what a proxy's state (enabled flag, toxics, an upstream's admin
fault) does to one request and its response, with Toxiproxy's meaning per direction.

One request/response exchange is one connection. Its request travels Toxiproxy's "upstream"
stream (client -> server), its response the "downstream" stream (server -> client).
`cross(link, rng, request, response)` draws, once per attempt, what each
direction does: a delay added to it, or the point where it stops (data dropped) and, if ever,
when the connection closes. Both sides (the users' link in `sim.client`, the portal's upstream
links in `sim.upstream`) read the same `Passage`.

How each toxic is modelled (attributes in Toxiproxy's units, TOXIPROXY.md):
- latency: latency +- uniform jitter (ms) added to its direction, at least 0. The proxy draws
  the jitter per chunk and releases a connection's chunks in order, so a message of k chunks
  arrives after the largest of k draws: an HTTP response is 2 (uvicorn writes its start and
  its body apart), a request with a body 2 (httpx writes its headers and body apart), a GET 1
  (measured on the embedded proxy, latency 1000 +- 1000 ms, 100 round trips: mean 1350 ms
  downstream, 1295 ms upstream; one draw's mean is 1000 ms, the largest of two 1333 ms).
- bandwidth: bytes / (rate x 1000) s added to its direction; rate 0 stalls it (never closes).
- slicer: the message is cut into ceil(bytes / average_size) pieces with `delay` microseconds
  between them: pieces x delay added.
- slow_close: delays only the close, after the response is read: no effect on an exchange.
- timeout: the direction's data is dropped; the connection closes `timeout` ms later (0: never)
  or when the toxic is removed, whichever comes first: removing a timeout toxic closes the
  connections it holds (Toxiproxy's `TimeoutToxic.Cleanup`, and ours: `closes_on_removal`), so
  every user it hung sees a reset at the heal, at once (`World.hang`).
- reset_peer: the direction's first data waits `timeout` ms, then the connection is reset.
- limit_data: a message larger than `bytes` is cut: the connection closes mid-message.
- noop: nothing.
- toxicity: each toxic acts on an attempt with that probability (drawn with the world's rng;
  no draw at 1 or 0). Stacked toxics apply in insertion order: delays add up; the first that
  stops a direction decides when it stops.
A toxic acts on the attempts that start while it is on (Toxiproxy's act on open connections
too; an attempt lasts seconds, a fault minutes); its removal ends the waits it caused only for
a timeout toxic, which closes them. A disabled proxy refuses connections; the
ones open when it was disabled are dropped by `sim.ports.SimProxies`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal, assert_never, cast, get_args

from faults.actions import SetAdminFault
from faults.toxics import ToxicSpec

ToxicType = Literal["latency", "bandwidth", "slicer", "slow_close", "timeout", "reset_peer",
                    "limit_data", "noop"]
SIMULATED: frozenset[str] = frozenset(get_args(ToxicType))
NEVER = math.inf  # a stop whose connection is never closed: the caller's timeout ends it
CUT_AFTER_S = 1.0  # how long a cut message runs before limit_data closes it (an upload of a
# few hundred kB on a clinic's line; the sim does not model line speed otherwise)

# Message sizes the size-dependent toxics (bandwidth, slicer, limit_data) act on, as the live
# portal and mock upstreams exchange them: an HTTP request with its headers and a small form or
# JSON body; an upload (an employer's monthly list, a workshop's documents) of a few hundred kB,
# above limit_data's default 64 KiB cut; pages and JSON answers of a few kB; a history page of
# about 30 kB; upstream calls of a few hundred bytes of JSON each way.
REQUEST_BYTES = 1_500
UPLOAD_BYTES = 250_000
RESPONSE_BYTES = 5_000
READ_RESPONSE_BYTES = 30_000
UPSTREAM_REQUEST_BYTES = 600
UPSTREAM_RESPONSE_BYTES = 800
POLL_BYTES = 200  # a health poll's request or answer (GET /readyz, its status line, headers)
# how long a client's health poll waits for /readyz (the live clients' HEALTH_TIMEOUT_S,
# mock_services/lab/clients/replicas.py; tests/sim/test_failover.py keeps them equal)
POLL_TIMEOUT_S = 0.5
UPLOADS = frozenset({"submit_list", "register_workshop"})
READS = frozenset({"read_history", "read_payslip"})  # GETs: a request of one chunk
UPSTREAM_READS = frozenset({"registry"})  # the portal GETs from the registry, POSTs elsewhere


@dataclass(frozen=True, slots=True)
class Message:
    """A request or a response as the proxy sees it: its bytes, and the chunks it is written
    in (each drawn its own latency jitter)."""

    size: int
    chunks: int = 2


POLL = (Message(POLL_BYTES, 1), Message(POLL_BYTES))  # GET /readyz and its answer


@dataclass(frozen=True, slots=True)
class LinkState:
    """One proxy in the simulated lab ("client-portal-a", "portal-a-shahkar"): enabled or not,
    its toxics in insertion order, and for an upstream link its upstream's admin fault."""

    enabled: bool = True
    toxics: tuple[ToxicSpec, ...] = ()
    admin: SetAdminFault | None = None

    @property
    def healthy(self) -> bool:
        """Enabled, without toxics and without an admin fault: the world forgets it."""
        return self.enabled and not self.toxics and self.admin is None

    @property
    def mode(self) -> str:
        """A one-word summary: "ok", "slow" (only delays), "disabled", "http_503" or
        "broken" (some data stops)."""
        if not self.enabled:
            return "disabled"
        if self.admin is not None and self.admin.mode in ("unavailable", "fail_n"):
            return "http_503"
        if any(t.type in ("timeout", "reset_peer", "limit_data") for t in self.toxics):
            return "broken"
        return "slow" if self.toxics or self.admin is not None else "ok"


HEALTHY = LinkState()


@dataclass(frozen=True, slots=True)
class Stop:
    """A direction stopped: data dropped after `at_s`; the connection closes after `close_s`
    more (NEVER: it hangs); `reset` when it closes with a TCP reset; `toxic`, for a timeout
    toxic, its name: removing it closes the connection sooner (`World.hang`)."""

    at_s: float
    close_s: float
    reset: bool
    toxic: str = ""

    @property
    def closes_at_s(self) -> float:
        """When, from the start of the direction, the caller sees the connection end."""
        return self.at_s + self.close_s


@dataclass(frozen=True, slots=True)
class Passage:
    """What one attempt's request and response meet on a link."""

    up_delay_s: float = 0.0
    down_delay_s: float = 0.0
    up_stop: Stop | None = None
    down_stop: Stop | None = None


CLEAR = Passage()


def toxic_type(spec: ToxicSpec) -> ToxicType:
    """The spec's type as one the simulator models; `ValueError` (one sentence) otherwise."""
    if spec.type not in SIMULATED:
        raise ValueError(f"toxic type {spec.type!r} cannot be simulated; the simulator "
                         f"models {sorted(SIMULATED)}")
    return cast(ToxicType, spec.type)


def messages(kind: str) -> tuple[Message, Message]:
    """The request and response of a user request of `kind`."""
    request = Message(UPLOAD_BYTES if kind in UPLOADS else REQUEST_BYTES,
                      1 if kind in READS else 2)
    return request, Message(READ_RESPONSE_BYTES if kind in READS else RESPONSE_BYTES)


def upstream_messages(upstream: str) -> tuple[Message, Message]:
    """The request and response of the portal's call to `upstream`."""
    return (Message(UPSTREAM_REQUEST_BYTES, 1 if upstream in UPSTREAM_READS else 2),
            Message(UPSTREAM_RESPONSE_BYTES))


def cross(link: LinkState, rng: random.Random, request: Message, response: Message) -> Passage:
    """Draw what `link`'s toxics do to one exchange of this request and response."""
    if not link.toxics:
        return CLEAR
    delays = {"upstream": 0.0, "downstream": 0.0}
    stops: dict[str, Stop] = {}
    for spec in link.toxics:
        stream = spec.stream
        if stream in stops:
            continue  # its data stopped upstream of this toxic in the chain
        if spec.toxicity < 1.0 and (spec.toxicity <= 0.0 or rng.random() >= spec.toxicity):
            continue
        delay, stop = _effect(spec, dict(spec.attributes),
                              request if stream == "upstream" else response, rng)
        if stop is not None:
            stops[stream] = Stop(delays[stream] + stop.at_s, stop.close_s, stop.reset,
                                 spec.name if spec.type == "timeout" else "")
        delays[stream] += delay
    return Passage(delays["upstream"], delays["downstream"], stops.get("upstream"),
                   stops.get("downstream"))


_MEAN = random.Random(0)  # not drawn from: `_jitter` gives the mean for it (the polls')


def _jitter(rng: random.Random, jitter: int, chunks: int) -> float:
    """The jitter a message of `chunks` chunks arrives with: the largest of one uniform draw
    in [-jitter, jitter] per chunk (`_MEAN`: its mean, jitter (k - 1) / (k + 1))."""
    if rng is _MEAN:
        return jitter * (chunks - 1) / (chunks + 1)
    if chunks == 1:
        return rng.uniform(-jitter, jitter)
    return max(rng.uniform(-jitter, jitter) for _ in range(chunks))


def answers_polls(link: LinkState) -> bool:
    """Whether the clients' health polls get a replica's /readyz answer through `link`: its
    proxy is enabled, no toxic stops a poll's few hundred bytes in either direction, and the
    toxics' delays (jitter at its mean) add up to less than the poll's timeout. A toxic of
    toxicity under one half counts as off, from one half as on: the polls come every 0.1 s,
    so the rotation follows what most of them see. No draw: the seed's draws are the users'.
    """
    if not link.enabled:
        return False
    delay = 0.0
    for spec in link.toxics:
        if spec.toxicity < 0.5:
            continue
        added, stop = _effect(spec, dict(spec.attributes),
                              POLL[0] if spec.stream == "upstream" else POLL[1], _MEAN)
        if stop is not None:
            return False
        delay += added
    return delay < POLL_TIMEOUT_S


def _effect(spec: ToxicSpec, attrs: dict[str, int], message: Message,
            rng: random.Random) -> tuple[float, Stop | None]:
    """One toxic on one message: the delay it adds, or where it stops it."""
    kind = toxic_type(spec)
    size = message.size
    match kind:
        case "latency":
            latency, jitter = attrs.get("latency", 0), attrs.get("jitter", 0)
            drawn = latency + (_jitter(rng, jitter, message.chunks) if jitter else 0.0)
            return max(drawn, 0.0) / 1000, None
        case "bandwidth":
            rate = attrs.get("rate", 0)
            if rate == 0:
                return 0.0, Stop(0.0, NEVER, reset=False)
            return size / (rate * 1000), None
        case "slicer":
            pieces = math.ceil(size / attrs["average_size"])
            return pieces * attrs.get("delay", 0) / 1e6, None
        case "slow_close" | "noop":
            return 0.0, None
        case "timeout":
            timeout = attrs.get("timeout", 0)
            return 0.0, Stop(0.0, timeout / 1000 if timeout else NEVER, reset=False)
        case "reset_peer":
            return 0.0, Stop(0.0, attrs.get("timeout", 0) / 1000, reset=True)
        case "limit_data":
            if size > attrs.get("bytes", 0):
                return 0.0, Stop(0.0, CUT_AFTER_S, reset=False)
            return 0.0, None
        case _:
            assert_never(kind)
