"""Consent decisions at the collector: the topic key and a signed receipt.

Every decision is recorded, a refusal too. A decision without a visitor id (analytics refused)
is anonymous: it is keyed by its consent id, mirrors nothing in Redis and sets no cookie.
A client-made decision id becomes the consent id, so a retried post collapses into one record.
The decision itself, GPC applied, and the Redis mirror format are made by ``schemas.consent``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from consentstream.identity import pseudonymize, sign
from schemas.consent import receipt_payload
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


def utcnow() -> datetime:
    """Server time, UTC."""
    return datetime.now(UTC)
