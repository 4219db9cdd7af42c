"""Turn a request body into validated events and per-index rejections; no I/O, no framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.event_time import TimeWindow, corrected_time, time_window_error
from schemas.events import MAX_BATCH_EVENTS, Event, Rejection, Timestamp
from schemas.fast_events import CheckedEvent, fast_events

from .errors import BadRequest, InvalidBatch, PayloadTooLarge, UnsupportedMedia

READABLE_TYPES = ("application/json", "text/plain")
_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)
# One call into pydantic-core for the whole list costs less than one per event.
_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


@dataclass
class ParsedBatch:
    """Valid events (with their index in the request), the rejected ones, and every item.

    ``items[i]`` is the parsed JSON of event ``i`` as sent: what the Kafka message carries.
    """

    items: list[Any] = field(default_factory=list)
    events: list[tuple[int, CheckedEvent]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    sent_at: datetime | None = None


def check_content_type(content_type: str | None) -> None:
    """Accept JSON and text/plain (what ``sendBeacon`` sends); refuse anything else."""
    media = (content_type or "application/json").split(";")[0].strip().lower()
    if media not in READABLE_TYPES:
        raise UnsupportedMedia(f"content type {media!r} not supported; send application/json")


def load_json(body: bytes) -> Any:
    """Parse JSON or raise :class:`BadRequest` saying where it broke."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc}") from exc


def describe(exc: ValidationError) -> str:
    """One line naming each failing field and why."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _sent_at(raw: Any) -> datetime | None:
    if raw is None:
        return None
    try:
        return _TIMESTAMP.validate_python(raw)
    except ValidationError as exc:
        raise InvalidBatch(f"sent_at: {describe(exc)}") from exc


def split_body(document: Any) -> tuple[list[Any], datetime | None]:
    """A batch ``{"events": [...], "sent_at": ts}`` or one bare event, as a list of items."""
    if not isinstance(document, dict):
        raise InvalidBatch("body must be a JSON object: a batch or one event")
    if "events" not in document:
        return [document], None
    items = document["events"]
    extra = set(document) - {"events", "sent_at"}
    if extra:
        raise InvalidBatch(f"unknown batch fields: {sorted(extra)}")
    if not isinstance(items, list) or not items:
        raise InvalidBatch("events must be a non-empty list")
    if len(items) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(f"{len(items)} events; at most {MAX_BATCH_EVENTS} per request")
    return items, _sent_at(document.get("sent_at"))


def parse_events(document: Any) -> ParsedBatch:
    """Validate every event on its own, so one bad event never costs the good ones.

    The whole list is tried at once first (the common case: every event valid), by the fast
    path (:mod:`schemas.fast_events`), then by the models; only when that fails is each event
    validated alone, so rejections name the index and the field, in the models' words.
    """
    items, sent_at = split_body(document)
    batch = ParsedBatch(items=items, sent_at=sent_at)
    fast = fast_events(items)
    if fast is not None:
        batch.events = list(enumerate(fast))
        return batch
    try:
        events: list[CheckedEvent] = list(_EVENTS.validate_python(items))
    except ValidationError:
        _validate_each(items, batch)
        return batch
    batch.events = list(enumerate(events))
    return batch


def event_ids(batch: ParsedBatch) -> list[str]:
    """The canonical text of each valid event's id (``str(UUID)``): its dedupe key.

    An id that passed validation with 36 characters is the hyphenated form, whose canonical
    text is itself in lower case; that costs far less than formatting the UUID in Python.
    Other spellings (32 hex digits, braces, ``urn:uuid:``) are formatted from the UUID.
    """
    ids = []
    for index, event in batch.events:
        text = batch.items[index]["event_id"]
        canonical = isinstance(text, str) and len(text) == 36
        ids.append(text.lower() if canonical else str(event.event_id))
    return ids


def refuse_out_of_window(batch: ParsedBatch, received_at: datetime, window: TimeWindow) -> None:
    """Move events whose skew-corrected time lies outside ``window`` to ``batch.rejected``.

    A wild client clock (or a forged ``sent_at``) can shift an event decades away; storage
    refuses such times, so the client hears why here instead of the event poisoning the topic.
    """
    skew = (
        received_at - batch.sent_at
        if batch.sent_at is not None and batch.sent_at.tzinfo
        else timedelta(0)
    )
    # corrected = ts + skew lies in [received_at - max_age, received_at + max_ahead] exactly
    # when ts lies in these bounds (whole microseconds: no rounding): two comparisons an event.
    earliest = received_at - window.max_age - skew
    latest = received_at + window.max_ahead - skew
    kept: list[tuple[int, CheckedEvent]] = []
    for index, event in batch.events:
        reason = None
        if not earliest <= event.ts <= latest:
            when = corrected_time(event.ts, received_at, batch.sent_at)
            reason = time_window_error(when, received_at, window)
        if reason is None:
            kept.append((index, event))
        else:
            batch.rejected.append(Rejection(index=index, error=reason))
    if len(kept) < len(batch.events):
        batch.events = kept
        batch.rejected.sort(key=lambda rejection: rejection.index)


def _validate_each(items: list[Any], batch: ParsedBatch) -> None:
    for index, item in enumerate(items):
        try:
            batch.events.append((index, Event.model_validate(item)))
        except ValidationError as exc:
            batch.rejected.append(Rejection(index=index, error=describe(exc)))
