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
from consentstream.settings import CommonSettings

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


class MasterKey:
    """One master key: the cipher wrapping data keys, and the fingerprint naming their entries.

    Entries are named per master key: deployments (or test runs) sharing one Redis with
    different master keys never meet each other's keys, which they could not unwrap, and a
    rotation tells the entries still under the previous key from those already moved.
    """

    def __init__(self, secret: str) -> None:
        self._wrapper = AESGCM(_derive(secret, b"consentstream data-key wrap"))
        self.fingerprint = _derive(secret, b"consentstream key-store name").hex()[:16]

    def entry(self, subject_key: str) -> str:
        """The Redis key holding the subject's data key wrapped under this master key."""
        return redis_keys.data_key(subject_key, self.fingerprint)

    def wrap(self, subject_key: str, data_key: bytes) -> bytes:
        """``nonce || ciphertext || tag`` of the data key, bound to its subject."""
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


CARRY_FORWARD = """
if redis.call('GET', KEYS[1]) ~= ARGV[3] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
local done
if ttl > 0 then
  done = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ttl)
else
  done = redis.call('SET', KEYS[2], ARGV[1], 'NX')
end
if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end
if done then return 1 end
return 2
"""
"""Copy a data key from its entry under the previous master key (KEYS[1]) to the current one
(KEYS[2], re-wrapped: ARGV[1]) only while the previous entry still holds what was read (ARGV[3]),
in one step: an erasure deleting both entries runs before or after it, never between, so a
destroyed key never comes back. Keeps the time to live (anonymous keys expire by themselves) and
never overwrites a current entry; ARGV[2] = "1" also deletes the previous entry (a rotation's
move). Returns 0: the previous entry is gone or changed; 1: copied; 2: a current entry was there.
"""


class KeyStore:
    """Data keys per subject, wrapped under the master key, in a Redis of their own (or shared).

    ``destroy`` is final: without the data key nothing sealed under it opens again. During a
    master-key rotation (``previous_master_key`` given) keys still wrapped under the previous
    master key are read too, copied under the current one when a writer uses them, and
    destroyed with it; ``consentstream keys rotate-master`` moves the rest.
    """

    def __init__(
        self,
        redis: Redis | RedisCluster,
        master_key: str,
        previous_master_key: str | None = None,
    ) -> None:
        self.redis = redis
        self.master = MasterKey(master_key)
        self.previous = MasterKey(previous_master_key) if previous_master_key else None

    @classmethod
    def for_settings(cls, redis: Redis | RedisCluster, settings: CommonSettings) -> KeyStore:
        """The key store of a deployment: its master key, and the previous one while rotating."""
        previous = settings.previous_master_key
        return cls(
            redis,
            settings.master_key.get_secret_value(),
            previous.get_secret_value() if previous else None,
        )

    def entry(self, subject_key: str) -> str:
        """The Redis key holding the subject's wrapped data key under this master key."""
        return self.master.entry(subject_key)

    def unwrap(self, subject_key: str, wrapped: bytes | str) -> bytes:
        """The data key a stored (wrapped) value holds; :class:`Unreadable` if not ours."""
        return self.master.unwrap(subject_key, wrapped)

    async def get_or_create(self, subject_key: str, *, ttl_seconds: int | None = None) -> bytes:
        """The subject's data key, made now if it has none (the first writer wins a race).

        ``ttl_seconds`` makes the key expire by itself (rotating anonymous subjects).
        """
        return (await self.get_or_make(subject_key, ttl_seconds=ttl_seconds))[0]

    async def get_or_make(
        self, subject_key: str, *, ttl_seconds: int | None = None
    ) -> tuple[bytes, bool]:
        """:meth:`get_or_create`, and whether this call made the key (True) or found one.

        A key made now may be one an erasure never saw: a writer sealing for a visitor checks
        the suppression list again when it made the key (see the collector's sealer).
        """
        if self.previous is not None and (carried := await self.carry_forward(subject_key)):
            return carried, False
        name = self.entry(subject_key)
        data_key = new_data_key()
        wrapped = self.master.wrap(subject_key, data_key)
        if await self.redis.set(name, wrapped, nx=True, ex=ttl_seconds):
            return data_key, True
        existing = await self.get(subject_key)
        if existing is None:  # destroyed between the two calls: an erased subject starts anew
            return await self.get_or_make(subject_key, ttl_seconds=ttl_seconds)
        return existing, False

    async def carry_forward(self, subject_key: str, *, move: bool = False) -> bytes | None:
        """The subject's current data key, copied (``move``: moved) from under the previous
        master key when only that entry holds it; None when neither has one."""
        current = await self.redis.get(self.entry(subject_key))
        if current is not None:
            return self.unwrap(subject_key, current)
        if self.previous is None:
            return None
        old = self.previous.entry(subject_key)
        wrapped = await self.redis.get(old)
        if wrapped is None:
            return None
        data_key = self.previous.unwrap(subject_key, wrapped)
        again = self.master.wrap(subject_key, data_key)
        flag = "1" if move else "0"
        done = await self.redis.eval(
            CARRY_FORWARD, 2, old, self.entry(subject_key), again, flag, wrapped
        )
        if not done:
            return None  # erased (or moved) meanwhile
        return await self.get(subject_key)  # ours, or the one a racing writer put first

    async def get(self, subject_key: str) -> bytes | None:
        """The subject's data key, or None once it was destroyed (or never made, or expired)."""
        wrapped = await self.redis.get(self.entry(subject_key))
        if wrapped is not None:
            return self.unwrap(subject_key, wrapped)
        if self.previous is None:
            return None
        old = await self.redis.get(self.previous.entry(subject_key))
        return None if old is None else self.previous.unwrap(subject_key, old)

    async def get_many(self, subject_keys: list[str]) -> dict[str, bytes | None]:
        """:meth:`get` for several subjects in one round trip (works across cluster slots)."""
        if not subject_keys:
            return {}
        masters = [self.master] if self.previous is None else [self.master, self.previous]
        pipe = self.redis.pipeline(transaction=False)
        for subject_key in subject_keys:
            for master in masters:
                pipe.get(master.entry(subject_key))
        values = iter(await pipe.execute())
        found: dict[str, bytes | None] = {}
        for subject_key in subject_keys:
            found[subject_key] = None
            for master, wrapped in zip(masters, [next(values) for _ in masters], strict=True):
                if wrapped is not None and found[subject_key] is None:
                    found[subject_key] = master.unwrap(subject_key, wrapped)
        return found

    async def destroy(self, subject_key: str) -> bool:
        """Destroy the subject's data key (under the previous master key too); True when one
        existed. One command: both entries share the subject's hash tag, so one slot."""
        names = [self.entry(subject_key)]
        if self.previous is not None:
            names.append(self.previous.entry(subject_key))
        return bool(await self.redis.delete(*names))
