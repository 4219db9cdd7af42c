"""Prometheus metrics of the collector, on a registry per app so tests can run several."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class CollectorMetrics:
    """Counters a collector operator watches."""

    registry: CollectorRegistry
    accepted: Counter
    duplicates: Counter
    rejected: Counter
    requests_rejected: Counter
    unavailable: Counter
    inflight: Gauge
    body_ids_ignored: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> CollectorMetrics:
        """A fresh registry with every collector metric on it."""
        reg = CollectorRegistry()
        return cls(
            registry=reg,
            accepted=Counter("collector_events_accepted", "Events durably in Kafka.", registry=reg),
            duplicates=Counter("collector_events_duplicate", "Retried events.", registry=reg),
            rejected=Counter(
                "collector_events_rejected", "Invalid events.", ["reason"], registry=reg
            ),
            requests_rejected=Counter(
                "collector_requests_rejected",
                "Whole requests refused, by reason (invalid, too_large, rate_limited, ...).",
                ["reason"],
                registry=reg,
            ),
            unavailable=Counter("collector_unavailable", "503 answers.", registry=reg),
            inflight=Gauge(
                "collector_producer_inflight",
                "Produce calls waiting for Kafka acknowledgement.",
                registry=reg,
                multiprocess_mode="livesum",  # several processes: the sum of the live ones
            ),
            body_ids_ignored=Counter(
                "collector_body_visitor_ids_ignored",
                "Body visitor_id values ignored because the visitor cookie does not back them.",
                ["route"],
                registry=reg,
            ),
            latency=Histogram(
                "collector_request_seconds", "Request latency.", ["route"], registry=reg
            ),
        )

    def refused_at_edge(self, code: str) -> None:
        """Count a request the edge refused before any route (too_large, invalid_host)."""
        self.requests_rejected.labels(reason=code).inc()


class RequestTimer:
    """ASGI middleware observing each HTTP request's latency by route template.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware``
    runs every request in an extra task with memory streams, which cost the collector more
    than most of its own steps.
    """

    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency
        # Each route's child histogram, looked up once: ``labels()`` validates, locks and
        # hashes on every call. Bounded by the app's route templates (plus "other").
        self._by_route: dict[str, Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request; the router has set ``scope["route"]`` by the time it returns."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            name = getattr(scope.get("route"), "path", "other")
            child = self._by_route.get(name)
            if child is None:
                child = self._by_route[name] = self.latency.labels(route=name)
            child.observe(time.perf_counter() - started)
