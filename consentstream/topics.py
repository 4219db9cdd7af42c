"""Kafka topic names, derived from one prefix so tests and deployments never collide."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """The topics the pipeline uses."""

    prefix: str

    @property
    def raw_events(self) -> str:
        """Raw events: raw IPs and visitor ids, short retention."""
        return f"{self.prefix}events.raw"

    @property
    def consent(self) -> str:
        """Consent decisions keyed by visitor: compacted."""
        return f"{self.prefix}consent"

    @property
    def dead_letters(self) -> str:
        """Events that failed validation or processing, with the reason."""
        return f"{self.prefix}deadletter"

    @property
    def privacy_jobs(self) -> str:
        """Verified privacy requests for the worker to carry out."""
        return f"{self.prefix}privacy.jobs"

    @property
    def audit_heads(self) -> str:
        """The audit chain's newest head per chain, outside ClickHouse: compacted."""
        return f"{self.prefix}audit.heads"
