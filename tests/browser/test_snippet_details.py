"""The banner's second layer in Chromium: loaded only when the visitor opens Customize, it lists
per category the services, their vendors and cookies (purpose, retention) from the collector's
catalogue, has a toggle per service and links to the privacy policy and the privacy center.

The demo runs under its strict Content-Security-Policy here, so the second layer must load
without 'unsafe-inline' too. A phone shows it as a sheet the visitor opened: it scrolls, and
the choice buttons stay in view.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.processes import Pipeline

from .test_snippet import DOCS, campaign, open_demo
from .test_snippet_csp import WATCH

pytestmark = pytest.mark.browser


def customize(page: Page) -> None:
    page.get_by_role("button", name="Customize").click()
    expect(page.locator("#cs-banner .cs-links")).to_be_visible()


def test_second_layer_loads_on_customize_and_informs(pipeline: Pipeline, context: BrowserContext):
    context.add_init_script(WATCH)
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    open_demo(pipeline, page, "index.html", campaign())
    expect(page.get_by_role("dialog")).to_be_visible()
    page.evaluate("() => consentstream.flush()")
    assert not [u for u in fetched if "snippet-details" in u], "not with the first layer"
    customize(page)
    assert [u for u in fetched if u.endswith("/snippet-details.js")]
    assert [u for u in fetched if u.endswith("/snippet-details.css")]
    page.get_by_text("Services and cookies", exact=False).nth(1).click()  # analytics
    ga = page.get_by_role("checkbox", name="Google Analytics (Google Ireland Ltd.)")
    expect(ga).to_be_visible()
    expect(ga).not_to_be_checked()  # nothing pre-ticked
    expect(page.locator("#cs-banner")).to_contain_text("_ga* \u2014 Google Analytics client and")
    expect(page.locator("#cs-banner")).to_contain_text("Kept: 2 years.")
    policy = page.get_by_role("link", name="Privacy policy").first
    assert policy.get_attribute("href") == "policy.html"
    center = page.get_by_role("link", name="Your privacy center", exact=False)
    assert center.get_attribute("href") == f"{pipeline.collector_url}/privacy/"
    assert center.get_attribute("target") == "_blank"
    # Reject stays one click on the first layer, beside Accept, with the second layer open.
    expect(page.get_by_role("button", name="Reject all")).to_be_visible()
    page.screenshot(path=DOCS / "snippet-second-layer.png")
    assert page.evaluate("() => window.__violations || []") == [], "strict CSP holds"


def test_a_service_switched_off_stays_off_within_its_category(
    pipeline: Pipeline, context: BrowserContext
):
    page = context.new_page()
    open_demo(pipeline, page, "index.html", campaign())
    customize(page)
    marketing = page.get_by_role("checkbox", name="Marketing", exact=True)
    marketing.check()
    page.get_by_text("Services and cookies", exact=False).nth(2).click()  # marketing
    pixel = page.get_by_role("checkbox", name="Meta Pixel (Meta Platforms Ireland Ltd.)")
    ads = page.get_by_role("checkbox", name="Google Ads (Google Ireland Ltd.)")
    expect(pixel).to_be_checked()  # a category ticked ticks its services
    pixel.uncheck()
    expect(marketing).to_be_checked()  # Google Ads still on
    ads.uncheck()
    expect(marketing).not_to_be_checked()  # every service off: the category is off
    ads.check()
    expect(marketing).to_be_checked()
    page.get_by_role("button", name="Save choices").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert page.evaluate("() => consentstream.consent.get().marketing") is True
    expect(page.locator("#marketing-status")).not_to_contain_text("after consent")
    page.reload()
    expect(page.locator("#preferences-status")).not_to_contain_text("after consent")
    expect(page.locator("#marketing-status")).not_to_contain_text("after consent")
    # Accept all means every service again.
    page.get_by_role("button", name="Privacy settings").click()
    customize(page)
    page.get_by_role("button", name="Accept all").click()
    expect(page.locator("#marketing-status")).to_contain_text("after consent")


def test_privacy_open_shows_the_privacy_center_in_a_new_tab(
    pipeline: Pipeline, context: BrowserContext
):
    page = context.new_page()
    open_demo(pipeline, page, "about.html", campaign())
    page.get_by_role("button", name="Reject all").click()
    with context.expect_page() as opened:
        page.evaluate("() => consentstream.privacy.open()")
    center = opened.value
    center.wait_for_load_state()
    assert center.url == f"{pipeline.collector_url}/privacy/"
    expect(center.get_by_role("heading", level=1)).to_be_visible()
    page.get_by_role("button", name="Privacy settings").click()
    customize(page)
    with context.expect_page() as opened:
        page.get_by_role("link", name="Your privacy center", exact=False).click()
    assert opened.value.url == f"{pipeline.collector_url}/privacy/"


def test_on_a_phone_the_second_layer_is_a_sheet_with_the_buttons_in_view(
    pipeline: Pipeline, browser: Browser
):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    try:
        page = context.new_page()
        open_demo(pipeline, page, "index.html", campaign())
        first = page.locator("#cs-banner").bounding_box()
        assert first and first["height"] <= 844 / 3, "the first layer: a third at most"
        customize(page)
        for i in range(4):
            page.get_by_text("Services and cookies", exact=False).nth(i).click()
        sheet = page.locator("#cs-banner").bounding_box()
        assert sheet is not None
        assert sheet["height"] <= 0.75 * 844 + 1, f"{sheet['height']:.0f}px"
        scrolls = page.eval_on_selector("#cs-banner", "e => e.scrollHeight > e.clientHeight")
        assert scrolls, "the sheet scrolls instead of growing"
        for name in ("Accept all", "Reject all", "Save choices"):
            expect(page.get_by_role("button", name=name)).to_be_in_viewport(ratio=1)
        page.screenshot(path=DOCS / "snippet-second-layer-phone.png")
        page.get_by_role("button", name="Reject all").click()
        expect(page.get_by_role("dialog")).to_be_hidden()
    finally:
        context.close()
