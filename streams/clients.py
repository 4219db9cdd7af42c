"""What the agents share: the storage and Redis clients, metrics, and the dead-letter topic.

One :class:`WorkerClients` per worker process, opened when the worker is built and closed by
the app after its agents stopped (:meth:`WorkerClients.close`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

from consentstream import redis_client
from consentstream.caching import cached_pseudonymizer
from consentstream.receipt_signing import ReceiptSigner
from consentstream.sealing import KeyCache, as_text
from consentstream.shredding import KeyStore
from consentstream.storage import open_storage
from consentstream.storage.base import Storage
from consentstream.storage.repository import Repository

from .config import WorkerSettings
from .cookies import CookieCatalogue, load_catalogue
from .metrics import WorkerMetrics
from .salts import DailySalt
from .topics import WorkerTopics
from .unsealing import Unsealer

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
        self.keys = KeyStore.for_settings(redis_client.keystore_client(settings), settings)
        self.unsealer = Unsealer(
            KeyCache(self.keys, settings.data_key_cache_seconds), self.metrics, self.pseudonym
        )
        self.salt = DailySalt(self.redis)
        self.catalogue: CookieCatalogue = load_catalogue(settings.cookie_catalogue_path)
        self.receipt_signer = ReceiptSigner(settings.receipt_signing_key.get_secret_value())

    async def dead_letter(self, value: bytes, reason: str, source: str) -> None:
        """Park a message with the reason and the topic it came from (``dlq replay`` reads it)."""
        text = as_text(value)  # a sealed value parks sealed, in the topic's text form
        body = {"reason": reason, "topic": source, "value": text.decode("utf-8", "replace")}
        await self.topics.dead_letters.send(value=orjson.dumps(body))
        self.metrics.dead_lettered.labels(source).inc()

    async def shred(self, subject_key: str) -> dict[str, Any]:
        """Destroy the subject's data key: the erasure receipt's ``kafka`` entry.

        Every sealed copy of the subject's messages (raw, dead-letter and consent topics, any
        backup of them) is unreadable from now on; workers drop them within a few seconds.
        """
        names = self.topics.names
        return {
            "data_key_destroyed": await self.keys.destroy(subject_key),
            "topics": [names.raw_events, names.dead_letters, names.consent],
        }

    async def close(self) -> None:
        """Close Redis and the storage pool (the storage's close is blocking: on a thread)."""
        await self.redis.aclose()
        await self.keys.redis.aclose()
        await asyncio.to_thread(self.storage.close)
        log.info("worker clients closed")
