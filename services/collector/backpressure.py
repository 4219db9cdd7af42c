"""A bound on produce calls waiting for Kafka, so a slow broker costs 503s, not memory.

Each request holding a slot keeps its parsed events in memory until Kafka acknowledges; past the
limit the collector refuses at once (503 with ``Retry-After``) instead of queueing without end.
"""

from __future__ import annotations

from types import TracebackType

from prometheus_client import Gauge

from .errors import Saturated


class InflightLimit:
    """At most ``limit`` produce calls at a time in this process (one event loop, no lock)."""

    def __init__(self, limit: int, retry_after: int, gauge: Gauge) -> None:
        self._limit = limit
        self._retry_after = retry_after
        self._gauge = gauge
        self._inflight = 0

    def slot(self) -> InflightLimit:
        """``async with limit.slot():`` holds a slot for one produce call, or raises
        :class:`Saturated` when none is free.

        The limit is its own context manager (a count is all a slot holds): an
        ``@asynccontextmanager`` made a generator and its wrapper on every request.
        """
        return self

    async def __aenter__(self) -> None:
        """Take a slot, or refuse."""
        if self._inflight >= self._limit:
            raise Saturated(self._retry_after)
        self._inflight += 1
        self._gauge.inc()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Give the slot back, whatever happened."""
        self._inflight -= 1
        self._gauge.dec()
