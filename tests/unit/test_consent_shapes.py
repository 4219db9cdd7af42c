"""A decision's granted purposes are the same whichever shape it arrives in.

The worker's history entry of a decision, of the Redis mirror of it, and of its ledger row
(``consent rebuild``) all take their purposes from ``ConsentChoices.granted``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest

from schemas.consent import (
    in_force_of,
    in_force_of_ledger,
    snapshot_of,
    snapshot_of_ledger,
    snapshot_of_mirror,
)
from schemas.events import ConsentChoices
from schemas.messages import ConsentDecision

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("analytics", "marketing", "preferences"), list(product((False, True), repeat=3))
)
def test_every_shape_of_a_decision_grants_the_same_purposes(
    analytics: bool, marketing: bool, preferences: bool
) -> None:
    choices = ConsentChoices(analytics=analytics, marketing=marketing, preferences=preferences)
    decision = ConsentDecision(
        consent_id="c1",
        visitor_id="visitor_shapes",
        choices=choices,
        policy_version="2026-01",
        policy_hash="h",
        banner_hash="b",
        source="banner",
        recorded_at=AT,
        gpc=False,
        dnt=False,
        gpc_applied=False,
    )
    row = {
        "consent_id": "c1",
        "recorded_at": AT,
        "policy_version": "2026-01",
        "gpc_applied": 0,
        "analytics": int(analytics),
        "marketing": int(marketing),
        "preferences": int(preferences),
    }
    optional = {"analytics": analytics, "marketing": marketing, "preferences": preferences}
    expected = ("necessary", *(purpose for purpose, on in optional.items() if on))
    mirrored = snapshot_of_mirror(in_force_of(decision).model_dump_json())
    assert choices.granted() == expected
    assert snapshot_of(decision).purposes == expected
    assert mirrored is not None and mirrored.purposes == expected
    assert snapshot_of_ledger(row).purposes == expected
    ledger_mirror = in_force_of_ledger(row).model_dump_json()
    assert snapshot_of_mirror(ledger_mirror) == snapshot_of(decision)
