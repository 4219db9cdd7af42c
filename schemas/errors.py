"""The one error body both HTTP services answer with: ``{"error": {"code", "message", ...}}``.

A client (the snippet, a dashboard, a script) reads ``error.code`` to decide what to do and
``error.message`` to tell a person; ``field`` names the input at fault where there is one,
``rejected`` lists the refused events of a batch, and a few errors add a detail of their own
(the API's 429 says ``next_allowed_at``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import Rejection


class ErrorDetail(BaseModel):
    """What went wrong, in the one shape every error has."""

    # extra="allow": an error may carry one more named detail (next_allowed_at) without a
    # model per error; code and message are always there.
    model_config = ConfigDict(frozen=True, extra="allow")

    code: str = Field(examples=["forbidden"], description="Stable, machine-readable reason.")
    message: str = Field(
        examples=["role 'marketing' may not do this; needs privacy"],
        description="What went wrong and what to do, for a person.",
    )
    field: str | None = Field(None, description="The input at fault, where there is one.")
    rejected: list[Rejection] | None = Field(
        None, description="Per-event reasons when a batch had no valid event."
    )
    next_allowed_at: str | None = Field(
        None, description="When a request refused by a policy limit (429) may be filed again."
    )


class ErrorBody(BaseModel):
    """``{"error": {"code", "message"}}``, with ``field``/``rejected`` where they apply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    error: ErrorDetail


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    """The JSON-ready error body; details that are None are left out."""
    detail = ErrorDetail(code=code, message=message, **details)
    return ErrorBody(error=detail).model_dump(mode="json", exclude_none=True)
