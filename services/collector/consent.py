"""Consent decisions: GPC applied, an id, a signed receipt, and the Redis mirror format.

Every decision is recorded, a refusal too. A decision without a visitor id (analytics refused)
is anonymous: it is keyed by its consent id, mirrors nothing in Redis and sets no cookie.
A client-made decision id becomes the consent id, so a retried post collapses into one record.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import orjson

from consentstream.identity import pseudonymize, sign
from schemas.events import ConsentChoices, ConsentInForce, ConsentRequest
from schemas.messages import ConsentDecision, RequestFacts


def decide(body: ConsentRequest, facts: RequestFacts, now: datetime) -> ConsentDecision:
    """Record what the visitor chose; ``Sec-GPC: 1`` forces marketing (sale/share) off."""
    choices = body.choices
    gpc_applied = facts.gpc and choices.marketing
    if facts.gpc:
        choices = choices.model_copy(update={"marketing": False})
    return ConsentDecision(
        consent_id=(body.decision_id or uuid.uuid4()).hex,
        visitor_id=body.visitor_id,
        choices=choices.model_copy(update={"necessary": True}),
        policy_version=body.policy_version,
        policy_hash=body.policy_hash,
        banner_hash=body.banner_hash,
        source=body.source,
        recorded_at=now,
        gpc=facts.gpc,
        dnt=facts.dnt,
        gpc_applied=gpc_applied or facts.gpc,
    )


def topic_key(decision: ConsentDecision, pseudonym_key: str) -> str:
    """The consent topic key: the visitor's pseudonym, or the consent id when anonymous."""
    if decision.visitor_id is None:
        return decision.consent_id
    return pseudonymize(decision.visitor_id, pseudonym_key)


def receipt(decision: ConsentDecision, key: str) -> str:
    """A receipt the visitor can keep: the decision's facts and an HMAC over them."""
    payload = orjson.dumps(
        {
            "consent_id": decision.consent_id,
            "choices": decision.choices.model_dump(),
            "policy_version": decision.policy_version,
            "policy_hash": decision.policy_hash,
            "recorded_at": decision.recorded_at.isoformat(),
            "gpc": decision.gpc,
        },
        option=orjson.OPT_SORT_KEYS,
    )

    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{sign(payload, key)}"


NONE_IN_FORCE = ConsentInForce(
    consent_id=None,
    choices=ConsentChoices(necessary=True, analytics=False, marketing=False, preferences=False),
    policy_version=None,
    recorded_at=None,
)


def utcnow() -> datetime:
    """Server time, UTC."""
    return datetime.now(UTC)
