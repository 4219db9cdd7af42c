"""Poison on the worker's topics: one bad message never stops the others, nothing is lost.

An event, a consent decision or a privacy job that can never be stored is parked on the
dead-letter topic with the reason (or ends ``failed``), and everything after it still lands.
Messages go straight to the topics, as an older collector or API would have produced them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from consentstream.identity import pseudonymize
from consentstream.storage.repository import Repository
from schemas.messages import PrivacyJob, RawEvent
from schemas.rows import PrivacyRequestRow
from tests.integration.test_worker import (
    WorkerRun,
    _dead_letters,
    _stored_for,
    decision,
    isolated_run,
    raw_event,
    visitors,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def poison_run(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerRun]:
    """One worker on one partition, so good and poison messages share its takes."""
    with isolated_run(stack, tmp_path_factory.mktemp("poison"), partitions=1) as wr:
        wr.start("poison")
        yield wr


def letters_for(wr: WorkerRun, marker: str) -> list[dict[str, Any]]:
    """Dead letters whose parked value mentions ``marker`` (an event, consent or request id)."""
    return [m for m in _dead_letters(wr) if marker in m["value"]]


def wild_clock(raw: RawEvent) -> RawEvent:
    """ts 2000-01-01 sent at 2099-12-31: skew correction moves it to 1926."""
    return raw.model_copy(
        update={
            "event": raw.event.model_copy(update={"ts": datetime(2000, 1, 1, tzinfo=UTC)}),
            "sent_at": datetime(2099, 12, 31, tzinfo=UTC),
        }
    )


def before_1970(raw: RawEvent) -> RawEvent:
    """Inside the window, but received (by a broken collector clock) before 1970: no DateTime
    of ClickHouse 18.16 holds it, so only the storage refusal catches it."""
    received = datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
    ts = datetime(2000, 1, 1, tzinfo=UTC)
    return raw.model_copy(
        update={
            "event": raw.event.model_copy(update={"ts": ts}),
            "received_at": received,
            "sent_at": ts + timedelta(seconds=1),  # so the corrected time is received - 1 s
        }
    )


def test_a_poison_event_is_dead_lettered_and_every_other_event_is_stored(
    poison_run: WorkerRun,
) -> None:
    wr = poison_run
    before = [raw_event(None, n) for n in range(20)]
    clock, refused = wild_clock(raw_event(None, 90)), before_1970(raw_event(None, 91))
    after = [raw_event(None, n) for n in range(20)]
    wr.send_legacy_events([*before, clock, refused, *after])
    good = {e.event.event_id for e in [*before, *after]}
    wr.wait(lambda: len(_stored_for(wr, good)) == len(good), "every good event stored")
    [parked] = wr.wait(lambda: letters_for(wr, str(clock.event.event_id)), "the 1926 event")
    assert parked["topic"] == wr.topics.raw_events
    assert parked["reason"].startswith("out_of_window: ts: corrected event time 1926-")
    [storage_refused] = wr.wait(
        lambda: letters_for(wr, str(refused.event.event_id)), "the event storage refused"
    )
    assert storage_refused["reason"].startswith("refused by storage:")
    assert RawEvent.model_validate_json(storage_refused["value"]) == refused  # replayable
    assert not _stored_for(wr, {clock.event.event_id, refused.event.event_id})
    later = [raw_event(None, n) for n in range(5)]
    wr.send_events(later)
    wr.wait(lambda: len(_stored_for(wr, {e.event.event_id for e in later})) == 5, "later events")


def test_a_refused_consent_decision_is_dead_lettered_and_the_ledger_moves_on(
    poison_run: WorkerRun,
) -> None:
    wr = poison_run
    ok_before, bad, ok_after = visitors(3)
    now = datetime.now(UTC)
    first = decision(ok_before, now)
    refused = decision(bad, datetime(1969, 12, 31, 23, 0, tzinfo=UTC))
    last = decision(ok_after, now)
    for d in (first, refused, last):
        wr.send_consent(d)
    repo = Repository(wr.storage)

    def ledger_has(visitor: str) -> bool:
        return repo.count_subject(pseudonymize(visitor, wr.secret))["consent_ledger"] == 1

    wr.wait(lambda: ledger_has(ok_before) and ledger_has(ok_after), "both good decisions")
    [parked] = wr.wait(lambda: letters_for(wr, refused.consent_id), "the refused decision")
    assert parked["topic"] == wr.topics.consent
    assert parked["reason"].startswith("refused by storage:")


def file_request(repo: Repository, subject_key: str, kind: str = "access") -> str:
    """A verified privacy request, as the API files it before it sends the job."""
    now = datetime.now(UTC)
    request_id = uuid.uuid4().hex
    repo.save_privacy_request(
        PrivacyRequestRow(
            request_id=request_id,
            type=kind,
            subject_key=subject_key,
            status="verified",
            created_at=now,
            updated_at=now,
            deadline=now + timedelta(days=30),
            result="",
            version=1,
        )
    )
    return request_id


def test_a_job_that_cannot_run_ends_failed_with_its_reason_and_the_next_job_runs(
    poison_run: WorkerRun,
) -> None:
    wr = poison_run
    repo = Repository(wr.storage)
    key = pseudonymize(visitors(1)[0], wr.secret)
    broken = file_request(repo, key)
    # A job an older API could have sent: a type this worker does not know.
    bad = {"request_id": broken, "type": "erasure", "subject_key": key, "schema_version": 1}
    wr.producer.send(wr.topics.privacy_jobs, key=key.encode(), value=orjson.dumps(bad))
    wr.producer.send(wr.topics.privacy_jobs, key=key.encode(), value=b"\xff not json")
    fine = file_request(repo, key)
    job = PrivacyJob(request_id=fine, type="access", subject_key=key)
    wr.producer.send(wr.topics.privacy_jobs, key=key.encode(), value=job.model_dump_json().encode())
    wr.producer.flush()

    def status(request_id: str) -> PrivacyRequestRow | None:
        row = repo.get_privacy_request(request_id)
        return row if row is not None and row.status in ("done", "failed") else None

    done = wr.wait(lambda: status(fine), "the next job to finish")
    assert done.status == "done"
    failed = wr.wait(lambda: status(broken), "the broken job to end")
    assert failed.status == "failed"
    assert "type" in orjson.loads(failed.result)["error"]
    assert letters_for(wr, broken), "the invalid job is not parked"
    assert [
        m
        for m in _dead_letters(wr)
        if m["topic"] == wr.topics.privacy_jobs and "not json" in m["value"]
    ]
