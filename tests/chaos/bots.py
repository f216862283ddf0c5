"""Lean HTTP/1.1 clients for directed load: keep-alive connections, requests written
pre-encoded, answers read to their status line and body.

The load of a directed run shares the test's process and the machine's two cores with the
portal it measures. A full HTTP client (httpx) costs about a millisecond of CPU a request
here: 64 credential-stuffing bots on it starved the timed users' event loop (429s the portal
answered in < 0.1 s were seen after 1.3 s), and a 400 req/s surge measured mostly the client.
Real bots and browsers run on other machines; these keep the cost of the load on the portal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True, slots=True)
class Answer:
    """A response: its status code and body."""

    status: int
    body: bytes


class Bots:
    """A pool of keep-alive connections to one server (`base_url`), opened as needed."""

    def __init__(self, base_url: str) -> None:
        url = httpx.URL(base_url)
        self.host, self.port = url.host, url.port or 80
        self._idle: list[_Conn] = []
        self._all: set[asyncio.StreamWriter] = set()

    async def request(self, method: str, path: str, headers: Mapping[str, str] | None = None,
                      body: bytes = b"") -> Answer:
        """Send one request on an idle connection (a new one if none) and read the answer."""
        reader, writer = self._idle.pop() if self._idle else await self._open()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(b"%sContent-Length: %d\r\n\r\n%s" % (head.encode(), len(body), body))
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            fields = {k.strip().lower(): v.strip()
                      for k, _, v in (x.partition(":") for x in lines[1:] if x)}
            content = await reader.readexactly(int(fields.get("content-length", "0")))
        except BaseException:
            self._drop(writer)
            raise
        if fields.get("connection", "").lower() == "close":
            self._drop(writer)
        else:
            self._idle.append((reader, writer))
        return Answer(int(lines[0].split()[1]), content)

    async def _open(self) -> _Conn:
        conn = await asyncio.open_connection(self.host, self.port)
        self._all.add(conn[1])
        return conn

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        self._all.discard(writer)
        writer.close()

    async def aclose(self) -> None:
        """Close every connection, idle or not."""
        for writer in list(self._all):
            self._drop(writer)
        self._idle.clear()
