"""Consent decisions at the collector: the topic key, a signed receipt, the one in force.

Every decision is recorded, a refusal too. A decision without a visitor id (analytics refused)
is anonymous: it is keyed by its consent id, mirrors nothing in Redis and sets no cookie.
A client-made decision id becomes the consent id, so a retried post collapses into one record.
The decision itself, GPC applied, and the Redis mirror format are made by ``schemas.consent``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from redis.asyncio import Redis

from consentstream import redis_keys
from consentstream.identity import pseudonymize, sign
from schemas.consent import NONE_IN_FORCE, receipt_payload
from schemas.events import ConsentInForce
from schemas.messages import ConsentDecision


def topic_key(decision: ConsentDecision, pseudonym_key: str) -> str:
    """The consent topic key: the visitor's pseudonym, or the consent id when anonymous."""
    if decision.visitor_id is None:
        return decision.consent_id
    return pseudonymize(decision.visitor_id, pseudonym_key)


def receipt(decision: ConsentDecision, key: str) -> str:
    """A receipt the visitor can keep: the decision's facts and an HMAC over them."""
    payload = receipt_payload(decision)
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{sign(payload, key)}"


async def in_force(redis: Redis, subject_key: str) -> ConsentInForce:
    """The subject's decision in force (the Redis mirror); necessary-only when none is on
    record (fail closed)."""
    raw = await redis.get(redis_keys.consent(subject_key))
    if raw is None:
        return NONE_IN_FORCE
    return ConsentInForce.model_validate_json(raw)


def utcnow() -> datetime:
    """Server time, UTC."""
    return datetime.now(UTC)
