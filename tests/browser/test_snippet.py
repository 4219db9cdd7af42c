"""The web snippet in real headless Chromium against the real collector and stream worker.

Each test is one visitor (a fresh browser context) on the demo site the collector serves; its
page URLs carry a unique ``utm_campaign`` (the one query parameter the pipeline keeps), so its
rows are found in ClickHouse without relying on anything else. The English and German banner
screenshots in docs/ (used by README.md) are taken here.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from consentstream.identity import pseudonymize
from consentstream.storage.repository import Repository
from tests.e2e.processes import Pipeline, wait_http, wait_until

from .conftest import POLICY_HASH, PSEUDONYM_KEY, ROOT

pytestmark = pytest.mark.browser

DOCS = ROOT / "docs"
QUEUE = "() => JSON.parse(localStorage.getItem('cs_queue') || '[]')"


def campaign() -> str:
    return "b" + secrets.token_hex(5)


def open_demo(pipe: Pipeline, page: Page, path: str, tag: str) -> None:
    page.goto(f"{pipe.collector_url}/demo/{path}?utm_campaign={tag}")


def visitor_id(page: Page) -> str:
    """The id the collector minted, from the browser's cookie jar (no page script can read it)."""
    found: str = wait_until(
        lambda: next((c["value"] for c in page.context.cookies() if c["name"] == "cs_vid"), None),
        timeout=15,
        what="the visitor cookie",
    )
    return found


def visitor_key(page: Page) -> str:
    return pseudonymize(visitor_id(page), PSEUDONYM_KEY)


def repository(pipe: Pipeline) -> Repository:
    repo: Repository = pipe.repo  # type: ignore[attr-defined]
    return repo


def ledger(pipe: Pipeline, key: str) -> list[dict[str, Any]]:
    repo = repository(pipe)
    return repo.storage.query(
        f"SELECT * FROM {repo.storage.database}.consent_ledger "
        "WHERE visitor_key = %(key)s ORDER BY recorded_at",
        {"key": key},
    )


def wait_ledger(pipe: Pipeline, key: str, n: int = 1):
    """The decisions of one visitor, once the worker has recorded ``n`` of them."""
    return wait_until(
        lambda: (rows := ledger(pipe, key)) and len(rows) >= n and rows,
        timeout=30,
        interval=0.3,
        what=f"{n} consent decision(s) in the ledger",
        pipe=pipe,
    )


def usage(pipe: Pipeline, tag: str) -> list[dict[str, Any]]:
    """Every usage row of one visitor (no FINAL: a duplicate would show)."""
    repo = repository(pipe)
    return repo.storage.query(
        f"SELECT type, visitor_key, page_path, props FROM {repo.storage.database}.usage_events "
        "WHERE page_url LIKE %(pattern)s",
        {"pattern": f"%utm_campaign={tag}%"},
    )


def wait_usage(pipe: Pipeline, tag: str, done, what: str):
    return wait_until(
        lambda: (rows := usage(pipe, tag)) and done(rows) and rows,
        timeout=30,
        interval=0.3,
        what=what,
        pipe=pipe,
    )


def visit(page: Page, tag: str, *steps: str) -> None:
    """Single-page-app navigation (history API): one pageview per step, at /demo/<step>."""
    for step in steps:
        page.evaluate("url => history.pushState({}, '', url)", f"/demo/{step}?utm_campaign={tag}")


def tagged(rows: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The pageviews of the steps named ``prefix...`` (props are not kept on anonymous rows)."""
    return [r for r in rows if r["page_path"].startswith(f"/demo/{prefix}")]


def test_accept_lands_rows_under_a_visitor_key(pipeline: Pipeline, context: BrowserContext):
    page, tag = context.new_page(), campaign()
    open_demo(pipeline, page, "index.html", tag)
    banner = page.get_by_role("dialog", name="Your privacy choices")
    expect(banner).to_be_visible()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=DOCS / "snippet-banner-en.png")
    expect(page.locator("#analytics-status")).to_contain_text("not loaded")

    page.get_by_role("button", name="Accept all").click()
    expect(banner).to_be_hidden()
    expect(page.locator("#analytics-status")).to_contain_text("loaded after consent")
    key = visitor_key(page)
    [decision] = wait_ledger(pipeline, key)
    assert (decision["analytics"], decision["marketing"], decision["policy_hash"]) == (
        1,
        1,
        POLICY_HASH,
    )
    assert decision["banner_hash"].startswith("fnv1a32:"), "the wording agreed to is on record"
    # The worker applies consent by event time; wait for the decision before browsing on.
    open_demo(pipeline, page, "about.html", tag)
    rows = wait_usage(
        pipeline,
        tag,
        lambda rows: any(r["page_path"] == "/demo/about.html" for r in rows),
        "the pageview after consent",
    )
    about = [r for r in rows if r["page_path"] == "/demo/about.html"]
    assert [r["visitor_key"] for r in about] == [key]
    first = [r for r in rows if r["page_path"] == "/demo/index.html" and r["type"] == "pageview"]
    assert [r["visitor_key"] for r in first] == [""], "the pageview before the choice is anonymous"


def test_page_scripts_never_see_the_visitor_id(pipeline: Pipeline, context: BrowserContext):
    answers: list[Response] = []  # every response whose body the page's scripts could read
    context.on(
        "response",
        lambda r: answers.append(r) if r.url.endswith(("/v1/consent", "/v1/events")) else None,
    )
    page, tag = context.new_page(), campaign()
    open_demo(pipeline, page, "about.html", tag)
    page.get_by_role("button", name="Accept all").click()
    page.evaluate("() => consentstream.flush()")
    vid = visitor_id(page)
    [cookie] = [c for c in context.cookies() if c["name"] == "cs_vid"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    readable = page.evaluate(
        "() => [document.cookie, ...Object.keys(localStorage).map(k => localStorage.getItem(k)),"
        " ...Object.keys(sessionStorage).map(k => sessionStorage.getItem(k))].join('\\n')"
    )
    assert vid not in readable, "neither document.cookie nor storage holds the id"
    seen = [r.text() for r in answers]
    assert seen and not any(vid in body for body in seen), "no response body names it"
    with page.expect_popup() as popup:
        assert page.evaluate("() => consentstream.privacy.request('access')") is True
    assert popup.value.url.startswith(f"{pipeline.collector_url}/privacy/")


def test_reject_leaves_no_identifier_and_only_anonymous_rows(
    pipeline: Pipeline, context: BrowserContext
):
    page, tag = context.new_page(), campaign()
    open_demo(pipeline, page, "index.html", tag)
    page.get_by_role("button", name="Reject all").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("#analytics-status")).to_contain_text("not loaded")
    open_demo(pipeline, page, "about.html", tag)
    visit(page, tag, "after-reject")
    page.evaluate("() => consentstream.flush()")
    rows = wait_usage(pipeline, tag, lambda rows: len(tagged(rows, "after-reject")) == 1, "rows")
    assert {r["visitor_key"] for r in rows} == {""}
    assert len([r for r in rows if r["type"] == "pageview"]) == 3
    # The only cookie: the refusal itself (necessary), shared by the site's hosts; no identifier.
    cookies = context.cookies()
    assert [c["name"] for c in cookies] == ["cs_consent"], "no other cookie"
    assert json.loads(unquote(cookies[0]["value"]))["choices"]["analytics"] is False
    stored = page.evaluate("() => Object.keys(localStorage).sort()")
    # The refusal itself, and the fingerprint of the cookie names last reported (no identifier).
    assert stored == ["cs_consent", "cs_cookies"], "only the refusal itself is remembered"
    decided = page.evaluate("() => JSON.parse(localStorage.getItem('cs_consent')).consent_id")
    [refusal] = wait_until(
        lambda: repository(pipeline).storage.query(
            f"SELECT visitor_key, analytics FROM {repository(pipeline).storage.database}"
            ".consent_ledger WHERE consent_id = %(id)s",
            {"id": decided},
        ),
        timeout=30,
        what="the refusal in the ledger",
        pipe=pipeline,
    )
    assert (refusal["visitor_key"], refusal["analytics"]) == ("", 0), "on record, anonymously"


def test_gpc_keeps_marketing_off(pipeline: Pipeline, browser: Browser):
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
    )
    try:
        page, tag = context.new_page(), campaign()
        open_demo(pipeline, page, "index.html", tag)
        expect(page.locator("#cs-gpc")).to_be_visible()
        page.get_by_role("button", name="Customize").click()
        expect(page.get_by_role("checkbox", name="Marketing")).to_be_disabled()
        page.get_by_role("button", name="Accept all").click()
        [decision] = wait_ledger(pipeline, visitor_key(page))
        assert (decision["analytics"], decision["marketing"], decision["gpc"]) == (1, 0, 1)
        assert page.evaluate("() => consentstream.consent.get().marketing") is False
    finally:
        context.close()


def restart_collector(pipe: Pipeline, policy_hash: str) -> None:
    pipe.stop("collector")
    pipe.env["CONSENTSTREAM_POLICY_HASH"] = policy_hash
    proc = pipe.start("collector", "services.collector", pipe.logs_at)  # type: ignore[attr-defined]
    wait_http(f"{pipe.collector_url}/healthz", proc)


def test_changed_policy_hash_brings_the_banner_back(pipeline: Pipeline, context: BrowserContext):
    context.route("**/snippet.js", lambda route: route.continue_())  # no HTTP cache (max-age)
    page, tag = context.new_page(), campaign()
    open_demo(pipeline, page, "index.html", tag)
    banner = page.get_by_role("dialog")
    page.get_by_role("button", name="Accept all").click()
    page.reload()
    expect(page.locator("#cs-open")).to_be_visible()
    expect(banner).to_be_hidden()
    restart_collector(pipeline, "browser-policy-2")
    try:
        page.reload()
        expect(banner).to_be_visible()
        assert page.evaluate("() => consentstream.consent.get()") is None
    finally:
        restart_collector(pipeline, POLICY_HASH)


def test_offline_then_online_events_arrive_exactly_once(
    pipeline: Pipeline, context: BrowserContext
):
    delivered: Counter[str] = Counter()  # event ids in requests the collector answered 202

    def count(response: Response) -> None:
        if response.url.endswith("/v1/events") and response.status == 202:
            body = json.loads(response.request.post_data or "{}")
            delivered.update(e["event_id"] for e in body.get("events", []))

    context.on("response", count)
    page, tag = context.new_page(), campaign()
    open_demo(pipeline, page, "index.html", tag)
    page.get_by_role("button", name="Accept all").click()
    key = visitor_key(page)
    wait_ledger(pipeline, key)

    context.set_offline(True)
    visit(page, tag, "off-1", "off-2", "off-3")
    page.evaluate("() => consentstream.flush()")  # fails: offline
    assert len(page.evaluate(QUEUE)) == 3
    context.set_offline(False)  # the `online` event sends at once
    wait_usage(pipeline, tag, lambda rows: len(tagged(rows, "off")) == 3, "the offline events")

    # Queued offline, then the tab is closed: the next page sends them (localStorage).
    context.set_offline(True)
    visit(page, tag, "gone-1", "gone-2")
    page.close()
    context.set_offline(False)
    later = context.new_page()
    open_demo(pipeline, later, "contact.html", tag)
    rows = wait_usage(
        pipeline,
        tag,
        lambda rows: (
            len(tagged(rows, "gone")) == 2
            and any(r["page_path"] == "/demo/contact.html" for r in rows)
        ),
        "the events left by the closed page",
    )
    assert len(tagged(rows, "off")) == 3 and len(tagged(rows, "gone")) == 2, "exactly once"
    assert {r["visitor_key"] for r in tagged(rows, "off") + tagged(rows, "gone")} == {key}
    assert later.evaluate(QUEUE) == []
    assert len(delivered) >= 7 and set(delivered.values()) == {1}, "the browser sent each once"


def test_withdrawal_purges_the_queue_and_later_events_are_anonymous(
    pipeline: Pipeline, context: BrowserContext
):
    page, tag = context.new_page(), campaign()
    open_demo(pipeline, page, "index.html", tag)
    page.get_by_role("button", name="Accept all").click()
    vid = visitor_id(page)
    key = pseudonymize(vid, PSEUDONYM_KEY)
    wait_ledger(pipeline, key)

    context.set_offline(True)
    visit(page, tag, "queued")
    assert any(i.get("a") for i in page.evaluate(QUEUE)), "made under the grant"
    page.get_by_role("button", name="Privacy settings").click()
    page.get_by_role("button", name="Reject all").click()  # withdrawing: as easy as consenting
    queued = page.evaluate(QUEUE)
    assert [i["k"] for i in queued if not i.get("ev", {}).get("type") == "cookie"] == ["c"]
    assert not any(i.get("a") for i in queued), "queue purged"
    assert page.evaluate("() => localStorage.getItem('cs_vid')") is None

    context.set_offline(False)
    decisions = wait_ledger(pipeline, key, 2)
    # Both may fall in one second (DateTime on ClickHouse 18.16): no order from recorded_at.
    assert sorted(d["analytics"] for d in decisions) == [0, 1]
    # The browser no longer holds the cookie (withdrawn); the id it held still reads its own.
    own = {"Cookie": f"cs_vid={vid}"}
    in_force = httpx.get(f"{pipeline.collector_url}/v1/consent", headers=own).json()
    assert in_force["choices"]["analytics"] is False
    visit(page, tag, "after")
    page.evaluate("() => consentstream.flush()")
    rows = wait_usage(pipeline, tag, lambda rows: len(tagged(rows, "after")) == 1, "later events")
    assert tagged(rows, "queued") == [], "the purged event never lands"
    assert [r["visitor_key"] for r in tagged(rows, "after")] == [""]
    assert not [c for c in context.cookies() if c["name"] == "cs_vid"], "visitor cookie cleared"


def focused(page: Page):
    return page.evaluate("() => document.activeElement.id || document.activeElement.textContent")


def test_keyboard_only_operation(pipeline: Pipeline, context: BrowserContext):
    page, tag = context.new_page(), campaign()
    open_demo(pipeline, page, "index.html", tag)
    assert focused(page) == "cs-banner", "focus moves to the dialog, no choice pre-selected"
    assert page.eval_on_selector("#cs-banner", "e => getComputedStyle(e).animationName") == "none"
    page.keyboard.press("Tab")
    assert focused(page) == "Accept all"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", "focus is visible"
    page.keyboard.press("Tab")
    assert focused(page) == "Reject all"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Customize
    assert focused(page) == "cs-c-analytics"
    page.keyboard.press("Space")
    expect(page.locator("#cs-banner .cs-links")).to_be_visible()  # the second layer is in
    stops = []
    for _ in range(20):
        page.keyboard.press("Tab")
        stops.append(focused(page))
        if stops[-1] == "Save choices":
            break
    assert stops[0] == "cs-c-analytics" or stops[0].startswith("Services and cookies")
    assert [s for s in stops if s.startswith("cs-c-")] == ["cs-c-marketing", "cs-c-preferences"]
    assert stops[-4:] == ["Accept all", "Reject all", "Customize", "Save choices"]
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    choices = page.evaluate("() => consentstream.consent.get()")
    assert choices == {
        "necessary": True,
        "analytics": True,
        "marketing": False,
        "preferences": False,
    }
    assert focused(page) == "cs-open", "focus returns to the settings button"
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert focused(page) == "cs-open"


def test_german_banner(pipeline: Pipeline, context: BrowserContext):
    page = context.new_page()
    open_demo(pipeline, page, "de.html", campaign())
    banner = page.get_by_role("dialog", name="Ihre Datenschutz-Einstellungen")
    expect(banner).to_be_visible()
    for name in ("Alle akzeptieren", "Alle ablehnen", "Anpassen"):
        expect(page.get_by_role("button", name=name)).to_be_visible()
    page.screenshot(path=DOCS / "snippet-banner-de.png")


def test_screenshots_exist() -> None:
    for lang in ("en", "de"):
        assert (DOCS / f"snippet-banner-{lang}.png").stat().st_size > 1000, Path(lang)
