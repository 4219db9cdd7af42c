"""API errors, mapped to the one error body of :mod:`schemas.errors` in app.py.

ApiError
├── Unauthorized   401: no key, or a key that is unknown or revoked
├── Forbidden      403: a valid key whose role may not do this
├── NotFound       404: no such request
├── Conflict       409: the request is not in a state that allows this (e.g. export before done)
├── InvalidInput   422: parameters that parse but make no sense (e.g. from after to)
├── TooManyRequests 429: a subject's third access/portability request in 12 months
└── RateLimited     429 with Retry-After: a rate limit (per key, token, subject or IP) was hit
(consentstream.kafka.BrokerUnavailable, storage errors and consentstream.audit.AuditUnavailable
and privacy.intake.IntakeUnavailable → 503 with Retry-After)
"""

from __future__ import annotations

from typing import Any

from consentstream.openapi import ErrorDocs
from schemas.errors import ErrorBody


class ApiError(Exception):
    """Base of the API's domain errors."""

    status_code = 500
    code = "error"

    def __init__(self, message: str, **extra: str) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class Unauthorized(ApiError):
    """No valid key."""

    status_code = 401
    code = "unauthorized"


class Forbidden(ApiError):
    """The key's role does not reach this endpoint."""

    status_code = 403
    code = "forbidden"


class NotFound(ApiError):
    """The thing asked for does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    """The thing exists but its state does not allow this yet."""

    status_code = 409
    code = "conflict"


class InvalidInput(ApiError):
    """Well-formed parameters that do not make sense together."""

    status_code = 422
    code = "invalid_request"


class TooManyRequests(ApiError):
    """A limit the policy sets was reached; ``extra`` says when the next attempt is allowed."""

    status_code = 429
    code = "too_many_requests"


class RateLimited(ApiError):
    """Too many requests (or failed authentications) in a short time; retry after a while."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


DOCS = ErrorDocs(
    ErrorBody,
    {
        400: "The Host is not one of the API's names, or the body could not be read (not "
        "UTF-8, not JSON).",
        401: "No key, or an unknown or revoked key.",
        403: "The key's role may not do this.",
        404: "No such request.",
        409: "The request is not in a state that allows this.",
        413: "The body is larger than the route allows.",
        422: "A parameter or the body does not match the schema (the message names it), or "
        "parameters that do not make sense together.",
        429: "A rate limit or the policy's request limit was reached; retry after "
        "`Retry-After` seconds (a subject's third access/portability request in 12 months "
        "says `next_allowed_at`).",
        503: "A backing service is down; retry after `Retry-After` seconds.",
    },
)
EVERY_ROUTE = (400, 401, 403, 422, 429, 503)
"""Statuses any authenticated route can answer: host, key, role, parameters, limits, outage."""
WITH_BODY = (413,)
"""Added on routes that read a body: the size limit."""


def documented(*codes: int, **meaning: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, all with the one error shape."""
    return DOCS.errors(*codes, **meaning)
