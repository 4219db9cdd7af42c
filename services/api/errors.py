"""API errors, mapped to one JSON shape ``{"error": {"code", "message"}}`` in app.py.

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

from pydantic import BaseModel, Field


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


class ErrorDetail(BaseModel):
    """What went wrong, in the one shape every error has."""

    code: str = Field(examples=["forbidden"])
    message: str = Field(examples=["role 'marketing' may not do this; needs privacy"])


class ErrorBody(BaseModel):
    """``{"error": {"code", "message"}}`` (a 429 adds ``next_allowed_at``)."""

    error: ErrorDetail


_MEANING = {
    401: "No key, or an unknown or revoked key.",
    403: "The key's role may not do this.",
    404: "No such request.",
    409: "The request is not in a state that allows this.",
    422: "Invalid parameters or body.",
    429: "Third access/portability request in 12 months (`next_allowed_at` says when), or a"
    " rate limit was hit (`Retry-After` says when to retry).",
    503: "A backing service is down; retry after `Retry-After` seconds.",
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, all with the one error shape."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in codes}
