"""The event pipeline: an ordered list of small pure steps, each returning the work or a drop.

    correct_time → check_suppression → attach_consent → minimize

No I/O happens here: the agent gathers what the steps need (consent history, suppression list)
into a :class:`Context` first, so every step is a plain function tested without Kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from schemas.messages import RawEvent
from schemas.rows import UsageEventRow

from .consent_state import ConsentSnapshot, consent_at
from .minimize import reduce_user_agent, referrer_host, strip_url, truncate_ip, url_path


@dataclass(frozen=True)
class Dropped:
    """Why an event was not stored (counted in metrics by reason)."""

    reason: str


@dataclass(frozen=True)
class Work:
    """An event on its way through the pipeline."""

    raw: RawEvent
    visitor_key: str
    ts: datetime
    consent: ConsentSnapshot | None = None


@dataclass(frozen=True)
class Context:
    """What the steps may know about the world, gathered by the agent before the run."""

    histories: Mapping[str, list[dict[str, Any]]]
    suppressed: frozenset[str]
    keep_ip: bool = True


Step = Callable[[Work, Context], "Work | Dropped"]


def correct_time(work: Work, ctx: Context) -> Work | Dropped:
    """Shift the client's clock by the skew its ``sent_at`` reveals; never into the future."""
    raw = work.raw
    ts = raw.event.ts
    if ts.tzinfo is None:
        return Dropped("naive_timestamp")
    if raw.sent_at is not None and raw.sent_at.tzinfo is not None:
        ts = ts + (raw.received_at - raw.sent_at)
    return replace(work, ts=min(ts, raw.received_at))


def check_suppression(work: Work, ctx: Context) -> Work | Dropped:
    """Events of an erased subject never land, even if they were already in flight."""
    if work.visitor_key and work.visitor_key in ctx.suppressed:
        return Dropped("suppressed")
    return work


def attach_consent(work: Work, ctx: Context) -> Work | Dropped:
    """The decision in force at the event's time; none on record means necessary-only."""
    history = ctx.histories.get(work.visitor_key, []) if work.visitor_key else []
    return replace(work, consent=consent_at(history, work.ts))


def _identified(work: Work) -> bool:
    return work.consent is not None and work.consent.grants("analytics")


def minimize(work: Work, ctx: Context) -> UsageEventRow:
    """Reduce the event to what may be stored under its consent (anonymous without analytics)."""
    event = work.raw.event
    facts = work.raw.facts
    identified = _identified(work)
    page = event.page
    ua = (event.browser.user_agent if event.browser else "") or facts.user_agent
    browser = reduce_user_agent(ua)
    consent = work.consent
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
        page_path=url_path(page.url) if page else "",
        page_url=strip_url(page.url) if page else "",
        page_title=(page.title if page and identified else ""),
        referrer_host=referrer_host(page.referrer) if page else "",
        browser_family=browser.browser_family,
        browser_version=browser.browser_version if identified else "",
        os_family=browser.os_family if identified else "",
        device_class=browser.device_class if identified else "",
        language=(event.browser.language if event.browser and identified else ""),
        screen=(event.browser.screen if event.browser and identified else ""),
        timezone=(event.browser.timezone if event.browser and identified else ""),
        props=orjson.dumps(event.props).decode() if identified else "{}",
        gpc=facts.gpc,
        dnt=facts.dnt,
    )


STEPS: tuple[Step, ...] = (correct_time, check_suppression, attach_consent)


def run(work: Work, ctx: Context) -> UsageEventRow | Dropped:
    """Run every step in order; the first drop ends the run."""
    current: Work | Dropped = work
    for step in STEPS:
        assert isinstance(current, Work)
        current = step(current, ctx)
        if isinstance(current, Dropped):
            return current
    assert isinstance(current, Work)
    return minimize(current, ctx)
