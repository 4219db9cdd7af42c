"""Retrying storage and Redis calls while their service is down, so no agent dies of an outage.

Storage calls run on a thread and are retried until they succeed. An agent awaits them before
it takes its next batch, so Kafka offsets are committed only
after ClickHouse confirmed the insert; while ClickHouse is down the agent simply waits. Redis
reads and writes get the same treatment (:func:`redis_retry`): an exception escaping an agent
would stop it for good, with its batch's offsets already acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis.exceptions import RedisError

from consentstream.storage.errors import DataRefused, StorageError

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

MAX_BACKOFF = 2.0
"""Seconds between retries at most: a retry against a down service is one failed connect, and
a longer wait only delays the restart after it is back (10 s here made the worker resume up to
10 s after ClickHouse returned)."""


async def with_retry(what: str, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``call(*args)`` on a thread; on a storage error wait (0.2 s doubling to 2 s), retry.

    :class:`DataRefused` is raised at once: the same rows are refused every time, so the caller
    isolates them (:func:`streams.inserts.insert_isolating`) instead of waiting forever.
    """
    delay = 0.2
    while True:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except DataRefused:
            raise
        except StorageError as exc:
            log.warning("%s failed (%s); retrying in %.1fs", what, type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)


async def redis_retry(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """Await ``call()``; while Redis is unreachable wait (0.2 s doubling to 2 s) and retry."""
    delay = 0.2
    while True:
        try:
            return await call()
        except (RedisError, OSError) as exc:
            log.warning("redis %s failed (%s); retrying in %.1fs", what, type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
