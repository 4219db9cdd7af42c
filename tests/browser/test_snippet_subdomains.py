"""One decision per site in Chromium: www and shop, two hosts of example.test, ask once.

Both hosts are routed by Playwright to the real collector (the browser sees two origins of one
registrable domain); each serves a page whose tag says data-cookie-domain="example.test".
"""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Route, expect

from tests.e2e.processes import Pipeline

from .conftest import POLICY_HASH

pytestmark = pytest.mark.browser

PAGE = (
    "<!doctype html><html lang='en'><head><title>{host}</title>"
    "<script src='/snippet.js' data-policy-hash='{hash}' {extra} defer></script>"
    "</head><body><main><h1>{host}</h1></main></body></html>"
)


def serve(pipeline: Pipeline, context: BrowserContext, extra: str) -> None:
    """Pages of our own on *.example.test; everything else from the collector."""

    def handle(route: Route) -> None:
        url = route.request.url
        host = url.split("/")[2]
        path = "/" + url.split("/", 3)[3]
        if path == "/site.html":
            html = PAGE.format(host=host, hash=POLICY_HASH, extra=extra)
            route.fulfill(body=html, content_type="text/html")
        else:
            route.fulfill(response=route.fetch(url=pipeline.collector_url + path))

    context.route("http://*.example.test/**", handle)


@pytest.mark.parametrize("shared", [True, False])
def test_www_and_shop_ask_once(pipeline: Pipeline, context: BrowserContext, shared: bool):
    serve(pipeline, context, "data-cookie-domain='example.test'" if shared else "")
    www = context.new_page()
    www.goto("http://www.example.test/site.html")
    www.get_by_role("button", name="Accept all").click()
    expect(www.get_by_role("dialog")).to_be_hidden()
    www.evaluate("() => consentstream.flush()")
    shop = context.new_page()
    shop.goto("http://shop.example.test/site.html")
    shop.wait_for_function("() => window.consentstream && window.consentstream.consent")
    if shared:
        expect(shop.get_by_role("dialog")).to_be_hidden()
        assert shop.evaluate("() => consentstream.consent.get().marketing") is True
        assert shop.evaluate("() => localStorage.getItem('cs_consent')") is None, "another origin"
    else:
        expect(shop.get_by_role("dialog")).to_be_visible()  # default: this host only
