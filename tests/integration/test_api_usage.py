"""Marketing aggregates over real HTTP on real ClickHouse: k-anonymity is what a user sees.

Rows are written as the worker writes them (minimized, pseudonymous). With k = 5: a page seen
by 4 identified visitors never appears, whatever else is asked; anonymous rows (no analytics
consent, visitor_key '') add page views but never count as visitors; a small "other" is
withheld.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consentstream.audit import AuditLog, lock_client, verify
from consentstream.storage import Storage, sql
from consentstream.storage.repository import Repository
from schemas.rows import ConsentLedgerRow, UsageAnswerRow, UsageEventRow
from services.api import answers, leads, top
from services.api.buckets import stored_params

from .api_harness import Api, start_api

KEY = b"usage-test-audit-key"

pytestmark = pytest.mark.integration

DAY1 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
CAMPAIGN_URL = (
    "https://www.example.com/popular?utm_source=news&utm_medium=email&utm_campaign=spring+sale%21"
)
RANGE = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-05T00:00:00Z"}


def event(visitor: str, path: str, ts: datetime, **extra: str) -> UsageEventRow:
    fields = {
        "event_id": uuid.uuid4(),
        "type": "pageview",
        "ts": ts,
        "client_ts": ts,
        "received_at": ts,
        "visitor_key": visitor,
        "consent_id": "c-" + visitor if visitor else "",
        "purposes": ["necessary", "analytics"] if visitor else ["necessary"],
        "policy_version": "2026-01",
        "ip_prefix": "",
        "page_path": path,
        "page_url": f"https://www.example.com{path}",
        "page_title": path,
        "referrer_host": "",
        "browser_family": "Firefox",
        "browser_version": "126",
        "os_family": "Linux",
        "device_class": "desktop",
        "language": "en",
        "screen": "",
        "timezone": "UTC",
        "props": "{}",
        "gpc": False,
        "dnt": False,
        **extra,
    }
    return UsageEventRow.model_validate(fields)


def visitors(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02d}".ljust(32, "0") for i in range(n)]


def decision(
    visitor: str, at: datetime, analytics: bool, version: str = "2026-01", banner: str = "b"
) -> ConsentLedgerRow:
    return ConsentLedgerRow(
        consent_id="c-" + uuid.uuid4().hex,
        visitor_key=visitor,
        recorded_at=at,
        necessary=True,
        analytics=analytics,
        marketing=False,
        preferences=analytics,
        policy_version=version,
        policy_hash="h",
        banner_hash=banner,
        source="banner",
        gpc=False,
        dnt=False,
        gpc_applied=False,
    )


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory):
    for api in start_api(stack, tmp_path_factory, worker=False):
        rows = []
        # day 1: /popular by 6 identified visitors (+3 anonymous views), from news.example.com;
        # /small by 4 identified visitors (2 views each, Chrome, from tiny.example.org);
        # /anon-only seen 20 times, only anonymously.
        # the 6 identified visitors of /popular came from a tagged campaign link; /small's 4
        # visitors run Windows
        for v in visitors("a", 6):
            tagged = {"referrer_host": "news.example.com", "page_url": CAMPAIGN_URL}
            rows.append(event(v, "/popular", DAY1, **tagged))
        rows += [event("", "/popular", DAY1, referrer_host="news.example.com") for _ in range(3)]
        for v in visitors("b", 4):
            small = {
                "referrer_host": "tiny.example.org",
                "browser_family": "Chrome",
                "os_family": "Windows",
                "page_url": "https://www.example.com/small?utm_source=tinyletter",
            }
            rows += [event(v, "/small", DAY1 + timedelta(minutes=m), **small) for m in (1, 2)]
        rows += [event("", "/anon-only", DAY1) for _ in range(20)]
        # day 2: two pages of 3 visitors each: both folded, but "other" has 6 visitors.
        for v in visitors("c", 3):
            rows.append(event(v, "/left", DAY2))
        for v in visitors("d", 3):
            rows.append(event(v, "/right", DAY2))
        # day 3: only 4 visitors in all: even the day's total is withheld.
        for v in visitors("e", 4):
            rows.append(event(v, "/late", DAY3))
        api.repo.insert_usage_events(rows)
        ledger = [decision(v, DAY1, i < 3) for i, v in enumerate(visitors("a", 6))]
        ledger += [decision(v, DAY2, True) for v in visitors("b", 4)]
        # two "Reject all" without a visitor id; one of them posted twice (a retry)
        refusals = [decision("", DAY1, False) for _ in range(2)]
        api.repo.insert_consents(ledger + refusals)
        api.repo.insert_consents(refusals[:1])
        # day 3: a new banner "b2" shown to 5 visitors, the old one to 4 (withheld)
        renewed = [decision(v, DAY3, True, "2026-02", "b2") for v in visitors("f", 5)]
        renewed += [decision(v, DAY3, False) for v in visitors("g", 4)]
        api.repo.insert_consents(renewed)
        yield api


def usage(api: Api, name: str, **params: str) -> dict[str, Any]:
    got = api.get(f"/v1/usage/{name}", role="marketing", **{**RANGE, **params})
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def by_day(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["start"][:10]: b for b in body["buckets"]}


TAGS = ("os", "utm/source", "utm/medium", "utm/campaign")
SECRETS = ("/small", "tiny.example.org", "Chrome", "Windows", "tinyletter", "/late", "/left")


def test_a_group_of_four_visitors_never_appears(api: Api) -> None:
    for name in ("pages", "referrers", "browsers", "devices", "pageviews", "visitors", *TAGS):
        for interval in ("hour", "day", "week"):
            text = api.get(f"/v1/usage/{name}", role="marketing", interval=interval, **RANGE).text
            for secret in SECRETS:
                assert secret not in text, f"{secret} leaked by {name}/{interval}"


def test_pages_show_only_groups_of_k_and_fold_the_rest(api: Api) -> None:
    days = by_day(usage(api, "pages"))
    day1 = days["2026-03-02"]
    assert day1["groups"] == [{"key": "/popular", "visitors": 6, "pageviews": 9}]
    # /small's 4 visitors and the anonymous-only page make an "other" of 4 visitors: withheld
    assert day1["other"] == {"visitors": None, "pageviews": None, "suppressed": True}
    day2 = days["2026-03-03"]
    assert day2["groups"] == []
    assert day2["other"] == {"visitors": 6, "pageviews": 6, "suppressed": False}


def test_anonymous_views_count_as_views_but_never_as_visitors(api: Api) -> None:
    days = by_day(usage(api, "pageviews"))
    # 6 + 3 anonymous + 8 + 20 anonymous views by 10 identified visitors
    assert days["2026-03-02"]["groups"] == [{"key": "all", "visitors": 10, "pageviews": 37}]
    assert days["2026-03-04"]["groups"] == []
    assert days["2026-03-04"]["other"]["suppressed"] is True


def test_referrers_browsers_and_devices(api: Api) -> None:
    day1 = by_day(usage(api, "referrers"))["2026-03-02"]
    assert day1["groups"] == [{"key": "news.example.com", "visitors": 6, "pageviews": 9}]
    browsers = by_day(usage(api, "browsers"))["2026-03-02"]["groups"]
    assert browsers == [{"key": "Firefox", "visitors": 6, "pageviews": 29}]
    devices = by_day(usage(api, "devices"))["2026-03-02"]["groups"]
    assert devices == [{"key": "desktop", "visitors": 10, "pageviews": 37}]


def test_operating_systems_and_campaign_tags_decoded_from_the_stored_url(api: Api) -> None:
    systems = by_day(usage(api, "os"))["2026-03-02"]
    # 6 + 3 anonymous + 20 anonymous views on Linux; Windows's 4 visitors fold into a
    # withheld "other"
    assert systems["groups"] == [{"key": "Linux", "visitors": 6, "pageviews": 29}]
    assert systems["other"]["suppressed"] is True
    expected = {"source": "news", "medium": "email", "campaign": "spring sale!"}
    for tag, value in expected.items():
        day1 = by_day(usage(api, f"utm/{tag}"))["2026-03-02"]
        # untagged views are '(none)': seen by the other 4 identified visitors only: folded
        assert day1["groups"] == [{"key": value, "visitors": 6, "pageviews": 6}], tag
        assert day1["other"]["suppressed"] is True


def test_consent_per_policy_version_and_banner_withholds_small_versions(api: Api) -> None:
    body = usage(api, "consent/versions")
    assert body["k"] == 5
    days = {b["start"][:10]: b for b in body["buckets"]}
    assert days["2026-03-02"]["groups"] == [
        {
            "policy_version": "2026-01",
            "banner_hash": "b",
            "visitors": 8,
            "decisions": 8,
            "rates": {"analytics": 0.375, "marketing": 0.0, "preferences": 0.375, "refused": 0.625},
        }
    ]
    assert days["2026-03-02"]["withheld"] is False
    assert days["2026-03-03"] == {
        "start": days["2026-03-03"]["start"],
        "groups": [],
        "withheld": True,
    }
    # the new banner is compared on its own; the old one's 4 deciders that day are withheld
    day3 = days["2026-03-04"]
    assert [(g["policy_version"], g["banner_hash"], g["visitors"]) for g in day3["groups"]] == [
        ("2026-02", "b2", 5)
    ]
    assert day3["groups"][0]["rates"]["analytics"] == 1.0
    assert day3["withheld"] is True
    assert "g00" not in str(body)


def test_intervals_bucket_by_hour_and_week(api: Api) -> None:
    hours = usage(api, "visitors", interval="hour")["buckets"]
    assert hours[0]["start"].startswith("2026-03-02T10:00:00")
    weeks = usage(api, "visitors", interval="week")["buckets"]
    assert len(weeks) == 1 and weeks[0]["start"].startswith("2026-03-02T00:00:00")
    # the week holds all 20 identified visitors
    assert weeks[0]["groups"] == [{"key": "all", "visitors": 20, "pageviews": 47}]


def test_consent_rates_per_purpose_with_small_days_withheld(api: Api) -> None:
    body = usage(api, "consent")
    assert body["k"] == 5
    days = {b["start"][:10]: b for b in body["buckets"]}
    # 6 identified deciders and 2 anonymous refusals, each counted once (the retry is not)
    assert days["2026-03-02"]["visitors"] == 8
    assert days["2026-03-02"]["decisions"] == 8
    assert days["2026-03-02"]["rates"] == {
        "analytics": 0.375,
        "marketing": 0.0,
        "preferences": 0.375,
        "refused": 0.625,
    }
    assert days["2026-03-03"] == {
        "start": days["2026-03-03"]["start"],
        "visitors": None,
        "decisions": None,
        "rates": None,
        "suppressed": True,
    }


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-03-05T00:00:00Z", "to": "2026-03-02T00:00:00Z"},
        {"interval": "minute"},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "interval": "hour"},
        {"from": "not a date"},
    ],
)
def test_bad_ranges_get_the_one_error_shape(api: Api, params: dict[str, Any]) -> None:
    got = api.get("/v1/usage/pages", role="marketing", **params)
    assert got.status_code == 422
    assert got.json()["error"]["code"] == "invalid_request"


def test_closed_buckets_are_answered_once_and_then_read(api: Api) -> None:
    day = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    api.repo.insert_usage_events([event(v, "/stored", day) for v in visitors("s", 5)])
    span = {"from": "2026-01-05T00:00:00Z", "to": "2026-01-07T00:00:00Z"}
    first = usage(api, "pages", **span)
    assert by_day(first)["2026-01-05"]["groups"] == [
        {"key": "/stored", "visitors": 5, "pageviews": 5}
    ]
    db = api.repo.storage.database
    done = api.repo.storage.query(
        f"SELECT toString(bucket) AS b FROM {db}.usage_answers"
        " WHERE dimension = 'page' AND row_kind = 'done'"
        " AND bucket < toDateTime('2026-02-01 00:00:00', 'UTC')"
    )
    assert sorted(r["b"] for r in done) == ["2026-01-05 00:00:00", "2026-01-06 00:00:00"]
    # a closed day's answer is kept: a straggler does not rewrite it (and is counted live
    # in an interval never asked before)
    api.repo.insert_usage_events([event(v, "/straggler", day) for v in visitors("t", 5)])
    assert usage(api, "pages", **span) == first
    hours = usage(api, "pages", interval="hour", **span)["buckets"]
    assert {g["key"] for g in hours[0]["groups"]} == {"/stored", "/straggler"}
    # a range that cuts a day in two is answered for the whole day, as stored
    partial = usage(api, "pages", **{"from": "2026-01-05T08:00:00Z", "to": "2026-01-05T09:30:00Z"})
    assert partial["from"].startswith("2026-01-05T00:00:00")
    assert partial["to"].startswith("2026-01-06T00:00:00")
    assert partial["buckets"] == [by_day(first)["2026-01-05"]]


EDGE = datetime(2026, 2, 9, 10, 0, tzinfo=UTC)  # a Monday; nothing else is seeded that week
CUTS = [
    (EDGE, EDGE + timedelta(seconds=1)),
    (EDGE, EDGE + timedelta(seconds=3)),
    (EDGE + timedelta(seconds=1), EDGE + timedelta(seconds=3)),
    (EDGE - timedelta(seconds=1), EDGE + timedelta(seconds=1)),
    (EDGE + timedelta(minutes=30), EDGE + timedelta(hours=2)),
    (EDGE - timedelta(hours=10), EDGE + timedelta(hours=14)),
    (EDGE - timedelta(days=1), EDGE + timedelta(days=2)),
]


def group_sizes(body: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Visitors per (bucket, group) an answer shows."""
    return {(b["start"], g["key"]): g["visitors"] for b in body["buckets"] for g in b["groups"]}


@pytest.mark.parametrize("interval", ["hour", "day", "week"])
def test_no_two_answers_difference_into_a_group_under_k(api: Api, interval: str) -> None:
    # six visitors in the first second of the hour, a seventh two seconds later: a window cut
    # to the second would show 6, then 7, and the difference would be that one visitor
    rows = [event(v, "/diff", EDGE) for v in visitors("x", 6)]
    rows.append(event(visitors("y", 1)[0], "/diff", EDGE + timedelta(seconds=2)))
    api.repo.insert_usage_events(rows)
    answers = []
    for start, end in CUTS:
        for name in ("pages", "visitors", "pageviews"):
            params = {"from": start.isoformat(), "to": end.isoformat(), "interval": interval}
            answers.append(usage(api, name, **params))
    assert any(g["key"] == "/diff" for a in answers for b in a["buckets"] for g in b["groups"])
    k = answers[0]["k"]
    for one in answers:
        for other in answers:
            if one["metric"] != other["metric"]:
                continue
            mine, theirs = group_sizes(one), group_sizes(other)
            for group in mine.keys() | theirs.keys():
                gap = abs(mine.get(group, 0) - theirs.get(group, 0))
                assert gap == 0 or gap >= k, (group, one["from"], other["from"], gap)


def test_the_bucket_still_running_is_never_answered(api: Api) -> None:
    now = datetime.now(UTC)
    span = {"from": (now - timedelta(hours=5)).isoformat(), "to": now.isoformat()}
    body = usage(api, "pageviews", interval="hour", **span)
    # the default settle time is 120 minutes: the last two hours are not answered yet either
    edge = (now - timedelta(minutes=120)).replace(minute=0, second=0, microsecond=0)
    assert datetime.fromisoformat(body["to"]) <= edge
    assert all(datetime.fromisoformat(b["start"]) < edge for b in body["buckets"])


def test_the_aggregate_and_audit_sql_runs_on_both_backends(storage: Storage, stack) -> None:
    """18.16 and chdb 26.x give the same folded answer and keep the same audit chain."""
    repo = Repository(storage)
    rows = [event(v, "/popular", DAY1) for v in visitors("a", 5)]
    rows += [event(v, "/small", DAY1) for v in visitors("b", 4)] + [event("", "/popular", DAY1)]
    repo.insert_usage_events(rows)
    repo.insert_consents([decision(v, DAY1, True) for v in visitors("a", 5)])
    params = {"start": DAY1 - timedelta(days=1), "end": DAY3, "k": 5}
    got = {
        (r["shown"], r["key"], r["visitors"], r["pageviews"])
        for r in repo.usage_groups("page", "week", params)
    }
    assert got == {(1, "/popular", 5, 6), (0, "", 4, 4)}
    consent = repo.usage_consent("day", params)
    assert [(r["visitors"], r["analytics"]) for r in consent] == [(5, 5)]
    versions = repo.usage_consent_versions("week", params)
    assert [(r["version"], r["banner"], r["visitors"]) for r in versions] == [("2026-01", "b", 5)]
    tagged = [
        event(v, "/t", DAY1, page_url=CAMPAIGN_URL, os_family="iOS") for v in visitors("u", 5)
    ]
    repo.insert_usage_events(tagged)
    for dimension, value in (("utm_campaign", "spring sale!"), ("os", "iOS")):
        shown = {r["key"] for r in repo.usage_groups(dimension, "day", params) if r["shown"]}
        assert value in shown, dimension
    answer = {"bucket_size": "day", "dimension": "page", "k": 5, "bucket": DAY1, "key": "/p"}
    stamp = {"visitors": 5, "pageviews": 6, "computed_at": DAY1}
    repo.save_answers([UsageAnswerRow.model_validate({**answer, **stamp, "row_kind": "group"})])
    cached = repo.cached_answers({"interval": "day", "dimension": "page", "k": 5, **params})
    assert [(r["row_kind"], r["key"], r["visitors"], r["pageviews"]) for r in cached] == [
        ("group", "/p", 5, 6)
    ]
    more = [("group", "/q", 5, 9), ("group", "/r", 6, 2), ("other", "", 3, 3)]
    repo.save_answers(
        [
            UsageAnswerRow.model_validate(
                {**answer, **stamp, "row_kind": kind, "key": key, "visitors": v, "pageviews": p}
            )
            for kind, key, v, p in more
        ]
    )
    query = {"interval": "day", "dimension": "page", "k": 5, **params, "top": 2}
    assert repo.top_answer_keys(query) == ["/q", "/p"]
    top = repo.top_answers(query, ["/q"])
    assert sorted((r["row_kind"], r["key"], r["visitors"], r["pageviews"]) for r in top) == [
        ("folded", "", 11, 8),
        ("group", "/q", 5, 9),
        ("other", "", 3, 3),
    ]
    with lock_client(stack.redis_url) as redis:
        log = AuditLog(repo, redis, KEY)
        for n in range(3):
            log.append("k", "privacy", "request.read", f"s{n}", {"n": n, "text": 'ünï "q"'})
    assert verify(repo.audit_entries(), KEY).ok


TOP_DAY1 = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)  # a Monday; nothing else is seeded that week
TOP_DAY2 = TOP_DAY1 + timedelta(days=1)
TOP_SPAN = {"from": "2026-04-06T00:00:00Z", "to": "2026-04-08T00:00:00Z"}


@pytest.fixture(scope="module")
def long_tail(api: Api) -> Api:
    """Pages whose order over the two days differs from their order on the second day."""
    rows = []
    plan = [  # page, day, visitors, views each
        ("/beta", TOP_DAY1, 5, 3),  # 15 over the range, all on day 1
        ("/alpha", TOP_DAY1, 5, 1),
        ("/alpha", TOP_DAY2, 5, 1),  # 10 over the range, smallest shown group on day 2
        ("/delta", TOP_DAY2, 5, 2),  # 10: ties with /alpha and /echo, the key decides
        ("/echo", TOP_DAY2, 5, 2),
        ("/gamma", TOP_DAY2, 6, 1),
        ("/tiny", TOP_DAY1, 3, 1),  # day 1's own "other": 3 visitors, withheld
        ("/wee1", TOP_DAY2, 3, 1),  # day 2's own "other": 6 visitors, shown
        ("/wee2", TOP_DAY2, 3, 1),
    ]
    for n, (page, day, count, views) in enumerate(plan):
        for v in visitors(f"top{n}-", count):
            rows += [event(v, page, day + timedelta(minutes=m)) for m in range(views)]
    api.repo.insert_usage_events(rows)
    return api


def shown_views(body: dict[str, Any]) -> int:
    """Page views an answer shows: its groups and every "other" not withheld."""
    return sum(
        sum(g["pageviews"] for g in b["groups"]) + (b["other"]["pageviews"] or 0)
        for b in body["buckets"]
    )


def test_top_keeps_the_biggest_groups_of_the_range_and_folds_the_rest(long_tail: Api) -> None:
    api = long_tail
    # the first ask answers (and stores) the days the full way, then cuts; later asks read the
    # top keys' rows and one folded sum per day from the store: both say the same
    first = usage(api, "pages", top="2", **TOP_SPAN)
    full = usage(api, "pages", **TOP_SPAN)
    assert full["top"] is None
    stored = usage(api, "pages", top="2", **TOP_SPAN)
    assert first == stored
    assert stored["top"] == 2
    day1, day2 = (by_day(stored)[d] for d in ("2026-04-06", "2026-04-07"))
    assert [g["key"] for g in day1["groups"]] == ["/beta", "/alpha"]
    # /alpha is the smallest shown group of day 2, but second over the range
    assert day2["groups"] == [{"key": "/alpha", "visitors": 5, "pageviews": 5}]
    # /delta 10 + /echo 10 + /gamma 6 + day 2's own other (6 views of 6 visitors)
    assert day2["other"] == {"visitors": 22, "pageviews": 32, "suppressed": False}
    assert by_day(full)["2026-04-07"]["other"] == {
        "visitors": 6,
        "pageviews": 6,
        "suppressed": False,
    }
    # nothing folded on day 1: its own other of 3 visitors stays withheld
    assert day1["other"] == {"visitors": None, "pageviews": None, "suppressed": True}
    assert shown_views(stored) == shown_views(full) == 15 + 5 + 5 + 20 + 6 + 6
    assert "/tiny" not in str(stored) and "/wee1" not in str(stored)


def test_top_breaks_ties_by_key_and_never_adds_a_withheld_other(long_tail: Api) -> None:
    api = long_tail
    usage(api, "pages", **TOP_SPAN)  # stored, so the answers below come from the store
    three = usage(api, "pages", top="3", **TOP_SPAN)
    # /alpha, /delta and /echo all have 10 views: the smaller keys are kept
    assert {g["key"] for b in three["buckets"] for g in b["groups"]} == {
        "/beta",
        "/alpha",
        "/delta",
    }
    one = usage(api, "pages", top="1", **TOP_SPAN)
    day1 = by_day(one)["2026-04-06"]
    assert day1["groups"] == [{"key": "/beta", "visitors": 5, "pageviews": 15}]
    # /alpha folds in; /tiny's 3 visitors are withheld without top and stay out of the sum
    assert day1["other"] == {"visitors": 5, "pageviews": 5, "suppressed": False}
    assert shown_views(one) == shown_views(usage(api, "pages", **TOP_SPAN))


@pytest.mark.parametrize("value", ["0", "1001", "-3", "ten", "2.5"])
def test_a_bad_top_is_refused_naming_it(api: Api, value: str) -> None:
    got = api.get("/v1/usage/pages", role="marketing", top=value, **TOP_SPAN)
    assert got.status_code == 422
    assert "top" in got.text


def test_stored_top_answers_agree_from_leads_and_from_groups(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both backends: the answer cut from a bucket's leads is the one cut from its groups."""
    repo = Repository(storage)
    rows = []
    for n, page in enumerate(["/a", "/b", "/c"]):
        rows += [event(v, page, DAY1) for v in visitors(f"lead{n}-", 5 + n)]
    rows += [event(v, "/rare", DAY1) for v in visitors("rare-", 2)]
    repo.insert_usage_events(rows)
    day = DAY1.replace(hour=0, minute=0, second=0, microsecond=0)
    span = (day, day + timedelta(days=1))
    every, _ = answers.closed_rows(repo, "page", "day", span, 5)  # stores answer and leads
    assert repo.done_buckets(sql.USAGE_LEADS, stored_params("page", "day", span, 5)) == {day}
    from_leads = top.stored_top(repo, "page", "day", span, 5, 2)
    monkeypatch.setattr(leads, "LEAD", 1)  # top 2 is beyond the leads: every group is read
    from_groups = top.stored_top(repo, "page", "day", span, 5, 2)
    assert from_leads is not None and from_groups is not None

    def seen(got: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((r["shown"], r["key"], r["visitors"], r["pageviews"]) for r in got)

    assert seen(from_leads) == seen(from_groups) == seen(top.keep_top(every, 2, 5))
    assert seen(from_leads) == [(0, "", 5, 5), (1, "/b", 6, 6), (1, "/c", 7, 7)]
    # the bucket stored twice in one second (two API processes): its rows are told apart row
    # by row, not added up
    twice = answers.to_stored(every, [day], "day", "page", 5)
    repo.save_answers(twice)
    repo.save_answers(twice)
    assert seen(top.stored_top(repo, "page", "day", span, 5, 2) or []) == seen(from_leads)
