"""The visitor's own view of their privacy requests, proven by the signed visitor token.

The privacy center on the collector asks this (server to server) so the visitor sees each
request's status and deadline and, for a finished deletion, its receipt (per-store counts, no
personal data). Reading is audited under the self-service actor, as every per-visitor read is.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from consentstream.identity import pseudonymize, read_visitor_token

from .. import requests
from ..casework import SELF_SERVICE
from ..deps import State
from ..errors import EVERY_ROUTE, WITH_BODY, Unauthorized, documented

router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=documented(*EVERY_ROUTE))


class OwnRequestsIn(BaseModel):
    """Which visitor asks: the token the collector signed for their browser."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"examples": [{"visitor_token": "dmlzaXRvci10b2tlbg.c2lnbmF0dXJl"}]},
    )
    visitor_token: str = Field(min_length=1, max_length=1000)


@router.post(
    "/self-service/requests/status",
    response_model=requests.PrivacyRequestList,
    responses={
        **documented(*WITH_BODY),
        401: {**documented(401)[401], "description": "Invalid or expired visitor token."},
    },
)
async def own_requests(
    body: OwnRequestsIn, state: State, request: Request
) -> requests.PrivacyRequestList:
    """The visitor's requests, newest first; a finished deletion carries its receipt.

    Limited like filing one: per client IP and per token, and an IP that sent too many bad
    tokens is turned away (429), so the route is no oracle for guessing tokens."""
    settings = state.settings
    guard = state.guard
    ip = guard.client_ip(request)
    await guard.refuse_if_failing(ip)
    await guard.self_service(ip, body.visitor_token)
    visitor_id = read_visitor_token(
        body.visitor_token, settings.receipt_key.get_secret_value(), int(time.time())
    )
    if visitor_id is None:
        await guard.failed(ip)
        raise Unauthorized("invalid or expired visitor token")
    subject = pseudonymize(visitor_id, settings.pseudonym_key.get_secret_value())
    rows = await asyncio.to_thread(state.repo.subject_requests, subject)
    work = state.casework()
    await work.record(SELF_SERVICE, "request.status", subject, {"requests": len(rows)})
    views = [
        requests.view(row, settings.due_soon_days, with_result=row.type == "deletion")
        for row in sorted(rows, key=lambda r: r.created_at, reverse=True)
    ]
    return requests.PrivacyRequestList(requests=views)
