"""``POST /v1/consent`` records a decision; ``GET /v1/consent/{id}`` reads the one in force."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from redis.exceptions import RedisError

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from schemas.events import ConsentInForce, ConsentRecorded, ConsentRequest, VisitorId

from .. import consent
from ..deps import State
from ..facts import request_facts

router = APIRouter()
log = logging.getLogger(__name__)


@router.post("/v1/consent", status_code=201, response_model=ConsentRecorded)
async def post_consent(body: ConsentRequest, request: Request, state: State) -> ConsentRecorded:
    """Durably record a decision in Kafka, mirror it to Redis, and hand back a signed receipt."""
    peer = request.client.host if request.client else ""
    facts = request_facts(peer, request.headers, state.proxies)
    decision = consent.decide(body, facts, consent.utcnow())
    key = pseudonymize(decision.visitor_id, state.settings.pseudonym_key.get_secret_value())
    await state.producer.send_all(
        state.topics.consent, [(key.encode(), decision.model_dump_json().encode())]
    )
    try:
        await state.redis.set(redis_keys.consent(key), consent.in_force(decision).model_dump_json())
    except (RedisError, OSError) as exc:
        log.warning("consent mirror not written: %s", type(exc).__name__)
    return ConsentRecorded(
        consent_id=decision.consent_id,
        recorded_at=decision.recorded_at,
        receipt=consent.receipt(decision, state.settings.receipt_key.get_secret_value()),
    )


@router.get("/v1/consent/{visitor_id}", response_model=ConsentInForce)
async def get_consent(visitor_id: VisitorId, state: State) -> ConsentInForce:
    """The decision in force; necessary-only when none is on record (fail closed)."""
    key = pseudonymize(visitor_id, state.settings.pseudonym_key.get_secret_value())
    raw = await state.redis.get(redis_keys.consent(key))
    if raw is None:
        return consent.NONE_IN_FORCE
    return ConsentInForce.model_validate_json(raw)
