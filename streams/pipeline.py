"""The event pipeline: an ordered list of small pure steps, each returning the work or a drop.

    correct_time → check_suppression → attach_consent → filter_purpose → apply_anonymous_mode
    → minimize

No I/O happens here: the agent gathers what the steps need (consent history, suppression list,
the day's salt) into a :class:`Context` first, so every step is a plain function tested
without Kafka.

Marketing-purpose events: an event whose ``props["purpose"]`` is ``"marketing"`` (usually a
``custom`` event such as a campaign conversion, but the type does not matter) serves marketing
and is stored only under a decision granting marketing; ``Sec-GPC: 1`` on the event's request
withdraws marketing for that event whatever the decision says.

Cookie events also yield cookie observations (:func:`observe_cookies`), whatever the anonymous
mode or purpose filter decide about the event itself: a cookie set before consent is exactly
what the privacy team needs to see. Observations hold a page path and cookie names only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Literal, NamedTuple

from schemas.consent import ConsentHistory, ConsentSnapshot
from schemas.event_time import TimeWindow, corrected_time, time_window_error
from schemas.events import EventType
from schemas.fast_messages import AnyRawEvent
from schemas.rows import CookieObservationRow, UsageEventRow, UsageEventValues

from .consent_state import consent_at
from .cookies import UNKNOWN, CookieCatalogue
from .minimize import url_path
from .usage_rows import TakeMemo, minimize, usage_row, usage_values

__all__ = ["Context", "Dropped", "Work", "minimize", "observe_cookies", "run", "run_values"]

MARKETING_PURPOSE = "marketing"
NO_HISTORY = ConsentHistory()


@dataclass(frozen=True)
class Dropped:
    """Why an event was not stored (counted in metrics by reason).

    ``dead_letter`` marks an event that is bad in itself (not one a rule chose not to keep): the
    agent parks it on the dead-letter topic with ``reason: detail``, so it is never lost
    silently and can be replayed after a fix.
    """

    reason: str
    detail: str = ""
    dead_letter: bool = False


class Work(NamedTuple):
    """An event on its way through the pipeline.

    A named tuple rather than a frozen dataclass: the steps make up to three per event, and a
    tuple is made in less than half the time. ``raw`` is the pydantic model or the msgspec
    Struct the decode's fast path made (``schemas.fast_messages``): same fields, same types.
    """

    raw: AnyRawEvent
    visitor_key: str
    ts: datetime
    consent: ConsentSnapshot | None = None


@dataclass(frozen=True)
class Context:
    """What the steps may know about the world, gathered by the agent before the run."""

    histories: Mapping[str, ConsentHistory]
    suppressed: frozenset[str]
    keep_ip: bool = True
    anonymous_events: Literal["keep", "drop"] = "keep"
    grace: timedelta = timedelta(seconds=5)
    salt: str = ""
    """The day's salt for anonymous visitor hashes ('' = no hash)."""
    catalogue: CookieCatalogue = CookieCatalogue()
    window: TimeWindow = TimeWindow()
    """Corrected event times outside this window around receipt are dead-lettered."""
    memo: TakeMemo = field(default_factory=TakeMemo, compare=False, repr=False)
    """Values the take's events share, each computed once (dropped with the context)."""

    @cached_property
    def steps(self) -> tuple[Step, ...]:
        """:data:`STEPS` without those that cannot drop anything under this context."""
        return tuple(step for step in STEPS if not _idle(step, self))


Step = Callable[[Work, Context], "Work | Dropped"]


def correct_time(work: Work, ctx: Context) -> Work | Dropped:
    """Shift the client's clock by the skew its ``sent_at`` reveals; never into the future.

    The collector's window rule (``schemas.event_time``) applies again here, to what an older
    collector let into the topic: a time outside it is dead-lettered with the reason, since a
    storage engine may refuse it (ClickHouse 18.16 refuses anything before 1970) and the event
    is unusable for reports anyway. A time ahead of receipt but inside the window is clamped.
    """
    raw = work.raw
    if raw.event.ts.tzinfo is None or raw.received_at.tzinfo is None:
        return Dropped("naive_timestamp", "ts: a time without a zone", dead_letter=True)
    try:
        ts = corrected_time(raw.event.ts, raw.received_at, raw.sent_at)
    except OverflowError:
        return Dropped("out_of_window", "ts: corrected event time out of range", True)
    error = time_window_error(ts, raw.received_at, ctx.window)
    if error is not None:
        return Dropped("out_of_window", error, dead_letter=True)
    if ts is work.ts and ts <= raw.received_at:
        return work  # no skew to correct (no sent_at), nothing clamped: the same work
    return Work(raw, work.visitor_key, min(ts, raw.received_at), work.consent)


def check_suppression(work: Work, ctx: Context) -> Work | Dropped:
    """Events of an erased subject never land, even if they were already in flight."""
    if work.visitor_key and work.visitor_key in ctx.suppressed:
        return Dropped("suppressed")
    return work


def attach_consent(work: Work, ctx: Context) -> Work | Dropped:
    """The decision in force at the event's time (consent_state's rule), GPC applied."""
    history = ctx.histories.get(work.visitor_key, NO_HISTORY) if work.visitor_key else NO_HISTORY
    consent = consent_at(history, work.ts, ctx.grace)
    if consent is not None and work.raw.facts.gpc:
        consent = consent.without_marketing()
    if consent is work.consent:  # none in force (anonymous): the same work, no new tuple
        return work
    return Work(work.raw, work.visitor_key, work.ts, consent)


def is_marketing(work: Work) -> bool:
    """True for a marketing-purpose event (see the module docstring)."""
    return work.raw.event.props.get("purpose") == MARKETING_PURPOSE


def filter_purpose(work: Work, ctx: Context) -> Work | Dropped:
    """Marketing-purpose events need a decision granting marketing."""
    if is_marketing(work) and not (work.consent and work.consent.grants(MARKETING_PURPOSE)):
        return Dropped("no_marketing_consent")
    return work


def apply_anonymous_mode(work: Work, ctx: Context) -> Work | Dropped:
    """Without analytics consent, keep only anonymous facts (minimize) or drop, per setting."""
    if ctx.anonymous_events == "drop" and not _identified(work):
        return Dropped("no_analytics_consent")
    return work


def _identified(work: Work) -> bool:
    return work.consent is not None and work.consent.grants("analytics")


STEPS: tuple[Step, ...] = (
    correct_time,
    check_suppression,
    attach_consent,
    filter_purpose,
    apply_anonymous_mode,
)


def _idle(step: Step, ctx: Context) -> bool:
    """True for a step that returns every work unchanged under ``ctx`` (so may be skipped)."""
    if step is check_suppression:
        return not ctx.suppressed
    return step is apply_anonymous_mode and ctx.anonymous_events == "keep"


def run_values(work: Work, ctx: Context) -> UsageEventValues | Dropped:
    """Run every step in order; the first drop ends the run. The row as its cells in column
    order (what the worker inserts: no row model per event)."""
    for step in ctx.steps:
        result = step(work, ctx)
        if isinstance(result, Dropped):
            return result
        work = result
    return usage_values(work, ctx)


def run(work: Work, ctx: Context) -> UsageEventRow | Dropped:
    """:func:`run_values`, the row as its model (same cells; for callers that read names)."""
    result = run_values(work, ctx)
    return result if isinstance(result, Dropped) else usage_row(result)


NON_ESSENTIAL = ("analytics", "marketing", "preferences")


def _before_consent(category: str, consent: ConsentSnapshot | None) -> bool:
    """A cookie whose category the consent in force does not grant (unknown: needs them all)."""
    if category == "necessary":
        return False
    purposes = consent.purposes if consent else ("necessary",)
    needed = NON_ESSENTIAL if category == UNKNOWN else (category,)
    return not all(p in purposes for p in needed)


def observe_cookies(work: Work, ctx: Context) -> list[CookieObservationRow]:
    """The cookies a ``cookie`` event reports, checked against the catalogue and the consent."""
    event = work.raw.event
    if event.type != EventType.COOKIE or not event.cookies:
        return []
    current = work
    for step in (correct_time, check_suppression, attach_consent):
        result = step(current, ctx)
        if isinstance(result, Dropped):
            return []
        current = result
    path = url_path(event.page.url) if event.page else ""
    rows = []
    for cookie in event.cookies:
        declared = ctx.catalogue.category_of(cookie.name)
        rows.append(
            CookieObservationRow(
                page_path=path,
                cookie_name=cookie.name,
                declared_category=declared,
                reported_category=cookie.category.value,
                known=declared != UNKNOWN,
                first_seen=current.ts,
                last_seen=current.ts,
                seen_before_consent=_before_consent(declared, current.consent),
            )
        )
    return rows


def merge_observations(rows: list[CookieObservationRow]) -> list[CookieObservationRow]:
    """One row per page and cookie for a batch: earliest, latest, any before consent."""
    merged: dict[tuple[str, str], CookieObservationRow] = {}
    for row in rows:
        key = (row.page_path, row.cookie_name)
        seen = merged.get(key)
        if seen is None:
            merged[key] = row
            continue
        merged[key] = seen.model_copy(
            update={
                "first_seen": min(seen.first_seen, row.first_seen),
                "last_seen": max(seen.last_seen, row.last_seen),
                "seen_before_consent": seen.seen_before_consent or row.seen_before_consent,
                "reported_category": row.reported_category,
            }
        )
    return list(merged.values())
