"""Sealing at the collector: no raw identifier leaves for Kafka in plaintext.

Raw-topic messages are sealed under their subject's data key (``consentstream.sealing``): a
visitor's under their pseudonym's key, events without a visitor under the day's rotating
anonymous key. Anonymous events are sealed rather than minimized here because the worker's
minimization (the day-salted visitor hash needs the raw IP and user agent, the user agent is
parsed into a family) is the one place that rule lives; the anonymous key expires by itself
after ``anonymous_key_days``, longer than the raw and dead-letter topics keep anything, so
every copy (a backup too) becomes unreadable then. A consent decision naming a visitor is
sealed under the visitor's key; an anonymous decision holds no identifier and stays as it is.

An erasure destroys the visitor's key, sets the suppression mark, then destroys the key again.
A request that read the visitor as live before the mark may still make the key anew after the
second destruction; nothing sealed under that key would ever be destroyed. So when sealing had
to make a visitor's key, the sealer reads the mark once more before anything is produced: if it
is set, the key just made is destroyed and :class:`SubjectErased` tells the route to answer as
for an erased cookie. A key found (not made) needs no check: the erasure's destruction of it
makes every message sealed under it unreadable, whenever it was produced.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from redis.asyncio import Redis
from redis.exceptions import RedisError

from consentstream import redis_client, redis_keys
from consentstream.sealing import KeyCache, seal_message
from consentstream.shredding import (
    KeyStore,
    Unreadable,
    anonymous_subject,
    is_anonymous,
    new_data_key,
)
from schemas.messages import ConsentDecision

from .config import CollectorSettings
from .errors import KeyStoreUnavailable

log = logging.getLogger(__name__)
PSEUDONYM_LENGTH = 32
"""Hex digits of a pseudonym: how a visitor's Kafka key differs from an anonymous one (an
event id's 16 bytes, see ``batching.group_by_key``)."""


def subject_of(kafka_key: bytes, received_at: datetime) -> str:
    """The subject a raw-topic message is sealed for: its visitor's pseudonym, or the day's."""
    if len(kafka_key) == PSEUDONYM_LENGTH and kafka_key.isalnum():
        return kafka_key.decode()
    return anonymous_subject(received_at)


@dataclass(frozen=True)
class KeyOffer:
    """A data key made for ``subject`` and its wrapped form for the key store's ``entry``."""

    subject: str
    entry: str
    wrapped: bytes
    data_key: bytes


class SubjectErased(Exception):
    """Sealing made a data key for a visitor on the suppression list: the key is destroyed
    again and nothing sealed for ``subject`` may be produced."""

    def __init__(self, subject: str) -> None:
        super().__init__("the visitor was erased while the request ran")
        self.subject = subject


async def erased(redis: Redis, subject_key: str) -> bool:
    """True when the subject is on the suppression list; False when Redis cannot tell (the
    worker checks the list again before anything lands)."""
    try:
        return bool(await redis.exists(redis_keys.suppressed(subject_key)))
    except (RedisError, OSError) as exc:
        log.warning("suppression list unavailable: %s", type(exc).__name__)
        return False


@dataclass
class Sealer:
    """Seals the collector's Kafka values; data keys cached briefly in ``keys``.

    ``suppressed`` reads the suppression list (the main Redis) when a visitor's key had to be
    made; without it (tools, tests of sealing alone) no such check runs.
    """

    keys: KeyCache
    anonymous_ttl_seconds: int
    retry_after_seconds: int = 5
    suppressed: Callable[[str], Awaitable[bool]] | None = None
    offers_keys: bool = False
    """True when the key store is the main Redis, one master key in use: a visitor's key can
    then be made in the dedupe claim's step (:meth:`offer`), beside their suppression flag."""

    def offer(self, subject: str) -> KeyOffer | None:
        """A fresh data key for ``subject`` to store in the claim's step unless one is there;
        None when the key is cached or keys are made only by the key store (see ``offers_keys``).
        """
        if not self.offers_keys or self.keys.cached(subject) is not None:
            return None
        data_key = new_data_key()
        store = self.keys.store
        return KeyOffer(
            subject, store.entry(subject), store.master.wrap(subject, data_key), data_key
        )

    def adopt(self, offer: KeyOffer | None, stored: bytes | None) -> dict[str, bytes]:
        """The subject's data key after the claim's step stored ``offer`` or found ``stored``.

        No erasure check is due: the step read the suppression flag atomically with the entry.
        Empty when the step left the entry alone (the key store is then asked as usual).
        """
        if offer is None or stored is None:
            return {}
        try:
            data_key = (
                offer.data_key
                if stored == offer.wrapped
                else self.keys.store.unwrap(offer.subject, stored)
            )
        except Unreadable as exc:
            log.warning("no data key to seal with: %s", type(exc).__name__)
            raise KeyStoreUnavailable(self.retry_after_seconds) from exc
        self.keys.remember(offer.subject, data_key)
        return {offer.subject: data_key}

    async def _data_key(self, subject: str, anonymous: bool) -> bytes:
        ttl = self.anonymous_ttl_seconds if anonymous else None
        try:
            data_key, made = await self.keys.sealing_key(subject, ttl)
            if made and not anonymous and await self._erased(subject):
                self.keys.forget(subject)
                await self.keys.store.destroy(subject)
                raise SubjectErased(subject)
        except (RedisError, OSError, Unreadable) as exc:
            log.warning("no data key to seal with: %s", type(exc).__name__)
            raise KeyStoreUnavailable(self.retry_after_seconds) from exc
        return data_key

    async def _erased(self, subject: str) -> bool:
        # Only when the key was made by this request, so a rare extra round trip.
        return self.suppressed is not None and await self.suppressed(subject)

    async def seal_raw(
        self,
        messages: list[tuple[bytes, bytes]],
        received_at: datetime,
        known: Mapping[str, bytes] | None = None,
    ) -> list[tuple[bytes, bytes]]:
        """Each ``(key, value)`` of the raw topic with its value sealed for its subject.

        ``known``: data keys :meth:`adopt` gave, by subject. :class:`SubjectErased` when a
        visitor's key had to be made and the visitor was erased.
        """
        sealed = []
        for key, value in messages:
            subject = subject_of(key, received_at)
            data_key = (known or {}).get(subject) or await self._data_key(
                subject, is_anonymous(subject)
            )
            sealed.append((key, seal_message(data_key, subject, value)))
        return sealed

    async def seal_consent(self, topic_key: str, decision: ConsentDecision) -> bytes:
        """The consent-topic value: sealed under the visitor's key, plain when anonymous.

        :class:`SubjectErased` as :meth:`seal_raw`.
        """
        value = decision.model_dump_json().encode()
        if decision.visitor_id is None:
            return value
        return seal_message(await self._data_key(topic_key, False), topic_key, value)

    async def close(self) -> None:
        """Close the key store's client."""
        await self.keys.store.redis.aclose()


def open_sealer(settings: CollectorSettings, redis: Redis) -> Sealer:
    """A sealer over the key store the settings name (its Redis client closed by ``close``),
    reading the suppression list in ``redis`` (the main Redis, not closed here)."""
    keystore = redis_client.keystore_client(
        settings, socket_timeout=1.0, socket_connect_timeout=1.0
    )
    store = KeyStore.for_settings(keystore, settings)
    return Sealer(
        KeyCache(store, settings.data_key_cache_seconds),
        settings.anonymous_key_days * 86_400,
        settings.retry_after_seconds,
        partial(erased, redis),
        # Beside the flag only where the flag lives, and only with one master key (during a
        # rotation a key may first have to be carried forward from the previous one).
        offers_keys=not settings.keystore_url and store.previous is None,
    )
