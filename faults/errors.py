"""The exception tree of `faults/`: every error it raises is a `FaultError`.

Each error carries one sentence that says what went wrong, where, and what was expected, so
the CLI can print `str(error)` and exit 2 (bad input) or 1 (the lab misbehaved) without a
traceback.

    FaultError
    ├── InvalidFault          a fault, schedule or topology is malformed (also a ValueError)
    ├── UnknownTarget         a fault names a link, switch, rack or service the topology lacks
    ├── ToxiproxyError        the Toxiproxy server refused or could not be reached
    │   ├── ToxiproxyUnreachable   connection refused or reset, DNS failure
    │   ├── ToxiproxyTimeout       no answer within the client's timeout
    │   ├── ProxyNotFound          404: no such proxy or toxic
    │   ├── ProxyExists            409: a proxy or toxic of that name already exists
    │   ├── BadToxiproxyRequest    400: the server rejected the request body
    │   └── ToxiproxyServerError   5xx (e.g. the listen address is in use) or a malformed answer
    ├── AdminError            an upstream's POST /admin/fault failed
    ├── SupervisorError       the process supervisor could not kill, restart or deploy
    └── HealError             one or more heal actions failed (all were still attempted)
"""

from __future__ import annotations


class FaultError(Exception):
    """The base of every error raised by `faults/`."""


class InvalidFault(FaultError, ValueError):
    """A fault, schedule or topology is malformed; the message names the field."""


class UnknownTarget(FaultError, LookupError):
    """A fault targets a name the topology does not have."""


class ToxiproxyError(FaultError):
    """The Toxiproxy server answered with an error or could not be reached.

    `status` is the HTTP status (0 when no answer arrived).
    """

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ToxiproxyUnreachable(ToxiproxyError):
    """The Toxiproxy server could not be connected to."""


class ToxiproxyTimeout(ToxiproxyError):
    """The Toxiproxy server did not answer within the client's timeout."""


class ProxyNotFound(ToxiproxyError):
    """404: the proxy or toxic does not exist."""


class ProxyExists(ToxiproxyError):
    """409: a proxy or toxic of that name already exists."""


class BadToxiproxyRequest(ToxiproxyError):
    """400: the server rejected the request (bad field, unknown toxic type...)."""


class ToxiproxyServerError(ToxiproxyError):
    """5xx, or an answer that is not the JSON Toxiproxy documents."""


class AdminError(FaultError):
    """An upstream's admin fault route failed or could not be reached."""


class SupervisorError(FaultError):
    """The process supervisor could not act on a rack or service."""


class HealError(FaultError):
    """Healing finished with failures; every heal action was still attempted.

    `errors` holds each underlying failure in the order they happened.
    """

    def __init__(self, message: str, errors: tuple[BaseException, ...]) -> None:
        super().__init__(message)
        self.errors = errors
