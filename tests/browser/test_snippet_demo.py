"""The demo site as a visitor meets it: a banner that leaves the page usable, a privacy policy
page, and a contact page that opens the visitor's privacy center.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e.processes import Pipeline

from .test_snippet import campaign, open_demo

pytestmark = pytest.mark.browser


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found, selector
    return dict(found)


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


@pytest.mark.parametrize("width,height", [(1000, 640), (390, 844)])
def test_the_banner_covers_at_most_a_third_of_the_screen(
    pipeline: Pipeline, browser: Browser, width: int, height: int
):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    try:
        page = context.new_page()
        open_demo(pipeline, page, "index.html", campaign())
        expect(page.get_by_role("dialog")).to_be_visible()
        banner = box(page, "#cs-banner")
        assert banner["height"] <= height / 3, f"{banner['height']:.0f}px of {height}px"
        if width == 1000:
            for what in ("#quote", "#analytics-status", "#marketing-status"):
                assert not overlaps(banner, box(page, what)), f"{what} is covered"
    finally:
        context.close()


def test_the_policy_page_is_linked_from_every_page(pipeline: Pipeline, context: BrowserContext):
    page = context.new_page()
    open_demo(pipeline, page, "about.html", campaign())
    page.get_by_role("link", name="Privacy policy").click()
    expect(page.get_by_role("heading", name="Privacy policy", level=1)).to_be_visible()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Version 2026-01")


def test_the_contact_page_opens_the_privacy_center_that_knows_the_visitor(
    pipeline: Pipeline, context: BrowserContext
):
    page = context.new_page()
    open_demo(pipeline, page, "contact.html", campaign())
    page.get_by_role("button", name="Accept all").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.wait_for_function("() => !JSON.parse(localStorage.getItem('cs_queue') || '[]').length")
    with page.expect_popup() as popup:
        page.get_by_role("button", name="Open my privacy center").click()
    center = popup.value
    center.wait_for_load_state()
    [vid] = [c["value"] for c in context.cookies() if c["name"] == "cs_vid"]
    expect(center.locator("#reference")).to_have_text(vid)
