"""Collector errors, mapped to HTTP in one place (:mod:`services.collector.app`).

Each answers with the one error body of :mod:`schemas.errors`, ``error.code`` from ``code``.

CollectorError
├── BadRequest           400: the body is not JSON
├── InvalidBatch         422: JSON, but not a batch or an event (shape, sent_at, unknown fields)
├── UnsupportedMedia     415: a content type other than JSON or text/plain
├── PayloadTooLarge      413: more events in one batch than allowed
├── NothingValid         422: every event of the request was refused (``rejected`` says why)
├── TooManyRequests      429: the client's rate limit is spent; retry after a while
├── Saturated            503: too many produce calls already wait for Kafka; retry later
├── KeyStoreUnavailable  503: no data key to seal the request's raw values with; retry later
└── NotYourVisitor       403: a read names a visitor id the request's cookie does not hold
(consentstream.kafka.BrokerUnavailable → 503: Kafka did not acknowledge in time; retry later;
a body over its route's byte limit gets 413 from consentstream.edge.BodyLimit before any route)
"""

from __future__ import annotations

from schemas.events import Rejection


class CollectorError(Exception):
    """Base of every error the collector turns into an HTTP answer.

    ``code`` is the error body's ``error.code``; ``reason`` labels the rejection metric.
    """

    status_code = 500
    code = "error"
    reason = "invalid"
    on_events = True
    """Whether ``POST /v1/events`` can raise it (its documented statuses come from the tree)."""

    def __init__(self, message: str, rejected: list[Rejection] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rejected = rejected
        self.headers: dict[str, str] = {}


class BadRequest(CollectorError):
    """The body could not be parsed."""

    status_code = 400
    code = "bad_request"


class InvalidBatch(CollectorError):
    """The body is JSON but not a batch or an event: it does not match the schema."""

    status_code = 422
    code = "invalid_request"


class UnsupportedMedia(CollectorError):
    """The content type is not one the collector reads."""

    status_code = 415
    code = "unsupported_media"
    reason = "unsupported_media"


class PayloadTooLarge(CollectorError):
    """The body is larger than allowed."""

    status_code = 413
    code = "too_large"
    reason = "too_large"


class NothingValid(CollectorError):
    """No event of the request passed validation."""

    status_code = 422
    code = "invalid_request"


class TooManyRequests(CollectorError):
    """The client sent more requests than its rate limit allows."""

    status_code = 429
    code = "too_many_requests"
    reason = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many requests from this address; retry later")
        self.headers = {"Retry-After": str(retry_after)}


class Saturated(CollectorError):
    """Too many requests already wait for Kafka; taking more would only grow memory."""

    status_code = 503
    code = "unavailable"
    reason = "saturated"

    def __init__(self, retry_after: int) -> None:
        super().__init__("the collector is busy; nothing in this request was stored, retry later")
        self.headers = {"Retry-After": str(retry_after)}


class KeyStoreUnavailable(CollectorError):
    """The key store did not answer: raw values cannot be sealed, so nothing goes to Kafka."""

    status_code = 503
    code = "unavailable"
    reason = "keystore"

    def __init__(self, retry_after: int) -> None:
        super().__init__("the key store is unavailable; nothing in this request was stored")
        self.headers = {"Retry-After": str(retry_after)}


class NotYourVisitor(CollectorError):
    """The visitor id named is not the one the request's visitor cookie holds.

    The same answer for every such id (one with a decision, one without, one never minted), so
    it tells nothing about the visitor named.
    """

    status_code = 403
    code = "forbidden"
    reason = "foreign_visitor"
    on_events = False

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        super().__init__(
            "only the browser holding a visitor's cookie reads their decision;"
            " read your own with GET /v1/consent"
        )
        self.headers = headers or {}
