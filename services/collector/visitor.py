"""The visitor id: minted here, kept only in the collector's first-party HttpOnly cookie.

A visitor id proves nothing when anyone can name one, so the collector makes it (random, on
the first analytics grant, as Snowplow's collector makes its network user id) and hands it to
the browser only as an HttpOnly cookie: page scripts never read it, and no response body
carries it. Events and consent are attributed from the cookie alone. A ``visitor_id`` in a
body is still accepted (the v1 field) but never trusted: when it is not the cookie's, it is
ignored and counted. A cookie whose id was erased (on the suppression list) is dead: it is
cleared, nothing is stored for it, and the next grant mints a new id. A withdrawal of
analytics clears the cookie too, so no identifier outlives a "no".

The cookie is set by the server because browsers cap cookies set from script at 7 days.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from redis.exceptions import RedisError

from consentstream import redis_keys
from consentstream.identity import pseudonymize

from .deps import CollectorState
from .facts import is_https
from .ingest import ParsedBatch

log = logging.getLogger(__name__)
# The id the cookie may carry: what the collector mints, and the v1 VisitorId shape.
COOKIE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def mint() -> str:
    """A fresh visitor id: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class VisitorCookie:
    """What to do with the visitor cookie: set ``value`` for ``max_age`` s, or clear it (None)."""

    name: str
    value: str | None
    max_age: int
    secure: bool
    domain: str | None = None


@dataclass(frozen=True)
class Visitor:
    """Who a request is from, as the cookie proves it, and whether that cookie was dead.

    ``erased_id`` is a dead cookie's id when it was erased: nothing is stored under it, but the
    privacy center still shows that browser the records kept by law (its requests, receipts).
    """

    visitor_id: str | None
    dead: bool = False
    erased_id: str | None = None


@dataclass(frozen=True)
class ConsentIdentity:
    """The visitor a decision is recorded for, and what to do with the cookie afterwards."""

    visitor_id: str | None
    cookie: VisitorCookie | None


@dataclass(frozen=True)
class CookieSubject:
    """What the request's cookie names, before the suppression list is read.

    ``visitor_id`` is the cookie's id when it has a well-formed one, ``subject`` its pseudonym;
    ``malformed`` when the cookie carries something the collector never minted.
    """

    visitor_id: str | None
    subject: str | None
    malformed: bool = False

    def visitor(self, erased: bool) -> Visitor:
        """The request's visitor once the list said whether ``subject`` was ``erased``."""
        if self.malformed:
            return Visitor(None, dead=True)
        if self.visitor_id is None:
            return Visitor(None)
        if erased:
            return Visitor(None, dead=True, erased_id=self.visitor_id)
        return Visitor(self.visitor_id)


def cookie_subject(request: Request, state: CollectorState) -> CookieSubject:
    """The cookie's visitor id and pseudonym (one HMAC), no I/O."""
    raw = request.cookies.get(state.settings.visitor_cookie_name)
    if not raw:
        return CookieSubject(None, None)
    if not COOKIE_ID.match(raw):
        return CookieSubject(None, None, malformed=True)
    return CookieSubject(raw, pseudonymize(raw, state.settings.pseudonym_key.get_secret_value()))


async def visitor_of(request: Request, state: CollectorState) -> Visitor:
    """The live visitor id of the request's cookie; ``dead`` when it was erased or malformed.

    Without Redis the suppression list cannot be read: the id counts as live (the worker checks
    the list again before anything lands).
    """
    cookie = cookie_subject(request, state)
    if cookie.subject is None:
        return cookie.visitor(False)
    try:
        erased = bool(await state.redis.exists(redis_keys.suppressed(cookie.subject)))
    except (RedisError, OSError) as exc:
        log.warning("suppression list unavailable: %s", type(exc).__name__)
        erased = False
    return cookie.visitor(erased)


def ignore_body_id(
    state: CollectorState, route: str, body_id: str | None, visitor: str | None
) -> None:
    """Count a body ``visitor_id`` the cookie does not back (it is never used either way)."""
    if body_id and body_id != visitor:
        state.metrics.body_ids_ignored.labels(route=route).inc()


def cookie_for(request: Request, state: CollectorState, value: str | None) -> VisitorCookie:
    """A set (``value``) or clear (None) instruction with this deployment's cookie attributes."""
    settings = state.settings
    peer = request.client.host if request.client else ""
    secure = is_https(
        peer, request.url.scheme, request.headers.get("x-forwarded-proto"), state.proxies
    )
    max_age = settings.visitor_cookie_max_age_seconds if value else 0
    return VisitorCookie(
        settings.visitor_cookie_name, value, max_age, secure, settings.visitor_cookie_domain
    )


def consent_identity(
    request: Request, state: CollectorState, visitor: Visitor, analytics: bool
) -> ConsentIdentity:
    """Whom a decision is for: the cookie's live id, a new one on a grant, else no one.

    A grant keeps (and refreshes) a live cookie or mints an id; a refusal is recorded for the
    cookie's visitor (so it reaches their record) and clears the cookie; a dead cookie is
    cleared and counts as none.
    """
    if analytics:
        vid = visitor.visitor_id or mint()
        return ConsentIdentity(vid, cookie_for(request, state, vid))
    had_cookie = visitor.visitor_id is not None or visitor.dead
    return ConsentIdentity(
        visitor.visitor_id, cookie_for(request, state, None) if had_cookie else None
    )


def attribute_events(items: list[dict[str, Any]], visitor_id: str | None) -> int:
    """Give every event item the cookie's visitor id (or none); how many body ids it replaced.

    The items are what travels to Kafka, so the worker reads the cookie's id, never the body's.
    """
    ignored = 0
    for item in items:
        body_id = item.get("visitor_id")
        if body_id and body_id != visitor_id:
            ignored += 1
        if body_id or visitor_id:
            item["visitor_id"] = visitor_id
    return ignored


def attribute_batch(state: CollectorState, batch: ParsedBatch, who: Visitor) -> None:
    """Write the request's visitor (by cookie) into every accepted event of the batch.

    Body ids the cookie does not back are counted and dropped.
    """
    accepted = [batch.items[index] for index, _ in batch.events]
    ignored = attribute_events(accepted, who.visitor_id)
    if ignored:
        state.metrics.body_ids_ignored.labels(route="events").inc(ignored)


def request_key(who: Visitor, cookie: CookieSubject) -> bytes | None:
    """The Kafka key of every event of a request: its live visitor's pseudonym, else None.

    One cookie, one visitor: a request's events all belong to it, whatever their bodies say.
    """
    return cookie.subject.encode() if who.visitor_id and cookie.subject else None


def clearing_headers(request: Request, state: CollectorState) -> dict[str, str]:
    """The ``Set-Cookie`` header that clears the visitor cookie, for an error answer to carry."""
    carrier = Response()
    apply_cookie(carrier, cookie_for(request, state, None))
    return {"set-cookie": carrier.headers["set-cookie"]}


def apply_cookie(response: Response, cookie: VisitorCookie | None) -> None:
    """Set the visitor cookie, or expire it; nothing when there is no instruction."""
    if cookie is None:
        return
    if cookie.value is None:
        response.delete_cookie(
            cookie.name,
            httponly=True,
            samesite="lax",
            secure=cookie.secure,
            path="/",
            domain=cookie.domain,
        )
        return
    response.set_cookie(
        cookie.name,
        cookie.value,
        max_age=cookie.max_age,
        httponly=True,
        samesite="lax",
        secure=cookie.secure,
        path="/",
        domain=cookie.domain,
    )
