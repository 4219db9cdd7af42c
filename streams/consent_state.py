"""Consent history per visitor and the rule for which decision is in force at an event's time.

The rule, including events that arrive out of order with their consent decision:

1. The decision in force is the latest one recorded at or before the event's (skew-corrected)
   time. Decisions never rewrite the past: a withdrawal applies from its recorded time on, and
   so does a new grant; an earlier decision is never replaced backwards.
2. One exception, for the visitor's *first* decision: when no decision exists at or before the
   event but one was recorded at most ``grace`` (``consent_grace_seconds``, default 5 s) after
   it, that decision applies. The snippet sends a visitor id only once the visitor chose in
   the browser; the collector records that choice a moment later (network, clock correction),
   so the first page view can carry a time just before the server's ``recorded_at``. Without
   this exception such an event would be stored under "no decision". A refusal applied this
   way is harmless (more restrictive); a grant is bounded by the grace window.
3. Processing order is a separate race: the consent agent may not yet have seen a decision
   the collector already recorded. The worker therefore also reads the collector's Redis
   mirror (written before the consent POST is answered) and merges it into the history before
   applying rules 1-2 (:func:`merge_snapshot`). If a decision is visible nowhere yet, the
   event is stored as necessary-only: the race can only ever fail closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.messages import ConsentDecision

MAX_HISTORY = 20


@dataclass(frozen=True)
class ConsentSnapshot:
    """The parts of a decision the pipeline needs; what the Redis history stores per decision."""

    consent_id: str
    recorded_at: datetime
    purposes: tuple[str, ...]
    policy_version: str

    def grants(self, purpose: str) -> bool:
        """True when the decision granted ``purpose``."""
        return purpose in self.purposes

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, as kept in the visitor's Redis history."""
        return {
            "consent_id": self.consent_id,
            "recorded_at": self.recorded_at.isoformat(),
            "purposes": list(self.purposes),
            "policy_version": self.policy_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConsentSnapshot:
        """Inverse of :meth:`to_json`."""
        return cls(
            consent_id=data["consent_id"],
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
            purposes=tuple(data["purposes"]),
            policy_version=data["policy_version"],
        )

    @classmethod
    def of(cls, decision: ConsentDecision) -> ConsentSnapshot:
        """Snapshot of a recorded decision."""
        granted = decision.choices.granted()
        return cls(decision.consent_id, decision.recorded_at, granted, decision.policy_version)


def add_decision(history: list[dict[str, Any]], snap: ConsentSnapshot) -> list[dict[str, Any]]:
    """History with ``snap`` added in time order (idempotent on consent_id), newest kept."""
    kept = [h for h in history if h["consent_id"] != snap.consent_id]
    kept.append(snap.to_json())
    kept.sort(key=lambda h: h["recorded_at"])
    return kept[-MAX_HISTORY:]


def consent_at(
    history: list[dict[str, Any]], ts: datetime, grace: timedelta = timedelta(0)
) -> ConsentSnapshot | None:
    """The decision in force at ``ts`` by the module's rule; None means necessary-only."""
    chosen: ConsentSnapshot | None = None
    first_after: ConsentSnapshot | None = None
    for item in history:
        snap = ConsentSnapshot.from_json(item)
        if snap.recorded_at <= ts:
            chosen = snap
        elif first_after is None or snap.recorded_at < first_after.recorded_at:
            first_after = snap
    if chosen is None and first_after is not None and first_after.recorded_at - ts <= grace:
        return first_after
    return chosen


def merge_snapshot(
    history: list[dict[str, Any]], snap: ConsentSnapshot | None
) -> list[dict[str, Any]]:
    """History with a decision seen elsewhere (the Redis mirror) merged in; None changes nothing."""
    return history if snap is None else add_decision(history, snap)


def is_latest(history: list[dict[str, Any]], consent_id: str) -> bool:
    """True when ``consent_id`` is the newest decision in the history (the one to mirror)."""
    return bool(history) and history[-1]["consent_id"] == consent_id


def without_marketing(snap: ConsentSnapshot) -> ConsentSnapshot:
    """The decision as in force under ``Sec-GPC: 1``: never a sale/share (marketing) purpose."""
    purposes = tuple(p for p in snap.purposes if p != "marketing")
    return ConsentSnapshot(snap.consent_id, snap.recorded_at, purposes, snap.policy_version)
