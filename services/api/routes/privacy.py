"""``/v1/privacy/*``: file data subject requests, follow them, export them, hold subjects.

Every endpoint here needs the privacy role (or admin), except the visitor's own self-service
request, proven by the signed visitor token instead; every per-visitor read, export, filing,
decision and hold is written to the audit log before the answer leaves.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from consentstream.identity import pseudonymize, read_visitor_token
from schemas.rows import ApiKeyRow, PrivacyRequestRow, PrivacyRequestStatus, PrivacyRequestType

from .. import requests
from ..casework import SELF_SERVICE, Actor, Casework, result_with_report
from ..deps import ApiState, PrivacyKey, State
from ..errors import Conflict, NotFound, Unauthorized, documented
from ..intake import one_filing_at_a_time

router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=documented(401, 403, 422, 503))
SELF_SERVICE_PATH = "/self-service/requests"
"""The one path the web snippet calls from the customer's site (see services/api/cors.py)."""


def _casework(state: ApiState) -> Casework:
    return Casework(state.repo, state.audit, state.producer, state.topics)


def _actor(key: ApiKeyRow) -> Actor:
    return Actor(key.key_id, key.role)


def _subject_key(state: ApiState, visitor_id: str) -> str:
    return pseudonymize(visitor_id, state.settings.pseudonym_key.get_secret_value())


async def _file(
    state: ApiState,
    response: Response,
    actor: Actor,
    kind: PrivacyRequestType,
    subject: str,
    jurisdiction: requests.Jurisdiction,
    detail: dict[str, Any],
    pending: bool = False,
) -> requests.PrivacyRequestFiled:
    """File the request (202), or answer with the subject's open one of its type (200)."""
    settings = state.settings
    days = settings.ccpa_deadline_days if jurisdiction == "ccpa" else settings.request_deadline_days
    async with one_filing_at_a_time(state.audit.redis, subject):  # check + save, one step
        filing = await _casework(state).file_once(
            actor, kind, subject, days, settings.access_requests_per_year, detail, pending
        )
    if not filing.new:
        response.status_code = 200
    return requests.PrivacyRequestFiled(request_id=filing.row.request_id, status=filing.row.status)


_LIMIT_429 = documented(429)
_DECIDE = documented(404, 409)


_REPEAT: dict[int | str, dict[str, Any]] = {
    200: {
        "model": requests.PrivacyRequestFiled,
        "description": "The subject already has an open request of this type: that one is"
        " answered (same request_id), nothing new is filed.",
    }
}


@router.post(
    "/requests",
    status_code=202,
    response_model=requests.PrivacyRequestFiled,
    responses={**_REPEAT, **_LIMIT_429},
)
async def file_request(
    body: requests.PrivacyRequestIn, state: State, key: PrivacyKey, response: Response
) -> requests.PrivacyRequestFiled:
    """File a request for the privacy team (pre-verified) or, with `on_behalf`, for an agent
    or parent (pending_verification until approved); deletions of a held subject wait on_hold.
    One open request per type per subject: a repeat answers 200 with the open one."""
    subject = _subject_key(state, body.subject.visitor_id)
    extra = body.on_behalf.model_dump() if body.on_behalf else {}
    pending = body.on_behalf is not None
    actor = _actor(key)
    return await _file(
        state, response, actor, body.type, subject, body.jurisdiction, extra, pending
    )


@router.post(
    SELF_SERVICE_PATH,
    status_code=202,
    response_model=requests.PrivacyRequestFiled,
    responses={
        **_REPEAT,
        **_LIMIT_429,
        401: {**documented(401)[401], "description": "Invalid or expired visitor token."},
    },
)
async def file_own_request(
    body: requests.SelfServiceIn, state: State, request: Request, response: Response
) -> requests.PrivacyRequestFiled:
    """A visitor's own request, verified by the signed token the collector gave their browser.

    One open request per type: a repeat answers 200 with the open one. Rate-limited per client
    IP, per token and per visitor; an IP that sent too many bad tokens is turned away (429)."""
    guard = state.guard
    ip = guard.client_ip(request)
    await guard.refuse_if_failing(ip)
    await guard.self_service(ip, body.visitor_token)
    key = state.settings.receipt_key.get_secret_value()
    visitor_id = read_visitor_token(body.visitor_token, key, int(time.time()))
    if visitor_id is None:
        await guard.failed(ip)
        raise Unauthorized("invalid or expired visitor token")
    subject = _subject_key(state, visitor_id)
    await guard.self_service_subject(subject)
    return await _file(state, response, SELF_SERVICE, body.type, subject, body.jurisdiction, {})


async def _decide(
    state: ApiState, key: ApiKeyRow, request_id: str, approve: bool, reason: str
) -> requests.PrivacyRequestFiled:
    row = await _load(state, request_id)
    row = await _casework(state).decide(_actor(key), row, approve, reason)
    return requests.PrivacyRequestFiled(request_id=row.request_id, status=row.status)


@router.post(
    "/requests/{request_id}/approve", response_model=requests.PrivacyRequestFiled, responses=_DECIDE
)
async def approve_request(
    request_id: str, body: requests.Decision, state: State, key: PrivacyKey
) -> requests.PrivacyRequestFiled:
    """Approve an agent's or parent's request after checking the evidence; the worker starts."""
    return await _decide(state, key, request_id, True, body.reason)


@router.post(
    "/requests/{request_id}/reject", response_model=requests.PrivacyRequestFiled, responses=_DECIDE
)
async def reject_request(
    request_id: str, body: requests.Decision, state: State, key: PrivacyKey
) -> requests.PrivacyRequestFiled:
    """Reject a request whose authority could not be verified (it then counts toward no limit)."""
    return await _decide(state, key, request_id, False, body.reason)


@router.get("/requests", response_model=requests.PrivacyRequestList)
async def list_requests(
    state: State,
    _key: PrivacyKey,
    status: Annotated[
        PrivacyRequestStatus | None, Query(description="Only requests in this status.")
    ] = None,
    due_soon: Annotated[bool | None, Query(description="Only requests due soon (or not).")] = None,
) -> requests.PrivacyRequestList:
    """Requests newest first with deadlines; `due_soon` flags open ones near their deadline."""
    rows = await asyncio.to_thread(state.repo.list_privacy_requests)
    views = [requests.view(r, state.settings.due_soon_days, with_result=False) for r in rows]
    views = [
        v
        for v in views
        if (status is None or v.status == status) and (due_soon is None or v.due_soon == due_soon)
    ]
    return requests.PrivacyRequestList(requests=views)


async def _load(state: ApiState, request_id: str) -> PrivacyRequestRow:
    row = await asyncio.to_thread(state.repo.get_privacy_request, request_id)
    if row is None:
        raise NotFound(f"no privacy request {request_id!r}")
    return row


async def _result(state: ApiState, row: PrivacyRequestRow) -> dict[str, Any] | None:
    return await asyncio.to_thread(result_with_report, state.repo, state.data_map, row)


@router.get(
    "/requests/{request_id}", response_model=requests.PrivacyRequestOut, responses=documented(404)
)
async def get_request(request_id: str, state: State, key: PrivacyKey) -> requests.PrivacyRequestOut:
    """Status, deadline, and for a finished request its report or receipt (audited)."""
    row = await _load(state, request_id)
    result = await _result(state, row)
    if result is not None:
        detail = {"request_id": row.request_id, "type": row.type}
        await _casework(state).record(_actor(key), "request.read", row.subject_key, detail)
    out = requests.view(row, state.settings.due_soon_days, with_result=False)
    return out.model_copy(update={"result": result})


@router.get(
    "/requests/{request_id}/export",
    responses={
        200: {"content": {"application/json": {}, "text/csv": {}}},
        **documented(404, 409),
    },
)
async def export_request(
    request_id: str,
    state: State,
    key: PrivacyKey,
    format: Annotated[Literal["json", "csv"], Query(description="File format.")] = "json",
) -> Response:
    """The subject's data of a finished access/portability request as a JSON or CSV download."""
    row = await _load(state, request_id)
    if row.type == "deletion":
        raise Conflict("a deletion request has no data to export; read its receipt instead")
    result = await _result(state, row) if row.status == "done" else None
    if result is None:
        raise Conflict(f"request is {row.status}; export is available once it is done")
    detail = {"request_id": row.request_id, "format": format}
    await _casework(state).record(_actor(key), "request.export", row.subject_key, detail)
    name = f"personal-data-{row.request_id}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "csv":
        body = requests.export_csv(result.get("data", {}))
        return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
    payload = {
        "request_id": row.request_id,
        "data": result.get("data", {}),
        "report": result["report"],
    }
    return Response(
        orjson.dumps(payload, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers=headers,
    )


class HoldIn(BaseModel):
    """Set or lift a legal hold on a subject."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": {"visitor_id": "v_demo_0001"},
                    "held": True,
                    "reason": "litigation 2026-17",
                }
            ]
        },
    )
    subject: requests.Subject
    held: bool = Field(description="true sets the hold, false lifts it.")
    reason: str = Field(min_length=3, max_length=500, description="Why; kept in the audit log.")


class HoldOut(BaseModel):
    """The hold state after the change, and the deletions it stopped or released."""

    held: bool
    held_requests: list[str] = Field(description="Queued deletions stopped by setting the hold.")
    released_requests: list[str] = Field(description="Held deletions released by lifting it.")


@router.post("/holds", response_model=HoldOut)
async def set_hold(body: HoldIn, state: State, key: PrivacyKey) -> HoldOut:
    """Set or lift a legal hold; lifting runs the subject's deletions that waited on it."""
    subject = _subject_key(state, body.subject.visitor_id)
    moved = await _casework(state).set_hold(_actor(key), subject, body.held, body.reason)
    if body.held:
        return HoldOut(held=True, held_requests=moved, released_requests=[])
    return HoldOut(held=False, held_requests=[], released_requests=moved)
