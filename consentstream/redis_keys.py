"""Redis key names, in one place, so the collector, worker and API agree and a purge finds all.

Keys hold pseudonyms, never raw visitor ids: Redis is a store like any other for a purge.

Redis Cluster rule: every key is ``cs:<kind>:{<tag>}[:<rest>]``, built by :func:`key`, and the
cluster places a key by its ``{tag}`` alone. A Lua script, MULTI or multi-key command may only
touch keys that share a tag, so:

- keys about one subject are tagged with the subject's pseudonym (consent in force, consent
  history, suppression flag): the worker's suppression check and history script, and the
  erasure, touch one slot;
- dedupe keys are tagged with the first hex digit of the event id: a batch's claim script runs
  once per tag (at most 16 groups, see :func:`group_by_tag`);
- keys always used alone (rate-limit buckets, daily salts, locks) are tagged with their own
  value.

A new key gets a kind and a tag here, chosen by the keys it is used together with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

PREFIX = "cs:"


def key(kind: str, tag: str, rest: str = "") -> str:
    """``cs:<kind>:{<tag>}`` (plus ``:<rest>``): the one way keys are spelled."""
    if "{" in tag or "}" in tag:
        raise ValueError("a hash tag may not contain braces")
    return f"{PREFIX}{kind}:{{{tag}}}" + (f":{rest}" if rest else "")


def tag_of(name: str) -> str:
    """The hash tag of a key made by :func:`key` (what Redis Cluster hashes)."""
    return name[name.index("{") + 1 : name.index("}")]


def group_by_tag(names: Iterable[str]) -> dict[str, list[int]]:
    """Positions of ``names`` per hash tag: one group per slot for multi-key work."""
    groups: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        groups.setdefault(tag_of(name), []).append(position)
    return groups


def consent(visitor_key: str) -> str:
    """The consent decision in force for a visitor (JSON), mirrored by collector and worker."""
    return key("consent", visitor_key)


def consent_history(visitor_key: str) -> str:
    """A visitor's recent consent decisions: a hash of consent_id → snapshot JSON (worker)."""
    return key("consent-history", visitor_key)


def consent_decision(consent_id: str) -> str:
    """A recorded decision (JSON) by consent id: a retried post is answered, not re-recorded."""
    return key("consent-decision", consent_id)


def suppressed(visitor_key: str) -> str:
    """Set when a subject was erased: later events for it never land."""
    return key("suppressed", visitor_key)


def data_key(subject_key: str, master: str) -> str:
    """A subject's data key wrapped under the master key ``master`` names (a fingerprint).

    Tagged by the subject: the same slot as its suppression flag.
    """
    return key("datakey", subject_key, master)


def dedupe(event_id: str) -> str:
    """Marks an event_id as seen, with a TTL; tagged so a batch spans at most 16 slots."""
    return key("dedupe", (event_id[:1] or "-").lower(), event_id)


def daily_salt(day: str) -> str:
    """The salt of one UTC day (``YYYY-MM-DD``) for anonymous visitor hashes; 48 h TTL."""
    return key("salt", day)


def rate_limit(bucket: str) -> str:
    """A client's token bucket; ``bucket`` is a keyed hash of its IP, never the raw address."""
    return key("ratelimit", bucket)


def audit_lock(database: str) -> str:
    """The lock every appender of one ClickHouse database's audit chain takes (a random token)."""
    return key("audit-lock", database)


def processor_sweep_lock(database: str) -> str:
    """The lock one worker holds while retrying the processor deletions of one database."""
    return key("processor-lock", database)


def intake_lock(subject_key: str) -> str:
    """Held while one privacy request of a subject is checked against its limit and saved."""
    return key("intake-lock", subject_key)


def api_limit(namespace: str, scope: str, who: str) -> str:
    """One API rate-limit bucket; ``who`` is a keyed hash of the token, subject, key or IP."""
    return key("api-limit", f"{namespace}{scope}:{who}")


# What an erasure does with each kind (a unit test fails when a kind is in none of these):
ERASED_SUBJECT_KINDS: dict[str, Callable[[str], str]] = {
    "consent": consent,
    "consent-history": consent_history,
}
"""Kinds named by the subject's pseudonym that an erasure deletes and the receipt counts."""

ERASED_DECISION_KINDS: dict[str, Callable[[str], str]] = {"consent-decision": consent_decision}
"""Kinds named by one of the subject's consent ids, deleted and counted the same way."""

KEPT_SUBJECT_KINDS: dict[str, Callable[[str], str]] = {"suppressed": suppressed}
"""Kinds an erasure keeps (or makes) on purpose; the receipt's ``kept`` section says why."""

SHREDDED_KINDS: dict[str, str] = {
    "datakey": "the subject's data key: the erasure destroys it before anything else and again"
    " after the suppression mark, and the receipt's kafka section says so (it seals every copy"
    " of the subject's raw values in Kafka)",
}
"""Kinds an erasure destroys outside the per-store counts, and where the receipt shows it."""

NOT_SUBJECT_DATA: dict[str, str] = {
    "dedupe": "an event id seen recently, no subject in it",
    "salt": "one day's salt, the same for everyone",
    "ratelimit": "a token bucket per keyed hash of a client IP, gone within minutes",
    "audit-lock": "a lock on a database's audit chain",
    "processor-lock": "held while one worker retries the processor deletions due; no data",
    "intake-lock": "held for the moments one filing is checked; a random token, no data",
    "api-limit": "a request counter under a keyed hash no other store links to, gone when its"
    " window ends",
}
"""Kinds holding nothing about a subject an erasure must remove, and why."""
