"""``/ui/privacy``: the privacy console, acting through the ``/v1/privacy/*`` route functions.

Reading a finished request's result, downloading it, deciding a request and setting a hold all
call the JSON API's own functions, so each is audited exactly as the API audits it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

import orjson
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from consentstream import redis_client, redis_keys
from consentstream.dead_letters import replay
from schemas.rows import PrivacyRequestStatus

from ..deps import ApiState, State
from ..errors import ApiError
from ..requests import OPEN_STATUSES, Decision, Subject
from ..routes import privacy as api
from . import casefile, deadletters
from .deps import Changing, PrivacyPage
from .web import error_page, render

router = APIRouter(prefix="/ui/privacy", include_in_schema=False)
T = TypeVar("T")
Due = Literal["", "soon", "overdue"]
NOTICES = {
    "approved": "Request approved: the worker carries it out.",
    "rejected": "Request rejected.",
    "hold-set": "Legal hold set.",
    "hold-lifted": "Legal hold lifted.",
    "verified": "Audit chain verified.",
}


async def _page_error(request: Request, call: Awaitable[T]) -> T | Response:
    """The call's answer, or the API error it raised as a page with the same status."""
    try:
        return await call
    except ApiError as exc:
        return error_page(request, exc.status_code, "Not done", exc.message)


def _verified_key(state: ApiState) -> str:
    return f"{redis_keys.PREFIX}ui-audit-verified:{state.repo.storage.database}"


async def _last_verified(state: ApiState) -> dict[str, Any] | None:
    raw = await asyncio.to_thread(state.audit.redis.get, _verified_key(state))
    return orjson.loads(raw) if raw else None


async def _backlog(state: ApiState) -> deadletters.Backlog | None:
    """The dead-letter backlog, or None when Kafka does not answer (the queue still shows)."""
    return await asyncio.to_thread(
        deadletters.backlog, state.settings.kafka_bootstrap, state.topics
    )


@router.get("")
async def queue(
    request: Request,
    state: State,
    key: PrivacyPage,
    status: Annotated[PrivacyRequestStatus | Literal[""], Query()] = "",
    type: Annotated[str, Query(max_length=20)] = "",
    due: Annotated[Due, Query()] = "",
    notice: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The request queue with filters, holds, audit chain status and the compliance link."""
    listed = await api.list_requests(state, key, status or None, None)
    filed = casefile.filings(await asyncio.to_thread(state.repo.audit_of_action, "request.file"))
    rows = [(r, casefile.urgency(r), filed.get(r.request_id)) for r in listed.requests]
    rows = [
        row
        for row in rows
        if (not type or row[0].type == type)
        and (not due or row[1] == ("due-soon" if due == "soon" else "overdue"))
    ]
    context = {
        "rows": rows,
        "filters": {"status": status, "type": type, "due": due},
        "notice": NOTICES.get(notice, ""),
        "verified": await _last_verified(state),
        "entries": await asyncio.to_thread(state.repo.audit_count),
        "statuses": sorted(OPEN_STATUSES | {"done", "rejected", "failed"}),
    }
    return render(request, "console.html", context)


@router.get("/requests/{request_id}")
async def request_page(
    request: Request, request_id: str, state: State, key: PrivacyPage
) -> Response:
    """One request: filing and evidence, its audit trail, the decision form, its result."""
    found = await _page_error(request, api.get_request(request_id, state, key))
    if isinstance(found, Response):
        return found
    entries = await asyncio.to_thread(state.repo.audit_of_request, request_id)
    context = {
        "r": found,
        "urgency": casefile.urgency(found),
        "filing": casefile.filings(entries).get(request_id),
        "trail": casefile.decisions(entries, request_id),
        "result_text": orjson.dumps(found.result, option=orjson.OPT_INDENT_2).decode()
        if found.result
        else "",
    }
    return render(request, "request.html", context)


@router.get("/requests/{request_id}/download")
async def download(
    request: Request,
    request_id: str,
    state: State,
    key: PrivacyPage,
    format: Annotated[Literal["json", "csv", "receipt"], Query()] = "json",
) -> Response:
    """The subject's data (JSON or CSV) or a deletion's receipt, audited as the API audits it."""
    if format != "receipt":
        answer = await _page_error(request, api.export_request(request_id, state, key, format))
        return answer
    found = await _page_error(request, api.get_request(request_id, state, key))
    if isinstance(found, Response):
        return found
    if found.result is None:
        return error_page(request, 409, "Not done", f"request is {found.status}; no receipt yet")
    headers = {"Content-Disposition": f'attachment; filename="receipt-{request_id}.json"'}
    body = orjson.dumps(found.result, option=orjson.OPT_INDENT_2)
    return Response(body, media_type="application/json", headers=headers)


@router.post("/requests/{request_id}/decide")
async def decide(
    request: Request,
    request_id: str,
    state: State,
    signed: Changing,
    _key: PrivacyPage,
    decision: Annotated[Literal["approve", "reject"], Form()],
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Approve or reject a request pending verification, with the reason kept in the audit log."""
    try:
        body = Decision(reason=reason.strip())
    except ValidationError:
        return error_page(request, 422, "Reason needed", "Give a reason of 3 to 500 characters.")
    act = api.approve_request if decision == "approve" else api.reject_request
    done = await _page_error(request, act(request_id, body, state, signed[1]))
    if isinstance(done, Response):
        return done
    notice = "approved" if decision == "approve" else "rejected"
    return RedirectResponse(f"/ui/privacy?notice={notice}", status_code=303)


@router.post("/holds")
async def hold(
    request: Request,
    state: State,
    signed: Changing,
    _key: PrivacyPage,
    visitor_id: Annotated[str, Form(max_length=200)],
    action: Annotated[Literal["set", "lift"], Form()],
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Set or lift a legal hold on a visitor (by the reference code they quote), with a reason."""
    try:
        body = api.HoldIn(
            subject=Subject(visitor_id=visitor_id.strip()),
            held=action == "set",
            reason=reason.strip(),
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return error_page(request, 422, "Hold not changed", problems)
    done = await _page_error(request, api.set_hold(body, state, signed[1]))
    if isinstance(done, Response):
        return done
    notice = "hold-set" if action == "set" else "hold-lifted"
    return RedirectResponse(f"/ui/privacy?notice={notice}", status_code=303)


@router.post("/audit/verify")
async def verify_audit(state: State, _signed: Changing, _key: PrivacyPage) -> Response:
    """Recompute the audit chain now and remember the verdict for the console."""
    verdict = await asyncio.to_thread(state.audit.check)
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "entries": verdict.entries,
        "ok": verdict.ok,
        "broken_seq": verdict.broken_seq,
        "reason": verdict.reason,
    }
    await asyncio.to_thread(state.audit.redis.set, _verified_key(state), orjson.dumps(record))
    return RedirectResponse("/ui/privacy?notice=verified", status_code=303)


@router.get("/cookies")
async def cookies(request: Request, state: State, _key: PrivacyPage) -> Response:
    """Cookies seen before consent and cookies missing from the catalogue, by page and day."""
    rows = await asyncio.to_thread(state.repo.cookie_report)
    return render(request, "cookies.html", {"findings": casefile.cookie_findings(rows)})


@router.post("/deadletters/replay")
async def replay_dead_letters(state: State, signed: Changing, _key: PrivacyPage) -> Response:
    """Re-feed every dead letter not replayed yet to the topic it came from (audited)."""
    actor = signed[1]
    await asyncio.to_thread(
        state.audit.append, actor.key_id, actor.role, "deadletters.replay", "", {}
    )
    secret = state.settings.pseudonym_key.get_secret_value()
    with redis_client.sync_client(state.settings) as redis:
        report = await asyncio.to_thread(
            partial(replay, redis=redis), state.settings.kafka_bootstrap, state.topics, secret
        )
    count = sum(report.replayed.values())
    return RedirectResponse(f"/ui/privacy/deadletters?replayed={count}", status_code=303)


@router.get("/deadletters")
async def dead_letters(
    request: Request,
    state: State,
    _key: PrivacyPage,
    replayed: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The dead-letter topic's size and backlog, with the replay action (its own page: Kafka
    admin calls take a moment, and the queue should not wait for them)."""
    notice = "" if replayed is None else f"Replayed {replayed} dead letter(s)."
    context = {"dead": await _backlog(state), "notice": notice}
    return render(request, "deadletters.html", context)
