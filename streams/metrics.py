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
        self.shredded = Counter(
            "consentstream_worker_shredded_messages",
            "Messages dropped unread because their subject's data key was destroyed (erased"
            " subjects, expired anonymous keys), by topic.",
            ["topic"],
            registry=self.registry,
        )
        self.consent_mirrored = Counter(
            "consentstream_worker_consent_mirrored",
            "Consent decisions written to the Redis mirror.",
            registry=self.registry,
        )

    def serve(self, port: int, host: str = "127.0.0.1") -> tuple[str, int] | None:
        """Expose /metrics on ``host:port`` (port 0: off); the address bound, or None."""
        return serve_registry(self.registry, port, host)


def serve_registry(
    registry: CollectorRegistry, port: int, host: str = "127.0.0.1"
) -> tuple[str, int] | None:
    """Expose ``registry`` as /metrics on ``host:port`` (port 0: off); the address, or None.

    A busy port is logged, not fatal: the worker's job is the pipeline, not its metrics.
    """
    if not port:
        return None
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.warning("worker metrics not served on %s:%d: %s", host, port, exc)
        return None
    address, bound_port = server.server_address[:2]
    return str(address), int(bound_port)
