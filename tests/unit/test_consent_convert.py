"""Every shape of a consent decision round-trips through ``schemas.consent`` unchanged.

The shapes are the ones that leave the process (HTTP, Kafka, Redis, ClickHouse), so a round
trip that loses a field, a purpose or a time would reach a visitor or an auditor.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from itertools import product

import orjson
import pytest

from schemas.consent import (
    MAX_HISTORY,
    NONE_IN_FORCE,
    ConsentHistory,
    ConsentSnapshot,
    decision_of,
    decode_history,
    decode_snapshot,
    encode_snapshot,
    history_entries,
    in_force_of,
    in_force_of_ledger,
    ledger_row,
    receipt_payload,
    snapshot_of,
    snapshot_of_ledger,
    snapshot_of_mirror,
)
from schemas.events import ConsentChoices, ConsentInForce, ConsentRequest
from schemas.messages import ConsentDecision, RequestFacts

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FACTS = RequestFacts(ip="192.0.2.10", user_agent="test")
CHOICES = list(product((False, True), repeat=3))


def request(analytics: bool, marketing: bool, preferences: bool) -> ConsentRequest:
    return ConsentRequest(
        decision_id=uuid.UUID(int=7),
        visitor_id="visitor_convert_1",
        choices=ConsentChoices(analytics=analytics, marketing=marketing, preferences=preferences),
        policy_version="2026-01",
        policy_hash="sha256-demo",
    )


def snap(n: int, *purposes: str) -> ConsentSnapshot:
    return ConsentSnapshot(f"c{n:03d}", AT + timedelta(minutes=n), ("necessary", *purposes), "v1")


@pytest.mark.parametrize(("analytics", "marketing", "preferences"), CHOICES)
def test_a_decision_survives_kafka_the_mirror_and_the_ledger(
    analytics: bool, marketing: bool, preferences: bool
) -> None:
    decision = decision_of(request(analytics, marketing, preferences), FACTS, AT)
    assert decision.consent_id == uuid.UUID(int=7).hex  # a retried post is one record
    assert ConsentDecision.model_validate_json(decision.model_dump_json()) == decision
    applied = snapshot_of(decision)
    assert applied.purposes == decision.choices.granted()

    receipt = orjson.loads(receipt_payload(decision))
    assert ConsentChoices.model_validate(receipt["choices"]) == decision.choices
    assert datetime.fromisoformat(receipt["recorded_at"]) == decision.recorded_at

    mirror = in_force_of(decision).model_dump_json()
    assert ConsentInForce.model_validate_json(mirror) == in_force_of(decision)
    assert "visitor_convert_1" not in mirror
    assert snapshot_of_mirror(mirror) == applied

    # ClickHouse gives the ledger back with 0/1 flags and times without a zone
    row = ledger_row(decision, "pseudonym")
    stored = {k: (int(v) if isinstance(v, bool) else v) for k, v in row.model_dump().items()} | {
        "recorded_at": AT.replace(tzinfo=None)
    }
    assert snapshot_of_ledger(stored) == applied
    assert in_force_of_ledger(stored) == in_force_of(decision)


@pytest.mark.parametrize(("analytics", "marketing", "preferences"), CHOICES)
def test_gpc_forces_marketing_off_in_every_shape(
    analytics: bool, marketing: bool, preferences: bool
) -> None:
    gpc = FACTS.model_copy(update={"gpc": True})
    decision = decision_of(request(analytics, marketing, preferences), gpc, AT)
    assert not decision.choices.marketing and decision.gpc_applied
    assert not snapshot_of(decision).grants("marketing")
    assert not ledger_row(decision, "pseudonym").marketing


def test_a_history_entry_keeps_the_format_deployments_already_hold() -> None:
    entry = snap(1, "analytics")
    stored = encode_snapshot(entry)
    assert orjson.loads(stored) == {
        "consent_id": "c001",
        "recorded_at": "2026-03-01T12:01:00+00:00",
        "purposes": ["necessary", "analytics"],
        "policy_version": "v1",
    }
    assert decode_snapshot(stored) == entry
    for junk in (b"{not json", b"{}", b"[]", b'{"consent_id": "x", "recorded_at": "soon"}'):
        assert decode_snapshot(junk) is None


def test_a_history_round_trips_through_its_hash() -> None:
    history = ConsentHistory.of(snap(n) for n in (3, 1, 2))
    assert history.consent_ids() == ["c001", "c002", "c003"]
    fields = history_entries(history)
    assert list(fields) == ["c001", "c002", "c003"]
    assert decode_history([*fields.values(), b"junk"]) == history
    assert history.with_decision(snap(2)) == history  # a replay changes nothing
    assert history.with_decision(None) == history
    assert history.latest_is("c003") and not history.latest_is("c001")


def test_a_history_keeps_only_the_newest_decisions() -> None:
    history = ConsentHistory.of(snap(n) for n in range(MAX_HISTORY + 5))
    assert len(history) == MAX_HISTORY
    assert history.consent_ids()[0] == "c005"


def test_no_decision_on_record_is_no_decision_in_any_shape() -> None:
    assert snapshot_of_mirror(NONE_IN_FORCE.model_dump_json()) is None
    assert snapshot_of_mirror(None) is None
    assert len(ConsentHistory()) == 0 and not ConsentHistory().latest_is("c001")


def test_every_snapshot_time_is_in_the_zone_the_worker_decodes_events_in() -> None:
    """The pipeline compares each event's time (``datetime.UTC``) with its decision's: a
    snapshot from pydantic, the mirror or a history entry written with another offset must
    hold the same instant in that same zone object (a foreign zone makes each comparison
    ~40 times slower)."""
    decision = decision_of(request(True, False, False), FACTS, AT)
    decision = ConsentDecision.model_validate_json(decision.model_dump_json())
    mirror = in_force_of(decision).model_dump_json()
    entry = orjson.dumps(
        {
            "consent_id": "c1",
            "recorded_at": "2026-03-01T14:00:00+02:00",
            "purposes": ["necessary"],
            "policy_version": "v1",
        }
    )
    snaps = [snapshot_of(decision), snapshot_of_mirror(mirror), decode_snapshot(entry)]
    for snapshot in snaps:
        assert snapshot is not None
        assert snapshot.recorded_at == AT
        assert snapshot.recorded_at.tzinfo is UTC
