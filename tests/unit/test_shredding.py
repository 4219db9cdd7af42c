"""Sealing raw values under per-subject data keys: what opens, and what never opens again."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from consentstream.sealing import (
    KeyCache,
    as_text,
    is_sealed,
    open_message,
    read_envelope,
    seal_message,
)
from consentstream.shredding import (
    KeyStore,
    Unreadable,
    anonymous_subject,
    is_anonymous,
    new_data_key,
    open_,
    seal,
)
from services.collector.sealing import subject_of

SUBJECT = "0123456789abcdef0123456789abcdef"
RAW = b'{"facts": {"ip": "203.0.113.9"}, "visitor_id": "visitor_0001"}'


def test_sealed_value_opens_under_its_key_and_subject() -> None:
    key = new_data_key()
    sealed = seal(key, RAW, SUBJECT.encode())
    assert b"203.0.113.9" not in sealed and b"visitor_0001" not in sealed
    assert open_(key, sealed, SUBJECT.encode()) == RAW


def test_each_seal_uses_a_fresh_nonce() -> None:
    key = new_data_key()
    assert seal(key, RAW, b"s") != seal(key, RAW, b"s")


def test_wrong_associated_data_does_not_open() -> None:
    key = new_data_key()
    sealed = seal(key, RAW, SUBJECT.encode())
    with pytest.raises(Unreadable):
        open_(key, sealed, b"fedcba9876543210fedcba9876543210")


def test_tampered_ciphertext_does_not_open() -> None:
    key = new_data_key()
    sealed = bytearray(seal(key, RAW, SUBJECT.encode()))
    sealed[20] ^= 1
    with pytest.raises(Unreadable):
        open_(key, bytes(sealed), SUBJECT.encode())
    with pytest.raises(Unreadable):
        open_(key, bytes(sealed[:10]), SUBJECT.encode())


def test_a_destroyed_key_is_gone_for_good() -> None:
    """After erasure the subject may get a new key; nothing sealed before opens under it."""
    old, new = new_data_key(), new_data_key()
    sealed = seal(old, RAW, SUBJECT.encode())
    with pytest.raises(Unreadable):
        open_(new, sealed, SUBJECT.encode())


def test_envelope_round_trip_carries_no_raw_value() -> None:
    key = new_data_key()
    value = seal_message(key, SUBJECT, RAW)
    assert is_sealed(value) and b"203.0.113.9" not in value
    envelope = read_envelope(value)
    assert envelope is not None and envelope[0] == SUBJECT
    assert open_message(key, SUBJECT, envelope[1]) == RAW
    assert not is_sealed(RAW) and read_envelope(b'{"subject": "x"}') is None


def test_an_envelope_moved_to_another_subject_does_not_open() -> None:
    key = new_data_key()
    envelope = read_envelope(seal_message(key, SUBJECT, RAW))
    assert envelope is not None
    with pytest.raises(Unreadable):
        open_message(key, "f" * 32, envelope[1])


def test_the_text_form_for_dead_letters_opens_the_same() -> None:
    key = new_data_key()
    value = seal_message(key, SUBJECT, RAW)
    text = as_text(value)
    assert orjson.loads(text)["subject"] == SUBJECT and is_sealed(text)
    envelope = read_envelope(text)
    assert envelope is not None and open_message(key, envelope[0], envelope[1]) == RAW
    assert as_text(RAW) == RAW
    assert read_envelope(value[:6]) is None  # cut inside the subject


def test_subjects_of_raw_messages() -> None:
    when = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert subject_of(SUBJECT.encode(), when) == SUBJECT
    anonymous = subject_of(b"\x01" * 16, when)
    assert anonymous == anonymous_subject(when) == "anon-2026-11-30"
    assert is_anonymous(anonymous) and not is_anonymous(SUBJECT)


class _Redis:
    """Just enough of a Redis client for the cache's bookkeeping (no I/O in unit tests)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.gets = 0

    async def set(self, name: str, value: bytes, nx: bool, ex: int | None) -> bool:
        if nx and name in self.data:
            return False
        self.data[name] = value
        return True

    async def get(self, name: str) -> bytes | None:
        self.gets += 1
        return self.data.get(name)

    async def delete(self, name: str) -> int:
        return 1 if self.data.pop(name, None) is not None else 0


async def test_store_wraps_keys_and_destroy_reports_what_existed() -> None:
    redis = _Redis()
    store = KeyStore(redis, "m" * 32)  # type: ignore[arg-type]
    key = await store.get_or_create(SUBJECT)
    assert await store.get_or_create(SUBJECT) == key == await store.get(SUBJECT)
    assert key not in b"".join(redis.data.values())  # only the wrapped form is stored
    other = KeyStore(redis, "n" * 32)  # type: ignore[arg-type]  # another deployment
    assert await other.get(SUBJECT) is None
    with pytest.raises(Unreadable):  # nor could it unwrap the entry if it found it
        other.unwrap(SUBJECT, redis.data[store.entry(SUBJECT)])
    assert await store.destroy(SUBJECT) is True
    assert await store.get(SUBJECT) is None
    assert await store.destroy(SUBJECT) is False


async def test_cache_forgets_keys_after_its_age() -> None:
    now = [0.0]
    redis = _Redis()
    cache = KeyCache(KeyStore(redis, "m" * 32), 2.0, clock=lambda: now[0])  # type: ignore[arg-type]
    key = await cache.for_sealing(SUBJECT)
    assert cache.cached(SUBJECT) == key
    now[0] = 2.5
    assert cache.cached(SUBJECT) is None
