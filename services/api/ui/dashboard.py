"""``/ui/``: the marketing dashboard, built from the ``/v1/usage/*`` route functions themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..deps import ApiState, State
from ..errors import InvalidInput
from ..routes import usage as api
from ..usage import ConsentOut, ConsentVersionsOut, Interval, UsageOut
from . import panels
from .deps import MarketingPage
from .web import error_page, render

router = APIRouter(prefix="/ui", include_in_schema=False)
First = Annotated[date | None, Query(alias="from", description="First day shown (UTC).")]
Last = Annotated[date | None, Query(alias="to", description="Last day shown (UTC), inclusive.")]
Step = Annotated[Interval, Query(description="Bucket size.")]
TRAFFIC = ("pageviews", "visitors")
TABLES = (
    "pages",
    "referrers",
    "browsers",
    "devices",
    "os",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)
METRICS = (*TRAFFIC, *TABLES)
# A long-tail table lists the groups biggest over the range; on a big site's pages (thousands
# a day) the full list costs seconds to read and nobody scrolls it. The rest is in each
# table's "other". The short tables (a handful of browsers, devices, systems, media) are
# listed whole: cutting them saves no rows and costs a query to choose the keys.
TOP = 10
LONG_TAIL = frozenset({"pages", "referrers", "utm_source", "utm_campaign"})


def top_for(name: str) -> int | None:
    """The ``top`` the page asks of a usage panel: ``TOP`` for a long-tail table, else none."""
    return TOP if name in LONG_TAIL else None


def panel(name: str, state: ApiState, key: MarketingPage, q: panels.Query) -> Awaitable[UsageOut]:
    """One usage panel's answer, asked through its JSON route as the page asks it."""
    route = api.ROUTES[name]
    top = top_for(name)
    if top is None:
        return route(state, key, q.start, q.end, q.interval)
    return route(state, key, q.start, q.end, q.interval, top)


def _query(first: date | None, last: date | None, interval: Interval) -> panels.Query:
    last = last or datetime.now(UTC).date()
    first = first or last - timedelta(days=6)
    return panels.Query(first, last, interval)


async def _answers(
    state: ApiState, key: MarketingPage, q: panels.Query
) -> tuple[dict[str, UsageOut], ConsentOut, ConsentVersionsOut]:
    """Every usage answer the page shows, fetched at once through the API's routes."""
    calls = [panel(name, state, key, q) for name in METRICS]
    consent_call = api.consent(state, key, q.start, q.end, q.interval)
    versions_call = api.consent_versions(state, key, q.start, q.end, q.interval)
    usage, consent, versions = await asyncio.gather(
        asyncio.gather(*calls), consent_call, versions_call
    )
    return dict(zip(METRICS, usage, strict=True)), consent, versions


async def _previous(state: ApiState, key: MarketingPage, q: panels.Query) -> tuple[int, int]:
    """Page views and visitors of the previous period (same length, just before)."""
    before = q.previous()
    views, visitors = await asyncio.gather(
        api.ROUTES["pageviews"](state, key, before.start, before.end, q.interval),
        api.ROUTES["visitors"](state, key, before.start, before.end, q.interval),
    )
    return panels.total(panels.series(views)), panels.total(panels.series(visitors))


async def page_data(
    state: ApiState, key: MarketingPage, q: panels.Query
) -> tuple[tuple[dict[str, UsageOut], ConsentOut, ConsentVersionsOut], tuple[int, int]]:
    """Everything one view of the page shows: the range's answers and the previous period's
    totals, all asked at once (the previous period waited for the rest before)."""
    return await asyncio.gather(_answers(state, key, q), _previous(state, key, q))


@router.get("/")
async def dashboard(
    request: Request,
    state: State,
    key: MarketingPage,
    first: First = None,
    last: Last = None,
    interval: Step = "day",
) -> Response:
    """The one-page dashboard: traffic, top groups, consent rates, against the previous period."""
    q = _query(first, last, interval)
    try:
        (answers, consent, versions), (views_before, visitors_before) = await page_data(
            state, key, q
        )
    except InvalidInput as exc:
        return error_page(request, 422, "Range not shown", exc.message)
    views, visitors = panels.series(answers["pageviews"]), panels.series(answers["visitors"])
    starts = sorted(set(views) | set(visitors) | {b.start for b in consent.buckets})
    rates = panels.consent_rates(consent)
    context = {
        "q": q,
        "k": state.settings.k_anonymity,
        "totals": {
            "pageviews": (panels.total(views), views_before),
            "visitors": (panels.total(visitors), visitors_before),
        },
        "change": panels.change,
        "traffic": [(s, views.get(s), visitors.get(s)) for s in sorted(set(views) | set(visitors))],
        "tables": [panels.table(answers[m], title) for m, title in panels.DIMENSIONS.items()],
        "consent": consent,
        "versions": versions,
        "purposes": panels.PURPOSES,
        "traffic_chart": panels.chart(starts, {"Page views": views, "Visitors": visitors}),
        "consent_chart": panels.chart(starts, {p.capitalize(): rates[p] for p in panels.PURPOSES}),
    }
    return render(request, "dashboard.html", context)


@router.get("/export.csv")
async def export_csv(
    state: State,
    key: MarketingPage,
    first: First = None,
    last: Last = None,
    interval: Step = "day",
) -> Response:
    """What the dashboard shows for the same range, as CSV."""
    q = _query(first, last, interval)
    answers, consent, versions = await _answers(state, key, q)
    tables = [panels.table(answers[m], title) for m, title in panels.DIMENSIONS.items()]
    body = panels.to_csv(
        panels.series(answers["pageviews"]),
        panels.series(answers["visitors"]),
        tables,
        consent,
        versions,
    )
    name = f"usage-{q.first.isoformat()}-{q.last.isoformat()}-{q.interval}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
