"""The first-party visitor cookie and signed visitor token, issued only after analytics consent.

The collector sets the cookie itself (HttpOnly, a server ``Set-Cookie``), because browsers cap
cookies set from script at 7 days; a decline clears it, so no identifier outlives a "no".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from consentstream.identity import visitor_token
from schemas.messages import ConsentDecision


@dataclass(frozen=True)
class VisitorCookie:
    """What to do with the visitor cookie: set ``value`` for ``max_age`` s, or clear it (None)."""

    name: str
    value: str | None
    max_age: int
    secure: bool


@dataclass(frozen=True)
class VisitorIdentity:
    """The cookie instruction and, when analytics was granted, the token for the body."""

    cookie: VisitorCookie | None
    token: str | None


def identity_for(
    decision: ConsentDecision, cookie_name: str, max_age: int, secure: bool, key: str
) -> VisitorIdentity:
    """Analytics granted: a cookie and a token valid for ``max_age``; otherwise clear the cookie.

    A grant posted without a visitor id names no one: the cookie is left as it is (None).
    """
    if not decision.choices.analytics:
        return VisitorIdentity(VisitorCookie(cookie_name, None, 0, secure), None)
    if decision.visitor_id is None:
        return VisitorIdentity(None, None)
    expires_at = int((decision.recorded_at + timedelta(seconds=max_age)).timestamp())
    return VisitorIdentity(
        VisitorCookie(cookie_name, decision.visitor_id, max_age, secure),
        visitor_token(decision.visitor_id, expires_at, key),
    )
