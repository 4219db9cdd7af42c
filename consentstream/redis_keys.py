"""Redis key names, in one place, so the collector, worker and API agree and a purge finds all.

Keys hold pseudonyms, never raw visitor ids: Redis is a store like any other for a purge.
"""

from __future__ import annotations

PREFIX = "cs:"


def consent(visitor_key: str) -> str:
    """The consent decision in force for a visitor (JSON), mirrored by collector and worker."""
    return f"{PREFIX}consent:{visitor_key}"


def consent_history(visitor_key: str) -> str:
    """A visitor's recent consent decisions: a hash of consent_id → snapshot JSON (worker)."""
    return f"{PREFIX}consent-history:{visitor_key}"


def consent_decision(consent_id: str) -> str:
    """A recorded decision (JSON) by consent id: a retried post is answered, not re-recorded."""
    return f"{PREFIX}consent-decision:{consent_id}"


def dedupe(event_id: str) -> str:
    """Marks an event_id as seen, with a TTL."""
    return f"{PREFIX}dedupe:{event_id}"


def suppressed(visitor_key: str) -> str:
    """Set when a subject was erased: later events for it never land."""
    return f"{PREFIX}suppressed:{visitor_key}"


def daily_salt(day: str) -> str:
    """The salt of one UTC day (``YYYY-MM-DD``) for anonymous visitor hashes; 48 h TTL."""
    return f"{PREFIX}salt:{day}"


def rate_limit(bucket: str) -> str:
    """A client's token bucket; ``bucket`` is a keyed hash of its IP, never the raw address."""
    return f"{PREFIX}ratelimit:{bucket}"


def audit_lock(database: str) -> str:
    """The lock every appender of one ClickHouse database's audit chain takes (a random token)."""
    return f"{PREFIX}audit-lock:{database}"


def intake_lock(subject_key: str) -> str:
    """Held while one privacy request of a subject is checked against its limit and saved."""
    return f"{PREFIX}intake-lock:{subject_key}"


def api_limit(namespace: str, scope: str, who: str) -> str:
    """One API rate-limit bucket; ``who`` is a keyed hash of the token, subject, key or IP."""
    return f"{PREFIX}api-limit:{namespace}{scope}:{who}"
