"""``/v1/privacy/*``: file data subject requests, follow them, export them, hold subjects.

Every endpoint here needs the privacy role (or admin), except the visitor's own self-service
request, proven by the signed visitor token instead; every per-visitor read, export, filing,
decision and hold is written to the audit log before the answer leaves.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from consentstream.identity import pseudonymize, read_visitor_token
from consentstream.openapi import link
from schemas.rows import ApiKeyRow, PrivacyRequestRow, PrivacyRequestStatus

from ..deps import ApiState, PrivacyKey, State
from ..errors import EVERY_ROUTE, WITH_BODY, Unauthorized, documented
from ..privacy.casework import SELF_SERVICE, Actor, Filing, NewRequest
from ..privacy.models import (
    Decision,
    HoldIn,
    HoldOut,
    PrivacyRequestFiled,
    PrivacyRequestIn,
    PrivacyRequestList,
    PrivacyRequestOut,
    SelfServiceIn,
)

__all__ = [  # the pages call these route functions and build HoldIn bodies
    "HoldIn",
    "HoldOut",
    "approve_request",
    "export_request",
    "file_own_request",
    "file_request",
    "get_request",
    "list_requests",
    "reject_request",
    "router",
    "set_hold",
]

router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=documented(*EVERY_ROUTE))
SELF_SERVICE_PATH = "/self-service/requests"
FILED_ID = "$response.body#/request_id"
"""The one path the web snippet calls from the customer's site (see services/api/cors.py)."""


def _actor(key: ApiKeyRow) -> Actor:
    return Actor(key.key_id, key.role)


def _subject_key(state: ApiState, visitor_id: str) -> str:
    return pseudonymize(visitor_id, state.settings.pseudonym_key.get_secret_value())


def _filed(row: PrivacyRequestRow) -> PrivacyRequestFiled:
    return PrivacyRequestFiled(request_id=row.request_id, status=row.status)


def _answer(filing: Filing, response: Response) -> PrivacyRequestFiled:
    """202 for a request filed now, 200 for the open one a repeat answers with."""
    if not filing.new:
        response.status_code = 200
    return _filed(filing.row)


_BODY = documented(*WITH_BODY)
_DECIDE = {**_BODY, **documented(404, 409)}
_FOLLOW_UP = {
    "GetRequest": link("get_request", "Its status and result.", request_id=FILED_ID),
    "ApproveRequest": link("approve_request", "Approve it after review.", request_id=FILED_ID),
    "RejectRequest": link("reject_request", "Reject it after review.", request_id=FILED_ID),
    "ExportRequest": link("export_request", "Download its data once done.", request_id=FILED_ID),
}
_REPEAT: dict[int | str, dict[str, Any]] = {
    200: {
        "model": PrivacyRequestFiled,
        "description": "The subject already has an open request of this type: that one is"
        " answered (same request_id), nothing new is filed.",
    }
}


@router.post(
    "/requests",
    status_code=202,
    response_model=PrivacyRequestFiled,
    responses={**_REPEAT, 202: {"links": _FOLLOW_UP}, **_BODY},
)
async def file_request(
    body: PrivacyRequestIn, state: State, key: PrivacyKey, response: Response
) -> PrivacyRequestFiled:
    """File a request for the privacy team (pre-verified) or, with `on_behalf`, for an agent
    or parent (pending_verification until approved); deletions of a held subject wait on_hold.
    One open request per type per subject: a repeat answers 200 with the open one."""
    request = NewRequest(
        kind=body.type,
        subject_key=_subject_key(state, body.subject.visitor_id),
        jurisdiction=body.jurisdiction,
        detail=body.on_behalf.model_dump() if body.on_behalf else {},
        pending=body.on_behalf is not None,
    )
    return _answer(await state.casework().file(_actor(key), request), response)


@router.post(
    SELF_SERVICE_PATH,
    status_code=202,
    response_model=PrivacyRequestFiled,
    # no links: the follow-up routes need a privacy key, which a visitor's page never holds
    responses={**_REPEAT, **_BODY, **documented(401, _401="Invalid or expired visitor token.")},
)
async def file_own_request(
    body: SelfServiceIn, state: State, request: Request, response: Response
) -> PrivacyRequestFiled:
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
    own = NewRequest(kind=body.type, subject_key=subject, jurisdiction=body.jurisdiction)
    return _answer(await state.casework().file(SELF_SERVICE, own), response)


@router.post(
    "/requests/{request_id}/approve",
    response_model=PrivacyRequestFiled,
    responses=_DECIDE,
    operation_id="approve_request",
)
async def approve_request(
    request_id: str, body: Decision, state: State, key: PrivacyKey
) -> PrivacyRequestFiled:
    """Approve an agent's or parent's request after checking the evidence; the worker starts."""
    casework = state.casework()
    return _filed(await casework.approve_or_reject(_actor(key), request_id, True, body.reason))


@router.post(
    "/requests/{request_id}/reject",
    response_model=PrivacyRequestFiled,
    responses=_DECIDE,
    operation_id="reject_request",
)
async def reject_request(
    request_id: str, body: Decision, state: State, key: PrivacyKey
) -> PrivacyRequestFiled:
    """Reject a request whose authority could not be verified (it then counts toward no limit)."""
    casework = state.casework()
    return _filed(await casework.approve_or_reject(_actor(key), request_id, False, body.reason))


@router.get("/requests", response_model=PrivacyRequestList)
async def list_requests(
    state: State,
    _key: PrivacyKey,
    status: Annotated[
        PrivacyRequestStatus | None, Query(description="Only requests in this status.")
    ] = None,
    due_soon: Annotated[bool | None, Query(description="Only requests due soon (or not).")] = None,
    processors_overdue: Annotated[
        bool | None,
        Query(description="Only deletions a service provider has not confirmed in time (or not)."),
    ] = None,
) -> PrivacyRequestList:
    """Requests newest first with deadlines; `due_soon` flags open ones near their deadline,
    `processors_overdue` done deletions a service provider has not confirmed in time."""
    requests = await state.casework().requests(status, due_soon, processors_overdue)
    return PrivacyRequestList(requests=requests)


@router.get(
    "/requests/{request_id}",
    response_model=PrivacyRequestOut,
    responses=documented(404),
    operation_id="get_request",
)
async def get_request(request_id: str, state: State, key: PrivacyKey) -> PrivacyRequestOut:
    """Status, deadline, and for a finished request its report or receipt (audited)."""
    return await state.casework().read(_actor(key), state.data_map, request_id)


@router.get(
    "/requests/{request_id}/export",
    responses={
        200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}},
        **documented(404, 409),
    },
    operation_id="export_request",
)
async def export_request(
    request_id: str,
    state: State,
    key: PrivacyKey,
    format: Annotated[Literal["json", "csv"], Query(description="File format.")] = "json",
) -> Response:
    """The subject's data of a finished access/portability request as a JSON or CSV download."""
    casework = state.casework()
    row, body = await casework.export(_actor(key), state.data_map, request_id, format)
    name = f"personal-data-{row.request_id}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return Response(body, media_type=media, headers=headers)


@router.post("/holds", response_model=HoldOut, responses=_BODY)
async def set_hold(body: HoldIn, state: State, key: PrivacyKey) -> HoldOut:
    """Set or lift a legal hold; lifting runs the subject's deletions that waited on it."""
    subject = _subject_key(state, body.subject.visitor_id)
    moved = await state.casework().set_hold(_actor(key), subject, body.held, body.reason)
    if body.held:
        return HoldOut(held=True, held_requests=moved, released_requests=[])
    return HoldOut(held=False, held_requests=[], released_requests=moved)
