"""Raw-topic messages through msgspec first, as :mod:`schemas.fast_events` does for bodies.

The stream worker splits every :class:`~schemas.messages.RawBatch` into one event per row;
validating the batch with the pydantic models was the largest share of its CPU.
:func:`fast_raw_events` reads a parsed raw message (a batch, or one ``RawEvent`` as older
collectors wrote) into :class:`FastRawEvent` s, with the same field names and value types the
pipeline reads of a ``RawEvent``, or answers None: the message is invalid, or holds something
the fast path does not vouch for, and the caller validates it with the models, which stay the
one definition and the only source of error messages (so of dead-letter reasons).

What msgspec reads more loosely than pydantic-core is narrowed as in :mod:`schemas.fast_events`
(the events' checks are that module's); the request's times must carry a zone here (a naive one
goes to the models, which accept it, and the pipeline dead-letters it). The equivalence is a
property test (tests/unit/test_fast_messages.py). No ``from __future__ import annotations``:
msgspec reads these annotations itself.
"""

from typing import Annotated, Any

import msgspec

from schemas.events import MAX_BATCH_EVENTS
from schemas.fast_events import AwareTime, FastEvent, finer_than_microseconds, vouched
from schemas.messages import MESSAGE_SCHEMA_VERSION, RawEvent


class FastFacts(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """:class:`schemas.messages.RequestFacts`."""

    ip: str
    user_agent: str = ""
    gpc: bool = False
    dnt: bool = False


class FastRawEvent(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """:class:`schemas.messages.RawEvent`: one event with its request's facts and times."""

    event: FastEvent
    facts: FastFacts
    received_at: AwareTime
    sent_at: AwareTime | None = None
    schema_version: int = MESSAGE_SCHEMA_VERSION


class FastRawBatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """:class:`schemas.messages.RawBatch`."""

    events: Annotated[list[FastEvent], msgspec.Meta(min_length=1, max_length=MAX_BATCH_EVENTS)]
    facts: FastFacts
    received_at: AwareTime
    sent_at: AwareTime | None = None
    schema_version: int = MESSAGE_SCHEMA_VERSION


AnyRawEvent = RawEvent | FastRawEvent
"""What the worker's pipeline runs on: an event from either path, read alike."""


def fast_raw_events(document: Any) -> list[FastRawEvent] | None:
    """A parsed raw message's events when msgspec reads it as the models would; else None."""
    if not isinstance(document, dict) or not _times_vouched(document):
        return None
    try:
        if "events" in document:
            batch = msgspec.convert(document, FastRawBatch)
        else:
            one = msgspec.convert(document, FastRawEvent)
            return [one] if vouched([one.event], [document["event"]]) else None
    except msgspec.ValidationError:
        return None
    if not vouched(batch.events, document["events"]):
        return None
    facts, received, sent, version = (
        batch.facts,
        batch.received_at,
        batch.sent_at,
        batch.schema_version,
    )
    return [FastRawEvent(event, facts, received, sent, version) for event in batch.events]


def _times_vouched(document: dict[str, Any]) -> bool:
    """The request's times are not spelt finer than a microsecond (or not text at all)."""
    for name in ("received_at", "sent_at"):
        text = document.get(name)
        if text is not None and (not isinstance(text, str) or finer_than_microseconds(text)):
            return False
    return True


_ENCODER = msgspec.json.Encoder()


def raw_event_json(raw: AnyRawEvent) -> bytes:
    """The ``RawEvent`` document of an event from either path (what a dead letter holds)."""
    if isinstance(raw, RawEvent):
        return raw.model_dump_json().encode()
    return _ENCODER.encode(raw)
