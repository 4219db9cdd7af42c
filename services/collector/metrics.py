"""Prometheus metrics of the collector, on a registry per app so tests can run several."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
            ),
            latency=Histogram(
                "collector_request_seconds", "Request latency.", ["route"], registry=reg
            ),
        )
