"""Reading the decision in force: only the browser holding a visitor's cookie reads theirs.

Visitor ids are minted here and held in the HttpOnly cookie alone, so a read is answered for
the cookie's visitor. ``GET /v1/consent`` answers the cookie's decision (what the snippet and
the privacy center read). The v1 path form ``GET /v1/consent/{visitor_id}`` answers only when
the id named is the cookie's own live id; any other id gets the same 403, whether or not that
visitor exists or decided anything, so the answer says nothing about them. An erased (or
malformed) cookie reads as no visitor and is cleared, as on every other route.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response

from consentstream.identity import pseudonymize
from schemas.consent import NONE_IN_FORCE
from schemas.events import ConsentInForce, VisitorId

from .. import consent, responses, visitor
from ..deps import CollectorState, State
from ..errors import NotYourVisitor

router = APIRouter()
NOT_STORED = {"Cache-Control": "private, no-store"}
"""Each answer is one visitor's, chosen by their cookie: no cache may keep it for another."""


async def decision_in_force(state: CollectorState, visitor_id: str) -> ConsentInForce:
    """The live visitor's decision in force; necessary-only when none is on record."""
    subject = pseudonymize(visitor_id, state.settings.pseudonym_key.get_secret_value())
    return await consent.in_force(state.redis, subject)


@router.get(
    "/v1/consent",
    response_model=ConsentInForce,
    operation_id="get_own_consent",
    responses=responses.own_consent_responses(),
    openapi_extra=responses.visitor_cookie_parameter(),
)
async def get_own_consent(request: Request, response: Response, state: State) -> ConsentInForce:
    """The decision in force for the request's visitor cookie; necessary-only without one."""
    response.headers.update(NOT_STORED)
    who = await visitor.visitor_of(request, state)
    if who.dead:  # the browser forgets an erased (or forged) id, as on every route
        visitor.apply_cookie(response, visitor.cookie_for(request, state, None))
    if who.visitor_id is None:
        return NONE_IN_FORCE
    return await decision_in_force(state, who.visitor_id)


@router.get(
    "/v1/consent/{visitor_id}",
    response_model=ConsentInForce,
    operation_id="get_consent",
    responses=responses.consent_get_responses(),
    openapi_extra=responses.visitor_cookie_parameter(),
)
async def get_consent(
    visitor_id: VisitorId, request: Request, response: Response, state: State
) -> ConsentInForce:
    """The decision in force when ``visitor_id`` is the cookie's own live id; 403 otherwise."""
    response.headers.update(NOT_STORED)
    who = await visitor.visitor_of(request, state)
    own = who.visitor_id
    if own is None or not secrets.compare_digest(own.encode(), visitor_id.encode()):
        raise NotYourVisitor(visitor.clearing_headers(request, state) if who.dead else None)
    return await decision_in_force(state, own)
