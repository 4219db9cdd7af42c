"""The stream pipeline as plain functions: consent in force, fail closed, minimization."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consentstream.identity import pseudonymize
from schemas.consent import ConsentHistory, snapshot_of
from schemas.events import ConsentChoices, Event
from schemas.messages import ConsentDecision, RawEvent, RequestFacts
from schemas.rows import UsageEventRow
from streams import pipeline

KEY = "unit-test-key"
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


def raw_event(
    visitor: str | None = "visitor_a_123", at: datetime = T0, **extra: object
) -> RawEvent:
    event = Event.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "type": "pageview",
            "ts": at.isoformat(),
            "visitor_id": visitor,
            "page": {
                "url": "https://example.com/billing?account=991#top",
                "title": "Billing",
                "referrer": "https://search.example.com/?q=utility",
            },
            "browser": {"user_agent": UA, "language": "en-US", "screen": "1920x1080"},
            "props": {"plan": "basic"},
            **extra,
        }
    )
    facts = RequestFacts(ip="198.51.100.42", user_agent="header-UA")
    return RawEvent(event=event, facts=facts, received_at=at + timedelta(milliseconds=40))


def decision(
    visitor: str, at: datetime, analytics: bool, consent_id: str, marketing: bool = False
) -> ConsentDecision:
    return ConsentDecision(
        consent_id=consent_id,
        visitor_id=visitor,
        choices=ConsentChoices(analytics=analytics, marketing=marketing, preferences=False),
        policy_version="2026-01",
        policy_hash="h1",
        banner_hash="b1",
        source="banner",
        recorded_at=at,
        gpc=False,
        dnt=False,
        gpc_applied=False,
    )


def history(*decisions: ConsentDecision) -> ConsentHistory:
    items = ConsentHistory()
    for d in decisions:
        items = items.with_decision(snapshot_of(d))
    return items


def run(
    raw: RawEvent, hist=None, suppressed=frozenset(), **options
) -> UsageEventRow | pipeline.Dropped:
    vid = raw.event.visitor_id
    key = pseudonymize(vid, KEY) if vid else ""
    ctx = pipeline.Context(
        histories={key: hist or ConsentHistory()}, suppressed=suppressed, **options
    )
    return pipeline.run(pipeline.Work(raw=raw, visitor_key=key, ts=raw.event.ts), ctx)


def test_no_consent_on_record_is_anonymous() -> None:
    row = run(raw_event())
    assert isinstance(row, UsageEventRow)
    assert row.visitor_key == "" and row.ip_prefix == "" and row.consent_id == ""
    assert row.purposes == ["necessary"]
    assert row.page_path == "/billing"
    assert "account" not in row.page_url
    assert row.referrer_host == "search.example.com"
    assert row.browser_family == "Chrome" and row.browser_version == ""
    assert row.props == "{}" and row.page_title == ""


def test_analytics_consent_keeps_pseudonym_and_truncated_ip() -> None:
    hist = history(decision("visitor_a_123", T0 - timedelta(minutes=1), True, "c1"))
    row = run(raw_event(), hist)
    assert isinstance(row, UsageEventRow)
    assert row.visitor_key == pseudonymize("visitor_a_123", KEY)
    assert "visitor_a_123" not in row.model_dump_json()
    assert row.ip_prefix == "198.51.100.0/24"
    assert row.consent_id == "c1" and "analytics" in row.purposes
    assert row.policy_version == "2026-01"
    assert row.browser_version == "120" and row.os_family == "Linux"


def test_decline_is_anonymous_but_carries_the_consent_id() -> None:
    hist = history(decision("visitor_a_123", T0 - timedelta(minutes=1), False, "c-no"))
    row = run(raw_event(), hist)
    assert isinstance(row, UsageEventRow)
    assert row.visitor_key == "" and row.ip_prefix == ""
    assert row.consent_id == "c-no" and row.purposes == ["necessary"]


def test_withdrawal_applies_to_every_later_event() -> None:
    hist = history(
        decision("visitor_a_123", T0, True, "yes"),
        decision("visitor_a_123", T0 + timedelta(minutes=5), False, "withdrawn"),
    )
    before = run(raw_event(at=T0 + timedelta(minutes=1)), hist)
    after = run(raw_event(at=T0 + timedelta(minutes=6)), hist)
    assert isinstance(before, UsageEventRow) and before.visitor_key
    assert isinstance(after, UsageEventRow) and after.visitor_key == ""
    assert after.consent_id == "withdrawn"


def test_event_before_any_decision_is_not_covered_by_a_later_consent() -> None:
    hist = history(decision("visitor_a_123", T0 + timedelta(minutes=1), True, "late"))
    row = run(raw_event(at=T0), hist)
    assert isinstance(row, UsageEventRow) and row.visitor_key == ""


def test_suppressed_subject_is_dropped() -> None:
    key = pseudonymize("visitor_a_123", KEY)
    assert run(raw_event(), suppressed=frozenset({key})) == pipeline.Dropped("suppressed")


def test_client_clock_skew_is_corrected_with_sent_at() -> None:
    raw = raw_event(at=T0 - timedelta(hours=2))  # client clock two hours behind
    raw = raw.model_copy(
        update={"received_at": T0, "sent_at": T0 - timedelta(hours=2) + timedelta(seconds=1)}
    )
    row = run(raw)
    assert isinstance(row, UsageEventRow)
    assert abs((row.ts - (T0 - timedelta(seconds=1))).total_seconds()) < 0.001
    assert row.client_ts == T0 - timedelta(hours=2)


def test_future_timestamps_inside_the_lead_window_are_clamped_to_arrival() -> None:
    raw = raw_event(at=T0 + timedelta(minutes=4)).model_copy(update={"received_at": T0})
    row = run(raw)
    assert isinstance(row, UsageEventRow) and row.ts == raw.received_at


def test_pseudonym_is_stable_and_keyed() -> None:
    assert pseudonymize("visitor_a_123", KEY) == pseudonymize("visitor_a_123", KEY)
    assert pseudonymize("visitor_a_123", KEY) != pseudonymize("visitor_a_123", "other-key")
    assert pseudonymize("visitor_a_123", KEY) != pseudonymize("visitor_b_123", KEY)


def test_history_is_idempotent_on_consent_id() -> None:
    d = decision("visitor_a_123", T0, True, "same")
    assert history(d, d) == history(d)


@settings(max_examples=200, deadline=None)
@given(
    url=st.text(max_size=200),
    referrer=st.text(max_size=200),
    ua=st.text(max_size=300),
    ip=st.one_of(st.ip_addresses().map(str), st.text(max_size=40)),
    props=st.dictionaries(
        st.text(min_size=1, max_size=10),
        st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=20)),
        max_size=5,
    ),
    analytics=st.booleans(),
)
def test_pipeline_never_crashes(url, referrer, ua, ip, props, analytics) -> None:
    raw = raw_event()
    assert raw.event.page is not None and raw.event.browser is not None
    event = raw.event.model_copy(
        update={
            "page": raw.event.page.model_copy(update={"url": url, "referrer": referrer}),
            "browser": raw.event.browser.model_copy(update={"user_agent": ua}),
            "props": props,
        }
    )
    event = Event.model_validate(event.model_dump())  # only what validation lets through
    raw = raw.model_copy(update={"event": event, "facts": RequestFacts(ip=ip)})
    hist = history(decision("visitor_a_123", T0 - timedelta(minutes=1), analytics, "c"))
    row = run(raw, hist, salt="s")
    if props.get("purpose") == "marketing":
        assert row == pipeline.Dropped("no_marketing_consent")
        return
    assert isinstance(row, UsageEventRow)
    if not analytics:
        assert row.visitor_key == "" and row.ip_prefix == ""
