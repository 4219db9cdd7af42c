"""The worker's Kafka consumer long-polls briefly: a drained partition cannot hold up the rest."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from streams.app import create_app
from streams.config import WorkerSettings
from streams.fetching import FETCH_MAX_WAIT_MS


async def test_the_worker_consumer_waits_on_the_broker_far_less_than_faust_would() -> None:
    app = create_app(WorkerSettings(environment="test"))
    thread = cast(Any, app.consumer)._thread
    try:
        # Built, not started: no connection yet.
        consumer = thread._create_consumer(asyncio.get_running_loop())
        try:
            assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS <= 100  # Faust's: 1,500
        finally:
            await consumer.stop()
    finally:
        thread.thread_loop.close()
