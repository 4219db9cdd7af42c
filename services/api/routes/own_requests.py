"""The visitor's own view of their privacy requests, proven by the signed visitor token.

The privacy center on the collector asks this (server to server) so the visitor sees each
request's status and deadline and, for a finished deletion, its receipt (per-store counts, no
personal data). Reading is audited under the self-service actor, as every per-visitor read is.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from consentstream.identity import pseudonymize, read_visitor_token

from .. import requests
from ..casework import SELF_SERVICE
from ..deps import State
from ..errors import EVERY_ROUTE, WITH_BODY, NotFound, Unauthorized, documented

router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=documented(*EVERY_ROUTE))


class OwnRequestsIn(BaseModel):
    """Which visitor asks: the token the collector signed for their browser."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"examples": [{"visitor_token": "dmlzaXRvci10b2tlbg.c2lnbmF0dXJl"}]},
    )
    visitor_token: str = Field(min_length=1, max_length=1000)


class OwnExportIn(OwnRequestsIn):
    """The visitor's token and the file format wanted."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"visitor_token": "dmlzaXRvci10b2tlbg.c2lnbmF0dXJl", "format": "csv"}]
        },
    )
    format: Literal["json", "csv"] = "json"


async def _visitor_subject(state: State, request: Request, token: str) -> str:
    """The pseudonymous subject of a valid token, limited and counted as filing is."""
    settings, guard = state.settings, state.guard
    ip = guard.client_ip(request)
    await guard.refuse_if_failing(ip)
    await guard.self_service(ip, token)
    visitor_id = read_visitor_token(
        token, settings.receipt_key.get_secret_value(), int(time.time())
    )
    if visitor_id is None:
        await guard.failed(ip)
        raise Unauthorized("invalid or expired visitor token")
    return pseudonymize(visitor_id, settings.pseudonym_key.get_secret_value())


@router.post(
    "/self-service/requests/{request_id}/export",
    response_class=Response,
    responses={
        **documented(*WITH_BODY),
        401: {**documented(401)[401], "description": "Invalid or expired visitor token."},
        200: {"content": {"application/json": {}, "text/csv": {}}},
    },
)
async def own_export(
    request_id: str, body: OwnExportIn, state: State, request: Request
) -> Response:
    """The visitor's own data from their finished access or portability request, as a file.

    Only the visitor the request is about may download it: another visitor's request id
    answers 404, as an unknown one does. Audited as ``request.export`` like the staff download.
    """
    subject = await _visitor_subject(state, request, body.visitor_token)
    work = state.casework()
    row = await work.load(request_id)
    if row.subject_key != subject:
        raise NotFound(f"no privacy request {request_id!r}")
    row, data = await work.export(SELF_SERVICE, state.data_map, request_id, body.format)
    name = f"my-data-{row.request_id}.{body.format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    media = "text/csv; charset=utf-8" if body.format == "csv" else "application/json"
    return Response(data, media_type=media, headers=headers)


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
    subject = await _visitor_subject(state, request, body.visitor_token)
    rows = await asyncio.to_thread(state.repo.subject_requests, subject)
    work = state.casework()
    await work.record(SELF_SERVICE, "request.status", subject, {"requests": len(rows)})
    views = [
        requests.view(row, settings.due_soon_days, with_result=row.type == "deletion")
        for row in sorted(rows, key=lambda r: r.created_at, reverse=True)
    ]
    return requests.PrivacyRequestList(requests=views)
