"""``/v1/usage/*``: k-anonymous aggregates for marketing; no endpoint here shows an individual."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from .. import answers, consent_answers, usage
from ..config import ApiSettings
from ..deps import MarketingKey, State
from ..errors import EVERY_ROUTE, documented

router = APIRouter(prefix="/v1/usage", tags=["usage"], responses=documented(*EVERY_ROUTE))

From = Annotated[
    usage.UsageTime | None,
    Query(
        alias="from",
        description="Start, inclusive (ISO 8601; default 7 days before 'to'); moved back to the"
        f" start of its bucket. {usage.WINDOW_RULES}",
        json_schema_extra=usage.TIME_SCHEMA,
    ),
]
To = Annotated[
    usage.UsageTime | None,
    Query(
        alias="to",
        description="End, exclusive (ISO 8601; default now); moved on to the end of its bucket,"
        " and never past the last settled bucket (the answer's 'to' says where it ended). "
        + usage.WINDOW_RULES,
        json_schema_extra=usage.TIME_SCHEMA,
    ),
]
Step = Annotated[usage.Interval, Query(description=f"Bucket size. {usage.INTERVAL_RULES}")]
Top = Annotated[
    int | None,
    Query(ge=1, le=usage.TOP_MAX, description=usage.TOP_RULES),
]
Answer = Callable[..., Awaitable[usage.UsageOut]]


def _settled_before(settings: ApiSettings) -> datetime | None:
    """Buckets that ended before this are settled (answered once, then read); None: live."""
    settle = settings.usage_settle_minutes
    return datetime.now(UTC) - timedelta(minutes=settle) if settle >= 0 else None


def _window(
    settings: ApiSettings, start: datetime | None, end: datetime | None, interval: usage.Interval
) -> tuple[datetime, datetime, datetime | None]:
    """The answered range (snapped to settled buckets) and the moment buckets count as settled."""
    closed_before = _settled_before(settings)
    start, end = usage.time_range(
        start, end, interval, settings.usage_max_days, ready_before=closed_before
    )
    return start, end, closed_before


async def _groups(
    state: State,
    metric: str,
    dimension: str,
    start: datetime | None,
    end: datetime | None,
    interval: usage.Interval,
    top: int | None = None,
) -> usage.UsageOut:
    settings, k = state.settings, state.settings.k_anonymity
    start, end, closed_before = _window(settings, start, end, interval)
    rows = await asyncio.to_thread(
        answers.rows_for, state.repo, dimension, interval, (start, end), k, closed_before, top
    )
    buckets = usage.fold(rows, k)
    return usage.UsageOut(
        metric=metric,
        start=start,
        end=end,
        interval=interval,
        k=settings.k_anonymity,
        top=top,
        buckets=buckets,
    )


@dataclass(frozen=True)
class GroupRoute:
    """One ``/v1/usage/*`` route of per-bucket groups: where it is and what it groups by.

    ``name`` is the route's name (its OpenAPI operation id and summary come from it), ``doc``
    its description; ``top`` is False for the one-group routes, which have nothing to fold.
    """

    path: str
    name: str
    metric: str
    dimension: str
    doc: str
    top: bool = True


GROUP_ROUTES = (
    GroupRoute(
        "/pageviews",
        "pageviews",
        "pageviews",
        "all",
        "Page views per bucket (one group, `all`); a bucket under k visitors is withheld.",
        top=False,
    ),
    GroupRoute(
        "/visitors",
        "visitors",
        "visitors",
        "all",
        "Distinct identified (consenting) visitors per bucket (one group, `all`).",
        top=False,
    ),
    GroupRoute(
        "/pages",
        "pages",
        "pages",
        "page",
        "Top pages by path per bucket; small groups folded into `other`.",
    ),
    GroupRoute(
        "/referrers",
        "referrers",
        "referrers",
        "referrer",
        "Referring hosts (`(direct)` for none) per bucket; small groups folded into `other`.",
    ),
    GroupRoute(
        "/browsers",
        "browsers",
        "browsers",
        "browser",
        "Browser families per bucket; small groups folded into `other`.",
    ),
    GroupRoute(
        "/devices",
        "devices",
        "devices",
        "device",
        "Device classes (desktop, mobile, tablet) per bucket; small groups folded into `other`.",
    ),
    GroupRoute(
        "/os",
        "operating_systems",
        "os",
        "os",
        "Operating system families per bucket; small groups folded into `other`.",
    ),
    GroupRoute(
        "/utm/source",
        "utm_source",
        "utm_source",
        "utm_source",
        "Page views per `utm_source` of the page's URL (`(none)` untagged); small groups folded.",
    ),
    GroupRoute(
        "/utm/medium",
        "utm_medium",
        "utm_medium",
        "utm_medium",
        "Page views per `utm_medium` of the page's URL (`(none)` untagged); small groups folded.",
    ),
    GroupRoute(
        "/utm/campaign",
        "utm_campaign",
        "utm_campaign",
        "utm_campaign",
        "Page views per `utm_campaign` of the page's URL (`(none)` untagged); small groups folded.",
    ),
)


def _endpoint(route: GroupRoute) -> Answer:
    """The route function of ``route``: its parameters are what the OpenAPI document lists."""

    async def with_top(
        state: State,
        _key: MarketingKey,
        start: From = None,
        end: To = None,
        interval: Step = "day",
        top: Top = None,
    ) -> usage.UsageOut:
        return await _groups(state, route.metric, route.dimension, start, end, interval, top)

    async def one_group(
        state: State, _key: MarketingKey, start: From = None, end: To = None, interval: Step = "day"
    ) -> usage.UsageOut:
        return await _groups(state, route.metric, route.dimension, start, end, interval)

    endpoint = with_top if route.top else one_group
    endpoint.__name__ = endpoint.__qualname__ = route.name
    endpoint.__doc__ = route.doc
    return endpoint


def _add(route: GroupRoute) -> Answer:
    endpoint = _endpoint(route)
    router.add_api_route(
        route.path,
        endpoint,
        methods=["GET"],
        name=route.name,
        response_model=usage.UsageOut,
        response_model_by_alias=True,
    )
    return endpoint


# The route functions by metric, as the dashboard and the bench await them (same code as the
# JSON API): state, key, start, end, interval, and ``top`` where the route takes it.
ROUTES: dict[str, Answer] = {route.metric: _add(route) for route in GROUP_ROUTES}


@router.get("/consent", response_model=usage.ConsentOut, response_model_by_alias=True)
async def consent(
    state: State, _key: MarketingKey, start: From = None, end: To = None, interval: Step = "day"
) -> usage.ConsentOut:
    """Share of consent decisions granting each purpose; buckets under k visitors withheld."""
    settings = state.settings
    start, end, closed_before = _window(settings, start, end, interval)
    rows = await asyncio.to_thread(
        consent_answers.rows_for, state.repo, "rates", interval, (start, end), closed_before
    )
    return usage.ConsentOut(
        start=start,
        end=end,
        interval=interval,
        k=settings.k_anonymity,
        buckets=usage.consent_buckets(rows, settings.k_anonymity),
    )


@router.get(
    "/consent/versions", response_model=usage.ConsentVersionsOut, response_model_by_alias=True
)
async def consent_versions(
    state: State, _key: MarketingKey, start: From = None, end: To = None, interval: Step = "day"
) -> usage.ConsentVersionsOut:
    """Consent rates per policy version and banner hash per bucket; groups under k withheld."""
    settings = state.settings
    start, end, closed_before = _window(settings, start, end, interval)
    rows = await asyncio.to_thread(
        consent_answers.rows_for, state.repo, "versions", interval, (start, end), closed_before
    )
    return usage.ConsentVersionsOut(
        start=start,
        end=end,
        interval=interval,
        k=settings.k_anonymity,
        buckets=usage.version_buckets(rows, settings.k_anonymity),
    )
