"""Raw-topic messages through msgspec first, as :mod:`schemas.fast_events` does for bodies.

The stream worker splits every :class:`~schemas.messages.RawBatch` into one event per row;
validating the batch with the pydantic models was the largest share of its CPU.
:func:`fast_raw_events` decodes a raw message's bytes (a batch, or one ``RawEvent`` as older
collectors wrote) straight into :class:`FastRawEvent` s, with the same field names and value
types the pipeline reads of a ``RawEvent``, or answers None: the message is invalid, or holds
something the fast path does not vouch for, and the caller parses it with orjson and validates
it with the models, which stay the one definition and the only source of error messages (so of
dead-letter reasons).

What msgspec reads more loosely than pydantic-core is narrowed as in :mod:`schemas.fast_events`
(the Structs of events are that module's), here on the bytes: the time range after decoding,
times finer than a microsecond before it; the request's times must carry a zone (a naive one
goes to the models, which accept it, and the pipeline dead-letters it). Where msgspec and
orjson read JSON itself differently, msgspec refuses (every integer is bounded by 2**53, as
orjson reads one past 64 bits as a float where msgspec keeps it whole; NaN; a lone surrogate);
a key given twice is read as its last value by both.
The equivalence is a property test over messages spelt with escapes and repeated keys
(tests/unit/test_fast_messages.py). No ``from __future__ import annotations``: msgspec reads
these annotations itself.
"""

import re
from typing import Annotated

import msgspec

from schemas.events import EARLIEST, LATEST, MAX_BATCH_EVENTS
from schemas.fast_events import FINER_THAN_MICROSECONDS, AwareTime, FastEvent, SafeInt
from schemas.messages import MESSAGE_SCHEMA_VERSION, RawEvent


# ``gc=False``: a take's events stay alive until inserted (up to 250,000), and the garbage
# collector need not track them; they hold text, times, Structs and lists, never a cycle.
class FastFacts(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """:class:`schemas.messages.RequestFacts`."""

    ip: str
    user_agent: str = ""
    gpc: bool = False
    dnt: bool = False


class FastRawEvent(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """:class:`schemas.messages.RawEvent`: one event with its request's facts and times."""

    event: FastEvent
    facts: FastFacts
    received_at: AwareTime
    sent_at: AwareTime | None = None
    schema_version: SafeInt = MESSAGE_SCHEMA_VERSION


class FastRawBatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """:class:`schemas.messages.RawBatch`."""

    events: Annotated[list[FastEvent], msgspec.Meta(min_length=1, max_length=MAX_BATCH_EVENTS)]
    facts: FastFacts
    received_at: AwareTime
    sent_at: AwareTime | None = None
    schema_version: SafeInt = MESSAGE_SCHEMA_VERSION


AnyRawEvent = RawEvent | FastRawEvent
"""What the worker's pipeline runs on: an event from either path, read alike."""

# A raw message is nearly always a batch; one event alone is an older collector's message.
_BATCH = msgspec.json.Decoder(FastRawBatch)
_SINGLE = msgspec.json.Decoder(FastRawEvent)
# A fraction finer than a microsecond (msgspec rounds it, pydantic-core truncates), found in
# the bytes before decoding them, anywhere: a URL or a prop that looks like one only sends its
# message to the models. Two scans (this and the next) cost a third of one pattern joining both.
_FINER_THAN_MICROSECONDS = re.compile(FINER_THAN_MICROSECONDS.encode())
# A dot or a digit spelt as a ``\u`` escape could hide such a fraction from that scan.
_ESCAPED_DOT_OR_DIGIT = re.compile(rb"\\u00(?:2[eE]|3\d)")


def fast_raw_events(value: bytes) -> list[FastRawEvent] | None:
    """A raw message's events when msgspec reads its bytes as orjson and the models would.

    None for anything msgspec refuses (malformed JSON, a value out of the contract) or that it
    may read differently; the caller then parses and validates as before. A key given twice is
    read as its last value, as orjson does, and each of its values is checked: the fast path
    refuses the message if any is invalid, the models see only the last.
    """
    if _FINER_THAN_MICROSECONDS.search(value) or _ESCAPED_DOT_OR_DIGIT.search(value):
        return None
    try:
        batch = _BATCH.decode(value)
    except msgspec.DecodeError:  # ValidationError included
        return _single(value)
    if not all(EARLIEST <= event.ts < LATEST for event in batch.events):
        return None
    facts, received, sent, version = (
        batch.facts,
        batch.received_at,
        batch.sent_at,
        batch.schema_version,
    )
    return [FastRawEvent(event, facts, received, sent, version) for event in batch.events]


def _single(value: bytes) -> list[FastRawEvent] | None:
    """One event as an older collector wrote it (tried only once a batch was refused)."""
    try:
        one = _SINGLE.decode(value)
    except msgspec.DecodeError:
        return None
    return [one] if EARLIEST <= one.event.ts < LATEST else None


_ENCODER = msgspec.json.Encoder()


def raw_event_json(raw: AnyRawEvent) -> bytes:
    """The ``RawEvent`` document of an event from either path (what a dead letter holds)."""
    if isinstance(raw, RawEvent):
        return raw.model_dump_json().encode()
    return _ENCODER.encode(raw)
