"""The marketing dashboard in Chromium against a real API on seeded ClickHouse rows.

What a marketer notices: signing in and out, a privacy key refused, the numbers on screen
equal to the JSON API's answers for the same range, the CSV holding what is on screen, small
groups never shown, no accessibility failures, the page running under its strict CSP.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from redis import Redis

from services.api.ui.dashboard import top_for
from services.api.ui.sessions import session_key
from tests.integration.api_harness import Api
from tests.integration.test_api_usage import CAMPAIGN_URL, DAY1, DAY2, decision, event, visitors

from .staff import api_json, csp_errors, new_context, running_api, screenshot, serious_violations
from .staff import sign_in as sign_in_as

pytestmark = pytest.mark.browser
RANGE = {"from": "2026-03-02", "to": "2026-03-04", "interval": "day"}
API_RANGE = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-05T00:00:00Z", "interval": "day"}
PAGE = "/ui/?from=2026-03-02&to=2026-03-04&interval=day"
# table id on the page -> its /v1/usage route
TABLES = {
    "pages": "pages",
    "referrers": "referrers",
    "browsers": "browsers",
    "devices": "devices",
    "os": "os",
    "utm_source": "utm/source",
    "utm_medium": "utm/medium",
    "utm_campaign": "utm/campaign",
}


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory) -> Iterator[Api]:
    for api in running_api(stack, tmp_path_factory, worker=False):
        rows = []
        for v in visitors("a", 7):
            tagged = {"referrer_host": "news.example.com", "page_url": CAMPAIGN_URL}
            rows.append(event(v, "/pricing", DAY1, **tagged))
            rows.append(event(v, "/", DAY2, browser_family="Chrome", device_class="mobile"))
        rows += [event("", "/pricing", DAY1) for _ in range(5)]
        for v in visitors("b", 3):  # a page of three visitors: folded into other, never named
            rows.append(event(v, "/secret-campaign", DAY1, referrer_host="tiny.example.org"))
        for v in visitors("c", 6):
            rows.append(event(v, "/blog", DAY2 + timedelta(hours=2), os_family="Android"))
        api.repo.insert_usage_events(rows)
        ledger = [decision(v, DAY1, i < 5) for i, v in enumerate(visitors("a", 7))]
        ledger += [decision(v, DAY2, True, "2026-02", "b2") for v in visitors("c", 6)]
        api.repo.insert_consents(ledger)
        # answer every panel's closed buckets once, as the API's warmer would in production,
        # so the first page load reads stored answers on a busy test machine
        previous = {"from": "2026-02-27T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
        for route in ("pageviews", "visitors", *TABLES.values()):
            for span in (API_RANGE, {**API_RANGE, **previous}):
                api_json(api, f"/v1/usage/{route}", "marketing", **span)
        yield api


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = new_context(browser)
    yield ctx.new_page()
    ctx.close()


def cells(page: Page, table: str) -> dict[str, dict[str, str]]:
    """A table's rows by their data key or bucket: metric name -> text on screen."""
    out: dict[str, dict[str, str]] = {}
    for row in page.locator(f"#{table} tbody tr[data-key], #{table} tbody tr[data-bucket]").all():
        name = row.get_attribute("data-key") or row.get_attribute("data-bucket") or ""
        out[name] = {
            cell.get_attribute("data-metric") or "": cell.inner_text()
            for cell in row.locator("td[data-metric]").all()
        }
    return out


def shown(value: Any) -> str:
    return "withheld" if value is None else str(value)


def test_sign_in_then_sign_out(api: Api, page: Page) -> None:
    sign_in_as(page, api, "marketing", PAGE)
    assert page.get_by_role("heading", name="Marketing dashboard").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "cs_ui_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert api.keys["marketing"] not in cookie["value"]
    page.get_by_role("button", name="Sign out").click()
    page.goto(api.url + "/ui/")
    assert "/ui/signin" in page.url, "the session still opened the dashboard after sign-out"


def test_unknown_key_and_privacy_key_are_refused(api: Api, page: Page) -> None:
    page.goto(api.url + "/ui/signin")
    page.get_by_label("API key").fill("cs_nope_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Unknown or revoked key."
    page.get_by_label("API key").fill(api.keys["revoked"])
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Unknown or revoked key."
    sign_in_as(page, api, "privacy", "/ui/privacy")
    answer = page.goto(api.url + "/ui/")
    assert answer is not None and answer.status == 403
    assert "may not open the marketing dashboard" in page.inner_text("main")


def test_sign_out_without_the_csrf_token_is_refused(api: Api, page: Page) -> None:
    sign_in_as(page, api, "marketing", PAGE)
    refused = page.request.post(api.url + "/ui/signout", form={"csrf_token": "forged"})
    assert refused.status == 403
    assert page.goto(api.url + PAGE) is not None and "/ui/signin" not in page.url
    forged = page.request.post(
        api.url + "/ui/signin", form={"api_key": api.keys["admin"], "csrf_token": "x"}
    )
    assert forged.status == 403


def range_totals(answer: dict[str, Any]) -> dict[str, dict[str, int]]:
    """A grouped answer's shown figures summed over its buckets, per group."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"pageviews": 0, "visitors": 0})
    for bucket in answer["buckets"]:
        for group in bucket["groups"]:
            for field in ("pageviews", "visitors"):
                totals[group["key"]][field] += group[field]
    return totals


def test_numbers_on_screen_equal_the_api(api: Api, page: Page) -> None:
    refused = csp_errors(page)
    sign_in_as(page, api, "admin", PAGE)
    traffic = cells(page, "traffic")
    views = api_json(api, "/v1/usage/pageviews", "marketing", **API_RANGE)
    people = api_json(api, "/v1/usage/visitors", "marketing", **API_RANGE)
    assert views["buckets"], "nothing seeded reached the API"
    for answer, metric in ((views, "pageviews"), (people, "visitors")):
        for bucket in answer["buckets"]:
            figure = bucket["groups"][0][metric] if bucket["groups"] else None
            assert traffic[bucket["start"]][metric] == shown(figure), (metric, bucket)
    for metric, route in TABLES.items():
        # the page lists a long-tail table's top groups and a short one whole: asked the same
        # way, the API says the same
        top = top_for(metric)
        asked = API_RANGE if top is None else {**API_RANGE, "top": str(top)}
        answer = api_json(api, f"/v1/usage/{route}", "marketing", **asked)
        assert answer["top"] == top
        totals = range_totals(answer)
        on_screen = cells(page, metric)
        assert set(on_screen) - {"(other)"} == set(totals), metric
        for key, figures in totals.items():
            assert on_screen[key] == {k: str(v) for k, v in figures.items()}, (metric, key)
        other = [b["other"] for b in answer["buckets"] if not b["other"]["suppressed"]]
        assert on_screen["(other)"] == {
            field: str(sum(o[field] for o in other)) for field in ("pageviews", "visitors")
        }, metric
        caption = page.locator(f"table#{metric} caption").inner_text()
        assert (f"The {top} " if top else "Every ") in caption and "other" in caption, caption
    assert cells(page, "utm_campaign")["spring sale!"]["visitors"] == "7"
    assert cells(page, "os")["Android"]["visitors"] == "6"
    assert "/secret-campaign" not in page.content() and "tiny.example.org" not in page.content()
    consent = api_json(api, "/v1/usage/consent", "marketing", **API_RANGE)
    rates = cells(page, "consent")
    for bucket in consent["buckets"]:
        row = rates[bucket["start"]]
        assert row["decisions"] == shown(bucket["decisions"])
        if bucket["rates"]:
            assert row["analytics"] == f"{bucket['rates']['analytics'] * 100:.1f}%"
    versions = api_json(api, "/v1/usage/consent/versions", "marketing", **API_RANGE)
    by_version = cells(page, "versions")
    shown_groups = [(b, g) for b in versions["buckets"] for g in b["groups"]]
    assert len(shown_groups) == len(by_version) == 2, by_version
    for bucket, group in shown_groups:
        row = by_version[f"{bucket['start']}|{group['policy_version']}|{group['banner_hash']}"]
        assert row["decisions"] == str(group["decisions"])
        for purpose in ("analytics", "marketing", "preferences"):
            assert row[purpose] == f"{group['rates'][purpose] * 100:.1f}%", (group, purpose)
    assert page.locator(".chart canvas").count() >= 2, "uPlot drew no chart"
    assert refused == [], refused
    screenshot(page, "dashboard")


def test_csv_holds_what_is_on_screen(api: Api, page: Page) -> None:
    sign_in_as(page, api, "marketing", PAGE)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    pages = {r["key"]: r for r in rows if r["panel"] == "pages"}
    for key, figures in cells(page, "pages").items():
        name = "other" if key == "(other)" else key
        assert pages[name]["pageviews"] == figures["pageviews"], key


def test_no_serious_accessibility_problems(api: Api, browser: Browser) -> None:
    ctx = new_context(browser, bypass_csp=True)  # axe is injected as an inline script
    page = ctx.new_page()
    page.goto(api.url + "/ui/signin")
    assert serious_violations(page) == []
    screenshot(page, "signin")
    sign_in_as(page, api, "marketing", PAGE)
    assert serious_violations(page) == []
    ctx.close()


def test_session_ends_after_the_idle_timeout_and_is_kept_by_use(api: Api, page: Page) -> None:
    sign_in_as(page, api, "marketing", PAGE)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "cs_ui_session")
    redis = Redis.from_url(api.env.get("CONSENTSTREAM_REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        name = session_key(token)
        redis.expire(name, 5)  # as if the idle timeout had nearly run out
        page.goto(api.url + PAGE)
        assert redis.ttl(name) > 60, "using the page did not restart the idle timer"
        redis.delete(name)  # the idle timeout has passed
    finally:
        redis.close()
    page.goto(api.url + PAGE)
    assert "/ui/signin" in page.url


def test_readable_on_a_phone(api: Api, browser: Browser) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = ctx.new_page()
    sign_in_as(page, api, "marketing", PAGE)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"the dashboard scrolls sideways by {overflow}px on a phone"
    ctx.close()


def test_sign_in_attempts_are_limited(api: Api) -> None:
    """Last in the module: it uses up this run's attempts from 127.0.0.1."""
    with httpx.Client(base_url=api.url) as client:
        statuses = []
        for _ in range(30):
            form = client.get("/ui/signin")
            token = form.cookies["cs_ui_signin"]
            sent = client.post("/ui/signin", data={"api_key": "cs_x_guess", "csrf_token": token})
            statuses.append(sent.status_code)
    assert statuses[0] == 401 and statuses[-1] == 429
    assert "Retry-After" in sent.headers
