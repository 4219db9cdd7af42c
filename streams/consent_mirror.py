"""The Redis mirror of the consent in force, in the shape the collector writes and reads.

The collector writes the mirror when it records a decision; the worker rewrites it from the
consent topic, so the mirror also becomes current after a replay, a missed write (Redis was
down when the collector answered) or a decision from another collector. The worker reads it
back as a second source of decisions its history does not hold yet (consent_state rule 3).
"""

from __future__ import annotations

from pydantic import ValidationError

from schemas.events import ConsentInForce
from schemas.messages import ConsentDecision

from .consent_state import ConsentSnapshot


def snapshot_of(value: bytes | str | None) -> ConsentSnapshot | None:
    """The decision a mirror value names; None when absent, unreadable or 'none on record'."""
    if value is None:
        return None
    try:
        mirrored = ConsentInForce.model_validate_json(value)
    except ValidationError:
        return None
    if mirrored.consent_id is None or mirrored.recorded_at is None:
        return None
    granted = mirrored.choices.granted()
    return ConsentSnapshot(
        mirrored.consent_id, mirrored.recorded_at, granted, mirrored.policy_version or ""
    )


def is_newer(decision: ConsentDecision, mirrored: bytes | str | None) -> bool:
    """True when ``decision`` is at least as recent as the mirrored one (or none is mirrored)."""
    current = snapshot_of(mirrored)
    return current is None or decision.recorded_at >= current.recorded_at
