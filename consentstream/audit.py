"""Append-only, keyed hash chain of per-visitor reads, exports, deletions, holds and key changes.

Each entry's ``hash`` is HMAC-SHA256, under the deployment's audit key, over its canonical
fields and the previous entry's hash, so editing, deleting or re-inserting any entry breaks the
chain from that point on, and :func:`verify` names the first broken ``seq``. A plain hash could
be recomputed by whoever can write the table, rewriting the whole chain unnoticed; the key
lives in the services' settings, not in ClickHouse.

Cutting the newest entries leaves a chain that still verifies on its own, so every append also
publishes the new head (seq, hash) outside ClickHouse (:mod:`consentstream.audit_anchor`: a
compacted Kafka topic and the log), and :func:`verify` given that head reports a chain that
ends before it.

An append reads the last entry and inserts the next one; two appenders doing that at once
(two API processes, the API and the CLI) would both chain onto the same entry and fork the
chain (the same seq twice). So every append holds a Redis lock named after the ClickHouse
database (:func:`consentstream.redis_keys.audit_lock`) from the read to the insert. The lock
expires after :data:`LOCK_TTL_SECONDS`, so a crashed holder blocks appends for at most that
long; it is re-confirmed (and its expiry renewed) just before the insert, and the TTL exceeds
the worst case of one storage call (30 s waiting for a pooled connection, 5 s connect, 60 s
send/receive), so an insert started under the lock ends before anyone else can take it.

When Redis cannot be reached, or the lock stays taken for :data:`LOCK_WAIT_SECONDS`,
:class:`AuditUnavailable` is raised and nothing is written: there is no unchained fallback,
and the caller's action does not happen (the API answers 503, the CLI exits 1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes, hmac
from redis import Redis
from redis.exceptions import LockNotOwnedError, RedisError
from redis.lock import Lock

from consentstream import redis_keys
from consentstream.audit_anchor import Head, HeadAnchor
from consentstream.storage.repository import Repository
from schemas.rows import AuditRow

log = logging.getLogger(__name__)

GENESIS = "0" * 64
LOCK_TTL_SECONDS = 120.0
"""How long the chain lock lives unrenewed: above one storage call's worst case (95 s)."""
LOCK_WAIT_SECONDS = 10.0
"""How long an append waits for another appender before giving up with AuditUnavailable."""
_LOCK_POLL_SECONDS = 0.01
_REDIS_TIMEOUT_SECONDS = 2.0


class AuditUnavailable(Exception):
    """The chain could not be locked (Redis down, or held too long); nothing was written."""


def canonical_detail(detail: dict[str, Any]) -> str:
    """Detail as canonical JSON (sorted keys, no spaces): the exact text that is hashed."""
    return orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode()


def entry_hash(
    key: bytes,
    seq: int,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    target: str,
    detail: str,
    prev_hash: str,
) -> str:
    """HMAC-SHA256 (hex) under ``key`` over an entry's canonical fields and the previous hash."""
    fields = [seq, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
    fields += [actor, role, action, target, detail, prev_hash]
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(orjson.dumps(fields))
    return mac.finalize().hex()


def hash_of(row: AuditRow, key: bytes) -> str:
    """What ``row.hash`` must be given its other fields."""
    return entry_hash(
        key, row.seq, row.at, row.actor, row.role, row.action, row.target, row.detail, row.prev_hash
    )


def lock_client(redis_url: str) -> Redis:
    """A synchronous Redis client for :class:`AuditLog`, failing fast when Redis is down."""
    return Redis.from_url(
        redis_url,
        socket_timeout=_REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
    )


class AuditLog:
    """Writes chained entries through a :class:`Repository`, serialised across processes by Redis.

    ``redis`` is a synchronous client of the deployment's Redis (see :func:`lock_client`, whose
    short socket timeouts make an unreachable Redis fail an append quickly, not hang it).
    ``key`` is the audit key every writer and verifier of the chain shares; ``anchor``, when
    given, receives each new head.
    """

    def __init__(
        self, repo: Repository, redis: Redis, key: bytes, anchor: HeadAnchor | None = None
    ) -> None:
        self.repo = repo
        self.redis = redis
        self.key = key
        self.anchor = anchor
        self.chain = repo.storage.database
        self.lock_name = redis_keys.audit_lock(self.chain)

    def append(
        self, actor: str, role: str, action: str, target: str, detail: dict[str, Any]
    ) -> AuditRow:
        """Chain and store one entry (blocking; async callers use ``asyncio.to_thread``).

        Raises :class:`AuditUnavailable` (nothing written) when the chain cannot be locked.
        """
        lock = self._acquire()
        try:
            last = self.repo.last_audit()
            row = next_entry(last, self.key, actor, role, action, target, detail)
            self._confirm(lock)
            self.repo.append_audit(row)
            if self.anchor is not None:
                # Under the lock, so heads reach the anchor in chain order.
                self.anchor.publish(self.chain, Head(row.seq, row.hash))
        finally:
            self._release(lock)
        return row

    def check(self) -> Verdict:
        """Verify the stored chain with this log's key, against its anchored head if it has one.

        Blocking (ClickHouse and Kafka reads); async callers use ``asyncio.to_thread``.
        """
        head = self.anchor.latest(self.chain) if self.anchor is not None else None
        return verify(self.repo.audit_entries(), self.key, head)

    def _acquire(self) -> Lock:
        lock = Lock(
            self.redis,
            self.lock_name,
            timeout=LOCK_TTL_SECONDS,
            sleep=_LOCK_POLL_SECONDS,
            blocking_timeout=LOCK_WAIT_SECONDS,
            thread_local=False,  # one Lock object per append, never shared between threads
        )
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            raise AuditUnavailable(
                "Redis is unreachable, so the audit chain cannot be locked"
            ) from exc
        if not acquired:
            raise AuditUnavailable(
                f"another appender held the audit chain for {LOCK_WAIT_SECONDS:.0f} s"
            )
        return lock

    @staticmethod
    def _confirm(lock: Lock) -> None:
        """Still ours, with a fresh TTL for the insert; else abort before writing anything."""
        try:
            lock.reacquire()
        except LockNotOwnedError as exc:
            raise AuditUnavailable("the audit chain lock expired before the insert") from exc
        except RedisError as exc:
            raise AuditUnavailable("Redis became unreachable while the chain was locked") from exc

    @staticmethod
    def _release(lock: Lock) -> None:
        try:
            lock.release()
        except RedisError:  # it expires by itself; an entry written under it is chained
            log.warning(
                "could not release the audit chain lock; it expires within %.0f s",
                LOCK_TTL_SECONDS,
            )


def next_entry(
    last: tuple[int, str] | None,
    key: bytes,
    actor: str,
    role: str,
    action: str,
    target: str,
    detail: dict[str, Any],
) -> AuditRow:
    """The entry that follows ``last`` (``(seq, hash)`` of the newest entry, None if empty)."""
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = datetime.now(UTC).replace(microsecond=0)  # 18.16 stores whole seconds
    text = canonical_detail(detail)
    return AuditRow(
        seq=seq,
        at=at,
        actor=actor,
        role=role,
        action=action,
        target=target,
        detail=text,
        prev_hash=prev,
        hash=entry_hash(key, seq, at, actor, role, action, target, text, prev),
    )


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`verify`: ``broken_seq`` is None when the chain is intact."""

    entries: int
    broken_seq: int | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when every entry's hash and link checks out."""
        return self.broken_seq is None


def verify(entries: list[AuditRow], key: bytes, head: Head | None = None) -> Verdict:
    """Check seqs run 1..n without gaps or repeats, each links to the previous, each hash holds.

    With the ``head`` last published outside ClickHouse, also check that the chain reaches it
    and holds the same entry there: a chain cut short, or rewritten up to its end with the key,
    disagrees with the anchor.
    """
    prev = GENESIS
    for expected, row in enumerate(entries, start=1):
        if row.seq != expected:
            return Verdict(len(entries), min(row.seq, expected), "missing or repeated seq")
        if row.prev_hash != prev:
            return Verdict(len(entries), row.seq, "does not link to the previous entry")
        if hash_of(row, key) != row.hash:
            return Verdict(len(entries), row.seq, "content does not match its hash")
        prev = row.hash
    return _against_head(entries, head)


def _against_head(entries: list[AuditRow], head: Head | None) -> Verdict:
    if head is None:
        return Verdict(len(entries), None)
    if len(entries) < head.seq:
        reason = f"the chain ends at seq {len(entries)} but its anchored head is seq {head.seq}"
        return Verdict(len(entries), len(entries) + 1, f"tail cut: {reason}")
    if entries[head.seq - 1].hash != head.hash:
        return Verdict(len(entries), head.seq, "does not match the anchored head")
    return Verdict(len(entries), None)
