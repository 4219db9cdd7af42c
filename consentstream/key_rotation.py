"""Master-key rotation: every data key still wrapped under the previous master key, re-wrapped.

Entries are named by their master key's fingerprint (:class:`~consentstream.shredding.MasterKey`),
so the ones left to move are exactly those named by the previous key's: a scan finds them, and a
run stopped half-way (or failed) is resumed by running it again. Each entry moves in one Redis
script that checks the previous entry still holds what was read: a key an erasure destroyed
meanwhile is never brought back, a time to live is kept, and an entry a service already copied
under the new master key is kept as it is (only the old copy goes). Work goes in batches of
pipelined commands, two round trips per batch, on one Redis or across a Redis Cluster's masters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from consentstream import redis_keys
from consentstream.shredding import CARRY_FORWARD, KeyStore, MasterKey, Unreadable

BATCH = 500
SCAN_COUNT = 10_000
"""Keys Redis looks at per SCAN call: the key store may share a Redis holding far more keys
than data keys (dedupe, rate limits), and fewer, larger calls cross it faster."""


class NothingToRotate(Exception):
    """The key store was opened without a previous master key: nothing names the old entries."""


@dataclass
class RotationReport:
    """What one run did to the entries under the previous master key."""

    moved: int = 0
    """Re-wrapped under the new master key, the old entry deleted."""
    kept_current: int = 0
    """A service had already copied the key under the new master key: the old entry deleted."""
    gone: int = 0
    """Destroyed (erased), expired or changed between the scan and the move: left alone."""
    unreadable: int = 0
    """Did not unwrap under the previous master key (not its key after all): left in place."""

    @property
    def seen(self) -> int:
        """Entries this run looked at."""
        return self.moved + self.kept_current + self.gone + self.unreadable


def _previous(store: KeyStore) -> MasterKey:
    if store.previous is None:
        raise NothingToRotate("set the previous master key: nothing to rotate from")
    return store.previous


def pattern(store: KeyStore) -> str:
    """The SCAN pattern of every entry under the previous master key (braces are literal)."""
    return redis_keys.data_key("*", _previous(store).fingerprint).replace("{*}", "*")


async def _names(store: KeyStore) -> AsyncIterator[str]:
    async for name in store.redis.scan_iter(match=pattern(store), count=SCAN_COUNT):
        yield name.decode() if isinstance(name, bytes) else str(name)


async def pending(store: KeyStore) -> int:
    """How many entries are still under the previous master key (a full scan, no change)."""
    return sum([1 async for _ in _names(store)])


async def rotate(
    store: KeyStore, progress: Callable[[int], None] = lambda _n: None, batch: int = BATCH
) -> RotationReport:
    """Move every entry under the previous master key to the new one; ``progress`` is told
    how many entries each batch looked at."""
    report = RotationReport()
    names: list[str] = []
    async for name in _names(store):
        names.append(name)
        if len(names) >= batch:
            await _move(store, names, report)
            progress(len(names))
            names = []
    if names:
        await _move(store, names, report)
        progress(len(names))
    return report


async def _move(store: KeyStore, names: list[str], report: RotationReport) -> None:
    """Read a batch of old entries, re-wrap each, and move them in one pipeline."""
    previous = _previous(store)
    read = store.redis.pipeline(transaction=False)
    for name in names:
        read.get(name)
    moves = []
    for name, wrapped in zip(names, await read.execute(), strict=True):
        subject = redis_keys.tag_of(name)
        if wrapped is None:
            report.gone += 1
            continue
        try:
            data_key = previous.unwrap(subject, wrapped)
        except Unreadable:
            report.unreadable += 1
            continue
        moves.append((name, store.entry(subject), wrapped, store.master.wrap(subject, data_key)))
    write = store.redis.pipeline(transaction=False)
    for old, new, seen, again in moves:
        write.eval(CARRY_FORWARD, 2, old, new, again, "1", seen)
    for outcome in await write.execute():
        if outcome == 1:
            report.moved += 1
        elif outcome == 2:
            report.kept_current += 1
        else:
            report.gone += 1
