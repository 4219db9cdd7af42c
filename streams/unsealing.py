"""Opening sealed messages in the worker, once, as they are decoded; resealing dead letters.

A message whose subject's data key is gone belongs to an erased subject (or an anonymous day
past its key's lifetime): it is dropped and counted (``consentstream_worker_shredded_messages``),
never dead-lettered and never retried, since no retry can bring the key back. The worker only
reads keys, never makes them, and keeps them a few seconds at most (``KeyCache``), so it never
opens a message with a key destroyed longer ago than that.

A value that is not sealed passes through as it is: an older collector's plaintext message
still on the topic (a rolling upgrade), or garbage that the caller's validation dead-letters.
A sealed value that does not open (tampered with) also passes through unopened: validation
refuses the envelope, so it is dead-lettered in its encrypted form.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from consentstream.sealing import KeyCache, is_sealed, open_message, read_envelope, seal_message
from consentstream.shredding import Unreadable, anonymous_subject
from schemas.fast_messages import AnyRawEvent, raw_event_json

from .metrics import WorkerMetrics
from .retry import redis_retry


class Unsealer:
    """Opens a take's sealed values in one key-store round trip and reseals what it parks.

    The keys of the last take of each topic are remembered until the next one, so an event of
    that take parked on the dead-letter topic is sealed again under the key it came with (even
    if that key was destroyed meanwhile: then the dead letter is unreadable too, as it should).
    """

    def __init__(
        self, keys: KeyCache, metrics: WorkerMetrics, pseudonym: Callable[[str], str]
    ) -> None:
        self.keys = keys
        self.metrics = metrics
        self.pseudonym = pseudonym
        self._take_keys: dict[str, dict[str, bytes | None]] = {}
        self._plain_values: dict[str, list[bytes]] = {}
        self._plain_ids: dict[str, set[str]] = {}

    async def open_all(self, values: list[bytes], topic: str) -> list[bytes | None]:
        """Each value's message document; None where its key was destroyed (counted)."""
        envelopes = [read_envelope(v) if is_sealed(v) else None for v in values]
        subjects = {e[0] for e in envelopes if e is not None}
        keys: dict[str, bytes | None] = {}
        if subjects:
            keys = await redis_retry("data keys", partial(self.keys.for_opening, subjects))
        self._take_keys[topic] = keys
        # Plaintext messages are rare (an older collector, a replayed old dead letter): they are
        # remembered so that their events can park as they came, but their event ids are read
        # only when the take parks something (a second JSON parse of every plaintext message
        # otherwise cost as much as decoding it).
        self._plain_values[topic] = [v for v, e in zip(values, envelopes, strict=True) if e is None]
        self._plain_ids.pop(topic, None)
        return [self._open(v, e, keys, topic) for v, e in zip(values, envelopes, strict=True)]

    async def open_one(self, value: bytes, topic: str) -> bytes | None:
        """:meth:`open_all` for a single value."""
        [opened] = await self.open_all([value], topic)
        return opened

    def _open(
        self,
        value: bytes,
        envelope: tuple[str, bytes] | None,
        keys: dict[str, bytes | None],
        topic: str,
    ) -> bytes | None:
        if envelope is None:
            return value
        subject, sealed = envelope
        data_key = keys.get(subject)
        if data_key is None:
            self.metrics.shredded.labels(topic).inc()
            return None
        try:
            return open_message(data_key, subject, sealed)
        except Unreadable:
            return value

    def reseal(self, raw: AnyRawEvent, topic: str) -> bytes | None:
        """The dead-letter value of one event: sealed under its take's key for its subject.

        An event that came in plaintext (an older collector) parks as it came; any other
        whose key is not at hand is dropped (counted), never parked in plaintext.
        """
        plaintext = raw_event_json(raw)
        if str(raw.event.event_id) in self._plaintext_ids(topic):
            return plaintext
        vid = raw.event.visitor_id
        subject = self.pseudonym(vid) if vid else anonymous_subject(raw.received_at)
        data_key = self._take_keys.get(topic, {}).get(subject)
        if data_key is None:
            self.metrics.shredded.labels(topic).inc()
            return None
        return seal_message(data_key, subject, plaintext)

    def _plaintext_ids(self, topic: str) -> set[str]:
        """Event ids of the last take's plaintext messages, read once when first needed."""
        ids = self._plain_ids.get(topic)
        if ids is None:
            plain = self._plain_values.get(topic, ())
            ids = self._plain_ids[topic] = {i for value in plain for i in _event_ids(value)}
        return ids


def _event_ids(value: bytes) -> set[str]:
    """Event ids of a plaintext raw message (a batch or one event); empty if it is neither."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return set()
    if not isinstance(document, dict):
        return set()
    events = document.get("events")
    items: list[Any] = events if isinstance(events, list) else [document.get("event")]
    ids = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            ids.add(str(uuid.UUID(str(item.get("event_id")))))
        except ValueError:  # not an event id: nothing of it parks as it came
            continue
    return ids
