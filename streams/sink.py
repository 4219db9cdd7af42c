"""The ClickHouse sink: synchronous storage calls on a thread, retried until they succeed.

An agent awaits the sink before it takes its next batch, so Kafka offsets are committed only
after ClickHouse confirmed the insert; while ClickHouse is down the agent simply waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from consentstream.storage.errors import StorageError

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BACKOFF = 10.0


async def with_retry(call: Callable[[], T], what: str) -> T:
    """Run ``call`` on a thread; on a storage error wait (0.2 s doubling to 10 s) and retry."""
    delay = 0.2
    while True:
        try:
            return await asyncio.to_thread(call)
        except StorageError as exc:
            log.warning("%s failed (%s); retrying in %.1fs", what, type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
