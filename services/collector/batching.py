"""Group a request's fresh events into Kafka messages: one :class:`RawBatch` per visitor key.

Kafka and the worker's Faust stream cost per message, so a request's events travel together:
a visitor's events under the visitor's pseudonym (co-partitioned with their consent), and all
anonymous events of the request under one key, the first anonymous event's id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from consentstream.identity import pseudonymize
from schemas.events import Event
from schemas.messages import RawBatch, RequestFacts

# Kafka's default max.message.bytes is 1 MiB; a 512 KiB body re-serialized stays far below,
# but a batch over this is split rather than refused by the broker.
MAX_MESSAGE_BYTES = 900 * 1024


def visitor_keys(secret: str) -> Callable[[Event], bytes | None]:
    """Key of an event's visitor (its pseudonym), None when anonymous; one HMAC per visitor."""
    cache: dict[str, bytes] = {}

    def key_of(event: Event) -> bytes | None:
        vid = event.visitor_id
        if not vid:
            return None
        key = cache.get(vid)
        if key is None:
            key = cache[vid] = pseudonymize(vid, secret).encode()
        return key

    return key_of


def group_by_key(
    events: Sequence[Event], key_of: Callable[[Event], bytes | None]
) -> dict[bytes, list[Event]]:
    """Events by Kafka key, in request order; anonymous ones under the first one's event id."""
    groups: dict[bytes, list[Event]] = {}
    anonymous: bytes | None = None
    for event in events:
        key = key_of(event)
        if key is None:
            anonymous = anonymous or event.event_id.bytes
            key = anonymous
        groups.setdefault(key, []).append(event)
    return groups


def encode(
    events: list[Event],
    facts: RequestFacts,
    received_at: datetime,
    sent_at: datetime | None,
    limit: int = MAX_MESSAGE_BYTES,
) -> list[bytes]:
    """The events as one RawBatch value, or several when one would exceed ``limit`` bytes."""
    value = RawBatch(
        events=events, facts=facts, received_at=received_at, sent_at=sent_at
    ).model_dump_json()
    encoded = value.encode()
    if len(encoded) <= limit or len(events) == 1:
        return [encoded]
    half = len(events) // 2
    return encode(events[:half], facts, received_at, sent_at, limit) + encode(
        events[half:], facts, received_at, sent_at, limit
    )


def messages(
    events: Sequence[Event],
    key_of: Callable[[Event], bytes | None],
    facts: RequestFacts,
    received_at: datetime,
    sent_at: datetime | None,
) -> list[tuple[bytes, bytes]]:
    """``(key, value)`` pairs to produce for a request's fresh events."""
    return [
        (key, value)
        for key, group in group_by_key(events, key_of).items()
        for value in encode(group, facts, received_at, sent_at)
    ]
