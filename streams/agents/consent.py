"""The consent agents: each visitor's history and mirror in Redis, and the consent ledger.

Both read the consent topic: ``track_consent`` keeps the Redis state the events agent and the
collector read, ``record_consent`` writes the ledger rows the API reports from.

The collector mirrors the decision in force when it records one; ``track_consent`` rewrites
the mirror from the topic too, so it becomes current after a replay, a missed write (Redis was
down when the collector answered) or a decision from another collector.

Neither writes for an erased subject: the mirror and the history are written in one Redis
script with the suppression check, and the ledger is checked before and after each insert
(:mod:`streams.late_writes`), so a decision in flight at erasure time does not stay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from functools import partial

import faust
from pydantic import ValidationError

from consentstream import redis_keys
from consentstream.suppression import set_all_unless_suppressed
from schemas.consent import (
    ConsentHistory,
    in_force_of,
    is_newer_than_mirror,
    ledger_row,
    snapshot_of,
)
from schemas.messages import ConsentDecision
from schemas.rows import ConsentLedgerRow

from .. import consent_history
from ..clients import WorkerClients
from ..inserts import insert_isolating
from ..late_writes import erased_among, undo_if_erased_meanwhile
from ..retry import redis_retry
from ..takes import steady_takes

# How long a decision may wait for others to share its take. Short: the events agent reads
# the histories this agent writes, and a visitor's first events often follow the decision
# within a take window (the collector's own mirror covers them too, but only when it could
# write it).
TRACK_WITHIN_SECONDS = 0.05


class ConsentAgents:
    """``track_consent`` and ``record_consent``, the two Faust agents of the consent topic."""

    def __init__(self, clients: WorkerClients) -> None:
        self.clients = clients
        self.settings = clients.settings

    async def track_consent(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Keep each visitor's consent history in Redis and the decision in force mirrored.

        Per take, not per message: the take's sealed values open in one key-store round trip,
        its decisions go into the histories in one pipelined round trip and the mirrors are
        read and written in one each (every write still one script with its subject's
        suppression check). One decision at a time cost four round trips each.
        """
        async for values in steady_takes(stream, 1000, TRACK_WITHIN_SECONDS):
            decisions = await self._identified_decisions(values)
            if decisions:
                await redis_retry("history", partial(self._track, decisions))
            yield None

    async def _identified_decisions(
        self, values: Iterable[bytes]
    ) -> list[tuple[str, ConsentDecision]]:
        """The take's decisions about a visitor, each with its pseudonym, in topic order."""
        c = self.clients
        # tombstones left by an erasure are empty: skipped, as are erased subjects' (None)
        live = [value for value in values if value]
        out = []
        for plain in await c.unsealer.open_all(live, c.topics.names.consent):
            try:
                decision = ConsentDecision.model_validate_json(plain or b"")
            except ValidationError:
                continue  # record_consent dead-letters it (or its key is gone: erased)
            if decision.visitor_id is not None:  # anonymous: no one's state to keep
                out.append((c.pseudonym(decision.visitor_id), decision))
        return out

    async def _track(self, decisions: list[tuple[str, ConsentDecision]]) -> None:
        """Add the decisions to their histories; mirror each visitor's newest one.

        A decision is mirrored only if it is the newest of its visitor's history after the
        whole take (an older one arriving later never is), and never over a newer decision
        the collector already mirrored (this agent may lag). Idempotent: safe to retry whole.
        """
        redis = self.clients.redis
        ttl = self.settings.consent_state_seconds
        snaps = [(key, snapshot_of(decision)) for key, decision in decisions]
        latest: dict[str, ConsentHistory | None] = {}
        for (key, _), history in zip(
            snaps, await consent_history.add_all(redis, snaps, ttl), strict=True
        ):
            latest[key] = history
        newest = {
            key: decision
            for key, decision in decisions
            if (history := latest[key]) is not None and history.latest_is(decision.consent_id)
        }
        if not newest:
            return
        read = redis.pipeline(transaction=False)
        for key in newest:
            read.get(redis_keys.consent(key))
        writes = [
            (key, redis_keys.consent(key), in_force_of(decision).model_dump_json())
            for (key, decision), mirrored in zip(newest.items(), await read.execute(), strict=True)
            if is_newer_than_mirror(decision, mirrored)
        ]
        done = await set_all_unless_suppressed(redis, writes, ttl)
        self.clients.metrics.consent_mirrored.inc(sum(done))

    async def record_consent(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Write decisions to the consent ledger in batches; an erased subject's never land."""
        c = self.clients
        async for values in steady_takes(stream, 1000, self.settings.sink_flush_seconds):
            rows, value_of = await self._ledger_rows(values)
            erased = await redis_retry("suppressed", partial(erased_among, c.redis, rows))
            rows = [row for row in rows if row.visitor_key not in erased]
            for refused in await insert_isolating("ledger", c.repo.insert_consents, rows):
                await c.dead_letter(
                    value_of[refused.row.consent_id], refused.reason, c.topics.names.consent
                )
            await undo_if_erased_meanwhile(c.redis, c.repo, {row.visitor_key for row in rows})
            yield None

    async def _ledger_rows(
        self, values: Iterable[bytes]
    ) -> tuple[list[ConsentLedgerRow], dict[str, bytes]]:
        """The ledger rows of a take, and each row's message (to park a refused one)."""
        c = self.clients
        topic = c.topics.names.consent
        rows = []
        value_of: dict[str, bytes] = {}
        # tombstones left by an erasure are empty: skipped, as are erased subjects' (None)
        live = [value for value in values if value]
        for value, plain in zip(live, await c.unsealer.open_all(live, topic), strict=True):
            if plain is None:
                continue
            try:
                decision = ConsentDecision.model_validate_json(plain)
            except ValidationError as exc:
                await c.dead_letter(value, f"invalid consent: {exc.error_count()} errors", topic)
                continue
            vid = decision.visitor_id
            rows.append(ledger_row(decision, c.pseudonym(vid) if vid else ""))
            value_of[decision.consent_id] = value
        return rows, value_of
