"""Crypto-shredding: raw identifiers cross Kafka sealed under a data key of their subject.

Every Kafka message that carries a raw IP, visitor id, full user agent or page URL is sealed
(AES-GCM, random 96-bit nonce, the subject key as associated data) under a data key of its
subject: the visitor's pseudonym (``consentstream.identity``), or for events without a visitor a
daily anonymous subject whose key expires after the retention window. Erasure destroys the
data key, so every copy of the subject's messages (raw topic, dead letters, consent topic,
backups) becomes unreadable at that instant, wherever it is.

Data keys live in a key store of their own (Redis under the ``datakey`` kind, tagged by the
subject so Redis Cluster works, named per master key), wrapped with AES-GCM under a key
derived from the master key: a copy of the key store without the master key reveals nothing.
"""

from __future__ import annotations

import os
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from consentstream import redis_keys
from consentstream.caching import expiring_lru_cache

NONCE_BYTES = 12
DATA_KEY_BYTES = 32
ANONYMOUS_PREFIX = "anon-"
"""Anonymous subjects are ``anon-YYYY-MM-DD``: never a pseudonym (those are 32 hex digits)."""


class Unreadable(Exception):
    """A sealed value that cannot be opened: wrong key, wrong subject, or tampered with."""


def new_data_key() -> bytes:
    """A fresh random 256-bit AES key."""
    return AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)


@expiring_lru_cache(maxsize=4096, max_age_seconds=60.0)
def _cipher(key: bytes) -> AESGCM:
    """The cipher of a data key: building one (key schedule) costs ~4x sealing a message.

    Only whoever holds the key reaches its cipher, so this adds no way to open anything; the
    cache forgets every cipher within a minute, so destroyed keys do not linger in memory.
    """
    return AESGCM(key)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``nonce || ciphertext || tag`` of ``plaintext`` under ``key``, bound to ``aad``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _cipher(key).encrypt(nonce, plaintext, aad)


def open_(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext :func:`seal` sealed; :class:`Unreadable` for any other key, aad or bytes."""
    if len(sealed) < NONCE_BYTES + 16:
        raise Unreadable("sealed value too short")
    try:
        return _cipher(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise Unreadable("sealed value does not open under this key") from exc


def anonymous_subject(when: datetime) -> str:
    """The rotating subject of events without a visitor: one per UTC day."""
    return f"{ANONYMOUS_PREFIX}{when:%Y-%m-%d}"


def is_anonymous(subject_key: str) -> bool:
    """True for a rotating anonymous subject, False for a visitor's pseudonym."""
    return subject_key.startswith(ANONYMOUS_PREFIX)


def _derive(master_key: str, purpose: bytes) -> bytes:
    """A 256-bit key for one purpose, derived from the master key (any length, ≥ 32 bytes)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        master_key.encode()
    )


def _wrap_aad(subject_key: str) -> bytes:
    # A wrapped key copied to another subject's entry does not unwrap there.
    return b"datakey:" + subject_key.encode()


class KeyStore:
    """Data keys per subject, wrapped under the master key, in a Redis of their own (or shared).

    ``destroy`` is final: without the data key nothing sealed under it opens again.
    """

    def __init__(self, redis: Redis | RedisCluster, master_key: str) -> None:
        self.redis = redis
        self._wrapper = AESGCM(_derive(master_key, b"consentstream data-key wrap"))
        # Entries are named per master key: deployments (or test runs) sharing one Redis with
        # different master keys never meet each other's keys, which they could not unwrap.
        self._fingerprint = _derive(master_key, b"consentstream key-store name").hex()[:16]

    def entry(self, subject_key: str) -> str:
        """The Redis key holding the subject's wrapped data key under this master key."""
        return redis_keys.data_key(subject_key, self._fingerprint)

    def _wrap(self, subject_key: str, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._wrapper.encrypt(nonce, data_key, _wrap_aad(subject_key))

    def unwrap(self, subject_key: str, wrapped: bytes | str) -> bytes:
        """The data key a stored (wrapped) value holds; :class:`Unreadable` if not ours."""
        if not isinstance(wrapped, bytes):  # a client decoding replies cannot hold binary keys
            raise Unreadable("the key store client must not decode replies")
        try:
            return self._wrapper.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(subject_key)
            )
        except InvalidTag as exc:  # another master key, or a key moved between subjects
            raise Unreadable("data key does not unwrap under the master key") from exc

    async def get_or_create(self, subject_key: str, *, ttl_seconds: int | None = None) -> bytes:
        """The subject's data key, made now if it has none (the first writer wins a race).

        ``ttl_seconds`` makes the key expire by itself (rotating anonymous subjects).
        """
        name = self.entry(subject_key)
        data_key = new_data_key()
        if await self.redis.set(name, self._wrap(subject_key, data_key), nx=True, ex=ttl_seconds):
            return data_key
        existing = await self.get(subject_key)
        if existing is None:  # destroyed between the two calls: an erased subject starts anew
            return await self.get_or_create(subject_key, ttl_seconds=ttl_seconds)
        return existing

    async def get(self, subject_key: str) -> bytes | None:
        """The subject's data key, or None once it was destroyed (or never made, or expired)."""
        wrapped = await self.redis.get(self.entry(subject_key))
        return None if wrapped is None else self.unwrap(subject_key, wrapped)

    async def get_many(self, subject_keys: list[str]) -> dict[str, bytes | None]:
        """:meth:`get` for several subjects in one round trip (works across cluster slots)."""
        if not subject_keys:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for subject_key in subject_keys:
            pipe.get(self.entry(subject_key))
        wrapped = await pipe.execute()
        return {
            subject: None if value is None else self.unwrap(subject, value)
            for subject, value in zip(subject_keys, wrapped, strict=True)
        }

    async def destroy(self, subject_key: str) -> bool:
        """Destroy the subject's data key; True when one existed."""
        return bool(await self.redis.delete(self.entry(subject_key)))
