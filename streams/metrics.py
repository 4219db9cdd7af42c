"""Prometheus metrics of the stream worker: what was stored, and what was dropped and why.

Each worker owns its registry (not the global one), so tests can build several workers in one
process; ``serve`` exposes it with ``prometheus_client.start_http_server``.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, start_http_server

log = logging.getLogger(__name__)


class WorkerMetrics:
    """Counters the agents update; labels are fixed reasons, never visitor data."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.taken = Counter(
            "consentstream_worker_messages_taken",
            "Raw-topic messages handed to the pipeline by stream.take, before decoding.",
            registry=self.registry,
        )
        self.stored = Counter(
            "consentstream_worker_events_stored",
            "Usage events written to ClickHouse.",
            registry=self.registry,
        )
        self.dropped = Counter(
            "consentstream_worker_events_dropped",
            "Events not stored, by pipeline drop reason.",
            ["reason"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "consentstream_worker_dead_letters",
            "Messages sent to the dead-letter topic, by source.",
            ["source"],
            registry=self.registry,
        )
        self.consent_mirrored = Counter(
            "consentstream_worker_consent_mirrored",
            "Consent decisions written to the Redis mirror.",
            registry=self.registry,
        )

    def serve(self, port: int) -> bool:
        """Expose /metrics on ``port`` (0: off). A busy port is logged, not fatal."""
        if not port:
            return False
        try:
            start_http_server(port, registry=self.registry)
        except OSError as exc:
            log.warning("worker metrics not served on port %d: %s", port, exc)
            return False
        return True
