"""HTTP bodies the snippet sends to the collector (its public contract), validated at the edge.

The JSON Schema exported from these models is what the snippet is built against.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    JsonValue,
    StrictBool,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

MAX_BATCH_EVENTS = 500
MAX_PROPS = 20
ShortStr = Annotated[str, StringConstraints(max_length=256)]
UrlStr = Annotated[str, StringConstraints(max_length=2048)]
VisitorId = Annotated[
    str, StringConstraints(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
]
SafeInt = Annotated[int, Field(ge=-(2**53), le=2**53)]  # exact in JavaScript and JSON
PropValue = ShortStr | SafeInt | float | bool | None
PropName = Annotated[str, StringConstraints(min_length=1, max_length=64)]

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


ISO_TEXT = "must be an ISO 8601 timestamp string, e.g. 2026-05-04T10:00:00Z"


class _IsoTimestamp:
    """An aware datetime from 2000 to 2100, given as ISO 8601 text (or a datetime in Python).

    Timestamps arrive as text: a bare number is ambiguous (seconds? ms?), so it is refused even
    though pydantic would read it as Unix time. Storage keeps 2000 to 2100; anything outside is
    a broken client clock. Every check is a pydantic-core schema, not a Python validator: the
    collector validates tens of thousands of these a second.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        text_or_datetime = core_schema.custom_error_schema(
            core_schema.union_schema(
                [core_schema.str_schema(), core_schema.datetime_schema(strict=True)],
                mode="left_to_right",
            ),
            custom_error_type="iso_timestamp",
            custom_error_message=ISO_TEXT,
        )
        plausible = core_schema.datetime_schema(tz_constraint="aware", ge=EARLIEST, lt=LATEST)
        return core_schema.chain_schema([text_or_datetime, plausible])

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The range in JSON Schema words (ajv-formats' formatMinimum), from the same bounds.
        return {
            "type": "string",
            "format": "date-time",
            "formatMinimum": EARLIEST.isoformat().replace("+00:00", "Z"),
            "formatExclusiveMaximum": LATEST.isoformat().replace("+00:00", "Z"),
        }


Timestamp = Annotated[datetime, _IsoTimestamp]


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventType(StrEnum):
    """What happened on the page."""

    PAGEVIEW = "pageview"
    COOKIE = "cookie"
    CLICK = "click"
    CUSTOM = "custom"
    IDENTIFY = "identify"


class CookieCategory(StrEnum):
    """Consent categories a cookie (or a purpose) belongs to."""

    NECESSARY = "necessary"
    ANALYTICS = "analytics"
    MARKETING = "marketing"
    PREFERENCES = "preferences"
    UNKNOWN = "unknown"


class Page(_Body):
    """Where the event happened; the query string is stripped downstream."""

    url: UrlStr
    title: ShortStr = ""
    referrer: UrlStr = ""


class CookieSeen(_Body):
    """A cookie present in the browser: its name and category, never its value."""

    name: ShortStr
    category: CookieCategory = CookieCategory.UNKNOWN


class Browser(_Body):
    """Browser facts the snippet reports; the user agent is reduced to a family downstream."""

    user_agent: Annotated[str, StringConstraints(max_length=512)] = ""
    language: Annotated[str, StringConstraints(max_length=35)] = ""
    screen: Annotated[str, StringConstraints(max_length=20)] = ""
    timezone: Annotated[str, StringConstraints(max_length=64)] = ""


EVENT_EXAMPLE: dict[str, JsonValue] = {
    "event_id": "3f2b8f0e-5b7c-4d0a-9c1e-2a6f0d9b7c11",
    "type": "pageview",
    "ts": "2026-05-04T10:00:00Z",
    "page": {"url": "https://www.example.com/tariffs", "title": "Tariffs"},
}


class Event(_Body):
    """One tracking event as the snippet sends it."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [EVENT_EXAMPLE]}
    )

    event_id: UUID = Field(description="Client-made UUID, the idempotency key.")
    type: EventType
    ts: Timestamp = Field(description="Client time of the event (ISO 8601 with zone).")
    visitor_id: VisitorId | None = Field(
        default=None,
        description="Deprecated (v1), removed in the next version: the collector attributes the"
        " event from its visitor cookie and ignores this value unless it is the cookie's id.",
        json_schema_extra={"deprecated": True},
    )
    consent_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    page: Page | None = None
    # Factories, not ``[]``/``{}``: pydantic deep-copies a mutable default for every event.
    cookies: list[CookieSeen] = Field(default_factory=list, max_length=100)
    browser: Browser | None = None
    props: dict[PropName, PropValue] = Field(default_factory=dict, max_length=MAX_PROPS)


class EventBatch(_Body):
    """A batch of events with the client's send time, for clock-skew correction."""

    events: Annotated[list[dict[str, object]], Field(min_length=1, max_length=MAX_BATCH_EVENTS)]
    sent_at: Timestamp | None = None


class EventsAccepted(_Body):
    """The collector's answer: counts, and per-event errors by index."""

    accepted: int
    duplicates: int
    rejected: list[Rejection]


class Rejection(_Body):
    """Why one event of a batch was refused."""

    index: int
    error: str


class ConsentChoices(_Body):
    """Per-category decision; necessary is always true."""

    # StrictBool: a choice is JSON true or false, as the schema says; lax pydantic would read
    # 0, "no" or "yes" as a choice nobody made.
    necessary: StrictBool = True
    analytics: StrictBool
    marketing: StrictBool
    preferences: StrictBool

    def granted(self) -> tuple[str, ...]:
        """The granted purposes in field order: the one derivation every consumer uses."""
        return tuple(name for name, value in self.model_dump().items() if value)


class ConsentRequest(_Body):
    """A consent decision as the banner posts it: every decision, refusals included.

    Whose decision it is, the collector's visitor cookie says (it mints an id on the first
    analytics grant); ``visitor_id`` is the v1 field, accepted and ignored. ``decision_id`` is
    made once per decision by the client and is the idempotency key: a retry after a lost
    answer records nothing new and gets the first answer back.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "decision_id": "7d3c6a52-2b0e-4a7a-9f59-0c6f3c1d2e4b",
                    "choices": {"analytics": True, "marketing": False, "preferences": True},
                    "policy_version": "2026-01",
                    "policy_hash": "sha256-demo",
                }
            ]
        },
    )

    decision_id: UUID | None = Field(
        default=None, description="Client-made id of this decision; retries reuse it."
    )
    visitor_id: VisitorId | None = Field(
        default=None,
        description="Deprecated (v1), removed in the next version: ignored; the collector's"
        " visitor cookie says whose decision this is.",
        json_schema_extra={"deprecated": True},
    )
    choices: ConsentChoices
    policy_version: ShortStr
    policy_hash: ShortStr
    banner_hash: ShortStr = ""
    source: Annotated[str, StringConstraints(max_length=64)] = "banner"


class ConsentRecorded(_Body):
    """The collector's answer to a consent decision: an id and a signed receipt to keep."""

    consent_id: str
    recorded_at: datetime
    receipt: str
    visitor_token: str | None = Field(
        default=None,
        description="Deprecated (v1), always null, removed in the next version: no page script"
        " is handed anything that names the visitor; self-service goes through /privacy/.",
        json_schema_extra={"deprecated": True},
    )


class ConsentInForce(_Body):
    """The decision in force for a visitor (necessary-only when none is on record)."""

    consent_id: str | None
    choices: ConsentChoices
    policy_version: str | None
    recorded_at: datetime | None
    gpc_applied: bool = False


EventsAccepted.model_rebuild()
