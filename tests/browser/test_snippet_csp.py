"""The demo under a strict Content-Security-Policy, the bundle pinned by Subresource Integrity.

A page's queue stub, defined before the script, is kept too.

The collector serves the demo pages with ``script-src 'self' 'nonce-…'; style-src 'self'``: no
inline style, no inline script without the nonce. The snippet must style its banner from a
stylesheet and pass the nonce to the scripts it unblocks. Chromium reports every violation.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Request, expect

from tests.e2e.processes import Pipeline

from .conftest import BUILT
from .test_snippet import campaign

pytestmark = pytest.mark.browser

WATCH = """document.addEventListener('securitypolicyviolation', e =>
  (window.__violations = window.__violations || [])
    .push(e.violatedDirective + ' ' + e.blockedURI))"""


def test_the_demo_works_under_a_strict_csp(pipeline: Pipeline, context: BrowserContext):
    context.add_init_script(WATCH)
    page = context.new_page()
    refused: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", console)
    response = page.goto(f"{pipeline.collector_url}/demo/index.html?utm_campaign={campaign()}")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "style-src 'self';" in policy
    banner = page.get_by_role("dialog", name="Your privacy choices")
    expect(banner).to_be_visible()
    assert banner.evaluate("e => getComputedStyle(e).position") == "fixed", "styled by the sheet"
    page.get_by_role("button", name="Accept all").click()
    for status in ("#analytics-status", "#marketing-status", "#preferences-status"):
        expect(page.locator(status)).to_contain_text("after consent")
    assert page.evaluate("() => window.__violations || []") == []
    assert refused == []


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.mark.parametrize("pinned", [True, False])
def test_the_bundle_can_be_pinned_with_subresource_integrity(
    pipeline: Pipeline, context: BrowserContext, pinned: bool
):
    integrity = sri(BUILT.read_bytes() if pinned else b"another build")
    site = "http://localhost:9/"  # another origin than the collector's
    html = (
        "<!doctype html><html lang='en'><head><title>Pinned</title>"
        f"<script src='{pipeline.collector_url}/snippet.js' integrity='{integrity}'"
        " crossorigin='anonymous' data-policy-hash='p1' defer></script>"
        "</head><body><main><h1>Pinned</h1></main></body></html>"
    )
    context.route(site, lambda r: r.fulfill(body=html, content_type="text/html"))
    page = context.new_page()
    page.goto(site)
    page.wait_for_load_state("load")
    runs = page.evaluate("() => typeof window.consentstream === 'object'")
    assert runs is pinned, "the exact build runs; any other is refused by the browser"
    if pinned:
        expect(page.get_by_role("dialog")).to_be_visible()


def test_calls_queued_on_a_stub_before_the_script_loads_are_kept(
    pipeline: Pipeline, context: BrowserContext
):
    context.add_init_script("window.consentstream = {q: [['track', 'custom', {early: 'yes'}]]}")
    sent: list[dict[str, object]] = []

    def seen(request: Request) -> None:
        if request.url.endswith("/v1/events"):
            sent.extend(json.loads(request.post_data or "{}").get("events", []))

    context.on("request", seen)
    page = context.new_page()
    page.goto(f"{pipeline.collector_url}/demo/about.html?utm_campaign={campaign()}")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.evaluate("() => consentstream.flush()")
    page.wait_for_function("() => !JSON.parse(localStorage.getItem('cs_queue') || '[]').length")
    assert [e.get("props") for e in sent if e["type"] == "custom"] == [{"early": "yes"}]
