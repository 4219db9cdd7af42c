"""API errors, mapped to one JSON shape ``{"error": {"code", "message"}}`` in app.py.

ApiError
├── Unauthorized   401: no key, or a key that is unknown or revoked
├── Forbidden      403: a valid key whose role may not do this
└── NotFound       404: no such request
(consentstream.kafka.BrokerUnavailable and storage errors → 503 with Retry-After)
"""

from __future__ import annotations


class ApiError(Exception):
    """Base of the API's domain errors."""

    status_code = 500
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
