"""``/privacy/``: the visitor's own privacy center, served by the collector.

It reads the HttpOnly visitor cookie, so the site's scripts never see the id: the visitor sees
their reference code, the choices in force and their recent decisions (the history the worker
keeps from the consent ledger), changes their choices through the same ``POST /v1/consent``
code the banner uses, and files an access or deletion request to the API's self-service route
with a visitor token minted here, sent server to server: the browser never holds one. Forms
carry a CSRF token signed for the visitor (see :mod:`.csrf`). A cookie whose id was erased is
cleared here as everywhere.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import orjson
from fastapi import APIRouter, Form, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from consentstream import redis_keys
from consentstream.identity import pseudonymize, visitor_token
from schemas.consent import ConsentSnapshot, decode_history
from schemas.events import ConsentChoices, ConsentRequest

from . import csrf, visitor
from .deps import RateLimited, State
from .routes.consent import post_consent
from .routes.consent_read import decision_in_force

router = APIRouter(prefix="/privacy", include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self';"
    " form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NOTICES = {"saved": "Your choices are saved.", "filed": "Your request was received."}
TOKEN_SECONDS = 600


async def _history(state: State, visitor_id: str) -> list[ConsentSnapshot]:
    """The visitor's recent decisions, newest first."""
    key = pseudonymize(visitor_id, state.settings.pseudonym_key.get_secret_value())
    fields = await state.redis.hgetall(redis_keys.consent_history(key))
    return list(reversed(decode_history(fields.values()).decisions))


def _token(state: State, visitor_id: str) -> str:
    key = state.settings.receipt_key.get_secret_value()
    return visitor_token(visitor_id, int(time.time()) + TOKEN_SECONDS, key)


async def _ask_api(state: State, path: str, body: dict[str, str]) -> httpx.Response | None:
    """POST to the API's self-service routes; None when the API does not answer."""
    try:
        async with httpx.AsyncClient(base_url=state.settings.api_url, timeout=10) as client:
            return await client.post(path, json=body)
    except httpx.HTTPError:
        return None


async def _own_requests(state: State, visitor_id: str) -> list[dict[str, Any]] | None:
    """The visitor's requests with status, deadline and receipts, as the API answers them."""
    body = {"visitor_token": _token(state, visitor_id)}
    answer = await _ask_api(state, "/v1/privacy/self-service/requests/status", body)
    if answer is None or answer.status_code != 200:
        return None
    mine: list[dict[str, Any]] = answer.json()["requests"]
    for item in mine:
        result = item.get("result")
        item["receipt"] = (
            orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() if result else ""
        )
    return mine


@router.get("/")
async def center(
    request: Request,
    state: State,
    ref: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The visitor's page: reference code, choices in force, history, requests."""
    who = await visitor.visitor_of(request, state)
    visitor_id = who.visitor_id
    nonce = request.cookies.get(csrf.COOKIE) or csrf.new_nonce()
    context: dict[str, Any] = {
        "visitor_id": visitor_id,
        "erased": who.erased_id is not None,
        "csrf": csrf.token_for(nonce, visitor_id, state.settings.receipt_key.get_secret_value()),
        "notice": NOTICES.get(request.query_params.get("done", ""), ""),
        "filed": ref if ref.isalnum() else "",
    }
    if visitor_id:
        context["in_force"] = await decision_in_force(state, visitor_id)
        context["history"] = await _history(state, visitor_id)
        context["mine"] = await _own_requests(state, visitor_id)
    elif who.erased_id:  # deleted: only the request records the law keeps, read-only
        context["mine"] = await _own_requests(state, who.erased_id)
    page = TEMPLATES.TemplateResponse(request, "privacy.html", context, headers=HEADERS)
    page.set_cookie(csrf.COOKIE, nonce, httponly=True, samesite="strict", path="/privacy")
    if who.dead and who.erased_id is None:  # a malformed cookie; the write paths clear erased ones
        visitor.apply_cookie(page, visitor.cookie_for(request, state, None))
    return page


async def _checked(request: Request, state: State, csrf_token: str) -> visitor.Visitor | None:
    """The cookie's visitor for a form post whose CSRF token is this browser's, else None."""
    who = await visitor.visitor_of(request, state)
    key = state.settings.receipt_key.get_secret_value()
    if not csrf.valid(request.cookies, request.headers, csrf_token, who.visitor_id, key):
        return None
    return who


def _refused(reason: str) -> HTMLResponse:
    return HTMLResponse(f"<p>{reason}</p>", status_code=403, headers=HEADERS)


@router.post("/choices", dependencies=[RateLimited])
async def change_choices(
    request: Request,
    state: State,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    analytics: Annotated[bool, Form()] = False,
    marketing: Annotated[bool, Form()] = False,
    preferences: Annotated[bool, Form()] = False,
) -> Response:
    """Record new choices exactly as the banner would (same route function, same receipt)."""
    if await _checked(request, state, csrf_token) is None:
        return _refused("This form expired; reload the page.")
    settings = state.settings
    body = ConsentRequest(
        choices=ConsentChoices(analytics=analytics, marketing=marketing, preferences=preferences),
        policy_version=settings.policy_version,
        policy_hash=settings.policy_hash,
        source="privacy-center",
    )
    answer = RedirectResponse("/privacy/?done=saved", status_code=303)
    await post_consent(body, request, answer, state)
    return answer


@router.post("/requests", dependencies=[RateLimited])
async def file_request(
    request: Request,
    state: State,
    kind: Annotated[Literal["access", "deletion"], Form()],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """File the visitor's own request at the API, proven by a short-lived visitor token."""
    who = await _checked(request, state, csrf_token)
    if who is None:
        return _refused("This form expired; reload the page.")
    visitor_id = who.visitor_id
    if visitor_id is None:
        return _refused("No visitor id in this browser: nothing to ask about.")
    body = {"type": kind, "visitor_token": _token(state, visitor_id)}
    sent = await _ask_api(state, "/v1/privacy/self-service/requests", body)
    if sent is None:
        return HTMLResponse("<p>Not filed: try again later.</p>", 503, headers=HEADERS)
    if sent.status_code != 202:
        error = sent.json().get("error", {}) if sent.content else {}
        message = html.escape(str(error.get("message", "the request was not accepted")))
        return HTMLResponse(f"<p>Not filed: {message}</p>", sent.status_code, headers=HEADERS)
    request_id = str(sent.json()["request_id"])
    return RedirectResponse(f"/privacy/?done=filed&ref={request_id}", status_code=303)


RequestId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9-]{1,64}$")]


@router.get("/requests/{request_id}/download", dependencies=[RateLimited])
async def download(
    request: Request,
    state: State,
    request_id: RequestId,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """The visitor's data from their finished access request, fetched with their own token."""
    visitor_id = (await visitor.visitor_of(request, state)).visitor_id
    if not visitor_id:
        return _refused("No visitor id in this browser: nothing to download.")
    body = {"visitor_token": _token(state, visitor_id), "format": format}
    sent = await _ask_api(state, f"/v1/privacy/self-service/requests/{request_id}/export", body)
    if sent is None:
        return HTMLResponse("<p>Not available: try again later.</p>", 503, headers=HEADERS)
    if sent.status_code != 200:
        error = sent.json().get("error", {}) if sent.content else {}
        message = html.escape(str(error.get("message", "the download is not available")))
        return HTMLResponse(f"<p>Not available: {message}</p>", sent.status_code, headers=HEADERS)
    headers = {**HEADERS, "Content-Disposition": sent.headers.get("content-disposition", "")}
    media = sent.headers.get("content-type", "application/octet-stream")
    return Response(sent.content, media_type=media, headers=headers)
