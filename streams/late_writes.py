"""Keeping an erased subject erased while the worker writes: the check before and after.

The ledger and usage-event sinks skip subjects already on the suppression list, and after
inserting ask again: a subject erased between the two checks may have had this batch's rows
inserted after the erasure counted and deleted its own, so they are deleted here (see
:mod:`consentstream.suppression` for why that closes the race).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from typing import Protocol

from redis.asyncio import Redis

from consentstream.storage.repository import Repository
from consentstream.suppression import suppressed_among

from .retry import redis_retry, with_retry

log = logging.getLogger(__name__)


class SubjectRow(Protocol):
    """A row naming its subject by pseudonym (empty for an anonymous one)."""

    @property
    def visitor_key(self) -> str: ...


async def erased_among(redis: Redis, rows: Iterable[SubjectRow]) -> frozenset[str]:
    """The subjects of these rows that are on the suppression list."""
    return await suppressed_among(redis, (row.visitor_key for row in rows))


async def undo_if_erased_meanwhile(
    redis: Redis, repo: Repository, subject_keys: Iterable[str]
) -> int:
    """Delete every row of the subjects erased since the batch was checked; how many subjects."""
    keys = {key for key in subject_keys if key}
    if not keys:
        return 0
    erased = await redis_retry("suppressed", partial(suppressed_among, redis, keys))
    for key in sorted(erased):
        log.info("an erasure ran while a batch was stored: deleting its late rows")
        await with_retry("undo late write", repo.delete_subject, key)
    return len(erased)
