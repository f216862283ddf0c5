"""Fixtures of the proxy tests: an echo upstream for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.toxiserver.support import upstream


@pytest.fixture(scope="session")
def echo() -> Iterator[str]:
    """host:port of an echo server on loopback."""
    with upstream("echo") as address:
        yield address
