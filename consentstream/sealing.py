"""Sealed Kafka messages: the envelope the collector writes and the worker opens, and key caches.

A sealed value is a :class:`schemas.messages.SealedMessage` document. It stays JSON (base64
inside) so the dead-letter topic, ``dlq replay`` and the staff pages handle it as any other
message, while carrying only the encrypted form.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable

import orjson
from pydantic import ValidationError

from consentstream.shredding import KeyStore, Unreadable, open_, seal
from schemas.messages import SEALED_SCHEMA_VERSION, SealedMessage

SEALED_PREFIX = b'{"subject":'
"""How every sealed value starts (orjson keeps field order): a check with no parse."""


def seal_message(data_key: bytes, subject_key: str, plaintext: bytes) -> bytes:
    """The sealed Kafka value of ``plaintext`` (a message document) for ``subject_key``."""
    sealed = seal(data_key, plaintext, subject_key.encode())
    return orjson.dumps(
        {
            "subject": subject_key,
            "sealed": base64.b64encode(sealed).decode(),
            "schema_version": SEALED_SCHEMA_VERSION,
        }
    )


def is_sealed(value: bytes) -> bool:
    """True for a value written by :func:`seal_message`."""
    return value.startswith(SEALED_PREFIX)


def read_envelope(value: bytes) -> tuple[str, bytes] | None:
    """Subject and sealed bytes of a sealed value; None when it is not a valid envelope."""
    try:
        envelope = SealedMessage.model_validate_json(value)
        return envelope.subject, base64.b64decode(envelope.sealed, validate=True)
    except (ValidationError, ValueError):
        return None


def open_message(data_key: bytes, subject_key: str, sealed: bytes) -> bytes:
    """The message document inside a sealed value (:class:`Unreadable` if it does not open)."""
    return open_(data_key, sealed, subject_key.encode())


class KeyCache:
    """Data keys remembered for ``max_age_seconds`` in front of a :class:`KeyStore`.

    The collector keeps keys a minute (a key destroyed meanwhile only makes its new events
    unreadable, which is what erasure wants); the worker a few seconds at most, so it never
    opens a message with a key destroyed longer ago than that. Only keys found are cached.
    """

    def __init__(
        self,
        store: KeyStore,
        max_age_seconds: float,
        maxsize: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_age_seconds = max_age_seconds
        self.maxsize = maxsize
        self._clock = clock
        self._keys: dict[str, tuple[bytes, float]] = {}

    def cached(self, subject_key: str) -> bytes | None:
        """The key in memory, if fetched within ``max_age_seconds``."""
        hit = self._keys.get(subject_key)
        if hit is None:
            return None
        if self._clock() - hit[1] >= self.max_age_seconds:
            del self._keys[subject_key]
            return None
        return hit[0]

    def _remember(self, subject_key: str, data_key: bytes) -> None:
        if self.max_age_seconds <= 0:
            return
        if len(self._keys) >= self.maxsize:
            self._keys.clear()  # rare, and every key is one GET away
        self._keys[subject_key] = (data_key, self._clock())

    async def for_sealing(self, subject_key: str, ttl_seconds: int | None = None) -> bytes:
        """The subject's data key, made if it has none."""
        data_key = self.cached(subject_key)
        if data_key is None:
            data_key = await self.store.get_or_create(subject_key, ttl_seconds=ttl_seconds)
            self._remember(subject_key, data_key)
        return data_key

    async def for_opening(self, subject_keys: Iterable[str]) -> dict[str, bytes | None]:
        """Each subject's data key, None where it was destroyed; one round trip for misses."""
        found: dict[str, bytes | None] = {}
        missing = []
        for subject_key in set(subject_keys):
            data_key = self.cached(subject_key)
            if data_key is None:
                missing.append(subject_key)
            else:
                found[subject_key] = data_key
        for subject_key, data_key in (await self.store.get_many(missing)).items():
            found[subject_key] = data_key
            if data_key is not None:
                self._remember(subject_key, data_key)
        return found


__all__ = [
    "KeyCache",
    "Unreadable",
    "is_sealed",
    "open_message",
    "read_envelope",
    "seal_message",
]
