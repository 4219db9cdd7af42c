"""Deletion webhooks to service providers: the signature, the data map entry, the retry rules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from consentstream import webhooks
from consentstream.receipt_signing import ReceiptSigner, verify_file
from schemas.rows import PrivacyRequestRow
from services.api.privacy.rules import view
from services.api.ui.web import TEMPLATES
from streams.config import WorkerSettings
from streams.processor_delivery import (
    DeliveryPolicy,
    Outcome,
    advance,
    backoff,
    classify,
    new_delivery,
    receipt_section,
)
from streams.processors import update_receipt

SECRET = "whsec-" + "x" * 40
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PAST = datetime(2020, 1, 1, tzinfo=UTC)
FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
POLICY = DeliveryPolicy(
    first_timeout=2,
    timeout=10,
    retry_base=30,
    retry_max=3600,
    max_attempts=3,
    confirm_window=timedelta(days=7),
)


def test_a_signed_body_verifies_and_any_change_or_delay_is_refused() -> None:
    body = webhooks.deletion_body("d1", "r1", "ab" * 32, NOW)
    header = webhooks.sign(SECRET, body, 1_800_000_000)
    assert webhooks.verify_signature(SECRET, header, body, now=1_800_000_100) == 1_800_000_000
    with pytest.raises(webhooks.SignatureInvalid, match="does not match"):
        webhooks.verify_signature(SECRET, header, body.replace(b"r1", b"r2"), now=1_800_000_000)
    with pytest.raises(webhooks.SignatureInvalid, match="does not match"):
        webhooks.verify_signature("another secret", header, body, now=1_800_000_000)
    with pytest.raises(webhooks.SignatureInvalid, match="replay window"):
        webhooks.verify_signature(SECRET, header, body, now=1_800_000_301)
    with pytest.raises(webhooks.SignatureInvalid, match="t=<seconds>"):
        webhooks.verify_signature(SECRET, "v1=abc", body, now=1_800_000_000)
    with pytest.raises(webhooks.SignatureInvalid, match="no Consentstream-Signature"):
        webhooks.verify_signature(SECRET, None, body, now=1_800_000_000)
    # during a secret rotation both signatures are sent; either one verifies
    rotated = header + "," + webhooks.sign("old secret", body, 1_800_000_000).split(",")[1]
    assert webhooks.verify_signature(SECRET, rotated, body, now=1_800_000_000)


def test_the_body_names_the_subject_by_its_pseudonym_only() -> None:
    body = orjson.loads(webhooks.deletion_body("d1", "r1", "ab" * 32, NOW))
    assert body["subject"] == {"kind": "pseudonym", "id": "ab" * 32}
    assert body["delivery_id"] == "d1" and body["request_id"] == "r1"
    assert body["type"] == "deletion" and body["version"] == 1


def write_map(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(
        f"processors:\n  - name: crm\n    description: CRM host\n    deletion_url: {url}\n",
        encoding="utf-8",
    )
    return path


def test_processor_urls_are_checked(tmp_path: Path) -> None:
    (crm,) = webhooks.load_processors(write_map(tmp_path, "http://127.0.0.1:9/hook"))
    webhooks.check_deployable([crm], {"crm": SECRET}, test=True)
    with pytest.raises(ValueError, match="must use https"):
        webhooks.check_deployable([crm], {"crm": SECRET}, test=False)
    with pytest.raises(ValueError, match="has no secret"):
        webhooks.check_deployable([crm], {}, test=True)
    for bad in ("ftp://example.com/x", "https://user:pw@example.com/x", "/relative"):
        with pytest.raises(ValidationError):
            webhooks.load_processors(write_map(tmp_path, bad))


def test_a_short_processor_secret_is_refused_outside_tests() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        WorkerSettings(
            environment="production",
            pseudonym_key="p" * 32,
            audit_key="a" * 32,
            processor_secrets={"crm": "short"},
        )


def test_answers_confirm_retry_or_fail_for_good() -> None:
    assert classify(200, {"reference": "ticket-7"}) == Outcome(True, False, "", "ticket-7")
    assert classify(204, None).confirmed
    assert classify(202, {"reference": 5}).reference == ""
    for status in (408, 429, 500, 503):
        assert classify(status, None).retry
    for status in (301, 400, 401, 404, 410):
        outcome = classify(status, None)
        assert not outcome.retry and not outcome.confirmed


def test_retries_back_off_with_jitter_then_give_up() -> None:
    rng = random.Random(7)
    row = new_delivery("r1", "crm", "ab" * 32, NOW, NOW + timedelta(days=30), POLICY)
    assert row.confirm_by == NOW + timedelta(days=7)
    delays = [backoff(n, POLICY, rng) for n in range(1, 10)]
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60
    assert all(1800 <= d <= 3600 for d in delays[7:])
    busy = Outcome(False, True, "HTTP 503")
    once = advance(row, busy, NOW, POLICY, rng)
    assert once.status == "pending" and once.attempts == 1 and once.version == 2
    assert NOW + timedelta(seconds=15) <= once.next_attempt_at <= NOW + timedelta(seconds=30)
    twice = advance(once, busy, NOW, POLICY, rng)
    given_up = advance(twice, busy, NOW, POLICY, rng)
    assert given_up.status == "failed" and "gave up after 3 attempts" in given_up.last_error
    refused = advance(row, classify(401, None), NOW, POLICY, rng)
    assert refused.status == "failed" and refused.attempts == 1
    later = NOW + timedelta(minutes=1)
    confirmed = advance(once, classify(200, {"reference": "t-1"}), later, POLICY, rng)
    entry = receipt_section([confirmed])["crm"]
    assert entry["status"] == "confirmed" and entry["confirmed_at"] == later.isoformat()
    assert entry["reference"] == "t-1" and entry["attempts"] == 2 and entry["last_error"] is None


def test_the_request_deadline_caps_the_confirmation_window() -> None:
    row = new_delivery("r1", "crm", "k", NOW, NOW + timedelta(days=2), POLICY)
    assert row.confirm_by == NOW + timedelta(days=2)


def test_a_deletion_with_an_unconfirmed_processor_past_its_moment_is_flagged() -> None:
    rng = random.Random(1)
    pending = new_delivery("r1", "crm", "k", NOW, NOW + timedelta(days=30), POLICY)
    confirmed = advance(
        new_delivery("r1", "mailer", "k", NOW, NOW, POLICY), classify(200, None), NOW, POLICY, rng
    )
    receipt = {"processors": receipt_section([pending, confirmed])}
    assert webhooks.processors_overdue(receipt, NOW + timedelta(days=6)) == []
    assert webhooks.processors_overdue(receipt, NOW + timedelta(days=7)) == ["crm"]
    row = PrivacyRequestRow(
        request_id="r1",
        type="deletion",
        subject_key="k",
        status="done",
        created_at=NOW,
        updated_at=NOW,
        deadline=NOW + timedelta(days=30),
        result=orjson.dumps(receipt).decode(),
        version=3,
    )
    # view() asks the clock: moments far behind and far ahead of it
    for moment, flagged in ((PAST, ["crm"]), (FUTURE, [])):
        section = receipt_section([pending.model_copy(update={"confirm_by": moment}), confirmed])
        result = orjson.dumps({"processors": section}).decode()
        assert view(row.model_copy(update={"result": result}), 7).processors_overdue == flagged
    assert view(row.model_copy(update={"result": "{}"}), 7).processors_overdue == []


def test_the_console_request_page_shows_each_processor_and_the_flag() -> None:
    rng = random.Random(3)
    silent = new_delivery("r1", "silent", "k", PAST, PAST, POLICY)
    silent = advance(silent, Outcome(False, True, "no answer within 2s"), PAST, POLICY, rng)
    crm = advance(
        new_delivery("r1", "crm", "k", PAST, PAST, POLICY),
        classify(200, {"reference": "T-9"}),
        PAST,
        POLICY,
        rng,
    )
    row = PrivacyRequestRow(
        request_id="r" * 32,
        type="deletion",
        subject_key="k",
        status="done",
        created_at=PAST,
        updated_at=PAST,
        deadline=PAST + timedelta(days=30),
        result=orjson.dumps({"processors": receipt_section([silent, crm])}).decode(),
        version=3,
    )
    context = {"r": view(row, 7), "urgency": "", "filing": None, "trail": [], "result_text": ""}
    html = TEMPLATES.get_template("request.html").render(session=None, **context)
    assert 'id="r-processors-overdue"' in html and "not confirmed in time</strong> silent" in html
    assert 'data-processor="crm" class=""' in html and "T-9" in html
    assert 'data-processor="silent" class="overdue"' in html and "no answer within 2s" in html


@given(body=st.binary(min_size=1, max_size=200), data=st.data())
def test_any_changed_byte_breaks_the_signature(body: bytes, data: st.DataObject) -> None:
    header = webhooks.sign(SECRET, body, 1_800_000_000)
    assert webhooks.verify_signature(SECRET, header, body, now=1_800_000_000)
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    with pytest.raises(webhooks.SignatureInvalid):
        webhooks.verify_signature(SECRET, header, changed, now=1_800_000_000)


class SavedRequests:
    """Stands in for the repository: keeps what would be stored."""

    def __init__(self) -> None:
        self.saved: list[PrivacyRequestRow] = []

    def save_privacy_request(self, row: PrivacyRequestRow) -> None:
        self.saved.append(row)


def test_retries_update_only_the_processors_section_of_a_readable_receipt() -> None:
    rng = random.Random(5)
    pending = new_delivery("r1", "crm", "k", NOW, NOW + timedelta(days=30), POLICY)
    confirmed = advance(pending, classify(200, None), NOW, POLICY, rng)
    receipt = {"stores": {"clickhouse.usage_events": {"before": 2, "after": 0}}}
    signer = ReceiptSigner("receipt-signing-secret-for-this-test-only")
    row = PrivacyRequestRow(
        request_id="r1",
        type="deletion",
        subject_key="k",
        status="done",
        created_at=NOW,
        updated_at=NOW,
        deadline=NOW + timedelta(days=30),
        result=orjson.dumps(
            signer.sign({**receipt, "processors": receipt_section([pending])})
        ).decode(),
        version=4,
    )
    repo = SavedRequests()
    update_receipt(repo, row, receipt_section([pending]), signer.sign)  # type: ignore[arg-type]
    unreadable = row.model_copy(update={"result": "{not json"})
    update_receipt(repo, unreadable, {}, signer.sign)  # type: ignore[arg-type]
    assert repo.saved == []
    update_receipt(repo, row, receipt_section([confirmed]), signer.sign)  # type: ignore[arg-type]
    (saved,) = repo.saved
    assert saved.version == 5 and saved.status == "done"
    signed = orjson.loads(saved.result)
    assert verify_file(signed, signer.public).valid, "signed again over the new section"
    stored = signed["receipt"]
    assert stored["stores"] == receipt["stores"]
    assert stored["processors"]["crm"]["status"] == "confirmed"
