"""Append-only, hash-chained audit log of per-visitor reads, exports, deletions and holds.

Each entry's ``hash`` is SHA-256 over its canonical fields and the previous entry's hash, so
editing, deleting or re-inserting any entry breaks the chain from that point on, and
:func:`verify` names the first broken ``seq``. Appends are serialised per process by a lock and
chain onto the last hash read from the table; two processes appending at the same instant
would fork the chain, which :func:`verify` reports (a duplicate seq) rather than hides.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes

from consentstream.storage.repository import Repository
from schemas.rows import AuditRow

GENESIS = "0" * 64


def canonical_detail(detail: dict[str, Any]) -> str:
    """Detail as canonical JSON (sorted keys, no spaces): the exact text that is hashed."""
    return orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode()


def entry_hash(
    seq: int,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    target: str,
    detail: str,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) over the canonical encoding of an entry's fields and the previous hash."""
    fields = [seq, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
    fields += [actor, role, action, target, detail, prev_hash]
    digest = hashes.Hash(hashes.SHA256())
    digest.update(orjson.dumps(fields))
    return digest.finalize().hex()


def hash_of(row: AuditRow) -> str:
    """What ``row.hash`` must be given its other fields."""
    return entry_hash(
        row.seq, row.at, row.actor, row.role, row.action, row.target, row.detail, row.prev_hash
    )


class AuditLog:
    """Writes chained entries through a :class:`Repository`; one instance per process."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._lock = threading.Lock()

    def append(
        self, actor: str, role: str, action: str, target: str, detail: dict[str, Any]
    ) -> AuditRow:
        """Chain and store one entry (blocking; async callers use ``asyncio.to_thread``)."""
        with self._lock:
            last = self.repo.last_audit()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            at = datetime.now(UTC).replace(microsecond=0)  # 18.16 stores whole seconds
            text = canonical_detail(detail)
            row = AuditRow(
                seq=seq,
                at=at,
                actor=actor,
                role=role,
                action=action,
                target=target,
                detail=text,
                prev_hash=prev,
                hash=entry_hash(seq, at, actor, role, action, target, text, prev),
            )
            self.repo.append_audit(row)
            return row


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


def verify(entries: list[AuditRow]) -> Verdict:
    """Check seqs run 1..n without gaps or repeats, each links to the previous, each hash holds."""
    prev = GENESIS
    for expected, row in enumerate(entries, start=1):
        if row.seq != expected:
            return Verdict(len(entries), min(row.seq, expected), "missing or repeated seq")
        if row.prev_hash != prev:
            return Verdict(len(entries), row.seq, "does not link to the previous entry")
        if hash_of(row) != row.hash:
            return Verdict(len(entries), row.seq, "content does not match its hash")
        prev = row.hash
    return Verdict(len(entries), None)
