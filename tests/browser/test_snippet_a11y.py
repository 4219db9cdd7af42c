"""axe-core (npm, web-snippet's devDependencies) scans the banner and the demo pages in Chromium.

No serious or critical violation is allowed: on the banner's first layer, with its categories
open, and on every demo page. The context bypasses the demo's CSP only so that axe itself can be
injected (the CSP itself is tested in test_snippet_csp.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.processes import Pipeline

from .conftest import SNIPPET_DIR
from .test_snippet import campaign, open_demo

pytestmark = pytest.mark.browser

PAGES = ["index.html", "about.html", "contact.html", "account.html", "de.html", "policy.html"]
AXE = SNIPPET_DIR / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def axe_context(browser: Browser) -> Iterator[BrowserContext]:
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run `npm ci` in web-snippet")
    ctx = browser.new_context(bypass_csp=True, locale="en-GB", reduced_motion="reduce")
    yield ctx
    ctx.close()


def serious(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        "() => axe.run().then(r => r.violations.map(v =>"
        " ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))})))"
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("path", PAGES)
def test_banner_and_demo_pages_have_no_serious_violations(
    pipeline: Pipeline, axe_context: BrowserContext, path: str
):
    page = axe_context.new_page()
    open_demo(pipeline, page, path, campaign())
    expect(page.get_by_role("dialog")).to_be_visible()
    assert serious(page) == [], "first layer"
    page.locator("#cs-banner .cs-b").nth(2).click()  # Customize / Anpassen
    expect(page.locator("#cs-opts")).to_be_visible()
    expect(page.locator("#cs-banner .cs-links")).to_be_visible()  # the second layer is in
    page.eval_on_selector_all("#cs-banner details", "ds => ds.forEach(d => d.open = true)")
    assert serious(page) == [], "categories and the second layer open"
    page.locator("#cs-banner .cs-b").nth(1).click()  # Reject all
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert serious(page) == [], "the page after the choice"
