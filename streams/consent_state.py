"""Consent history per visitor and the rule for which decision is in force at an event's time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.messages import ConsentDecision

MAX_HISTORY = 20


@dataclass(frozen=True)
class ConsentSnapshot:
    """The parts of a decision the pipeline needs; what the Faust table stores per visitor."""

    consent_id: str
    recorded_at: datetime
    purposes: tuple[str, ...]
    policy_version: str

    def grants(self, purpose: str) -> bool:
        """True when the decision granted ``purpose``."""
        return purpose in self.purposes

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the table's changelog."""
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
        granted = tuple(k for k, v in decision.choices.model_dump().items() if v)
        return cls(decision.consent_id, decision.recorded_at, granted, decision.policy_version)


def add_decision(history: list[dict[str, Any]], snap: ConsentSnapshot) -> list[dict[str, Any]]:
    """History with ``snap`` added in time order (idempotent on consent_id), newest kept."""
    kept = [h for h in history if h["consent_id"] != snap.consent_id]
    kept.append(snap.to_json())
    kept.sort(key=lambda h: h["recorded_at"])
    return kept[-MAX_HISTORY:]


def consent_at(history: list[dict[str, Any]], ts: datetime) -> ConsentSnapshot | None:
    """The latest decision recorded at or before ``ts``; None means necessary-only."""
    chosen = None
    for item in history:
        snap = ConsentSnapshot.from_json(item)
        if snap.recorded_at <= ts:
            chosen = snap
    return chosen
