"""Retention from the data map: rows older than their table's retention period are removed.

The periods are data (``data/data-map.yaml``); which column dates a row is code
(:data:`consentstream.storage.sql.RETENTION_COLUMNS`). Engines with TTL may already have
dropped usage events; this job is what enforces retention on engines without it (18.16) and on
every other table. The API runs it on a schedule; ``consentstream retention`` runs it by hand.
The audit log is not purged: cutting its head would break the chain it exists to prove.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from consentstream.storage import sql
from consentstream.storage.errors import StorageError
from consentstream.storage.repository import Repository

from .datamap import DataMap

log = logging.getLogger(__name__)


def cutoffs(data_map: DataMap, now: datetime) -> dict[str, datetime]:
    """For each table with a dating column, the moment before which rows must be gone."""
    return {
        table: now - timedelta(days=entry.retention_days)
        for table, entry in data_map.tables.items()
        if table in sql.RETENTION_COLUMNS
    }


def enforce(repo: Repository, data_map: DataMap, now: datetime | None = None) -> dict[str, int]:
    """Remove expired rows from every table; returns the rows removed per table."""
    moments = cutoffs(data_map, now or datetime.now(UTC))
    return {table: repo.delete_older_than(table, cutoff) for table, cutoff in moments.items()}


async def run_periodically(repo: Repository, data_map: DataMap, every_seconds: float) -> None:
    """Enforce retention now and then every ``every_seconds``, until cancelled."""
    while True:
        try:
            removed = await asyncio.to_thread(enforce, repo, data_map)
            log.info("retention: removed %s", removed)
        except StorageError as exc:  # a down database must not end the schedule
            log.warning("retention run failed: %s", exc)
        await asyncio.sleep(every_seconds)
