"""Sealed Kafka messages: the envelope the collector writes and the worker opens, and key caches.

On the raw and consent topics a sealed value is binary: ``MAGIC``, the subject's length (one
byte), the subject, then ``nonce || ciphertext || tag`` (base64 and JSON would cost the
collector and the worker several times the encryption itself). The dead-letter topic keeps
text, so a sealed value parked there takes its text form, a
:class:`schemas.messages.SealedMessage` document (:func:`as_text`); the worker reads both.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable

import orjson
from pydantic import ValidationError

from consentstream.shredding import KeyStore, Unreadable, open_, seal
from schemas.messages import SEALED_SCHEMA_VERSION, SealedMessage

MAGIC = b"\x00cs1"
"""How a binary sealed value starts: no JSON document starts with a NUL byte."""
TEXT_PREFIX = b'{"subject":'
"""How the text form starts (orjson keeps field order): a check with no parse."""
MAX_SUBJECT = 255


def seal_message(data_key: bytes, subject_key: str, plaintext: bytes) -> bytes:
    """The sealed Kafka value of ``plaintext`` (a message document) for ``subject_key``."""
    subject = subject_key.encode()
    if not 0 < len(subject) <= MAX_SUBJECT:
        raise ValueError("a subject key is 1 to 255 bytes")
    return MAGIC + bytes((len(subject),)) + subject + seal(data_key, plaintext, subject)


def is_sealed(value: bytes) -> bool:
    """True for a value written by :func:`seal_message`, or its text form."""
    return value.startswith((MAGIC, TEXT_PREFIX))


def read_envelope(value: bytes) -> tuple[str, bytes] | None:
    """Subject and sealed bytes of a sealed value (either form); None when it is not one."""
    if value.startswith(MAGIC):
        start = len(MAGIC) + 1
        length = value[len(MAGIC)] if len(value) > len(MAGIC) else 0
        subject = value[start : start + length]
        if not length or len(subject) != length or not subject.isascii():
            return None
        return subject.decode("ascii"), value[start + length :]
    try:
        envelope = SealedMessage.model_validate_json(value)
        return envelope.subject, base64.b64decode(envelope.sealed, validate=True)
    except (ValidationError, ValueError):
        return None


def as_text(value: bytes) -> bytes:
    """A binary sealed value in its text form (JSON, base64 inside); anything else as it is."""
    envelope = read_envelope(value) if value.startswith(MAGIC) else None
    if envelope is None:
        return value
    return orjson.dumps(
        {
            "subject": envelope[0],
            "sealed": base64.b64encode(envelope[1]).decode(),
            "schema_version": SEALED_SCHEMA_VERSION,
        }
    )


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

    def remember(self, subject_key: str, data_key: bytes) -> None:
        """Keep a key obtained elsewhere (the collector's claim step made or found it)."""
        self._remember(subject_key, data_key)

    def _remember(self, subject_key: str, data_key: bytes) -> None:
        if self.max_age_seconds <= 0:
            return
        if len(self._keys) >= self.maxsize:
            self._keys.clear()  # rare, and every key is one GET away
        self._keys[subject_key] = (data_key, self._clock())

    async def for_sealing(self, subject_key: str, ttl_seconds: int | None = None) -> bytes:
        """The subject's data key, made if it has none."""
        return (await self.sealing_key(subject_key, ttl_seconds))[0]

    async def sealing_key(
        self, subject_key: str, ttl_seconds: int | None = None
    ) -> tuple[bytes, bool]:
        """:meth:`for_sealing`, and whether the key was made by this call (never when cached)."""
        data_key = self.cached(subject_key)
        if data_key is not None:
            return data_key, False
        data_key, made = await self.store.get_or_make(subject_key, ttl_seconds=ttl_seconds)
        self._remember(subject_key, data_key)
        return data_key, made

    def forget(self, subject_key: str) -> None:
        """Drop the subject's key from memory (it was destroyed: never seal with it again)."""
        self._keys.pop(subject_key, None)

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
    "as_text",
    "Unreadable",
    "is_sealed",
    "open_message",
    "read_envelope",
    "seal_message",
]
