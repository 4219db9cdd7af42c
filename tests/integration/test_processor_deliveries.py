"""The processor delivery schedule on both backends: the latest state wins, only due ones return."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from typer.testing import CliRunner

from consentstream.storage import Storage, sql
from consentstream.storage.deliveries import Deliveries
from consentstream.storage.repository import Repository
from ops import cli, cli_processors
from schemas.rows import ProcessorDeliveryRow

from .storage_fixtures import open_backend, server_url

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


def test_deliveries_expire_with_the_request_records(storage: Storage) -> None:
    deliveries = Deliveries(storage)
    old, young = uuid.uuid4().hex, uuid.uuid4().hex
    deliveries.save(
        [
            delivery(old, "crm", 1, created_at=NOW - timedelta(days=731)),
            delivery(young, "crm", 1, created_at=NOW - timedelta(days=700)),
        ]
    )
    removed = Repository(storage).delete_older_than(
        sql.PROCESSOR_DELIVERIES, NOW - timedelta(days=730)
    )
    assert removed == 1
    assert deliveries.of_request(old) == [] and len(deliveries.of_request(young)) == 1


def test_operators_list_unconfirmed_deliveries_and_send_failed_ones_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The CLI's console took its width when first imported (by whichever test came first):
    # give it a terminal wide enough for every column, as COLUMNS would.
    monkeypatch.setattr(cli_processors, "console", Console(width=250))
    database = f"cs_test_{uuid.uuid4().hex[:12]}"
    storage = open_backend("server", database, "")
    try:
        storage.migrate()
        deliveries = Deliveries(storage)
        request_id = uuid.uuid4().hex
        deliveries.save(
            [
                delivery(request_id, "crm", 2, status="confirmed"),
                delivery(
                    request_id, "mailer", 2, status="failed", last_error="HTTP 401, not retried"
                ),
            ]
        )
        env = {"CONSENTSTREAM_CLICKHOUSE_URL": server_url(database), "COLUMNS": "250"}
        listed = CliRunner().invoke(cli.app, ["processors", "pending"], env=env)
        assert listed.exit_code == 0, listed.output
        assert "mailer" in listed.output and "HTTP 401" in listed.output
        assert "crm" not in listed.output and request_id in listed.output
        again = CliRunner().invoke(cli.app, ["processors", "retry", request_id], env=env)
        assert again.exit_code == 0 and "1 deliveries due again: mailer" in again.output
        assert deliveries.due(datetime.now(UTC) + timedelta(seconds=1)) == [(request_id, "mailer")]
        unknown = CliRunner().invoke(cli.app, ["processors", "retry", "nope"], env=env)
        assert unknown.exit_code == 1
    finally:
        storage.command(sql.statement(sql.DROP_DATABASE, database))
        storage.close()
