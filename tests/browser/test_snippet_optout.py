"""Opting out takes, nothing leaves before a choice, and the banner's bugs stay fixed: Chromium.

Against the real collector and worker (fixtures in conftest.py), on the demo site it serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Route, expect

from tests.e2e.processes import Pipeline

from .test_snippet import campaign, open_demo, visitor_key, wait_ledger

pytestmark = pytest.mark.browser

DATA_LAYER = "() => (window.dataLayer || []).map(a => Array.from(a))"


def sent_events(context: BrowserContext) -> list[dict[str, Any]]:
    """Every event the pages post to /v1/events, filled in as they leave."""
    events: list[dict[str, Any]] = []

    def seen(request: Request) -> None:
        if request.url.endswith("/v1/events") and request.method == "POST":
            events.extend(json.loads(request.post_data or "{}").get("events", []))

    context.on("request", seen)
    return events


def poll(page: Page, predicate: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    """Wait for ``predicate`` while Playwright keeps delivering the page's events.

    A plain sleep would not do: the sync API dispatches request and console events only while
    it is called.
    """
    for _ in range(int(seconds * 5)):
        if result := predicate():
            return result
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out waiting for {what}")


def cookie_names(context: BrowserContext) -> set[str]:
    return {c["name"] for c in context.cookies()}


def consent_updates(page: Page) -> list[dict[str, str]]:
    """Consent Mode commands the snippet queued for gtag.js (no gtag on the demo)."""
    return [a[2] for a in page.evaluate(DATA_LAYER) if a[:2] == ["consent", "update"]]


def test_withdrawing_marketing_deletes_its_cookie_and_stops_its_script(
    pipeline: Pipeline, context: BrowserContext
):
    page = context.new_page()
    open_demo(pipeline, page, "index.html", campaign())
    defaults = [a for a in page.evaluate(DATA_LAYER) if a[:2] == ["consent", "default"]]
    assert defaults and defaults[0][2]["ad_storage"] == "denied", "denied before a choice"
    page.get_by_role("button", name="Accept all").click()
    expect(page.locator("#marketing-status")).to_contain_text("loaded after consent")
    assert {"_ga", "_fbp", "theme"} <= cookie_names(context)
    assert consent_updates(page)[-1]["ad_storage"] == "granted"
    page.get_by_role("button", name="Privacy settings").click()
    page.get_by_role("button", name="Customize").click()
    with page.expect_navigation():  # the pixel already runs: only a fresh page is without it
        page.get_by_role("checkbox", name="Marketing").uncheck()
        page.get_by_role("button", name="Save choices").click()
    expect(page.locator("#marketing-status")).to_contain_text("not loaded")
    expect(page.locator("#analytics-status")).to_contain_text("loaded after consent")
    names = cookie_names(context)
    assert "_fbp" not in names and {"_ga", "theme"} <= names
    assert consent_updates(page)[-1]["ad_storage"] == "denied"


def test_gpc_turned_on_after_a_marketing_grant_withdraws_it(
    pipeline: Pipeline, context: BrowserContext
):
    page = context.new_page()
    open_demo(pipeline, page, "index.html", campaign())
    page.get_by_role("button", name="Accept all").click()
    key = visitor_key(page)
    wait_ledger(pipeline, key)
    assert "_fbp" in cookie_names(context)
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
    )
    page.reload()
    choices = page.evaluate("() => consentstream.consent.get()")
    assert choices["marketing"] is False and choices["analytics"] is True
    expect(page.locator("#marketing-status")).to_contain_text("not loaded")
    page.wait_for_function("() => !document.cookie.includes('_fbp')")
    assert consent_updates(page)[-1]["ad_storage"] == "denied"
    decisions = wait_ledger(pipeline, key, 2)
    assert [(d["source"], d["marketing"]) for d in decisions if d["source"] == "gpc"] == [
        ("gpc", 0)
    ]


def test_before_a_choice_only_an_anonymous_pageview_with_the_referrer_origin(
    pipeline: Pipeline, context: BrowserContext
):
    events = sent_events(context)
    page, tag = context.new_page(), campaign()
    context.add_cookies([{"name": "_ga", "value": "GA1.1.x", "url": pipeline.collector_url}])
    open_demo(pipeline, page, "about.html", tag)
    page.evaluate("url => { location.href = url }", f"/demo/index.html?utm_campaign={tag}")
    page.wait_for_url("**/index.html*")
    page.get_by_role("button", name="Get a quote").click()  # trackClicks is on here
    page.evaluate("() => consentstream.flush()")
    page.wait_for_function("() => !JSON.parse(localStorage.getItem('cs_queue') || '[]').length")
    assert {e["type"] for e in events} <= {"pageview", "custom"}, "no cookie names, no click text"
    assert all(e.get("visitor_id") is None for e in events)
    index = [e for e in events if e["page"]["url"].startswith(f"{pipeline.collector_url}/demo/i")]
    assert index and index[0]["page"]["referrer"] == f"{pipeline.collector_url}/", "origin only"


def test_wait_for_choice_sends_nothing_before_the_visitor_decides(
    pipeline: Pipeline, context: BrowserContext
):
    events = sent_events(context)
    context.add_init_script("window.consentstreamOptions = {waitForChoice: true}")
    page = context.new_page()
    open_demo(pipeline, page, "about.html", campaign())
    page.wait_for_timeout(2500)  # past the batch timer
    page.evaluate("() => consentstream.flush()")
    assert events == [], "nothing at all left before the choice"
    page.get_by_role("button", name="Reject all").click()
    poll(page, lambda: events, "the held pageview")
    # Besides the held pageview only the decision's own necessary cookie is reported.
    poll(page, lambda: [e for e in events if e["type"] == "cookie"], "the decision's cookie")
    assert [e["type"] for e in events] == ["pageview", "cookie"]
    assert all(e.get("visitor_id") is None for e in events)
    assert [c["name"] for c in events[1]["cookies"]] == ["cs_consent"]


def test_included_twice_one_banner_one_pageview(pipeline: Pipeline, context: BrowserContext):
    events = sent_events(context)

    def twice(route: Route) -> None:
        response = route.fetch()
        html = re.sub(r"(<script src=\"/snippet.js\".*?</script>)", r"\1\1", response.text())
        route.fulfill(response=response, body=html)

    context.route("**/demo/about.html*", twice)
    page = context.new_page()
    open_demo(pipeline, page, "about.html", campaign())
    page.evaluate("() => consentstream.flush()")
    assert page.locator("script[src='/snippet.js']").count() == 2, "the tag is there twice"
    expect(page.get_by_role("dialog")).to_have_count(1)
    page.wait_for_function("() => !JSON.parse(localStorage.getItem('cs_queue') || '[]').length")
    assert [e["type"] for e in events] == ["pageview"]


def test_banner_customize_twice_focus_trap_and_descriptions(
    pipeline: Pipeline, context: BrowserContext
):
    page = context.new_page()
    open_demo(pipeline, page, "about.html", campaign())
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Customize")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Accept all")).to_be_focused()
    page.get_by_role("button", name="Customize").click()
    analytics = page.get_by_role("checkbox", name="Analytics", exact=True)
    analytics.check()
    page.get_by_role("button", name="Customize").click()
    expect(analytics).to_be_checked()
    expect(analytics).to_have_accessible_name("Analytics")
    expect(analytics).to_have_accessible_description(
        "Count visits and see how the site is used, under a pseudonymous visitor id."
    )
    expect(page.locator("#cs-banner .cs-links")).to_be_visible()  # the second layer is in
    page.get_by_role("button", name="Save choices").focus()
    page.keyboard.press("Tab")
    # The first stop: the necessary category's "Services and cookies" (its box is fixed on).
    expect(page.locator("#cs-banner summary").first).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Save choices")).to_be_focused()


def test_a_decision_in_one_tab_reaches_the_others(pipeline: Pipeline, context: BrowserContext):
    first, second = context.new_page(), context.new_page()
    open_demo(pipeline, first, "about.html", campaign())
    open_demo(pipeline, second, "contact.html", campaign())
    expect(second.get_by_role("dialog")).to_be_visible()
    first.get_by_role("button", name="Reject all").click()
    expect(second.get_by_role("dialog")).to_be_hidden()
    assert second.evaluate("() => consentstream.consent.get().analytics") is False


def test_a_site_missing_from_the_cors_list_is_given_up_on_with_a_warning(
    pipeline: Pipeline, context: BrowserContext
):
    attempts: list[str] = []

    def attempt(request: Request) -> None:
        if request.url.endswith("/v1/events"):
            attempts.append(request.method)

    context.on("request", attempt)
    site = "http://localhost:9/"  # not among the collector's CORS origins
    html = (
        "<!doctype html><html lang='en'><head><title>Shop</title>"
        "<script src='/opts.js'></script>"
        f"<script src='{pipeline.collector_url}/snippet.js' defer></script></head>"
        "<body><main><h1>Shop</h1></main></body></html>"
    )
    context.route(site, lambda r: r.fulfill(body=html, content_type="text/html"))
    context.route(
        site + "opts.js",
        lambda r: r.fulfill(
            body="window.consentstreamOptions = {maxTries: 2, flushMs: 100}",
            content_type="text/javascript",
        ),
    )
    warnings: list[str] = []

    def warned(message: ConsoleMessage) -> None:
        if message.type == "warning":
            warnings.append(message.text)

    page = context.new_page()
    page.on("console", warned)
    page.goto(site)
    poll(page, lambda: warnings, "the snippet's warning")
    assert "CORS" in warnings[0]
    assert page.evaluate("() => JSON.parse(localStorage.getItem('cs_queue') || '[]')") == []
    page.wait_for_timeout(3000)
    assert 1 <= attempts.count("POST") <= 2, "given up, not re-sent forever"


def test_cookie_names_are_reported_on_change_not_on_every_load(
    pipeline: Pipeline, context: BrowserContext
):
    events = sent_events(context)
    page = context.new_page()
    open_demo(pipeline, page, "about.html", campaign())
    # The refusal expires refused cookies once the catalogue is in: add lang after that.
    with page.expect_response("**/snippet/cookies.json"):
        page.get_by_role("button", name="Reject all").click()
    page.wait_for_timeout(200)
    context.add_cookies([{"name": "lang", "value": "en", "url": pipeline.collector_url}])
    for _ in range(3):
        page.reload()
        page.evaluate("() => consentstream.flush()")
    poll(page, lambda: [e for e in events if e["type"] == "cookie"], "the cookie names")
    page.wait_for_timeout(500)
    # Each report is a change (the refusal's own cookie, lang appearing, lang deleted as
    # preferences were refused): never the same names twice in a row, never one per load.
    # (A report made as a reload starts leaves by beacon, which the harness may not see.)
    names = [[c["name"] for c in e["cookies"]] for e in events if e["type"] == "cookie"]
    assert names.count(["cs_consent", "lang"]) <= 1 and len(names) <= 3, names
    assert all(a != b for a, b in zip(names, names[1:], strict=False)), names
