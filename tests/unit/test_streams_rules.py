"""Pipeline rules a visitor or the privacy team would notice: purposes, GPC, anonymous mode,
the daily visitor hash, out-of-order consent and the Redis mirror the collector reads."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consentstream.identity import pseudonymize
from schemas.consent import (
    NONE_IN_FORCE,
    ConsentHistory,
    in_force_of,
    is_newer_than_mirror,
    snapshot_of_mirror,
)
from schemas.events import ConsentInForce
from schemas.messages import RawEvent
from schemas.rows import UsageEventRow
from streams import pipeline
from streams.consent_state import consent_at
from streams.minimize import anonymous_visitor_hash

from .test_pipeline import KEY, T0, UA, decision, history, raw_event, run

VISITOR = "visitor_a_123"


def marketing_event(at: datetime = T0, **facts: object) -> RawEvent:
    raw = raw_event(at=at, type="custom", props={"purpose": "marketing", "campaign": "spring"})
    if facts:
        raw = raw.model_copy(update={"facts": raw.facts.model_copy(update=facts)})
    return raw


def test_marketing_event_without_marketing_consent_is_dropped() -> None:
    hist = history(decision(VISITOR, T0 - timedelta(minutes=1), True, "analytics-only"))
    assert run(marketing_event(), hist) == pipeline.Dropped("no_marketing_consent")
    assert run(marketing_event()) == pipeline.Dropped("no_marketing_consent")


def test_marketing_event_with_marketing_consent_is_stored_with_its_purposes() -> None:
    hist = history(decision(VISITOR, T0 - timedelta(minutes=1), True, "all", marketing=True))
    row = run(marketing_event(), hist)
    assert isinstance(row, UsageEventRow)
    assert "marketing" in row.purposes and row.consent_id == "all"
    assert '"campaign":"spring"' in row.props


def test_gpc_overrides_a_marketing_grant() -> None:
    hist = history(decision(VISITOR, T0 - timedelta(minutes=1), True, "all", marketing=True))
    assert run(marketing_event(gpc=True), hist) == pipeline.Dropped("no_marketing_consent")
    row = run(
        raw_event().model_copy(
            update={"facts": raw_event().facts.model_copy(update={"gpc": True})}
        ),
        hist,
    )
    assert isinstance(row, UsageEventRow)
    assert row.gpc and "marketing" not in row.purposes and "analytics" in row.purposes


def test_other_events_do_not_need_marketing_consent() -> None:
    raw = raw_event(type="custom", props={"purpose": "support"})
    assert isinstance(run(raw), UsageEventRow)


def test_drop_mode_drops_events_without_analytics_consent() -> None:
    declined = history(decision(VISITOR, T0 - timedelta(minutes=1), False, "no"))
    granted = history(decision(VISITOR, T0 - timedelta(minutes=1), True, "yes"))
    gone = pipeline.Dropped("no_analytics_consent")
    assert run(raw_event(), declined, anonymous_events="drop") == gone
    assert run(raw_event(visitor=None), anonymous_events="drop") == gone
    assert isinstance(run(raw_event(), granted, anonymous_events="drop"), UsageEventRow)
    assert isinstance(run(raw_event(), declined, anonymous_events="keep"), UsageEventRow)


def test_anonymous_rows_carry_a_daily_hash_that_counts_one_visitor_once() -> None:
    first = run(raw_event(visitor=None), salt="salt-of-monday")
    again = run(raw_event(visitor=None, at=T0 + timedelta(hours=3)), salt="salt-of-monday")
    tuesday = run(raw_event(visitor=None), salt="salt-of-tuesday")
    other_ip = raw_event(visitor=None)
    other_ip = other_ip.model_copy(
        update={"facts": other_ip.facts.model_copy(update={"ip": "198.51.100.43"})}
    )
    other = run(other_ip, salt="salt-of-monday")
    rows = [first, again, tuesday, other]
    assert all(isinstance(r, UsageEventRow) for r in rows)
    hashes = [r.anon_hash for r in rows if isinstance(r, UsageEventRow)]
    assert hashes[0] == hashes[1] and len(hashes[0]) == 16
    assert hashes[2] != hashes[0] and hashes[3] != hashes[0]
    assert "198.51.100" not in first.model_dump_json()  # type: ignore[union-attr]


def test_identified_rows_and_missing_salts_get_no_hash() -> None:
    granted = history(decision(VISITOR, T0 - timedelta(minutes=1), True, "yes"))
    row = run(raw_event(), granted, salt="s")
    assert isinstance(row, UsageEventRow) and row.visitor_key and row.anon_hash == ""
    unsalted = run(raw_event(visitor=None))
    assert isinstance(unsalted, UsageEventRow) and unsalted.anon_hash == ""
    assert anonymous_visitor_hash("", "example.com", "192.0.2.1", UA) == ""


def test_first_decision_recorded_just_after_the_event_covers_it() -> None:
    hist = history(decision(VISITOR, T0 + timedelta(seconds=2), True, "first"))
    row = run(raw_event(at=T0), hist)
    assert isinstance(row, UsageEventRow)
    assert row.consent_id == "first" and row.visitor_key


def test_a_decision_beyond_the_grace_window_does_not_reach_back() -> None:
    hist = history(decision(VISITOR, T0 + timedelta(seconds=6), True, "late"))
    row = run(raw_event(at=T0), hist)
    assert isinstance(row, UsageEventRow) and row.consent_id == "" and row.visitor_key == ""
    row = run(raw_event(at=T0), hist, grace=timedelta(seconds=0))
    assert isinstance(row, UsageEventRow) and row.consent_id == ""


def test_later_decisions_never_apply_backwards_within_the_grace_window() -> None:
    withdrawn_soon = history(
        decision(VISITOR, T0 - timedelta(minutes=1), True, "yes"),
        decision(VISITOR, T0 + timedelta(seconds=1), False, "withdrawn"),
    )
    row = run(raw_event(at=T0), withdrawn_soon)
    assert isinstance(row, UsageEventRow) and row.consent_id == "yes" and row.visitor_key
    granted_soon = history(
        decision(VISITOR, T0 - timedelta(minutes=1), False, "no"),
        decision(VISITOR, T0 + timedelta(seconds=1), True, "yes-now"),
    )
    row = run(raw_event(at=T0), granted_soon)
    assert isinstance(row, UsageEventRow) and row.consent_id == "no" and row.visitor_key == ""


def test_the_mirror_has_the_collectors_shape_and_feeds_the_pipeline() -> None:
    d = decision(VISITOR, T0 - timedelta(minutes=1), True, "mirrored")
    mirrored = in_force_of(d).model_dump_json()
    assert ConsentInForce.model_validate_json(mirrored) == in_force_of(
        d
    )  # what the collector reads
    assert VISITOR not in mirrored
    snap = snapshot_of_mirror(mirrored.encode())
    row = run(raw_event(), ConsentHistory().with_decision(snap))
    assert isinstance(row, UsageEventRow) and row.consent_id == "mirrored"
    assert row.visitor_key == pseudonymize(VISITOR, KEY)


def test_unreadable_or_empty_mirrors_change_nothing() -> None:
    none = NONE_IN_FORCE.model_dump_json().encode()
    for value in (None, b"not json", b"{}", none):
        assert snapshot_of_mirror(value) is None
    some = history(decision(VISITOR, T0, True, "x"))
    assert some.with_decision(None) == some


def test_a_batch_token_names_its_events_whatever_their_order() -> None:
    from streams.inserts import batch_token

    rows = [run(raw_event(visitor=None)) for _ in range(3)]
    ids = [r.event_id for r in rows if isinstance(r, UsageEventRow)]
    assert batch_token(ids) == batch_token(list(reversed(ids)))
    assert batch_token(ids) != batch_token(ids[:2])


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(st.integers(-600, 600), max_size=6, unique=True),
    grace=st.integers(0, 10),
)
def test_decisions_never_reach_back_except_a_first_one_within_grace(
    offsets: list[int], grace: int
) -> None:
    decisions = [decision(VISITOR, T0 + timedelta(seconds=o), o % 2 == 0, f"c{o}") for o in offsets]
    snap = consent_at(history(*decisions), T0, timedelta(seconds=grace))
    at_or_before = [o for o in offsets if o <= 0]
    if at_or_before:
        assert snap is not None and snap.consent_id == f"c{max(at_or_before)}"
    elif offsets and min(offsets) <= grace:
        assert snap is not None and snap.consent_id == f"c{min(offsets)}"
    else:
        assert snap is None


def test_the_mirror_only_moves_forward() -> None:
    older = decision(VISITOR, T0, True, "older")
    newer = decision(VISITOR, T0 + timedelta(seconds=1), False, "newer")
    mirrored = in_force_of(newer).model_dump_json()
    assert not is_newer_than_mirror(older, mirrored)
    assert is_newer_than_mirror(newer, mirrored)
    assert is_newer_than_mirror(older, None)
