"""The pipeline's rows equal those of the plain per-event definition, for a mixed take.

The worker's row building is tuned (a row function per consent state, a memo per take, steps
skipped when they cannot drop anything); :func:`reference_run` is the straightforward version
it replaced, every step run and every column decided on its own. Both run over one take of
mixed events that share one context, as the worker's do.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from consentstream.identity import pseudonymize
from schemas.consent import ConsentHistory, snapshot_of
from schemas.events import Event
from schemas.fast_messages import fast_raw_events
from schemas.messages import ConsentDecision, RawBatch, RequestFacts
from schemas.rows import ROW_SCHEMA_VERSION, USAGE_EVENT_FIELDS, UsageEventRow
from streams import pipeline
from streams.minimize import (
    PageUrl,
    anonymous_visitor_hash,
    reduce_user_agent,
    referrer_host,
    split_page_url,
    truncate_ip,
)
from tests.unit.test_pipeline import decision as in_force

KEY = "rows-test-key"
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
URLS = [
    "https://example.com/billing?account=991&utm_source=news#top",
    "https://Example.com:8443/a/b?utm_campaign=&utm_campaign=x&utm_source=%75tm",
    "http://user:pw@shop.example.com/cart?%75tm_medium=mail&q=1",
    "https://[2001:db8::1]:8080/v6?utm_term=a+b%20c",
    "https://example.com:99999/bad-port?utm_source=x",
    "https://example.com/tab\tbed?utm_\nsource=y",
    "not a url at all",
    "",
]


def decision(visitor: str, analytics: bool, marketing: bool, consent_id: str) -> ConsentDecision:
    """A decision in force for ``visitor`` since ten minutes before the take."""
    return in_force(visitor, T0 - timedelta(minutes=10), analytics, consent_id, marketing)


def event(visitor: str | None, i: int, at: datetime) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "custom" if i % 5 == 0 else "pageview",
        "ts": at.isoformat(),
        "visitor_id": visitor,
        "page": {"url": URLS[i % len(URLS)], "title": "Page", "referrer": "https://r.example.com/"}
        if i % 7
        else None,
        "browser": {"user_agent": UA if i % 3 else "", "language": "en-GB", "timezone": "UTC"},
        "props": {"purpose": "marketing"} if i % 4 == 0 else {"plan": i},
    }


def take() -> list[RawBatch]:
    """Requests from several visitors and none, IPv4 and IPv6, with skewed and bad times."""
    out: list[RawBatch] = []
    ips = ["198.51.100.7", "2001:db8:1234:5678::9", "::ffff:203.0.113.9", "garbage", "192.0.2.1"]
    visitors = ["v_granted", "v_declined", "v_marketing", "v_unknown", "v_erased", None]
    for r in range(12):
        visitor = visitors[r % len(visitors)]
        events = [event(visitor, r * 10 + i, T0 + timedelta(seconds=i)) for i in range(10)]
        if r == 3:  # one bad time: a year before receipt is out of the window
            events[2]["ts"] = (T0 - timedelta(days=400)).isoformat()
        facts = RequestFacts(ip=ips[r % len(ips)], user_agent="header-UA", gpc=r % 5 == 2)
        batch = RawBatch(
            events=[Event.model_validate(e) for e in events],
            facts=facts,
            received_at=T0 + timedelta(seconds=5),
            sent_at=T0 + timedelta(seconds=4 + r % 2),
        )
        out.append(batch)
    return out


def raw_events(batches: list[RawBatch], decode: str) -> list[Any]:
    """The take's events as the models split them, or as the msgspec path reads them."""
    if decode == "models":
        return [raw for batch in batches for raw in batch.raw_events()]
    out: list[Any] = []
    for batch in batches:
        fast = fast_raw_events(batch.model_dump_json().encode())
        assert fast is not None
        out.extend(fast)
    return out


def context(**options: Any) -> pipeline.Context:
    histories = {
        pseudonymize(v, KEY): ConsentHistory().with_decision(snapshot_of(decision(v, a, m, v)))
        for v, a, m in [("v_granted", True, False), ("v_declined", False, False)]
        + [("v_marketing", True, True), ("v_erased", True, True)]
    }
    suppressed = frozenset({pseudonymize("v_erased", KEY)})
    return pipeline.Context(histories, suppressed, **{"salt": "day-salt", **options})


def reference_minimize(work: pipeline.Work, ctx: pipeline.Context) -> UsageEventRow:
    """The row as defined column by column, one event at a time."""
    event, facts, consent = work.raw.event, work.raw.facts, work.consent
    identified = consent is not None and consent.grants("analytics")
    page, browser = event.page, event.browser
    url = split_page_url(page.url) if page else PageUrl("", "", "")
    ua = (browser.user_agent if browser else "") or facts.user_agent
    reduced = reduce_user_agent(ua)
    return UsageEventRow(
        event_id=event.event_id,
        type=event.type.value,
        ts=work.ts,
        client_ts=event.ts,
        received_at=work.raw.received_at,
        visitor_key=work.visitor_key if identified else "",
        consent_id=consent.consent_id if consent else "",
        purposes=list(consent.purposes) if consent else ["necessary"],
        policy_version=consent.policy_version if consent else "",
        ip_prefix=truncate_ip(facts.ip) if identified and ctx.keep_ip else "",
        page_path=url.path,
        page_url=url.url,
        page_title=page.title if page and identified else "",
        referrer_host=referrer_host(page.referrer) if page else "",
        browser_family=reduced.browser_family,
        browser_version=reduced.browser_version if identified else "",
        os_family=reduced.os_family if identified else "",
        device_class=reduced.device_class if identified else "",
        language=browser.language if browser and identified else "",
        screen=browser.screen if browser and identified else "",
        timezone=browser.timezone if browser and identified else "",
        props=orjson.dumps(event.props).decode() if identified else "{}",
        gpc=facts.gpc,
        dnt=facts.dnt,
        anon_hash="" if identified else anonymous_visitor_hash(ctx.salt, url.host, facts.ip, ua),
        schema_version=ROW_SCHEMA_VERSION,
    )


def as_row(result: Any) -> UsageEventRow | pipeline.Dropped:
    """A kept row's cells validated into the model by column name (drops as they are)."""
    if isinstance(result, pipeline.Dropped):
        return result
    assert type(result) is tuple and len(result) == len(USAGE_EVENT_FIELDS)
    return UsageEventRow.model_validate(dict(zip(USAGE_EVENT_FIELDS, result, strict=True)))


def reference_run(work: pipeline.Work, ctx: pipeline.Context) -> UsageEventRow | pipeline.Dropped:
    for step in pipeline.STEPS:
        result = step(work, ctx)
        if isinstance(result, pipeline.Dropped):
            return result
        work = result
    return reference_minimize(work, ctx)


def works_of(raws: list[Any]) -> list[pipeline.Work]:
    keys = [pseudonymize(r.event.visitor_id, KEY) if r.event.visitor_id else "" for r in raws]
    return [pipeline.Work(r, k, r.event.ts) for r, k in zip(raws, keys, strict=True)]


@pytest.mark.parametrize(
    "options",
    [{}, {"keep_ip": False}, {"anonymous_events": "drop"}, {"salt": ""}],
    ids=["defaults", "no-ip", "drop-anonymous", "no-salt"],
)
@pytest.mark.parametrize("decode", ["models", "msgspec"])
def test_rows_equal_the_per_event_definition(options: dict[str, Any], decode: str) -> None:
    raws = raw_events(take(), decode)
    ctx = context(**options)
    got = [pipeline.run(w, ctx) for w in works_of(raws)]
    want = [reference_run(w, context(**options)) for w in works_of(raws)]
    assert got == want
    # The worker inserts the cells run_values builds: validated into the row model by name,
    # they are the reference's rows, and the drops the same drops.
    cells = [pipeline.run_values(w, context(**options)) for w in works_of(raws)]
    assert [as_row(c) for c in cells] == want
    kinds = {type(r).__name__ if isinstance(r, UsageEventRow) else r.reason for r in got}
    assert {"UsageEventRow", "suppressed", "out_of_window", "no_marketing_consent"} <= kinds
    stored = [r for r in got if isinstance(r, UsageEventRow)]
    anonymous_kept = options.get("anonymous_events") != "drop"
    assert {bool(r.visitor_key) for r in stored} == {True, not anonymous_kept}
    assert any(r.ip_prefix.startswith("2001:db8:1234::") for r in stored) or not ctx.keep_ip


def test_the_cells_are_in_the_tables_column_order() -> None:
    from consentstream.storage import sql

    assert sql.column_names(sql.USAGE_EVENTS) == USAGE_EVENT_FIELDS
