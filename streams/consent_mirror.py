"""The Redis mirror of the consent in force, in the shape the collector writes and reads.

The collector writes the mirror when it records a decision; the worker rewrites it from the
consent topic, so the mirror also becomes current after a replay, a missed write (Redis was
down when the collector answered) or a decision from another collector. The worker reads it
back as a second source of decisions its history does not hold yet (consent_state rule 3).
The value is :func:`schemas.consent.in_force_of` as JSON, read by
:func:`schemas.consent.snapshot_of_mirror`.
"""

from __future__ import annotations

from schemas.consent import snapshot_of_mirror
from schemas.messages import ConsentDecision


def is_newer(decision: ConsentDecision, mirrored: bytes | str | None) -> bool:
    """True when ``decision`` is at least as recent as the mirrored one (or none is mirrored)."""
    current = snapshot_of_mirror(mirrored)
    return current is None or decision.recorded_at >= current.recorded_at
