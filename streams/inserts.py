"""How rows reach ClickHouse: in chunks, each under a token naming its content."""

from __future__ import annotations

import hashlib
from typing import TypeVar

from schemas.rows import UsageEventRow

T = TypeVar("T")


def chunks(items: list[T], size: int) -> list[list[T]]:
    """Events (or rows) in chunks of at most ``size``: an insert holds at most ``size`` rows."""
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def batch_token(rows: list[UsageEventRow]) -> str:
    """Insert deduplication token naming the batch's content: its sorted event ids.

    A retried insert whose first attempt did land (a timeout after the server committed) is
    then a no-op where the engine has tokens; elsewhere ReplacingMergeTree merges the copy.
    """
    digest = hashlib.blake2b(digest_size=16)
    for event_id in sorted(row.event_id.bytes for row in rows):
        digest.update(event_id)
    return digest.hexdigest()
