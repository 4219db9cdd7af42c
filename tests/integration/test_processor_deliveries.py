"""The processor delivery schedule on both backends: the latest state wins, only due ones return."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from consentstream.storage import Storage
from consentstream.storage.deliveries import Deliveries
from schemas.rows import ProcessorDeliveryRow

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)


def delivery(
    request_id: str, processor: str, version: int, **update: object
) -> ProcessorDeliveryRow:
    row = ProcessorDeliveryRow(
        request_id=request_id,
        processor=processor,
        delivery_id=f"d-{request_id}-{processor}",
        subject_key="ab" * 32,
        status="pending",
        attempts=version - 1,
        last_error="",
        processor_ref="",
        created_at=NOW,
        updated_at=NOW,
        next_attempt_at=NOW,
        confirm_by=NOW + timedelta(days=7),
        version=version,
    )
    return row.model_copy(update=update)


def test_only_the_latest_pending_and_due_deliveries_are_retried(storage: Storage) -> None:
    deliveries = Deliveries(storage)
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    later = NOW + timedelta(minutes=5)
    deliveries.save(
        [
            delivery(first, "crm", 1),
            delivery(first, "mailer", 1),
            delivery(second, "crm", 1),
        ]
    )
    deliveries.save(
        [
            # confirmed since: its older pending state must not bring it back
            delivery(first, "crm", 2, status="confirmed", processor_ref="ticket 'x'"),
            # failed once, retried later
            delivery(first, "mailer", 2, next_attempt_at=later, last_error="HTTP 503"),
        ]
    )
    assert deliveries.due(NOW) == [(second, "crm")]
    assert sorted(deliveries.due(later)) == sorted([(first, "mailer"), (second, "crm")])
    rows = deliveries.of_request(first)
    assert [(r.processor, r.status, r.version) for r in rows] == [
        ("crm", "confirmed", 2),
        ("mailer", "pending", 2),
    ]
    assert rows[0].processor_ref == "ticket 'x'"
    assert sorted(deliveries.unconfirmed_requests()) == sorted([first, second])
