"""A bound on produce calls waiting for Kafka, so a slow broker costs 503s, not memory.

Each request holding a slot keeps its parsed events in memory until Kafka acknowledges; past the
limit the collector refuses at once (503 with ``Retry-After``) instead of queueing without end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import Gauge

from .errors import Saturated


class InflightLimit:
    """At most ``limit`` produce calls at a time in this process (one event loop, no lock)."""

    def __init__(self, limit: int, retry_after: int, gauge: Gauge) -> None:
        self._limit = limit
        self._retry_after = retry_after
        self._gauge = gauge
        self._inflight = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for one produce call, or raise :class:`Saturated` when none is free."""
        if self._inflight >= self._limit:
            raise Saturated(self._retry_after)
        self._inflight += 1
        self._gauge.inc()
        try:
            yield
        finally:
            self._inflight -= 1
            self._gauge.dec()
