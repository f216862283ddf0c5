"""Prometheus counters of the bytes each proxy relayed, named as the real server names them."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LABELS = ("direction", "proxy", "listener", "upstream")


class _Named(Protocol):
    name: str
    listen: str
    upstream: str


class ProxyMetrics:
    """toxiproxy_proxy_{received,sent}_bytes_total, per direction and proxy."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter("toxiproxy_proxy_received_bytes", "Bytes read from the source",
                                LABELS, registry=self.registry)
        self.sent = Counter("toxiproxy_proxy_sent_bytes", "Bytes written to the destination",
                            LABELS, registry=self.registry)

    def add(self, direction: str, proxy: _Named, received_bytes: int, sent_bytes: int) -> None:
        """Count one closed link's bytes, as the real server does when a link ends."""
        labels = (direction, proxy.name, proxy.listen, proxy.upstream)
        self.received.labels(*labels).inc(received_bytes)
        self.sent.labels(*labels).inc(sent_bytes)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
