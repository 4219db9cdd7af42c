"""How rows reach ClickHouse: in chunks, each under a token naming its content, and how the
rows the engine refuses are told from the rest (so one bad row never stops the others)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from consentstream.storage.errors import DataRefused

from .retry import with_retry

log = logging.getLogger(__name__)
T = TypeVar("T")


def chunks(items: list[T], size: int) -> list[list[T]]:
    """Events (or rows) in chunks of at most ``size``: an insert holds at most ``size`` rows."""
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def batch_token(event_ids: Iterable[UUID]) -> str:
    """Insert deduplication token naming the batch's content: its rows' sorted event ids.

    A retried insert whose first attempt did land (a timeout after the server committed) is
    then a no-op where the engine has tokens; elsewhere ReplacingMergeTree merges the copy.
    """
    # The ids' 16 bytes in sorted order, as one update: sorting their integers is the same
    # order (big-endian, fixed width) and skips UUID.bytes, a property, per row.
    ordered = sorted([event_id.int for event_id in event_ids])
    data = b"".join([number.to_bytes(16, "big") for number in ordered])
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class Refused(Generic[T]):
    """A row the engine refused on its own, and the engine's reason."""

    row: T
    reason: str


async def insert_isolating(
    what: str, insert: Callable[[list[T]], None], rows: list[T]
) -> list[Refused[T]]:
    """Insert ``rows`` (retried while storage is down); the rows the engine refuses, isolated.

    A refused insert is split in halves until each refused row stands alone: every other row is
    stored, and the caller dead-letters the refused ones instead of retrying them forever. Rows
    that are stored together keep going in as one insert, so the common case costs one call.
    """
    if not rows:
        return []
    try:
        await with_retry(what, insert, rows)
    except DataRefused as exc:
        if len(rows) == 1:
            log.warning("%s: one row refused (%s)", what, exc)
            return [Refused(rows[0], f"refused by storage: {exc}")]
        middle = len(rows) // 2
        first = await insert_isolating(what, insert, rows[:middle])
        return first + await insert_isolating(what, insert, rows[middle:])
    return []
