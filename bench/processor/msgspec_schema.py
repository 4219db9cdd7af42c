"""msgspec Structs mirroring the raw batch's types and limits, for ``bench.processor.decode``.

No ``from __future__ import annotations`` here: msgspec resolves the annotations of these
module-level classes itself. Importing this module needs msgspec (not a project dependency).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

Short = Annotated[str, msgspec.Meta(max_length=256)]
Url = Annotated[str, msgspec.Meta(max_length=2048)]
Visitor = Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Safe = Annotated[int, msgspec.Meta(ge=-(2**53), le=2**53)]
Props = Annotated[dict[str, Short | Safe | float | bool | None], msgspec.Meta(max_length=20)]


class Page(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The event's page."""

    url: Url
    title: Short = ""
    referrer: Url = ""


class Browser(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Browser facts the snippet reports."""

    user_agent: Annotated[str, msgspec.Meta(max_length=512)] = ""
    language: Annotated[str, msgspec.Meta(max_length=35)] = ""
    screen: Annotated[str, msgspec.Meta(max_length=20)] = ""
    timezone: Annotated[str, msgspec.Meta(max_length=64)] = ""


class Cookie(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A cookie the snippet saw."""

    name: Short
    category: str = "unknown"


class Event(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One event, as ``schemas.events.Event`` bar the timestamp window."""

    event_id: UUID
    type: str
    ts: datetime
    visitor_id: Visitor | None = None
    consent_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    page: Page | None = None
    cookies: Annotated[list[Cookie], msgspec.Meta(max_length=100)] = []
    browser: Browser | None = None
    props: Props = {}


class Facts(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The request's facts."""

    ip: str
    user_agent: str = ""
    gpc: bool = False
    dnt: bool = False


class Batch(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A raw-topic message."""

    events: Annotated[list[Event], msgspec.Meta(min_length=1, max_length=500)]
    facts: Facts
    received_at: datetime
    sent_at: datetime | None = None
    schema_version: int = 1


def decoder() -> Callable[[bytes], Any]:
    """``msgspec.json`` decoding into :class:`Batch`."""
    return msgspec.json.Decoder(Batch).decode
