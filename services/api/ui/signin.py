"""Sign in with an API key (a form POST) and sign out: the key becomes a session cookie."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from consentstream.keys import hash_key

from ..deps import State
from .deps import Changing, store
from .sessions import COOKIE, SIGNIN_COOKIE, attempts_key, same_token
from .web import error_page, render

router = APIRouter(prefix="/ui", include_in_schema=False)
HOME = {"marketing": "/ui/", "privacy": "/ui/privacy", "admin": "/ui/"}


def _safe_next(target: str | None) -> str | None:
    """Only our own pages: never an open redirect to another site."""
    if target and target.startswith("/ui") and not target.startswith("/ui/static"):
        return target if "//" not in target and "\\" not in target else None
    return None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/signin")
async def signin_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form, with a fresh double-submit token in a cookie and the form."""
    token = secrets.token_urlsafe(32)
    page = render(request, "signin.html", {"csrf": token, "next": _safe_next(next) or ""})
    page.set_cookie(
        SIGNIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/ui"
    )
    return page


@router.post("/signin")
async def signin(
    request: Request,
    state: State,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Check the form token, count the attempt, check the key, then start a session."""
    if not same_token(csrf_token, request.cookies.get(SIGNIN_COOKIE)):
        return error_page(request, 403, "Form expired", "Reload the sign-in page and try again.")
    settings, sessions = state.settings, store(state)
    window = settings.ui_signin_window_seconds
    client = request.client.host if request.client else "unknown"
    name = attempts_key(
        client, settings.pseudonym_key.get_secret_value(), int(time.time()) // window
    )
    count = await asyncio.to_thread(sessions.count_attempt, name, window)
    if count > settings.ui_signin_attempts:
        page = error_page(
            request, 429, "Too many attempts", f"Too many sign-in attempts; wait {window} seconds."
        )
        page.headers["Retry-After"] = str(window)
        return page
    row = await state.lookup_key(api_key.strip()) if api_key.strip() else None
    if row is None or row.revoked:
        context = {"csrf": csrf_token, "next": _safe_next(next) or "", "failed": True}
        return render(request, "signin.html", context, 401)
    session = await asyncio.to_thread(
        sessions.create, row.key_id, hash_key(api_key.strip()), row.role
    )
    target = _safe_next(next) or HOME.get(row.role, "/ui/")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/ui",
        max_age=settings.ui_session_idle_minutes * 60 * 48,  # Redis decides when it ends
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/ui")
    return response


@router.post("/signout")
async def signout(state: State, signed: Changing) -> Response:
    """End the session in Redis and drop the cookie."""
    await asyncio.to_thread(store(state).end, signed[0].token)
    response = RedirectResponse("/ui/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response
