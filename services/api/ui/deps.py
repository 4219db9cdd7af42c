"""Page dependencies: the signed-in session, its key re-checked, roles, and the CSRF check."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request

from schemas.rows import ApiKeyRow

from ..deps import State
from .sessions import COOKIE, Session, SessionStore, same_token


class SignInNeeded(Exception):
    """No live session: the browser is sent to the sign-in page, then back."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class PageRefused(Exception):
    """A signed-in user may not do this (role, or a missing CSRF token): 403 page."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(message)
        self.title = title
        self.message = message


def store(state: State) -> SessionStore:
    """Sessions live in the Redis the API already holds for the audit chain's lock."""
    return SessionStore(state.audit.redis, state.settings.ui_session_idle_minutes * 60)


async def current(request: Request, state: State) -> tuple[Session, ApiKeyRow]:
    """The live session and its key; a revoked key ends the session at once."""
    token = request.cookies.get(COOKIE)
    back_to = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise SignInNeeded(back_to)
    sessions = store(state)
    session = await asyncio.to_thread(sessions.touch, token)
    if session is None:
        raise SignInNeeded(back_to)
    row = await asyncio.to_thread(state.repo.get_api_key, session.key_hash)
    if row is None or row.revoked:
        await asyncio.to_thread(sessions.end, token)
        raise SignInNeeded(back_to)
    request.state.ui_session = session
    return session, row


Signed = Annotated[tuple[Session, ApiKeyRow], Depends(current)]


async def marketing(signed: Signed) -> ApiKeyRow:
    """Marketing or admin: aggregates only."""
    if signed[1].role not in ("marketing", "admin"):
        raise PageRefused(
            "Not for this key",
            f"A {signed[1].role} key may not open the marketing dashboard; it needs a marketing"
            " or admin key.",
        )
    return signed[1]


async def privacy(signed: Signed) -> ApiKeyRow:
    """Privacy or admin: per-visitor casework."""
    if signed[1].role not in ("privacy", "admin"):
        raise PageRefused(
            "Not for this key",
            f"A {signed[1].role} key may not open the privacy console; it needs a privacy or"
            " admin key.",
        )
    return signed[1]


async def csrf_checked(
    signed: Signed, csrf_token: Annotated[str | None, Form()] = None
) -> tuple[Session, ApiKeyRow]:
    """A state change carries the session's CSRF token in its form, or it is refused."""
    if not same_token(csrf_token, signed[0].csrf):
        raise PageRefused(
            "Form expired", "This form's security token is missing or wrong; reload the page."
        )
    return signed


MarketingPage = Annotated[ApiKeyRow, Depends(marketing)]
PrivacyPage = Annotated[ApiKeyRow, Depends(privacy)]
Changing = Annotated[tuple[Session, ApiKeyRow], Depends(csrf_checked)]


def sign_in_url(back_to: str) -> str:
    """The sign-in page, remembering where to go after it."""
    return f"/ui/signin?next={quote(back_to, safe='')}"
