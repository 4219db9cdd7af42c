"""A fast path for validating events: msgspec first, the pydantic models whenever it refuses.

Validating a 50-event batch with the :class:`schemas.events.Event` model costs several times
parsing it; msgspec checks the same items at about a third of that. The pydantic models stay
the one definition of the contract and the only source of error messages: :func:`fast_events`
accepts a subset of what the models accept, with the same values for the fields a caller reads
(``event_id``, ``type``, ``ts``, ``visitor_id``), and answers None for anything else, so the
caller validates with the models as before and reports their errors. Everything msgspec reads
more loosely than pydantic-core is narrowed here or sent to the models:

- the visitor id pattern is anchored with ``\\A``/``\\Z``: msgspec matches with Python's ``re``,
  whose ``$`` also matches before a final newline (pydantic-core's does not);
- msgspec rounds a time with more than six fraction digits to the microsecond, pydantic-core
  truncates it: such times go to the models;
- the 2000-2100 range is checked here (msgspec has no bounds for datetimes).

The equivalence is a property test (tests/unit/test_fast_events.py) over valid and mutated
bodies. No ``from __future__ import annotations``: msgspec reads these annotations itself.
"""

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol

import msgspec

from schemas.events import EARLIEST, LATEST, MAX_PROPS, CookieCategory, EventType

Short = Annotated[str, msgspec.Meta(max_length=256)]
Url = Annotated[str, msgspec.Meta(max_length=2048)]
VisitorId = Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"\A[A-Za-z0-9_-]+\Z")]
SafeInt = Annotated[int, msgspec.Meta(ge=-(2**53), le=2**53)]
PropName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Props = Annotated[
    dict[PropName, Short | SafeInt | float | bool | None], msgspec.Meta(max_length=MAX_PROPS)
]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
# More than six fraction digits: msgspec and pydantic-core read the microsecond differently.
FINER_THAN_MICROSECONDS = r"\.\d{7}"
_FINER_THAN_MICROSECONDS = re.compile(FINER_THAN_MICROSECONDS)


# ``gc=False``: the garbage collector need not track these (a request makes 50 events, a
# worker's take keeps thousands alive); they hold text, times, UUIDs, Structs, lists and dicts
# of scalars, never a cycle, so tracking them only cost allocation time and collection passes.
class Page(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """:class:`schemas.events.Page`."""

    url: Url
    title: Short = ""
    referrer: Url = ""


class CookieSeen(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """:class:`schemas.events.CookieSeen`."""

    name: Short
    category: CookieCategory = CookieCategory.UNKNOWN


class Browser(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """:class:`schemas.events.Browser`."""

    user_agent: Annotated[str, msgspec.Meta(max_length=512)] = ""
    language: Annotated[str, msgspec.Meta(max_length=35)] = ""
    screen: Annotated[str, msgspec.Meta(max_length=20)] = ""
    timezone: Annotated[str, msgspec.Meta(max_length=64)] = ""


class FastEvent(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """:class:`schemas.events.Event`, as msgspec checks it (the time range aside)."""

    event_id: uuid.UUID
    type: EventType
    ts: AwareTime
    visitor_id: VisitorId | None = None
    consent_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    page: Page | None = None
    cookies: Annotated[list[CookieSeen], msgspec.Meta(max_length=100)] = []
    browser: Browser | None = None
    props: Props = {}


_EVENTS = list[FastEvent]


class CheckedEvent(Protocol):
    """What a caller reads of a validated event, from either path (model or fast)."""

    @property
    def event_id(self) -> uuid.UUID:
        """The client-made idempotency key."""

    @property
    def ts(self) -> datetime:
        """The client's event time (aware)."""

    @property
    def visitor_id(self) -> str | None:
        """The body's visitor id (v1; never trusted by the collector)."""


def fast_events(items: Sequence[Any]) -> list[FastEvent] | None:
    """``items`` (parsed JSON) as events when every one is valid and read alike; else None.

    None means "ask the models": some item is invalid, or one the fast path does not vouch for.
    """
    try:
        events: list[FastEvent] = msgspec.convert(items, _EVENTS)
    except msgspec.ValidationError:
        return None
    return events if vouched(events, items) else None


def vouched(events: Sequence[FastEvent], items: Sequence[Any]) -> bool:
    """True when msgspec's reading of ``items`` as ``events`` is also the models' reading.

    The checks msgspec cannot make itself: the time range, and times finer than a microsecond.
    """
    for event, item in zip(events, items, strict=True):
        if not EARLIEST <= event.ts < LATEST or finer_than_microseconds(item["ts"]):
            return False
    return True


def finer_than_microseconds(text: str | None) -> bool:
    """A time spelt with more than six fraction digits (msgspec rounds it, pydantic truncates)."""
    return text is not None and _FINER_THAN_MICROSECONDS.search(text) is not None
