"""What the agents share: the storage and Redis clients, metrics, and the dead-letter topic.

One :class:`WorkerClients` per worker process, opened when the worker is built and closed by
the app after its agents stopped (:meth:`WorkerClients.close`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson

from consentstream import redis_client
from consentstream.caching import cached_pseudonymizer
from consentstream.storage import open_storage
from consentstream.storage.base import Storage
from consentstream.storage.repository import Repository

from .config import WorkerSettings
from .cookies import CookieCatalogue, load_catalogue
from .metrics import WorkerMetrics
from .salts import DailySalt
from .topics import WorkerTopics

log = logging.getLogger(__name__)


class WorkerClients:
    """Clients and helpers every agent of one worker uses."""

    def __init__(
        self, settings: WorkerSettings, topics: WorkerTopics, storage: Storage | None = None
    ) -> None:
        self.settings = settings
        self.topics = topics
        key = settings.pseudonym_key.get_secret_value()
        # An HMAC via `cryptography` costs ~40 us and a visitor sends many events in a row; the
        # raw visitor ids the cache holds are forgotten within the hour.
        self.pseudonym: Callable[[str], str] = cached_pseudonymizer(key)
        self.storage = storage or open_storage(settings.clickhouse_url)
        self.repo = Repository(self.storage)
        self.redis = redis_client.async_client(settings)
        self.metrics = WorkerMetrics()
        self.salt = DailySalt(self.redis)
        self.catalogue: CookieCatalogue = load_catalogue(settings.cookie_catalogue_path)

    async def dead_letter(self, value: bytes, reason: str, source: str) -> None:
        """Park a message with the reason and the topic it came from (``dlq replay`` reads it)."""
        body = {"reason": reason, "topic": source, "value": value.decode("utf-8", "replace")}
        await self.topics.dead_letters.send(value=orjson.dumps(body))
        self.metrics.dead_lettered.labels(source).inc()

    async def close(self) -> None:
        """Close Redis and the storage pool (the storage's close is blocking: on a thread)."""
        await self.redis.aclose()
        await asyncio.to_thread(self.storage.close)
        log.info("worker clients closed")
