"""``POST /v1/consent`` records a decision (reading one is :mod:`.consent_read`)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from redis.exceptions import RedisError

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from consentstream.suppression import set_unless_suppressed
from schemas.consent import decision_of, in_force_of
from schemas.events import ConsentRecorded, ConsentRequest
from schemas.messages import ConsentDecision, RequestFacts

from .. import consent, responses, visitor
from ..deps import CollectorState, RateLimited, State
from ..facts import request_facts
from ..sealing import SubjectErased, erased

router = APIRouter()
log = logging.getLogger(__name__)


@router.post(
    "/v1/consent",
    status_code=201,
    response_model=ConsentRecorded,
    dependencies=[RateLimited],
    responses=responses.consent_post_responses(),
)
async def post_consent(
    body: ConsentRequest, request: Request, response: Response, state: State
) -> ConsentRecorded:
    """Record a decision durably, mirror it to Redis, return a receipt; set or clear the cookie.

    The decision is the cookie's visitor's (or a new one's, on a first grant); a body
    ``visitor_id`` is never trusted. A cookie whose id is erased before the decision is
    produced is answered as an erased cookie is: nothing is recorded for that id.

    A retry of a decision already recorded (same decision id) gets the first answer back and
    records nothing new.
    """
    peer = request.client.host if request.client else ""
    facts = request_facts(peer, request.headers, state.proxies)
    who = await visitor.visitor_of(request, state)
    visitor.ignore_body_id(state, "consent", body.visitor_id, who.visitor_id)
    try:
        return await _decide(body, facts, request, response, state, who)
    except (_ErasedMeanwhile, SubjectErased):  # the erasure landed after the cookie was read
        gone = visitor.Visitor(None, dead=True)
        return await _decide(body, facts, request, response, state, gone)


class _ErasedMeanwhile(Exception):
    """The decision's visitor was erased after its cookie was read: nothing was produced."""


async def _decide(
    body: ConsentRequest,
    facts: RequestFacts,
    request: Request,
    response: Response,
    state: CollectorState,
    who: visitor.Visitor,
) -> ConsentRecorded:
    """Record the decision for ``who`` (or replay the first answer to a retried decision id)."""
    identity = visitor.consent_identity(request, state, who, body.choices.analytics)
    body = body.model_copy(update={"visitor_id": identity.visitor_id})
    decision = decision_of(body, facts, consent.utcnow())
    earlier = await _claim(state, decision) if body.decision_id else None
    cookie = identity.cookie
    if earlier is not None:
        decision = earlier
        named = _pseudonym(state, identity.visitor_id)
        if earlier.visitor_id != named and cookie is not None and cookie.value:
            cookie = None  # a replay names whom it first named: never hand out that id
    else:
        await _record(state, decision, claimed=body.decision_id is not None)
    visitor.apply_cookie(response, cookie)
    return ConsentRecorded(
        consent_id=decision.consent_id,
        recorded_at=decision.recorded_at,
        receipt=consent.receipt(decision, state.settings.receipt_key.get_secret_value()),
        visitor_token=None,  # v1 field: a token names the visitor, page scripts never see one
    )


async def _claim(state: CollectorState, decision: ConsentDecision) -> ConsentDecision | None:
    """Claim the decision id; the decision recorded under it earlier, if any.

    Without Redis every post counts as new: the ledger keeps one row per consent id anyway.
    """
    key = redis_keys.consent_decision(decision.consent_id)
    ttl = state.settings.dedupe_ttl_seconds
    # The claim names the visitor by pseudonym: Redis never holds a raw visitor id, and a
    # retry's answer (consent id, time, receipt) needs nothing more.
    claim = decision.model_copy(update={"visitor_id": _pseudonym(state, decision.visitor_id)})
    try:
        if await state.redis.set(key, claim.model_dump_json(), nx=True, ex=ttl):
            return None
        raw = await state.redis.get(key)
    except (RedisError, OSError) as exc:
        log.warning("consent dedupe unavailable: %s", type(exc).__name__)
        return None
    return ConsentDecision.model_validate_json(raw) if raw else None


def _pseudonym(state: CollectorState, visitor_id: str | None) -> str | None:
    if visitor_id is None:
        return None
    return pseudonymize(visitor_id, state.settings.pseudonym_key.get_secret_value())


async def _record(state: CollectorState, decision: ConsentDecision, *, claimed: bool) -> None:
    """Produce the decision (acks=all), mirror it for its visitor; on failure release the claim.

    Checked against the suppression list first: sealing would otherwise make the erased
    subject a new data key, and the decision would travel readable to the worker (which drops
    it, but a copy would sit in the consent topic). :class:`_ErasedMeanwhile` then; and
    :class:`SubjectErased` when the erasure landed after that check, as sealing made a key.
    """
    key = consent.topic_key(decision, state.settings.pseudonym_key.get_secret_value())
    try:
        if decision.visitor_id is not None and await erased(state.redis, key):
            raise _ErasedMeanwhile
        value = await state.sealer.seal_consent(key, decision)
        async with state.inflight.slot():
            await state.producer.send_all(state.topics.consent, [(key.encode(), value)])
    except BaseException:  # a claim without its record would turn the client's retry away
        if claimed:
            await _release(state, decision.consent_id)
        raise
    if decision.visitor_id is None:
        return  # anonymous: no one's decision in force to mirror
    try:  # never for an erased subject: a late decision must not bring its mirror back
        await set_unless_suppressed(
            state.redis,
            key,
            redis_keys.consent(key),
            in_force_of(decision).model_dump_json(),
            state.settings.consent_state_seconds,
        )
    except (RedisError, OSError) as exc:
        log.warning("consent mirror not written: %s", type(exc).__name__)


async def _release(state: CollectorState, consent_id: str) -> None:
    try:
        await state.redis.delete(redis_keys.consent_decision(consent_id))
    except (RedisError, OSError) as exc:
        log.warning("could not release consent claim: %s", type(exc).__name__)
