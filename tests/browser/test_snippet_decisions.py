"""Every decision on record, and a snippet that survives blocked storage, in real Chromium.

Against the real collector and worker (fixtures in conftest.py): a refusal and a grant without
analytics reach the consent ledger under no visitor key, a retry after a lost answer is recorded
once, and the snippet works from memory when the browser blocks or fills site storage.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, expect

from tests.e2e.processes import Pipeline, wait_until

from .conftest import CHROMIUM, CHROMIUM_ARGS
from .test_snippet import campaign, open_demo, repository
from .test_snippet_optout import poll

pytestmark = pytest.mark.browser


def ledger_rows(pipe: Pipeline, consent_id: str) -> list[dict[str, Any]]:
    """Every ledger row of one decision (no FINAL: a second copy would show)."""
    repo = repository(pipe)
    return repo.storage.query(
        f"SELECT * FROM {repo.storage.database}.consent_ledger WHERE consent_id = %(id)s",
        {"id": consent_id},
    )


def wait_decision(pipe: Pipeline, decision_id: str) -> dict[str, Any]:
    consent_id = uuid.UUID(decision_id).hex
    row: dict[str, Any]
    [row] = wait_until(
        lambda: ledger_rows(pipe, consent_id),
        timeout=30,
        interval=0.3,
        what=f"decision {consent_id} in the ledger",
        pipe=pipe,
    )
    return row


def consent_posts(context: BrowserContext) -> list[dict[str, Any]]:
    """The bodies of the /v1/consent posts the page makes, filled in as they leave."""
    posts: list[dict[str, Any]] = []

    def seen(request: Request) -> None:
        if request.url.endswith("/v1/consent") and request.method == "POST":
            posts.append(json.loads(request.post_data or "{}"))

    context.on("request", seen)
    return posts


def test_refusals_and_grants_without_analytics_are_on_record_under_no_id(
    pipeline: Pipeline, context: BrowserContext
):
    posts = consent_posts(context)
    page = context.new_page()
    open_demo(pipeline, page, "index.html", campaign())
    page.get_by_role("button", name="Reject all").click()
    page.wait_for_function("() => !JSON.parse(localStorage.getItem('cs_queue') || '[]').length")
    refusal = wait_decision(pipeline, posts[0]["decision_id"])
    assert refusal["visitor_key"] == "", "on record, but under no one's key"
    assert (refusal["analytics"], refusal["marketing"], refusal["preferences"]) == (0, 0, 0)
    assert refusal["banner_hash"].startswith("fnv1a32:") and refusal["policy_hash"]
    page.get_by_role("button", name="Privacy settings").click()
    page.get_by_role("button", name="Customize").click()
    page.get_by_role("checkbox", name="Marketing").check()
    page.get_by_role("button", name="Save choices").click()
    page.wait_for_function("() => !JSON.parse(localStorage.getItem('cs_queue') || '[]').length")
    grant = wait_decision(pipeline, posts[1]["decision_id"])
    assert (grant["visitor_key"], grant["analytics"], grant["marketing"]) == ("", 0, 1)
    assert page.evaluate("() => localStorage.getItem('cs_vid')") is None, "no identifier made"
    assert not [c for c in context.cookies() if c["name"] == "cs_vid"]


def test_a_retry_after_a_lost_answer_is_recorded_once(pipeline: Pipeline, context: BrowserContext):
    posts = consent_posts(context)
    lost: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        if lost:
            route.continue_()
            return
        route.fetch()  # the collector records it ...
        lost.append(route.request.url)
        route.abort("connectionreset")  # ... and the answer never reaches the page

    context.route("**/v1/consent", lose_the_first_answer)
    page = context.new_page()
    open_demo(pipeline, page, "index.html", campaign())
    page.get_by_role("button", name="Reject all").click()
    page.wait_for_function(
        "() => !JSON.parse(localStorage.getItem('cs_queue') || '[]').length", timeout=15_000
    )
    assert len(posts) == 2 and posts[0]["decision_id"] == posts[1]["decision_id"], posts
    row = wait_decision(pipeline, posts[0]["decision_id"])
    page.wait_for_timeout(1500)  # a second copy would land within the worker's flush
    assert len(ledger_rows(pipeline, row["consent_id"])) == 1


def blocked_profile(tmp_path: Path) -> Path:
    """A Chromium profile whose content settings block cookies and all site data."""
    prefs = {"profile": {"default_content_setting_values": {"cookies": 2}}}
    (tmp_path / "Default").mkdir(parents=True)
    (tmp_path / "Default" / "Preferences").write_text(json.dumps(prefs))
    return tmp_path


def test_site_data_blocked_by_the_browser_the_snippet_works_from_memory(
    pipeline: Pipeline, browser: Browser, tmp_path: Path
):
    with browser.browser_type.launch_persistent_context(
        blocked_profile(tmp_path), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    ) as context:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_demo(pipeline, page, "index.html", campaign())
        blocked = page.evaluate("() => { try { return !localStorage } catch (e) { return true } }")
        assert blocked, "the profile really blocks site data"
        expect(page.get_by_role("dialog")).to_be_visible()
        page.get_by_role("button", name="Accept all").click()
        choices = page.evaluate("() => consentstream.consent.get()")
        assert choices and choices["analytics"] is True, "the choice holds for this page"
        expect(page.locator("#analytics-status")).to_contain_text("loaded after consent")
        assert errors == []


def fill_storage(page: Page) -> None:
    """Fill this origin's localStorage up to its quota, as a greedy site script would."""
    page.evaluate(
        """() => {
          const chunk = 'x'.repeat(1 << 20);
          for (let i = 0; ; i++) {
            try { localStorage.setItem('filler' + i, chunk) } catch (e) { break }
          }
          for (let n = 1 << 16; n >= 1; n >>= 1) {
            try { localStorage.setItem('tail' + n, 'x'.repeat(n)) } catch (e) {}
          }
        }"""
    )


def test_storage_full_the_decision_holds_and_events_arrive(
    pipeline: Pipeline, context: BrowserContext
):
    posts = consent_posts(context)
    page, tag = context.new_page(), campaign()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_demo(pipeline, page, "about.html", tag)
    fill_storage(page)
    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.get_by_role("button", name="Accept all").click()
    choices = page.evaluate("() => consentstream.consent.get()")
    assert choices and choices["analytics"] is True, "not null right after Accept"
    poll(page, lambda: posts or errors, "the decision to leave")
    assert errors == []
    row = wait_decision(pipeline, posts[0]["decision_id"])
    assert row["analytics"] == 1
    page.evaluate("() => consentstream.track('custom', {step: 'full'})")
    page.evaluate("() => consentstream.flush()")
    repo = repository(pipeline)
    wait_until(
        lambda: (
            repo.storage.query(
                f"SELECT count() AS n FROM {repo.storage.database}.usage_events "
                "WHERE page_url LIKE %(p)s AND type = 'custom'",
                {"p": f"%utm_campaign={tag}%"},
            )[0]["n"]
            == 1
        ),
        timeout=30,
        interval=0.3,
        what="the event tracked with storage full",
        pipe=pipeline,
    )
