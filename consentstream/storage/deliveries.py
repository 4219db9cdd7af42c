"""Where the deletions sent to service providers stand: the ``processor_deliveries`` table.

The state lives in ClickHouse beside the privacy request it belongs to: it is evidence that
we directed each processor to delete (kept as long as the request record, unlike Redis's fast
state), it survives a worker restart, and in cluster mode a request's deliveries share the
request's shard (``cityHash64(request_id)``), so reads by request touch one shard.
Synchronous like the storage: async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

from datetime import datetime

from consentstream.storage import sql
from consentstream.storage.base import Storage
from schemas.rows import ProcessorDeliveryRow


class Deliveries:
    """Typed reads and writes of processor deliveries over any :class:`Storage`."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def save(self, rows: list[ProcessorDeliveryRow]) -> None:
        """Store new states; a row with a higher ``version`` supersedes the older ones."""
        if rows:
            self.storage.insert(sql.PROCESSOR_DELIVERIES, [r.model_dump() for r in rows])

    def of_request(self, request_id: str) -> list[ProcessorDeliveryRow]:
        """The latest state of each processor's delivery for one request, by processor name."""
        statement = sql.statement(sql.DELIVERIES_OF_REQUEST, self.storage.database)
        rows = self.storage.query(statement, {"request_id": request_id})
        return [ProcessorDeliveryRow.model_validate(r) for r in rows]

    def due(self, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        """``(request_id, processor)`` of pending deliveries whose next attempt is due."""
        statement = sql.statement(sql.DELIVERIES_DUE, self.storage.database)
        rows = self.storage.query(statement, {"now": now, "limit": limit})
        return [(str(r["request_id"]), str(r["processor"])) for r in rows]

    def unconfirmed_requests(self, limit: int = 1000) -> list[str]:
        """Requests with at least one delivery not (yet) confirmed, for operators."""
        statement = sql.statement(sql.DELIVERIES_UNCONFIRMED, self.storage.database)
        return [str(r["request_id"]) for r in self.storage.query(statement, {"limit": limit})]
