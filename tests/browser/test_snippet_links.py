"""Tracker parity in Chromium: outbound-link and file-download clicks, hash-based routes.

A page of our own on www.example.test (routed by Playwright; everything else from the real
collector) with data-track-links; the events the collector is sent are read off the wire.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Request, Route, expect

from tests.e2e.processes import Pipeline

from .conftest import POLICY_HASH

pytestmark = pytest.mark.browser

PAGE = (
    "<!doctype html><html lang='en'><head><title>Links</title>"
    f"<script src='/snippet.js' data-policy-hash='{POLICY_HASH}' data-track-links defer></script>"
    "</head><body><main><h1>Links</h1>"
    "<a id='out' href='https://partner.example.org/offer?email=a%40example.com' target='_blank'>"
    "Partner</a> "
    "<a id='pdf' href='/files/tariffs.pdf' download>Tariffs</a> "
    "<a id='route' href='#/pricing'>Pricing</a> <a id='anchor' href='#faq'>FAQ</a>"
    "</main></body></html>"
)


def test_outbound_download_and_hash_routes(pipeline: Pipeline, context: BrowserContext):
    events: list[dict[str, Any]] = []

    def handle(route: Route) -> None:
        path = "/" + route.request.url.split("/", 3)[3]
        if path == "/site.html":
            route.fulfill(body=PAGE, content_type="text/html")
        elif path.startswith("/files/"):
            route.fulfill(body=b"%PDF-1.4", content_type="application/pdf")
        else:
            route.fulfill(response=route.fetch(url=pipeline.collector_url + path))

    def sent(request: Request) -> None:
        if request.url.endswith("/v1/events") and request.post_data:
            events.extend(json.loads(request.post_data)["events"])

    context.route("http://www.example.test/**", handle)
    context.route("https://partner.example.org/**", lambda r: r.fulfill(body="partner"))
    context.on("request", sent)
    page = context.new_page()
    page.goto("http://www.example.test/site.html")
    page.get_by_role("button", name="Accept all").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    with page.expect_download():
        page.click("#pdf")
    page.click("#route")
    page.click("#anchor")
    with context.expect_page() as partner:
        page.click("#out")
    assert partner.value.url.startswith("https://partner.example.org/")
    page.evaluate("() => consentstream.flush()")
    clicks = [e["props"] for e in events if e["type"] == "click"]
    assert {"kind": "download", "url": "http://www.example.test/files/tariffs.pdf"} in clicks
    assert {"kind": "outbound", "url": "https://partner.example.org/offer"} in clicks
    views = [e["page"]["url"] for e in events if e["type"] == "pageview"]
    assert views[:2] == [
        "http://www.example.test/site.html",
        "http://www.example.test/site.html#/pricing",
    ], "a route counts, an anchor does not"
