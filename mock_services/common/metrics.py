"""Prometheus metrics of one app, in its own registry (several apps live in one test process)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    """Request counts and latencies by route, plus counters a service adds for itself."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "Requests answered", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "Time to answer", ["route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.upstream = Counter("upstream_calls", "Attempts to upstreams by outcome",
                                ["upstream", "outcome"], registry=self.registry)
        self.events = Counter("service_events", "Notable events (shed, stale, queued...)",
                              ["event"], registry=self.registry)
        # the emulated demand's worker pool (mock_services.common.emulation); 0 without one
        self.emulated_busy = Gauge("emulated_busy_workers", "Emulated worker slots held",
                                   registry=self.registry)
        self.emulated_queue = Gauge("emulated_queue_length",
                                    "Requests waiting for an emulated worker slot",
                                    registry=self.registry)

    def router(self) -> APIRouter:
        """GET /metrics in Prometheus text format."""
        router = APIRouter()

        @router.get("/metrics", include_in_schema=False)
        async def metrics(_: Request) -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return router
