"""What the collector's OpenAPI document says each route answers, built from the code that answers.

``POST /v1/events`` reads its own request (it is a :class:`~.routes.direct.DirectRoute`), so
FastAPI cannot see its body or its errors: its statuses come from the :class:`CollectorError`
tree (each documented with its docstring) plus Kafka's 503, and its body from the event models
and batch limits :mod:`.ingest` enforces. Every other route declares its statuses from here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter

from consentstream.openapi import (
    BODY_UNPARSABLE,
    COMPONENTS_REF,
    JAVASCRIPT,
    ErrorDocs,
    Responses,
    content,
    link,
    prometheus_response,
)
from schemas.errors import ErrorBody
from schemas.events import EVENT_EXAMPLE, MAX_BATCH_EVENTS, Event, Timestamp

from .errors import CollectorError

DOCS = ErrorDocs(
    ErrorBody,
    {
        400: "The body is not JSON, or the Host is not one of the collector's names.",
        403: "The request's visitor cookie does not entitle it to this.",
        404: "No such resource.",
        413: "The body is larger than the route allows.",
        415: "A content type other than application/json or text/plain.",
        422: "The body or a parameter does not match the schema.",
        429: "This address sent more than its rate limit; retry after `Retry-After` seconds.",
        503: "Kafka (or a wait for it) is unavailable; nothing was stored; retry after "
        "`Retry-After` seconds.",
    },
)
EVERY_ROUTE = DOCS.errors(400)
"""Every route: a Host header that is not the collector's own name is refused."""


def error_classes() -> list[type[CollectorError]]:
    """Every concrete error the collector raises, leaves of the tree first found first."""
    found: list[type[CollectorError]] = []
    stack = list(CollectorError.__subclasses__())
    while stack:
        cls = stack.pop(0)
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def events_error_classes() -> list[type[CollectorError]]:
    """The errors ``POST /v1/events`` can raise: every one but those of the other routes."""
    return [cls for cls in error_classes() if cls.on_events]


def events_responses() -> Responses:
    """Each status ``POST /v1/events`` can answer, described by the errors that raise it."""
    reasons: dict[int, list[str]] = {503: [DOCS.meanings[503]]}  # BrokerUnavailable
    for cls in events_error_classes():
        text = (cls.__doc__ or "").strip().splitlines()[0]
        reasons.setdefault(cls.status_code, []).append(text)
    answers: Responses = {}
    for status in sorted(reasons):
        if status == 400:
            reasons[status].append(BODY_UNPARSABLE)
        answers[status] = {"model": ErrorBody, "description": " ".join(reasons[status])}
    return answers


_SENT_AT: TypeAdapter[datetime | None] = TypeAdapter(Timestamp | None)


def _event_ref() -> dict[str, str]:
    return {"$ref": COMPONENTS_REF.format(model=Event.__name__)}


def events_body_schema() -> dict[str, Any]:
    """A batch or one bare event, as :func:`.ingest.split_body` and :class:`Event` accept them.

    A batch is answered 202 as soon as one event in it is valid (the others are refused one
    by one in ``rejected``), so its items may be anything and it ``contains`` a valid event.
    """
    batch = {
        "type": "object",
        "title": "EventBatch",
        "additionalProperties": False,
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_EVENTS,
                "items": {},
                "contains": _event_ref(),
            },
            "sent_at": {
                **_SENT_AT.json_schema(),
                "description": "The client's send time, for clock-skew correction.",
            },
        },
    }
    return {"anyOf": [batch, _event_ref()]}


def events_request_body() -> dict[str, Any]:
    """``openapi_extra`` for ``POST /v1/events``: JSON, or JSON sent as text/plain by beacons."""
    schema = events_body_schema()
    examples = {
        "batch": {"summary": "A batch", "value": {"events": [EVENT_EXAMPLE]}},
        "event": {"summary": "One bare event", "value": EVENT_EXAMPLE},
    }
    return {
        "requestBody": {
            "required": True,
            "description": "A batch or one event as JSON; text/plain carries the same JSON "
            "(what navigator.sendBeacon sends).",
            "content": {
                media: {"schema": schema, "examples": examples}
                for media in ("application/json", "text/plain")
            },
        }
    }


def snippet_responses(
    media_type: str = JAVASCRIPT,
    what: str = "The snippet, the same bytes for every request.",
    schema: dict[str, Any] | None = None,
) -> Responses:
    """A static snippet file: its type, 304 for a matching ETag, 503 while it is not built."""
    return {
        200: content(media_type, schema or {"type": "string"}, what),
        304: {"description": "Not modified: the If-None-Match ETag is current."},
        **EVERY_ROUTE,
        **DOCS.errors(503, _503="The file is not built or readable on this server; retry later."),
    }


def consent_post_responses() -> Responses:
    """``POST /v1/consent``: the receipt, linked to reading back the decision in force.

    The visitor a decision is for is in the HttpOnly cookie, which no runtime expression (and
    no page script) reads, so the link goes to the cookie's read, which needs no parameter.
    """
    read_back = link(
        "get_own_consent",
        "The decision in force for the browser's visitor cookie: after a grant or a"
        " withdrawal with that cookie, the one just recorded.",
    )
    return {
        201: {"links": {"GetOwnConsent": read_back}},
        **EVERY_ROUTE,
        **DOCS.errors(413, 422, 429, 503),
        400: {
            "model": ErrorBody,
            "description": f"{BODY_UNPARSABLE} {DOCS.meanings[400]}",
        },
    }


def visitor_cookie_parameter() -> dict[str, Any]:
    """``openapi_extra`` declaring the visitor cookie a read is answered for.

    Declared rather than read as a FastAPI parameter: the cookie's name is a setting, and a
    malformed cookie is not a 422 but a dead cookie (cleared, read as no visitor).
    """
    return {
        "parameters": [
            {
                "name": "cs_vid",
                "in": "cookie",
                "required": False,
                "schema": {"type": "string"},
                "description": "The HttpOnly visitor cookie the collector set (its name is"
                " CONSENTSTREAM_VISITOR_COOKIE_NAME). Sent by the browser, never by scripts.",
            }
        ]
    }


def own_consent_responses() -> Responses:
    """``GET /v1/consent``: the cookie's decision; necessary-only without a live cookie."""
    return {
        200: {
            "description": "The decision in force for the cookie's visitor; necessary-only"
            " when there is no cookie, none is on record, or the cookie's id was erased (then"
            " the answer also clears the cookie)."
        },
        **EVERY_ROUTE,
    }


def consent_get_responses() -> Responses:
    """``GET /v1/consent/{visitor_id}``: the decision for the cookie's own id, else 403."""
    return {
        200: {"description": "The decision in force: the id named is the cookie's own."},
        **EVERY_ROUTE,
        **DOCS.errors(
            403,
            422,
            _403="The id named is not the live id of the request's visitor cookie (no"
            " cookie, another visitor's id, or an erased id): the same answer for every id.",
        ),
    }


def readiness_responses() -> Responses:
    """``/readyz``: 200 ready, 503 when Kafka does not take writes (same body either way)."""
    readiness = {
        "type": "object",
        "properties": {
            "kafka": {"type": "boolean"},
            "redis": {"type": "boolean"},
            "ready": {"type": "boolean"},
        },
        "required": ["kafka", "redis", "ready"],
    }
    return {
        200: {"description": "Ready.", "content": {"application/json": {"schema": readiness}}},
        503: {
            "description": "Kafka does not take writes.",
            "content": {"application/json": {"schema": readiness}},
        },
        **EVERY_ROUTE,
    }


def metrics_responses() -> Responses:
    """``/metrics``: Prometheus text."""
    return {**prometheus_response(), **EVERY_ROUTE}


def documented_models() -> list[type[BaseModel]]:
    """Models the hand-written event body refers to, added to the document's components."""
    return [Event]
