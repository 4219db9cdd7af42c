"""Retention from the data map on real ClickHouse: rows older than their table's period go.

Rows are inserted already old (as if stored long ago); the CLI job and the API's schedule
must remove exactly those and keep everything younger.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from schemas.rows import PrivacyRequestRow
from tests.e2e.processes import wait_until

from .api_harness import Api, start_api
from .test_api_usage import decision, event

pytestmark = pytest.mark.integration


def request_row(created: datetime) -> PrivacyRequestRow:
    return PrivacyRequestRow(
        request_id=uuid.uuid4().hex,
        type="access",
        subject_key="retention-subject",
        status="done",
        created_at=created,
        updated_at=created,
        deadline=created + timedelta(days=30),
        result="",
        version=1,
    )


def seed(api: Api) -> dict[str, tuple[int, int]]:
    """Old and young rows per table (from data/data-map.yaml: 395, 1095, 730 days)."""
    now = datetime.now(UTC).replace(microsecond=0)
    ages = {
        "usage_events": (400, 300),
        "consent_ledger": (1100, 1000),
        "privacy_requests": (735, 700),
    }
    api.repo.insert_usage_events(
        [event("r" * 32, "/old", now - timedelta(days=ages["usage_events"][0]))]
        + [event("r" * 32, "/young", now - timedelta(days=ages["usage_events"][1]))]
    )
    api.repo.insert_consents(
        [decision("r" * 32, now - timedelta(days=d), True) for d in ages["consent_ledger"]]
    )
    for days in ages["privacy_requests"]:
        api.repo.save_privacy_request(request_row(now - timedelta(days=days)))
    return ages


def counts(api: Api) -> dict[str, int]:
    return {
        t: api.repo.count_rows(t) for t in ("usage_events", "consent_ledger", "privacy_requests")
    }


@pytest.fixture(scope="module")
def scheduled(stack, tmp_path_factory) -> Iterator[Api]:
    # every 1.8 s
    yield from start_api(stack, tmp_path_factory, worker=False, retention_interval_hours="0.0005")


def test_cli_removes_exactly_the_expired_rows(api: Api) -> None:
    seed(api)
    assert counts(api) == {"usage_events": 2, "consent_ledger": 2, "privacy_requests": 2}
    out = api.cli("retention").stdout
    assert "usage_events" in out and "1 expired rows removed" in out
    assert counts(api) == {"usage_events": 1, "consent_ledger": 1, "privacy_requests": 1}
    young = api.repo.storage.query(
        f"SELECT page_path FROM {api.repo.storage.database}.usage_events"
    )
    assert young == [{"page_path": "/young"}]
    assert "0 expired rows removed" in api.cli("retention").stdout


def test_the_api_enforces_retention_on_a_schedule(scheduled: Api) -> None:
    seed(scheduled)
    wait_until(
        lambda: (
            counts(scheduled) == {"usage_events": 1, "consent_ledger": 1, "privacy_requests": 1}
        ),
        timeout=30,
        what="the scheduled retention run",
        pipe=scheduled.pipe,
    )
