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
from consentstream.suppression import set_unless_suppressed
from schemas.consent import in_force_of, is_newer_than_mirror, ledger_row, snapshot_of
from schemas.messages import ConsentDecision
from schemas.rows import ConsentLedgerRow

from .. import consent_history
from ..clients import WorkerClients
from ..inserts import insert_isolating
from ..late_writes import erased_among, undo_if_erased_meanwhile
from ..retry import redis_retry


class ConsentAgents:
    """``track_consent`` and ``record_consent``, the two Faust agents of the consent topic."""

    def __init__(self, clients: WorkerClients) -> None:
        self.clients = clients
        self.settings = clients.settings

    async def track_consent(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Keep each visitor's consent history in Redis and the decision in force mirrored."""
        c = self.clients
        async for value in stream:
            if not value:
                continue  # a tombstone left by an erasure
            plain = await c.unsealer.open_one(value, c.topics.names.consent)
            try:
                decision = ConsentDecision.model_validate_json(plain or b"")
            except ValidationError:
                continue  # record_consent dead-letters it (or its key is gone: erased)
            if decision.visitor_id is None:
                continue  # anonymous: in the ledger, but no one's state to keep
            key = c.pseudonym(decision.visitor_id)
            snap = snapshot_of(decision)
            ttl = self.settings.consent_state_seconds
            history = await redis_retry(
                "history", partial(consent_history.add, c.redis, key, snap, ttl)
            )
            if history is not None and history.latest_is(decision.consent_id):
                await redis_retry("mirror", partial(self._mirror, key, decision))
            yield None

    async def _mirror(self, key: str, decision: ConsentDecision) -> None:
        """Write the decision in force to Redis for the collector, unless the subject was erased.

        Never replaces a newer decision the collector already mirrored (this agent may lag).
        """
        redis = self.clients.redis
        name = redis_keys.consent(key)
        if not is_newer_than_mirror(decision, await redis.get(name)):
            return
        value = in_force_of(decision).model_dump_json()
        ttl = self.settings.consent_state_seconds
        if await set_unless_suppressed(redis, key, name, value, ttl):
            self.clients.metrics.consent_mirrored.inc()

    async def record_consent(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Write decisions to the consent ledger in batches; an erased subject's never land."""
        c = self.clients
        async for values in stream.take(1000, within=self.settings.sink_flush_seconds):
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
